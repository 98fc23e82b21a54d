"""report.html: self-contained, every data string escaped, rendered by headless Chromium with
no console errors and the plots visible."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

INJECTIONS = ['<script>document.body.setAttribute("data-pwned","script")</script>',
              '"><img src=x onerror="document.body.setAttribute(\'data-pwned\',\'img\')">']


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("headless Chromium is missing: `make test` installs the Debian package chromium")


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


def test_analyze_and_steer_write_the_report(run_dir):
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(list(run_dir.glob("*.png"))) >= 1
    assert "http://" not in page and "https://" not in page  # nothing to fetch: it opens offline


def test_every_data_string_is_escaped(run_dir):
    page = (run_dir / "report.html").read_text()
    for payload in INJECTIONS:
        assert payload not in page
    assert "&lt;script&gt;document.body.setAttribute" in page
    assert page.count("<script>") == 1  # semhub's own, nothing from the data


def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    browser = chromium()
    url = (run_dir / "report.html").as_uri()
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
              "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console  # no script errors, no failed resources
    plots = len(list(run_dir.glob("*.png")))
    assert f'data-plots-loaded="{plots}"' in dom.stdout and f'data-plots-total="{plots}"' in dom.stdout
    assert "data-pwned" not in dom.stdout.split("<body", 1)[1].split(">", 1)[0]

    shot = tmp_path / "shot.png"
    done = subprocess.run([*common, "--window-size=1200,1600", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the page itself is black, white and grey: saturated colour comes only from the embedded plots
    colourful = int(((pixels.max(-1) - pixels.min(-1)) > 80).sum())
    assert colourful > 20_000, f"the screenshot shows no plot ({colourful} coloured pixels)"


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
    assert "scores.perplexity is highest" in page


def test_report_embeds_only_the_run_figures_never_through_a_link(run_dir, tmp_path):
    import base64
    import json as _json
    import shutil

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
    import shutil

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
