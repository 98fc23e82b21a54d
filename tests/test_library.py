"""semhub as a library: the import graph, the typed contract, Python == CLI, strict JSON, clashes."""
from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import semhub
from semhub import hookimpl
from semhub.errors import ParameterError
from semhub.plugins import catalog

ROOT = Path(__file__).resolve().parents[1] / "semhub"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> semhub modules it imports anywhere in its code (function-level imports included)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def test_no_import_cycle_and_no_library_module_imports_the_cli():
    graph = import_graph()
    for name, deps in graph.items():
        # semhub.entry is the executable (it imports the CLI after installing the Ctrl-C handler), not library
        if not name.startswith("semhub.cli") and name != "semhub.entry":
            assert not {d for d in deps if d.startswith("semhub.cli")}, name
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_help_and_listings_do_not_import_torch():
    """``--help``, ``plugins`` (every plugin loaded), ``models`` and every command's ``--help``, the
    analysis-specific help included, in one process: the first that imports torch is named."""
    code = """
import sys
import click
from semhub.cli import _attach_commands, cli, main
from semhub.plugins import catalog

catalog.load_all()
_attach_commands()  # analyze, steer and the plugins' commands, as main() does
runs = [["--help"], ["plugins"], ["plugins", "--json"], ["models"]]
runs += [[name, "--help"] for name in cli.list_commands(click.Context(cli))]
runs += [["analyze", "--analysis", name, "--help"] for name in sorted(catalog.analyses())]
for args in runs:
    try:
        main(args)
    except SystemExit:
        pass
    heavy = sorted(m for m in ("torch", "transformers", "numpy", "matplotlib") if m in sys.modules)
    if heavy:
        print("HEAVY", args, heavy)
        break
else:
    print("HEAVY none after", len(runs), "commands")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert "HEAVY none after" in out, out[-600:]
    assert int(out.split("HEAVY none after ")[1].split()[0]) > 20  # every command and analysis was tried


class Knn(semhub.Options):
    k: int = semhub.option(5, min=1, help="neighbours")
    metric: str = semhub.option("cosine", choices=("cosine", "l2"), help="distance")
    normalise: bool = semhub.option(True, help="unit rows first")
    views_from: list[str] = semhub.option([], help="repeatable")


def test_options_convert_validate_and_name_the_parameter():
    opts = Knn.build({"k": "7", "metric": "l2", "normalise": "false", "views_from": ["a", "b"]})
    assert (opts.k, opts.metric, opts.normalise, opts.views_from) == (7, "l2", False, ["a", "b"])
    assert Knn.build({}).views_from == [] and Knn.build({}).views_from is not Knn.build({}).views_from
    for bad, name in (({"k": 0}, "k"), ({"k": "x"}, "k"), ({"metric": "cos"}, "metric"), ({"nope": 1}, "nope")):
        with pytest.raises(ParameterError) as err:
            Knn.build(bad)
        assert err.value.parameter == name and str(err.value).startswith(f"{name}: ")


def test_float_options_refuse_values_that_are_not_finite():
    """NaN compares false with every bound, so it is refused before the bounds are checked."""
    for bad in ("nan", "inf", "-inf", float("nan")):
        with pytest.raises(ParameterError) as err:
            NormAnalysis.Options.build({"factor": bad})
        assert err.value.parameter == "factor" and "not a finite number" in str(err.value)
    assert NormAnalysis.Options.build({"factor": "2.5"}).factor == 2.5


class NormAnalysis(semhub.Analysis):
    name = "toy-norms"
    description = "mean state norm per layer, times a factor"
    needs_model = False

    class Options(semhub.Options):
        factor: float = semhub.option(1.0, help="multiplies every value")
        tag: str = semhub.option("t", help="a label")

    def run(self, ctx):
        series = {v: [float(x) * ctx.options.factor for x in ctx.states(v).norm(dim=-1).mean(0)] for v in ctx.views}
        series["undefined"] = [math.nan] * len(ctx.layers)  # an all-NaN series: strict JSON, no crash
        return semhub.CurvesResult([{"x": ctx.layers, "series": series, "title": ctx.options.tag}])


class DictAnalysis(semhub.Analysis):
    name = "toy-dict"
    needs_model = False

    def run(self, ctx):
        return {"not": "a result"}


class ShadowScorer(semhub.Scorer):
    name = "language"  # clashes with the built-in scorer

    def score(self, generation, backbone, *, target_language=None):
        return [0.0]


class ToyPlugin:
    @hookimpl
    def semhub_register_analyses(self, register):
        register(NormAnalysis())
        register(DictAnalysis)  # a class is instantiated
        register(NormAnalysis.__new__(type("Shadow", (NormAnalysis,), {"name": "similarity"})))

    @hookimpl
    def semhub_register_scorers(self, register):
        register(ShadowScorer())

    @hookimpl
    def semhub_register_datasets(self, register):
        register(name="toy-kw", path=Path(__file__).parent / "bad_inputs" / "cases.toml", description="by keyword")


@pytest.fixture
def toy(fresh_plugins):
    fresh_plugins.load_plugins()
    fresh_plugins.pm.register(ToyPlugin(), name="toy-plugin")
    catalog.clear_cache()
    yield fresh_plugins
    fresh_plugins.pm.unregister(name="toy-plugin")
    catalog.clear_cache()


def test_keywords_register_and_name_clashes_are_refused_naming_both(toy):
    assert catalog.datasets()["toy-kw"].description == "by keyword"
    assert type(catalog.analyses()["similarity"]).__name__ == "SimilarityAnalysis"
    assert type(catalog.scorers()["language"]).__module__ == "semhub.default_plugins.scorers"
    clashes = [f.error for f in toy.failures if "already registered" in f.error]
    assert any("analysis 'similarity'" in e and "semhub.analyses" in e and "toy-plugin" in e for e in clashes)
    assert any("scorer 'language'" in e and "scorers" in e and "toy-plugin" in e for e in clashes)


@pytest.fixture
def tiny_dir(tmp_path):
    from conftest import save_tiny_lm

    return save_tiny_lm(tmp_path / "tiny")


def _rows(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "rows.jsonl"
    words = ["cat", "dog", "house", "tree", "river", "book", "lamp", "road"]
    path.write_text("".join(json.dumps({"en": f"the {w}", "fr": f"le {w}"}) + "\n" for w in words[:n]))
    return path


def test_python_and_cli_give_byte_identical_results(toy, tiny_dir, tmp_path, cli_run):
    data = _rows(tmp_path)
    code, _, err = cli_run("analyze", "--model", str(tiny_dir), "--data", str(data), "--views", "en,fr",
                           "--analysis", "toy-norms", "--factor", "2.5", "-o", "tag=hello", "--limit", "5",
                           "--out", str(tmp_path / "cli"))
    assert code == 0, err
    run = semhub.analyze("toy-norms", model=str(tiny_dir), data=str(data), views=["en", "fr"], factor=2.5,
                         tag="hello", limit=5)
    run.write(tmp_path / "py")
    cli_text = (tmp_path / "cli" / "results.json").read_text()
    assert cli_text == (tmp_path / "py" / "results.json").read_text()
    payload = json.loads(cli_text)  # strict JSON: NaN written as null
    (rec,) = payload["toy_norms"] if "toy_norms" in payload else payload[""]
    assert rec["series"]["undefined"] == [None] * len(rec["x"]) and rec["title"] == "hello"
    manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert manifest["options"]["limit"] == 5 and manifest["options"]["analysis_options"] == {"factor": 2.5, "tag": "hello"}
    # the same default analysis from both sides, too
    code, _, err = cli_run("analyze", "--model", str(tiny_dir), "--data", str(data), "--views", "en,fr",
                           "--bootstrap", "20", "--out", str(tmp_path / "cli-sim"))
    assert code == 0, err
    semhub.analyze(model=str(tiny_dir), data=str(data), views=["en", "fr"], n_boot=20).write(tmp_path / "py-sim")
    assert (tmp_path / "cli-sim" / "results.json").read_bytes() == (tmp_path / "py-sim" / "results.json").read_bytes()


def test_analysis_options_errors_name_the_flag_and_help_lists_them(toy, tiny_dir, tmp_path, cli_run):
    data = _rows(tmp_path)
    base = ["analyze", "--model", str(tiny_dir), "--data", str(data), "--analysis", "toy-norms"]
    code, _, err = cli_run(*base, "--factor", "lots", "--out", str(tmp_path / "a"))
    assert code == 2 and err.strip() == "Error: --factor: expected float, got 'lots'"
    code, _, err = cli_run(*base, "--bogus", "1", "--out", str(tmp_path / "b"))
    assert code == 2 and "--bogus" in err and "--factor" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    code, out, _ = cli_run("analyze", "--analysis", "toy-norms", "--help")
    assert code == 0 and "--factor FLOAT" in out and "multiplies every value" in out
    with pytest.raises(ParameterError, match="^factor: "):
        semhub.analyze("toy-norms", model=str(tiny_dir), data=str(data), factor="lots")


def test_a_result_that_is_not_a_result_is_one_line_and_writes_nothing(toy, tiny_dir, tmp_path, cli_run):
    code, _, err = cli_run("analyze", "--model", str(tiny_dir), "--data", str(_rows(tmp_path)), "--analysis",
                           "toy-dict", "--out", str(tmp_path / "run"))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "toy-dict" in err and "toy-plugin" in err and "not a semhub.Result" in err
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run.partial-*"))


def test_a_scorer_returning_the_wrong_length_names_its_plugin(toy, tiny_dir):
    from semhub.errors import PluginError
    from semhub.steering.generate import Generation
    from semhub.steering.run import checked_scores

    gen = Generation(["a", "b"], ["x", "y"], [[1], [2]])
    with pytest.raises(PluginError, match="scorer 'language' .* returned 1 value\\(s\\) for 2 continuations"):
        checked_scores(ShadowScorer(), gen, None, None)


def test_unembed_on_two_words_with_the_same_first_token_is_refused(tiny_dir):
    bb = semhub.load(str(tiny_dir))
    with pytest.raises(ParameterError, match="^unembed: .*both start with the token"):
        semhub.from_unembedding(bb, "cat", "cat")


class _OnlyNorms:
    @hookimpl
    def semhub_register_analyses(self, register):
        register(NormAnalysis())


def test_register_plugin_adds_an_analysis_in_process_and_takes_it_back(fresh_plugins, tiny_dir, tmp_path):
    fresh_plugins.load_plugins()
    assert "toy-norms" not in catalog.analyses()
    assert semhub.register_plugin(_OnlyNorms(), name="in-process") == "in-process"
    try:
        with pytest.raises(semhub.SemhubError, match="already registered"):
            semhub.register_plugin(_OnlyNorms(), name="in-process")
        run = semhub.analyze("toy-norms", model=str(tiny_dir), data=str(_rows(tmp_path)), views=["en", "fr"], factor=2.0)
        assert run.result.records[0]["series"]["en"]  # it ran like an installed plugin's analysis
    finally:
        semhub.unregister_plugin("in-process")
    assert "toy-norms" not in catalog.analyses()
    with pytest.raises(semhub.SemhubError, match="no plugin named 'in-process'"):
        semhub.unregister_plugin("in-process")
