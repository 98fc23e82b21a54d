"""Security: model code from a checkpoint never runs without --trust-remote-code; no network
when HF_HUB_OFFLINE is set; weights pinned (see test_real_models, test_audio_real)."""
from __future__ import annotations

import json


def checkpoint_with_remote_code(tmp_path, model_type: str | None = None):
    """A saved tiny model whose config points at a modeling file that leaves a marker when imported."""
    from conftest import save_tiny_lm

    folder = save_tiny_lm(tmp_path / "evil")
    marker = tmp_path / "code-ran"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n"
                                             "from transformers import LlamaConfig as EvilConfig\n"
                                             "from transformers import LlamaForCausalLM as Evil\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "modeling_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.Evil"}
    if model_type:
        config["model_type"] = model_type
        config["architectures"] = ["EvilForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


def test_remote_code_of_a_known_architecture_never_runs(tmp_path, cli_run):
    folder, marker = checkpoint_with_remote_code(tmp_path)
    code, _, err = cli_run("analyze", "--model", str(folder), "--limit", "4", "--bootstrap", "0",
                           "--out", str(tmp_path / "run"))
    assert code == 0, err  # transformers' own Llama class loads it
    assert not marker.exists()


def test_a_checkpoint_that_needs_its_own_code_is_refused_without_the_flag(tmp_path, cli_run):
    folder, marker = checkpoint_with_remote_code(tmp_path, model_type="evil_llama")
    code, _, err = cli_run("analyze", "--model", str(folder), "--limit", "4", "--out", str(tmp_path / "run"))
    assert code == 2 and err.strip().count("\n") == 0 and "--model: cannot load" in err, err
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_offline_hub_id_fails_fast_with_one_line(tmp_path, cli_run, monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    code, _, err = cli_run("analyze", "--model", "someone/not-cached-anywhere", "--out", str(tmp_path / "run"))
    assert code == 2 and "cannot load 'someone/not-cached-anywhere'" in err
    assert time.perf_counter() - start < 30  # an error, not a network hang
