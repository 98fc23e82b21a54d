"""report.html: the story first, self-contained, every data string escaped, rendered by headless Chromium
with no console errors, hover and legend toggles working, and the plots visible."""
from __future__ import annotations

import html
import json
import shutil

import pytest

INJECTIONS = ['<script>document.body.setAttribute("data-pwned","script")</script>',
              '"><img src=x onerror="document.body.setAttribute(\'data-pwned\',\'img\')">']


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A steering run whose prompts are script injections (they reach the manifest and results)."""
    from conftest import save_tiny_lm
    from semhub.cli import main

    root = tmp_path_factory.mktemp("report")
    save_tiny_lm(root / "tiny")
    args = ["steer", "--model", str(root / "tiny"), "--unembed", "cat", "dog", "--layers", "1,2", "--coeff", "2",
            "--max-new-tokens", "4", "--scorer", "perplexity", "--out", str(root / "run")]
    for prompt in INJECTIONS:
        args += ["--prompt", prompt]
    try:
        main(args)
    except SystemExit as exc:
        assert not exc.code
    return root / "run"


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory):
    """A calibrated similarity run of the tiny model on two views."""
    from conftest import save_tiny_lm
    from semhub.cli import main

    root = tmp_path_factory.mktemp("calibrated")
    save_tiny_lm(root / "tiny")
    rows = root / "rows.jsonl"
    words = ["cat", "dog", "sun", "moon", "tree", "house", "water", "fire", "stone", "bird", "fish", "rain"]
    rows.write_text("".join(json.dumps({"id": i, "en": f"the {w} is here", "de": f"{w} {w} ist da"}) + "\n"
                            for i, w in enumerate(words)))
    try:
        main(["analyze", "--model", str(root / "tiny"), "--data", str(rows), "--views", "en,de", "--permutations", "50",
              "--bootstrap", "50", "--out", str(root / "run")])
    except SystemExit as exc:
        assert not exc.code
    return root / "run"


def test_analyze_and_steer_write_the_report(run_dir, calibrated_run):
    for folder in (run_dir, calibrated_run):
        page = (folder / "report.html").read_text()
        assert page.count('<img alt="') == len(list(folder.glob("*.png"))) >= 1
        assert 'src="http' not in page and "<link" not in page  # nothing to fetch: it opens offline
        assert page.index("What this run shows") < page.index("Curves") < page.index("<details>")  # the story first
        summary = json.loads((folder / "summary.json").read_text())
        assert all(f"<th>{c}</th>" in page for c in summary["columns"])  # the analysis's own headline table
    steering = (run_dir / "report.html").read_text()
    assert "scores.perplexity is highest" in steering and "a random direction of the same norm there gives" in steering


def test_the_story_leads_with_the_calibrated_peak_its_span_and_the_surface(calibrated_run):
    from semhub.runs.report import significant_span, story

    results = json.loads((calibrated_run / "results.json").read_text())
    rec = results["similarity"][0]
    cal = rec["calibration"]["metrics"]["retrieval_at_1"]
    sentence = story(results)[0]
    assert sentence.startswith("en-de: retrieval_at_1 reaches ")
    assert f", {cal['max']['score']:.3g} after calibration against 50 shuffles" in sentence
    assert f"p {cal['max']['p']:.3g})." in sentence
    assert "The surface alone reaches the embeddings" in sentence
    span = significant_span(cal["p"], cal["max"]["index"], 0.05)
    assert ("Significant (p <= 0.05) at layers" in sentence) == (span is not None)
    page = (calibrated_run / "report.html").read_text()
    assert html.escape(sentence) in page
    assert significant_span([0.5, 0.01, 0.02, 0.2, 0.01], 2, 0.05) == (1, 2)
    assert significant_span([0.5, 0.01], 0, 0.05) is None


def test_every_data_string_is_escaped(run_dir):
    page = (run_dir / "report.html").read_text()
    for payload in INJECTIONS:
        assert payload not in page
    assert "&lt;script&gt;document.body.setAttribute" in page
    # the scripts are semhub's own: plotly.js, the load marker and one per curve, nothing from the data
    assert page.count("<script>") == 2 + page.count('class="plot"')


def test_report_renders_in_headless_chromium(run_dir, calibrated_run, tmp_path):
    from browser import in_chromium

    for i, folder in enumerate((run_dir, calibrated_run)):
        page = (folder / "report.html").read_text()
        probe = in_chromium(page, tmp_path / str(i), plot=0, coloured=1_000)
        curves, plots = page.count('class="plot"'), len(list(folder.glob("*.png")))
        assert curves >= 1 and f'data-curves-drawn="{curves}"' in probe["body"]  # every curve drawn by Plotly
        assert f'data-plots-loaded="{plots}"' in probe["body"] and f'data-plots-total="{plots}"' in probe["body"]
        assert probe["hover"]  # the hover label appeared


def test_report_command_and_bad_run_dir(run_dir, tmp_path, cli_run):
    (run_dir / "report.html").unlink()
    code, out, _ = cli_run("report", str(run_dir))
    assert code == 0 and (run_dir / "report.html").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli_run("report", str(empty))
    assert code == 2 and "not a run directory (no manifest.json)" in err and err.strip().count("\n") == 0
    assert not (empty / "report.html").exists()
    page = (run_dir / "report.html").read_text()
    settings = json.loads((run_dir / "results.json").read_text())["steering"]["settings"]
    assert page.count("<tr>") >= len(settings) + 1  # the settings table: a header and a row each


def test_report_embeds_only_the_run_figures_never_through_a_link(run_dir, tmp_path):
    import base64
    import json as _json

    from semhub.runs.report import render

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, symlinks=True)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nTOP-SECRET-CONTENT")
    leaked = base64.b64encode(secret.read_bytes()).decode()
    (copy / "leak.png").symlink_to(secret)  # a link dressed as a figure
    (copy / "planted.png").write_bytes(secret.read_bytes())  # a PNG the run never wrote
    manifest = _json.loads((copy / "manifest.json").read_text())
    assert manifest["figures"]  # the run recorded what it wrote
    page = render(copy)
    assert "leak.png" not in page and "planted.png" not in page and leaked not in page
    for name in manifest["figures"]:
        assert f"<figcaption>{name}</figcaption>" in page
    (copy / manifest["figures"][0]).unlink()
    (copy / manifest["figures"][0]).symlink_to(secret)  # a recorded name replaced by a link
    assert leaked not in render(copy)


@pytest.mark.parametrize("name,content,expect", [
    ("manifest.json", "[1]", "manifest.json: expected a JSON object, got list"),
    ("results.json", "[]", "results.json: expected a JSON object, got list"),
    ("results.json", b"\xff\xfe{}", "results.json: unreadable (not UTF-8)"),
    ("manifest.json", "[" * 100_000, "manifest.json: unreadable (nested too deeply)"),
    ("manifest.json", "link", "manifest.json: not a regular file (a run's files are never links)"),
    ("manifest.json", '{"model": "x", "data": 3, "options": []}', None),  # odd shapes still render
    ("results.json", '{"x": ' + "9" * 5000 + "}", "results.json: unreadable (a number Python will not read"),
], ids=["manifest-list", "results-list", "not-utf8", "deep", "linked-manifest", "odd-shapes", "huge-int"])
def test_report_reads_only_sound_run_files(name, content, expect, run_dir, tmp_path, cli_run):

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    target = copy / name
    target.unlink()
    if content == "link":
        secret = tmp_path / "secret.json"
        secret.write_text('{"password": "TOP-SECRET"}')
        target.symlink_to(secret)  # a link dressed as the manifest: never read, never embedded
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    (copy / "report.html").unlink(missing_ok=True)
    code, _, err = cli_run("report", str(copy))
    if expect is None:
        assert code == 0 and (copy / "report.html").exists(), err
        return
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and expect in lines[0], err
    assert not (copy / "report.html").exists()
