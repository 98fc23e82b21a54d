"""Plugin loading: entry points, the SEMHUB_LOAD_PLUGINS filter, broken plugins, in-process plugins."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from semhub import hookimpl
from semhub.plugins import catalog, hookspecs

ROOT = Path(__file__).resolve().parents[1]


def fake_distribution(root: Path, module: str, body: str) -> None:
    """An installed-looking package with a ``semhub`` entry point, without pip."""
    dist = root / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[semhub]\n{module} = {module}\n")
    (root / f"{module}.py").write_text(body)


def test_default_plugins_load_like_external_ones(fresh_plugins):
    fresh_plugins.load_plugins()
    names = dict(fresh_plugins.pm.list_name_plugin())
    assert {"text", "multilingual_sample", "embedded_models"} <= set(names)
    assert names["text"].__name__ == "semhub.default_plugins.text"


def test_load_filter_restricts_plugins(fresh_plugins, monkeypatch):
    monkeypatch.setenv("SEMHUB_LOAD_PLUGINS", "text")
    fresh_plugins.load_plugins()
    assert set(catalog.spokes()) == {"text", "romanised"}  # the text plugin's two spokes
    assert catalog.datasets() == {} and catalog.models() == {}
    assert "similarity" in catalog.analyses()  # core analyses are not plugins to filter


def test_empty_filter_loads_no_plugins(fresh_plugins, monkeypatch, cli_run):
    monkeypatch.setenv("SEMHUB_LOAD_PLUGINS", "")
    code, _, err = cli_run("analyze", "--limit", "2")
    assert code == 2 and "no spoke reads 'text' (loaded: none)" in err


def test_broken_plugin_is_reported_and_others_still_load(fresh_plugins, monkeypatch, tmp_path, cli_run):
    fake_distribution(tmp_path, "broken_semhub_plugin", "raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fresh_plugins.load_plugins()
    assert [f.name for f in fresh_plugins.failures] == ["broken_semhub_plugin"]
    assert "needs libfoo" in fresh_plugins.failures[0].error
    assert "text" in catalog.spokes()
    code, out, _ = cli_run("plugins")
    assert code == 0 and re.search(r"broken_semhub_plugin\s+FAILED to load .*needs libfoo", out)


def test_third_party_plugin_adds_a_spoke_and_a_command(fresh_plugins, monkeypatch, tmp_path, cli_run):
    body = '''
import click
from semhub import hookimpl
class Reverse:
    name = "reverse"
    modality = "toy"
    def claims(self, view): return view.startswith("rev")
    def validate(self, value, base_dir): return None
    def length_hint(self, value): return len(value)
    def encode(self, values, backbone, base_dir): raise NotImplementedError
@hookimpl
def semhub_register_spokes(register):
    register(Reverse())
@hookimpl
def semhub_register_commands(cli):
    @cli.command()
    def hello():
        click.echo("hello from a plugin")
'''
    fake_distribution(tmp_path, "semhub_toy", body)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert catalog.spoke_for_view("reverse_x").name == "reverse"
    assert catalog.spoke_for_view("en").name == "text"
    code, out, _ = cli_run("hello")
    assert code == 0 and "hello from a plugin" in out
    code, out, _ = cli_run("plugins")
    assert "reverse (toy)" in out


def test_in_process_plugin_registers_model_family(fresh_plugins):
    class Family:
        @hookimpl
        def semhub_register_model_families(self, register):
            register({"name": "toy", "architectures": ["ToyForCausalLM"],
                      "modules": {"base": "m", "embedding": "m.e", "blocks": "m.b", "final_norm": "m.n", "unembedding": "h"}})

    fresh_plugins.load_plugins()
    fresh_plugins.pm.register(Family(), name="toy-family")
    catalog.clear_cache()
    from semhub.backbone.registry import families

    assert families()["toy"].modules["blocks"] == "m.b"


def test_every_hook_is_documented_with_its_signature_and_an_example():
    import inspect

    doc = (ROOT / "docs" / "plugins" / "hooks.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("semhub_")]
    assert hooks
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        section = re.search(rf"^## {name}\(([^)]*)\)\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
        assert section, f"{name} is not documented in docs/plugins/hooks.md"
        assert section.group(1) == params, f"{name}: documented as ({section.group(1)}), defined as ({params})"
        example = re.search(r"```python\n(.*?)```", section.group(2), re.S)
        assert example and f"def {name}(" in example.group(1), f"{name}: no example implementing it"
        compile(example.group(1), f"docs/plugins/hooks.md:{name}", "exec")  # the example is valid Python


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory):
    """The example plugin pip-installed into this environment (from a copy: the source tree stays clean)."""
    import shutil

    src = tmp_path_factory.mktemp("example") / "semhub-plugin-example"
    shutil.copytree(ROOT / "examples" / "semhub-plugin-example", src)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", str(src)], check=True,
                   capture_output=True)
    yield
    subprocess.run([*pip, "uninstall", "-y", "semhub-plugin-example"], check=True, capture_output=True)


def semhub_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semhub", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_installed_example_plugin_is_found_through_its_entry_point(example_plugin, tmp_path):
    listing = json.loads(semhub_cli("plugins", "--json").stdout)
    (row,) = [r for r in listing["plugins"] if r["module"] == "semhub_example"]
    assert row["name"] == "example"
    assert set(row["hooks"]) == {"semhub_register_spokes", "semhub_register_analyses"}
    assert not listing["failed"]
    assert "state-norms" in semhub_cli("plugins").stdout

    from conftest import save_tiny_lm

    save_tiny_lm(tmp_path / "tiny")
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"en": s}) + "\n"  # reverse_en is derived from en by the spoke
                            for s in ["the cat sat on the mat", "a dog runs", "the big red house", "one two three"]))
    out = tmp_path / "run"
    done = semhub_cli("analyze", "--model", str(tmp_path / "tiny"), "--data", str(data), "--views", "en,reverse_en",
                      "--analysis", "state-norms", "--out", str(out))
    assert done.returncode == 0, done.stderr
    (record,) = json.loads((out / "results.json").read_text())["state_norms"]
    assert set(record["series"]) == {"en", "reverse_en"} and len(record["x"]) == 4
    assert all(v > 0 for v in record["series"]["en"])
    assert (out / "state_norms.png").stat().st_size > 1000
    # needs_model = False: the same analysis on a finished store, without the model
    store = tmp_path / "store"
    done = semhub_cli("analyze", "--model", str(tmp_path / "tiny"), "--data", str(data), "--views", "en,reverse_en",
                      "--store", str(store), "--out", str(tmp_path / "sim"))
    assert done.returncode == 0, done.stderr
    done = semhub_cli("analyze", "--from-store", str(store), "--analysis", "state-norms", "--out", str(tmp_path / "stored"))
    assert done.returncode == 0, done.stderr
    (stored,) = json.loads((tmp_path / "stored" / "results.json").read_text())["state_norms"]
    assert stored["series"] == record["series"]


def test_plugins_use_only_the_public_api():
    """First-party plugins import `semhub` itself, never its internal modules (the style rule)."""
    offenders = []
    for path in sorted((ROOT / "plugins").rglob("*.py")) + sorted((ROOT / "examples").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b(from|import)\s+semhub\.", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
