"""The activation store: streamed shards, analyses without the model, and --resume after SIGKILL
giving results identical to an uninterrupted run."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import WORDS, save_tiny_lm


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    save_tiny_lm(root / "tiny")
    rng = random.Random(0)
    with open(root / "pairs.jsonl", "w") as fh:  # 600 rows: enough shards to kill a run in the middle
        for _ in range(600):
            words = rng.sample(WORDS, 6)
            fh.write(json.dumps({"en": " ".join(words), "es": " ".join(reversed(words))}) + "\n")
    return root


def analyze(setup, *args: str) -> list[str]:
    return ["analyze", "--model", str(setup / "tiny"), "--data", str(setup / "pairs.jsonl"), "--views", "en,es",
            "--batch-size", "1", "--shard-rows", "20", "--bootstrap", "50", *args]


@pytest.fixture(scope="module")
def reference(setup):
    """An uninterrupted --store run."""
    from semhub.cli import main

    out = setup / "reference"
    try:
        main(analyze(setup, "--store", str(setup / "ref-store"), "--out", str(out)))
    except SystemExit as exc:
        assert not exc.code
    return json.loads((out / "results.json").read_text())


def test_store_layout_and_analysis_without_the_model(setup, reference, cli_run, tmp_path):
    spec = json.loads((setup / "ref-store" / "store.json").read_text())
    assert spec["rows"] == 600 and spec["views"] == ["en", "es"] and spec["shard_rows"] == 20
    assert len(list((setup / "ref-store" / "en").glob("shard-*.safetensors"))) == 30
    code, _, err = cli_run("analyze", "--from-store", str(setup / "ref-store"), "--bootstrap", "50",
                           "--out", str(tmp_path / "from-store"))
    assert code == 0, err
    stored = json.loads((tmp_path / "from-store" / "results.json").read_text())
    # a store holds no tokenizer: its runs carry every number but the bag-of-tokens baseline and the hub
    # gain over it, which without it is the gain over the embedding layer alone
    assert "lexical" in reference["similarity"][0]["surface"] and "lexical" not in stored["similarity"][0]["surface"]
    without = [{k: v for k, v in rec.items() if k not in ("surface", "hub_gain")} for rec in reference["similarity"]]
    assert [{k: v for k, v in rec.items() if k not in ("surface", "hub_gain")} for rec in stored["similarity"]] == without
    assert stored["similarity"][0]["surface"]["embeddings"] == reference["similarity"][0]["surface"]["embeddings"]
    manifest = json.loads((tmp_path / "from-store" / "manifest.json").read_text())
    assert manifest["model"]["family"] == "llama" and "load_model_s" not in manifest["timings"]


def test_store_matches_the_in_memory_run(setup, reference, cli_run, tmp_path):
    code, _, err = cli_run(*analyze(setup, "--out", str(tmp_path / "memory")))
    assert code == 0, err
    # the same shards, captured the same way: the store changes where states live, not their bits
    assert json.loads((tmp_path / "memory" / "results.json").read_text()) == reference


@pytest.mark.parametrize("sig,kill_after", [(signal.SIGKILL, 0), (signal.SIGKILL, 7), (signal.SIGKILL, 33),
                                            (signal.SIGINT, 12)], ids=["kill-0", "kill-7", "kill-33", "ctrl-c-12"])
def test_interrupt_then_resume_gives_identical_results(sig, kill_after, setup, reference, cli_run, tmp_path):
    """SIGKILL (a crash, the OOM killer) or SIGINT (Ctrl-C) mid-capture, then --resume."""
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "semhub", *analyze(setup, "--store", str(store),
                                                                          "--out", str(tmp_path / "killed"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            # a suite started in the background (`make test &`) has SIGINT ignored, and a
                            # child would inherit that: give it the default, as a terminal would
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline:
        shards = list(store.glob("*/shard-*.safetensors")) if (store / "store.json").exists() else None
        if shards is not None and len(shards) >= kill_after:
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.005)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:  # Ctrl-C: one line, the usual exit status, no traceback
        assert proc.returncode == 130 and err.strip().splitlines() == ["Aborted."], err
    done = len(list(store.glob("*/shard-*.safetensors")))
    assert done < 60, "the run had finished: nothing was interrupted"
    assert not (tmp_path / "killed").exists()
    code, _, err = cli_run(*analyze(setup, "--store", str(store), "--out", str(tmp_path / "killed")))
    assert code == 2 and "--resume" in err  # an existing store is never overwritten silently
    code, _, err = cli_run(*analyze(setup, "--store", str(store), "--resume", "--out", str(tmp_path / "resumed")))
    assert code == 0, err
    assert json.loads((tmp_path / "resumed" / "results.json").read_text()) == reference
    assert not list(store.glob("*/.*.tmp"))  # a shard cut mid-write was never renamed into place


def test_resume_removes_half_written_shards_of_killed_runs(setup, reference, cli_run, tmp_path, capsys):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(setup / "ref-store", store)
    view = next(p for p in store.iterdir() if p.is_dir())
    shards = sorted(view.glob("shard-*.safetensors"))
    left = view / f".{shards[-1].name}.abc123.tmp"  # what a SIGKILL inside a shard write leaves
    left.write_bytes(shards[-1].read_bytes()[:100])
    shards[-1].unlink()
    old = time.time() - 3600
    os.utime(left, (old, old))
    code, _, err = cli_run(*analyze(setup, "--store", str(store), "--resume", "--out", str(tmp_path / "resumed")))
    assert code == 0, err
    assert "removed 1 half-written shard(s) left by killed runs" in err
    assert not left.exists() and shards[-1].exists()
    assert json.loads((tmp_path / "resumed" / "results.json").read_text()) == reference


def test_store_misuse_is_one_line(setup, cli_run, tmp_path):
    code, _, err = cli_run(*analyze(setup, "--store", str(setup / "ref-store"), "--resume", "--layers", "1,2",
                                    "--out", str(tmp_path / "a")))
    assert code == 2 and "made with other settings (layers differ)" in err
    code, _, err = cli_run(*analyze(setup, "--resume", "--out", str(tmp_path / "b")))
    assert code == 2 and "--resume: needs" in err and "store" in err
    code, _, err = cli_run("analyze", "--from-store", str(setup / "ref-store"), "--analysis", "logit-lens",
                           "--out", str(tmp_path / "c"))
    assert code == 2 and "needs the model" in err
    code, _, err = cli_run("analyze", "--from-store", str(tmp_path), "--out", str(tmp_path / "d"))
    assert code == 2 and "is not an activation store" in err


@pytest.mark.parametrize("dtype,tolerance", [("float16", 2e-3), ("bfloat16", 2e-2)])
def test_half_precision_store_is_half_the_disk_and_close(dtype, tolerance, setup, reference, cli_run, tmp_path):
    store = tmp_path / "store"
    code, _, err = cli_run(*analyze(setup, "--store", str(store), "--store-dtype", dtype, "--out", str(tmp_path / "r")))
    assert code == 0, err

    def size(folder):
        return sum(p.stat().st_size for p in folder.glob("*/shard-*.safetensors"))

    assert size(store) < 0.55 * size(setup / "ref-store")
    half = json.loads((tmp_path / "r" / "results.json").read_text())["similarity"][0]
    full = reference["similarity"][0]
    for key in ("matched_cosine", "mismatched_cosine"):
        assert max(abs(a - b) for a, b in zip(half[key], full[key])) < tolerance, key
    # retrieval can flip only on near-ties: at most 1% of items per layer
    assert max(abs(a - b) for a, b in zip(half["retrieval_at_1"], full["retrieval_at_1"])) <= 0.01


def test_float16_overflow_is_refused_not_stored_as_inf(tmp_path):
    import torch

    from semhub.errors import SemhubError
    from semhub.runs.store import ActivationStore

    store = ActivationStore(tmp_path / "store")
    store.open({"rows": 4, "shard_rows": 2, "views": ["en"], "store_dtype": "float16"}, resume=False)
    assert [k for k, _ in store.missing("en")] == [0, 1]
    store.write("en", 0, torch.full((2, 3, 8), 1000.0))  # fine in float16
    with pytest.raises(SemhubError, match="reach 7e\\+04, beyond float16's 65504; use --store-dtype bfloat16"):
        store.write("en", 1, torch.full((2, 3, 8), 70000.0))
    assert [p.name for p in (tmp_path / "store" / "en").iterdir()] == ["shard-00000.safetensors"]


def test_resume_refuses_a_swapped_model_or_data_file(setup, cli_run, tmp_path):
    """Killed after some shards, then the local model folder's weights (or the data file) replaced
    in place: the resume is refused with one line, never a store mixing two models or two files."""
    import shutil

    from conftest import tiny_model

    model, data = tmp_path / "swap-model", tmp_path / "pairs.jsonl"
    shutil.copytree(setup / "tiny", model)
    shutil.copy(setup / "pairs.jsonl", data)

    def run(*args):
        return cli_run("analyze", "--model", str(model), "--data", str(data), "--views", "en,es", "--batch-size", "8",
                       "--shard-rows", "100", "--bootstrap", "0", "--store", str(tmp_path / "store"), *args)

    code, _, err = run("--out", str(tmp_path / "first"))
    assert code == 0, err
    for shard in sorted((tmp_path / "store").glob("*/shard-*.safetensors"))[::2]:
        shard.unlink()  # as a kill part-way leaves it
    other, _ = tiny_model("llama", seed=1)
    other.save_pretrained(model)  # another checkpoint, same folder, same config
    code, _, err = run("--resume", "--out", str(tmp_path / "resumed"))
    assert code == 2 and err.count("\n") == 1 and "another model (its files' content differs)" in err, err
    assert not (tmp_path / "resumed").exists()
    shutil.rmtree(model)
    shutil.copytree(setup / "tiny", model)  # the original weights back: the resume is accepted again...
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[1:] + lines[:1]) + "\n")  # ...but the data file's rows changed
    code, _, err = run("--resume", "--out", str(tmp_path / "resumed"))
    assert code == 2 and err.count("\n") == 1 and "another data file (its content differs)" in err, err
    data.write_text("\n".join(lines) + "\n")
    code, _, err = run("--resume", "--out", str(tmp_path / "resumed"))
    assert code == 0, err
