"""The contract as a plugin author meets it: centring decided once, a pre-load check of the run's
settings, run.summary printing as the table, plot(folder), plugins --json listing registrations, and
a plugin whose hook fails dropped whole."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import semhub
from semhub import hookimpl
from semhub.plugins import catalog

from test_plugins import fake_distribution


class ProbeResult(semhub.CurvesResult):
    key = "probe_centring"
    summary_title = "centred states: the mean norm per layer"


class Probe(semhub.Analysis):
    """Returns both reads of each view, so a test can compare them; refuses --no-center before loading."""

    name = "probe-centring"
    description = "ctx.states and ctx.centred side by side"
    seen: dict = {}

    def check(self, settings, options):
        if settings.pooling == "last":
            raise semhub.ParameterError("pooling", "probe-centring reads mean-pooled states only")

    def run(self, ctx):
        Probe.seen = {v: (ctx.states(v).clone(), ctx.centred(v).clone()) for v in ctx.views}
        x = list(range(len(ctx.layers)))
        series = {v: ctx.centred(v).mean(0).norm(dim=-1).tolist() for v in ctx.views}
        return ProbeResult([{"x": x, "series": series, "title": "mean of centred states"}])


class ProbePlugin:
    @hookimpl
    def semhub_register_analyses(self, register):
        register(Probe())


@pytest.fixture
def probe(fresh_plugins):
    fresh_plugins.load_plugins()
    fresh_plugins.pm.register(ProbePlugin(), name="probe-plugin")
    catalog.clear_cache()
    yield fresh_plugins
    if fresh_plugins.pm.get_plugin("probe-plugin") is not None:
        fresh_plugins.pm.unregister(name="probe-plugin")
    catalog.clear_cache()


def test_states_are_raw_and_centred_follows_the_flag(probe, tiny):
    model, data = tiny
    semhub.analyze("probe-centring", model=str(model), data=str(data), views=["en", "fr"])
    on = {v: tuple(t.clone() for t in pair) for v, pair in Probe.seen.items()}
    semhub.analyze("probe-centring", model=str(model), data=str(data), views=["en", "fr"], center=False)
    off = Probe.seen
    for view in ("en", "fr"):
        raw_on, centred_on = on[view]
        raw_off, centred_off = off[view]
        assert torch.equal(raw_on, raw_off)  # ctx.states: the same under --center and --no-center
        assert torch.equal(centred_off, raw_off)  # --no-center: centred() is the raw states
        expected = raw_on - raw_on.double().mean(0).float()
        assert torch.allclose(centred_on, expected, atol=1e-5)
        assert float(centred_on.double().mean(0).abs().max()) < 1e-4 < float(raw_on.abs().max())


def test_an_analysis_refuses_a_setting_before_the_model_loads(probe, tiny, tmp_path, cli_run):
    _, data = tiny
    missing = tmp_path / "no-such-model"  # loading it would fail: the check must come first
    with pytest.raises(semhub.ParameterError, match="^pooling: probe-centring reads mean-pooled"):
        semhub.analyze("probe-centring", model=str(missing), data=str(data), views=["en", "fr"], pooling="last")
    code, out, err = cli_run("analyze", "--analysis", "probe-centring", "--model", str(missing), "--data", str(data),
                             "--views", "en,fr", "--pooling", "last", "--out", str(tmp_path / "run"))
    assert code == 2 and err.strip() == "Error: --pooling: probe-centring reads mean-pooled states only"
    assert not (tmp_path / "run").exists()


def test_run_summary_prints_as_the_table_and_plot_takes_a_folder(probe, tiny, tmp_path):
    model, data = tiny
    run = semhub.analyze("probe-centring", model=str(model), data=str(data), views=["en", "fr"])
    text = str(run.summary)
    assert "Summary(" not in text and text.splitlines()[0].strip() == run.summary.title
    for column in run.summary.columns:
        assert column in text
    for row in run.summary.rows:
        assert all(cell in text for cell in row)
    folder = tmp_path / "figures"
    folder.mkdir()
    written = run.result.plot(folder)
    assert written == folder / "probe_centring.png" and written.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in folder.iterdir()) == ["probe_centring.png"]


PLUGIN = '''
from pathlib import Path
import click
import semhub
from semhub import hookimpl

class Norms(semhub.Analysis):
    name = "{prefix}-norms"
    def run(self, ctx):
        raise NotImplementedError

class Length(semhub.Scorer):
    name = "{prefix}-length"
    def score(self, generation, backbone, *, target_language=None):
        return [float(len(c)) for c in generation.continuations]

@hookimpl
def semhub_register_analyses(register):
    register(Norms())

@hookimpl
def semhub_register_scorers(register):
    register(Length())

@hookimpl
def semhub_register_datasets(register):
    register(name="{prefix}-data", path=Path(__file__).with_name("{prefix}.jsonl"), description="two rows")

@hookimpl
def semhub_register_commands(cli):
    cli.add_command(click.Command("{prefix}-hello", callback=lambda: None))

@hookimpl
def semhub_register_steering_presets(register):
    {preset}
'''


def install(tmp_path, monkeypatch, module: str, preset: str) -> None:
    site = tmp_path / f"site-{module}"
    site.mkdir()
    fake_distribution(site, module, PLUGIN.format(prefix=module, preset=preset))
    (site / f"{module}.jsonl").write_text('{"en": "a cat", "fr": "un chat"}\n{"en": "a dog", "fr": "un chien"}\n')
    monkeypatch.syspath_prepend(str(site))


def test_plugins_json_lists_what_each_plugin_registered(fresh_plugins, tmp_path, monkeypatch, cli_run):
    install(tmp_path, monkeypatch, "kit", "pass")
    code, out, _ = cli_run("plugins", "--json")
    assert code == 0
    listing = json.loads(out)
    (row,) = [r for r in listing["plugins"] if r["name"] == "kit"]
    assert row["registered"] == {"analyses": ["kit-norms"], "commands": ["kit-hello"], "datasets": ["kit-data"],
                                 "scorers": ["kit-length"]}
    core = {r["name"]: r["registered"] for r in listing["plugins"]}
    assert "similarity" in core["semhub.analyses"]["analyses"] and core["semhub.lenses"]["lenses"] == ["jacobian", "logit", "tuned"]
    assert "text" in core["text"]["spokes"] and not listing["failed"]


def test_a_plugin_whose_hook_fails_is_unregistered_whole_and_listed_once(fresh_plugins, tmp_path, monkeypatch,
                                                                          cli_run):
    install(tmp_path, monkeypatch, "halfkit", "raise RuntimeError('preset exploded')")
    code, out, _ = cli_run("plugins", "--json")
    assert code == 0
    listing = json.loads(out)
    assert "halfkit" not in {r["name"] for r in listing["plugins"]}
    (failure,) = [f for f in listing["failed"] if f["name"] == "halfkit"]
    assert failure["hook"] == "semhub_register_steering_presets" and "preset exploded" in failure["error"]
    path, line = failure["where"].rsplit(":", 1)
    assert Path(path).name == "halfkit.py" and int(line) > 1
    # nothing it registered through its other hooks stays behind
    assert "halfkit-norms" not in catalog.analyses() and "halfkit-data" not in catalog.datasets()
    assert "halfkit-length" not in catalog.scorers()
    from semhub.cli import cli

    assert "halfkit-hello" not in cli.commands  # its command, added before the failure, is gone too
    code, out, _ = cli_run("plugins")
    (line,) = [line for line in out.splitlines() if "halfkit" in line]
    assert line.split()[:4] == ["halfkit", "FAILED", "in", "semhub_register_steering_presets"]
