"""The bad-input corpus (tests/bad_inputs/cases.toml): every malformed input or option ends in
exit status 2 and one clear line, with no traceback and no run directory left behind."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "bad_inputs"
CASES = tomllib.loads((HERE / "cases.toml").read_text())["case"]


def test_the_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 40
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A saved tiny model and the generated enormous-line file."""
    from conftest import save_tiny_lm

    root = tmp_path_factory.mktemp("bad-inputs")
    save_tiny_lm(root / "tiny")
    (root / "huge.jsonl").write_text('{"en": "the cat", "zh": "猫"}\n{"en": "' + "x" * 2_000_000 + '", "zh": "y"}\n')
    import shutil

    import torch

    (root / "dangling").symlink_to(root / "nowhere")
    (root / "zero.json").symlink_to("/dev/zero")
    (root / "zero.wav").symlink_to("/dev/zero")  # a clip that is a device
    (root / "device-clip.jsonl").write_text('{"audio_en": "zero.wav", "audio_es": "zero.wav"}\n' * 2)
    (root / "loop.png").symlink_to(root / "loop.png")  # a link to itself: a loop
    (root / "image-loop.jsonl").write_text('{"image": "loop.png", "en": "a picture"}\n' * 2)
    deep = "(" * 200_000 + "1" + ")" * 200_000
    (root / "deep-code.jsonl").write_text(json.dumps({"code": deep, "en": "one"}) + "\n" + json.dumps({"code": "x = 1", "en": "x"}) + "\n")
    from safetensors.torch import load_file, save_file

    shutil.copytree(root / "tiny", root / "missing-weight")  # one tensor short: transformers would fill it randomly
    state = load_file(root / "missing-weight" / "model.safetensors")
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, root / "missing-weight" / "model.safetensors", metadata={"format": "pt"})
    shutil.copytree(root / "tiny", root / "resized-config")  # config.json of another width than the weights
    config = json.loads((root / "resized-config" / "config.json").read_text())
    (root / "resized-config" / "config.json").write_text(json.dumps({**config, "hidden_size": 2 * config["hidden_size"]}))
    shutil.copytree(root / "tiny", root / "corrupt-weights")  # a truncated safetensors file
    weights = root / "corrupt-weights" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    shutil.copytree(root / "tiny", root / "pickled-weights")  # a pickle that would run a command
    (root / "pickled-weights" / "model.safetensors").unlink()
    torch.save({"x": Exploit()}, root / "pickled-weights" / "pytorch_model.bin")
    return root


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo never-run",))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input_gives_exit_2_and_one_line(case, scratch, tmp_path, cli_run):
    out = tmp_path / "run"
    fill = {"{files}": str(HERE / "files"), "{tiny}": str(scratch / "tiny"), "{tmp}": str(scratch)}

    def expand(arg: str) -> str:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        return arg

    extra = ["--out", str(out)] if case.get("out", True) else []  # out = false: a command without --out
    code, stdout, stderr = cli_run(*[expand(a) for a in case["args"]], *extra)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, (code, stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert expand(case["expect"]) in lines[0], lines[0]
    assert "Traceback" not in stderr + stdout
    assert not out.exists() and not list(tmp_path.glob(".run*")), "a run directory was left behind"


@pytest.mark.parametrize("kind", ["dangling link", "link to a folder", "existing file", "under a file", "not empty"])
@pytest.mark.parametrize("command", [["analyze"], ["steer", "--preset", "language"], ["reproduce", "language-trends"],
                                     ["patchscope", "--source", "x"], ["profile"], ["lens", "hello"],
                                     ["make-arithmetic"], ["convert-salmonn", "--ckpt", __file__],
                                     ["convert-open-clip", "--model", "ViT-B-32"]])
def test_a_bad_out_is_refused_before_any_work(kind, command, scratch, tmp_path, cli_run):
    target = tmp_path / "target"
    if kind == "dangling link":
        target.symlink_to(tmp_path / "nowhere")
    elif kind == "link to a folder":
        (tmp_path / "folder").mkdir()
        target.symlink_to(tmp_path / "folder")
    elif kind == "existing file":
        target.write_text("x")
    elif kind == "under a file":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "sub" / "run"
    else:
        target.mkdir()
        (target / "old.json").write_text("{}")
    takes_model = command[0] not in ("reproduce", "make-arithmetic", "convert-salmonn", "convert-open-clip")
    model = ["--model", str(scratch / "missing-model-never-loaded")] if takes_model else []
    if command[0] in ("lens", "make-arithmetic") and kind in ("existing file", "not empty"):
        return  # a file output may replace a file, and a folder is refused below
    code, stdout, stderr = cli_run(*command, *model, "--out", str(target))
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("Error: --out: "), stderr
    assert "Traceback" not in stderr + stdout


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_cache_folder_is_one_line_naming_the_variable(where, scratch, tmp_path, cli_run, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("SEMHUB_CACHE_DIR", str(blocker if where == "a file" else blocker / "cache"))
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--model", str(scratch / "tiny"), "--data", str(HERE / "files" / "pairs.jsonl"),
                           "--out", str(out))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("Error: SEMHUB_CACHE_DIR: "), err
    assert not out.exists()
