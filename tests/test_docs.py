"""The plugin pages (docs/plugins/: tutorial, contracts, hooks) are executed: the walkthrough package is
written from their blocks, installed and every command of it run; every other Python block runs; every
contract attribute is documented."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

import semhub

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DOCS = [ROOT / "docs" / "plugins" / f"{name}.md" for name in ("tutorial", "contracts", "hooks")]
CONTRACTS = ROOT / "docs" / "plugins" / "contracts.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
FILE_LINE = re.compile(r"^(?:#|//) (semhub_toolkit/\S+)$")


def blocks() -> list[tuple[str, str]]:
    return [block for page in PLUGIN_DOCS for block in BLOCK.findall(page.read_text())]


def walkthrough_files() -> dict[str, str]:
    files = {}
    for _lang, body in blocks():
        first, _, rest = body.partition("\n")
        m = FILE_LINE.match(first)
        if m:
            files[m.group(1)] = rest
    return files


def console_commands() -> list[list[str]]:
    return [shlex.split(line[2:]) for lang, body in blocks() if lang == "console"
            for line in body.splitlines() if line.startswith("$ ")]


def semhub_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semhub", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)


@pytest.fixture(scope="module")
def toolkit(tmp_path_factory):
    """The walkthrough's package, written from the doc's blocks and pip-installed (entry point and all)."""
    root = tmp_path_factory.mktemp("walkthrough")
    for name, text in walkthrough_files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", str(root / "semhub_toolkit")], check=True,
                   capture_output=True)
    yield root
    subprocess.run([*pip, "uninstall", "-y", "semhub-toolkit"], check=True, capture_output=True)


def test_the_walkthrough_names_every_file_of_a_package():
    assert set(walkthrough_files()) == {
        "semhub_toolkit/pyproject.toml", "semhub_toolkit/semhub_toolkit/__init__.py",
        "semhub_toolkit/semhub_toolkit/spokes.py", "semhub_toolkit/semhub_toolkit/analyses.py",
        "semhub_toolkit/semhub_toolkit/scorers.py", "semhub_toolkit/semhub_toolkit/pairs.jsonl"}


@pytest.mark.real_model
def test_every_walkthrough_command_runs_and_does_what_it_says(toolkit, tmp_path):
    commands = console_commands()
    assert len(commands) >= 6 and all(c[0] == "semhub" for c in commands)
    outputs = []
    for args in commands:
        done = semhub_cli(*args[1:], cwd=tmp_path)
        assert done.returncode == 0, f"{shlex.join(args)}: {done.stderr[-800:]}"
        outputs.append(done.stdout)
    listing, helptext = outputs[0], outputs[1]
    for name in ("toolkit-cka", "loud", "toolkit-pairs", "exclaim"):
        assert name in listing
    assert "--permutations" in helptext and "--from-layer" in helptext
    direct = json.loads((tmp_path / "runs/cka/results.json").read_text())["toolkit_cka"]
    stored = json.loads((tmp_path / "runs/cka-stored/results.json").read_text())["toolkit_cka"]
    (rec,) = direct
    assert rec["x"][0] == 2 and set(rec["series"]) == {"en-loud_en", "p-value"}
    assert all(0 < v <= 1 + 1e-9 for v in rec["series"]["en-loud_en"])
    assert all(1 / 21 <= p <= 1 for p in rec["series"]["p-value"])
    assert [r["series"] for r in stored] == [r["series"] for r in direct]  # the store gives the same CKA
    manifest = json.loads((tmp_path / "runs/cka/manifest.json").read_text())
    assert manifest["options"]["analysis_options"] == {"permutations": 20, "from_layer": 2}
    steer = json.loads((tmp_path / "runs/exclaim/results.json").read_text())
    assert "exclaim" in json.dumps(steer)
    # the Python block, run where the CLI ran: byte-identical results.json
    (python,) = [body for lang, body in blocks() if lang == "python" and body.startswith("import semhub\n\nrun =")]
    done = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr[-800:]
    assert "linear CKA per layer" in done.stdout
    assert (tmp_path / "runs/cka-python/results.json").read_bytes() == (tmp_path / "runs/cka/results.json").read_bytes()


def test_every_other_python_block_runs_and_registers_something(tmp_path):
    """The hook examples: executed, then each hook called with a recording ``register``."""
    ran = 0
    for lang, body in blocks():
        first = body.partition("\n")[0]
        if lang != "python" or FILE_LINE.match(first) or body.startswith("import semhub\n\nrun ="):
            continue
        namespace = {"__file__": str(tmp_path / "plugin.py"), "__name__": "doc_example"}
        exec(compile(body, f"docs/plugins:{first}", "exec"), namespace)
        hooks = {n: f for n, f in namespace.items() if n.startswith("semhub_register_") and callable(f)}
        assert hooks, f"a block without a hook implementation: {first}"
        for name, hook in hooks.items():
            if name == "semhub_register_commands":
                group = click.Group()
                hook(group)
                assert group.commands, name
            else:
                got = []
                hook(lambda *a, **k: got.append((a, k)))
                assert got, f"{name} registered nothing"
        ran += 1
    assert ran >= 10


def _documented_attributes(cls) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")]
    names = []
    for klass in cls.__mro__:
        if klass.__module__.startswith("semhub"):
            names += [n for n in vars(klass).get("__annotations__", {}) if not n.startswith("_")]
    return list(dict.fromkeys(names))


@pytest.mark.parametrize("heading, classes", [
    ("semhub.Analysis", ["Analysis"]),
    ("semhub.PaperSetting", ["PaperSetting"]),
    ("Spokes and `semhub.InputSettings`", ["InputSettings"]),
    ("semhub.RunContext and semhub.RunSettings", ["RunContext", "RunSettings"]),
    ("semhub.Result, RecordsResult, CurvesResult, Summary", ["Result", "RecordsResult", "CurvesResult", "Summary"]),
    ("Spokes: semhub.Spoke, semhub.Encoded, semhub.FileSpoke", ["Spoke", "Encoded", "FileSpoke"]),
    ("semhub.Scorer", ["Scorer", "Generation"]),
    ("semhub.SteeringPreset and semhub.Experiment", ["SteeringPreset", "Experiment"]),
    ("semhub.NamedModel and semhub.NamedDataset", ["NamedModel", "NamedDataset"]),
    ("semhub.LensReading (the lens read-out for analyses)", ["LensReading"]),
    ("Ingredients: semhub.ModelSpec, DataSpec, StoreSpec, EngineSpec, CalibrationSpec and Progress",
     ["ModelSpec", "DataSpec", "StoreSpec", "EngineSpec", "CalibrationSpec", "Inputs"]),
])
def test_every_contract_attribute_is_documented(heading, classes):
    doc = CONTRACTS.read_text()
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    assert section, f"no section '## {heading}'"
    for name in classes:
        attrs = _documented_attributes(getattr(semhub, name))
        assert attrs, name
        missing = [a for a in attrs if f"`{a}`" not in section.group(1) and f"`{a}(" not in section.group(1)]
        assert not missing, f"{name}: {missing} not documented under '## {heading}'"


@pytest.mark.real_model
def test_the_readme_unembed_example_builds_a_nonzero_vector(gemma):
    """The steering guide's `semhub steer --unembed A B` words have different first tokens on the default model."""
    guide = (ROOT / "docs" / "guides" / "steering-and-patching.md").read_text()
    (words,) = re.findall(r"semhub steer --unembed (\S+) (\S+)", guide)
    bb = gemma
    vec = semhub.from_unembedding(bb, *words)
    assert float(vec.vector.norm()) > 0 and len(set(vec.provenance["tokens"])) == 2
