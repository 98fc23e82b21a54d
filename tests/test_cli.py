"""The CLI: listings, and every kind of bad input ends as one line with exit status 2."""
from __future__ import annotations

import json

import pytest


def test_models_lists_every_family(cli_run):
    code, out, _ = cli_run("models", "--json")
    assert code == 0
    fams = json.loads(out)
    assert {"llama", "gemma3_text", "gpt2", "bloom"} <= set(fams)
    assert fams["gpt2"]["modules"]["blocks"] == "transformer.h"


def test_plugins_lists_first_party_plugins(cli_run):
    code, out, _ = cli_run("plugins", "--json")
    names = {p["name"] for p in json.loads(out)["plugins"]}
    assert code == 0 and {"text", "multilingual_sample", "embedded_models", "semhub.analyses"} <= names


def _panels(text: str) -> list[str]:
    """The section titles of a rich-click help page (its boxes' top edges)."""
    import re

    return re.findall(r"╭─ (.+?) ─", text)


def test_analyze_help_is_grouped_and_every_flag_has_its_section(cli_run):
    code, out, _ = cli_run("analyze", "--analysis", "concept-patching", "--help")
    panels = _panels(out)
    assert code == 0
    assert panels[:6] == ["Model", "Data", "Analysis", "Calibration and controls", "Output", "Scale"], panels
    assert "Analyze options" not in panels  # no flag of analyze fell outside the sections
    assert panels[-2:] == ["Analyses (--analysis NAME)", "Options of --analysis concept-patching (also -o NAME=VALUE)"]
    own = out.split("Options of --analysis concept-patching")[1]
    assert "--source" in own and "--mean-over" in own and "--model " not in own
    model = out.split("╭─ Model")[1].split("╭─ Data")[0]
    assert "--model-b" in model and "--store" not in model and "--permutations" not in model


def test_every_command_help_is_sectioned_and_light(cli_run):
    from semhub.cli import _attach_commands, cli
    from semhub.cli.help import COMMAND_SECTIONS

    _attach_commands()
    code, out, _ = cli_run("--help")
    assert code == 0 and _panels(out)[1:len(COMMAND_SECTIONS) + 1] == list(COMMAND_SECTIONS)
    for name in ("steer", "patchscope", "profile", "train-lens", "fit-lens", "lens", "reproduce"):
        code, out, _ = cli_run(name, "--help")
        panels = _panels(out)
        assert code == 0 and "Model" in panels and "Help" == panels[-1], (name, panels)
        assert panels[0] in (f"{cli.commands[name].name.capitalize()} options", "Model"), (name, panels)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": 1, "en": "a", "zh": "b"}\n{"id": 2, "en": "c", "zh": "d"}\n')
    return path


BAD = [
    (["analyze", "--data", "{missing}"], "no such file"),
    (["analyze", "--data", "{bad}"], ":2: invalid JSON"),
    (["analyze", "--data", "{data}", "--views", "en,fr"], "no view 'fr'"),
    (["analyze", "--data", "{data}", "--views", "en"], "--views"),
    (["analyze", "--data", "{odd}", "--views", "en,xx_1"], "no spoke handles view 'xx_1'"),
    (["analyze", "--data", "{data}", "--model", "./no/such/dir"], "--model"),
    (["analyze", "--data", "{data}", "--analysis", "nope"], "unknown analysis 'nope'"),
    (["analyze", "--data", "{data}", "--pooling", "max"], "--pooling"),
    (["analyze", "--data", "{data}", "--batch-size", "0"], "--batch-size"),
    (["analyze", "--data", "{data}", "--dtype", "int3"], "--dtype"),
    (["analyze", "--data", "{data}", "--out", "{data}"], "already exists"),
    (["analyze", "--data", "{data}", "--modality", "audio"], "fewer than two audio views"),
    (["analyze", "--data", "{data}", "--device", "toaster"], "--device"),
    (["analyze", "--data", "{data}", "--layers", "3-x"], "--layers"),
    (["analyze", "--bogus"], "No such option"),
    (["nosuchcommand"], "No such command"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_input_one_line_exit_2(cli_run, tmp_path, data_file, args, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"en": "a", "zh": "b"}\n{"en": \n')
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"en": "a", "xx_1": "b"}\n{"en": "c", "xx_1": "d"}\n')
    subst = {"data": data_file, "bad": bad, "odd": odd, "missing": tmp_path / "missing.jsonl"}
    code, out, err = cli_run(*[a.format(**subst) for a in args])
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert message in lines[0]
    assert "Traceback" not in err
    assert not any(tmp_path.glob("*partial*"))


def test_unknown_hub_model_is_a_clean_error(cli_run, data_file, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = cli_run("analyze", "--data", str(data_file), "--model", "no-such-org/no-such-model",
                           "--out", str(tmp_path / "run"))
    assert code == 2 and err.startswith("Error: --model: cannot load 'no-such-org/no-such-model'")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_analyze_any_local_model_directory(cli_run, tmp_path):
    """The real loading path: a saved HF model directory, family found from its config, device_map passed on."""
    from conftest import tiny_backbone

    bb = tiny_backbone("gpt2")
    model_dir = tmp_path / "tiny-gpt2"
    bb.model.save_pretrained(model_dir)
    bb.tokenizer.save_pretrained(model_dir)
    data = tmp_path / "pairs.tsv"
    data.write_text("the cat sat\tel gato rojo\na dog runs\tle chien bleu\none two three\tuno dos tres\n")
    out = tmp_path / "run"
    code, stdout, err = cli_run("analyze", "--model", str(model_dir), "--data", str(data), "--views", "en,es",
                                "--device-map", "cpu", "--bootstrap", "10", "--out", str(out))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "gpt2" and manifest["model"]["n_layers"] == 3
    assert manifest["options"]["device_map"] == "cpu" and manifest["data"]["rows"] == 3
    rec = json.loads((out / "results.json").read_text())["similarity"][0]
    assert (rec["a"], rec["b"], rec["n"], rec["layers"]) == ("en", "es", 3, [0, 1, 2, 3])


def test_outputs_into_folders_that_do_not_exist_yet_are_written(cli_run, tmp_path):
    """An output file's missing folders are created when it is written (its place was checked first)."""
    from conftest import save_tiny_lm

    tiny = save_tiny_lm(tmp_path / "tiny")
    code, _, err = cli_run("lens", "the cat", "--model", str(tiny), "--out", str(tmp_path / "new" / "deeper" / "l.png"))
    assert code == 0, err
    assert (tmp_path / "new" / "deeper" / "l.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = cli_run("make-arithmetic", "--out", str(tmp_path / "made" / "a.jsonl"))
    assert code == 0, err
    assert (tmp_path / "made" / "a.jsonl").stat().st_size > 0
    assert not list((tmp_path / "made").glob(".*tmp")) and not list((tmp_path / "new" / "deeper").glob(".*"))


def test_lens_text_with_a_lone_surrogate_is_one_line(cli_run, tmp_path):
    from conftest import save_tiny_lm

    tiny = save_tiny_lm(tmp_path / "tiny")
    cli_run("--help")  # flushes what saving the model printed
    code, _, err = cli_run("lens", "the \udcff cat", "--model", str(tiny), "--out", str(tmp_path / "l.png"))
    assert code == 2 and err.strip() == "Error: TEXT holds a lone surrogate: not text a tokenizer can read"
    assert not (tmp_path / "l.png").exists()
