"""Plugin loading: entry points, the SEMHUB_LOAD_PLUGINS filter, broken plugins, in-process plugins."""
from __future__ import annotations

import re
from pathlib import Path


from semhub import catalog, hookimpl, hookspecs

ROOT = Path(__file__).resolve().parents[1]


def fake_distribution(root: Path, module: str, body: str) -> None:
    """An installed-looking package with a ``semhub`` entry point, without pip."""
    dist = root / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[semhub]\n{module} = {module}\n")
    (root / f"{module}.py").write_text(body)


def test_first_party_plugins_come_from_entry_points(fresh_plugins):
    fresh_plugins.load_plugins()
    names = dict(fresh_plugins.pm.list_name_plugin())
    assert {"text", "multilingual_sample", "embedded_models"} <= set(names)
    assert names["text"].__name__ == "semhub_text"


def test_load_filter_restricts_plugins(fresh_plugins, monkeypatch):
    monkeypatch.setenv("SEMHUB_LOAD_PLUGINS", "text")
    fresh_plugins.load_plugins()
    assert set(catalog.spokes()) == {"text"}
    assert catalog.datasets() == {} and catalog.models() == {}
    assert "similarity" in catalog.analyses()  # core analyses are not plugins to filter


def test_empty_filter_loads_no_plugins(fresh_plugins, monkeypatch, cli_run):
    monkeypatch.setenv("SEMHUB_LOAD_PLUGINS", "")
    code, _, err = cli_run("analyze", "--limit", "2")
    assert code == 2 and "built-in dataset 'multilingual' is not loaded" in err


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
    from semhub.registry import families

    assert families()["toy"].modules["blocks"] == "m.b"


def test_every_hook_is_documented():
    doc = (ROOT / "docs" / "plugin-hooks.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("semhub_")]
    assert hooks
    for name in hooks:
        assert re.search(rf"^## {name}\(", doc, re.M), f"{name} is not documented in docs/plugin-hooks.md"


def test_example_plugin_template_works(fresh_plugins, monkeypatch, tmp_path):
    from conftest import tiny_backbone

    dist = tmp_path / "semhub_reverse-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: semhub-reverse\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[semhub]\nreverse = semhub_reverse\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "semhub-plugin-template"))
    spoke = catalog.spoke_for_view("reverse_en")
    assert spoke.name == "reverse"
    bb = tiny_backbone("llama")
    enc = spoke.encode(["the cat sat"], bb, None)
    ids = enc.inputs["input_ids"][0][enc.groups["content"][0]].tolist()
    assert bb.tokenizer.convert_ids_to_tokens(ids) == ["sat", "cat", "the"]


def test_plugins_use_only_the_public_api():
    """First-party plugins import `semhub` itself, never its internal modules (the style rule)."""
    offenders = []
    for path in sorted((ROOT / "plugins").rglob("*.py")) + sorted((ROOT / "examples").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b(from|import)\s+semhub\.", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
