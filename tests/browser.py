"""Headless Chromium for the page tests (report.html, card.html, compare.html): open a page, hover a
series, toggle it from the legend, read what the page marked on <body>, and take a screenshot."""
from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

PROBE = """<script>window.addEventListener('load', function(){setTimeout(function(){
  var d = document.querySelectorAll('.plot')[PLOT], out = {};
  Plotly.Fx.hover(d, [{curveNumber: 0, pointNumber: 1}]);
  var tip = d.querySelector('.hovertext'); out.hover = tip ? tip.textContent : null;
  var toggle = d.querySelector('.legendtoggle');
  ['mousedown', 'mouseup', 'click'].forEach(function(e){ toggle.dispatchEvent(new MouseEvent(e, {bubbles: true})); });
  setTimeout(function(){ out.visible = String(d.data[0].visible);
    document.body.setAttribute('data-probe', JSON.stringify(out)); }, 500);
}, 500);});</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("headless Chromium is missing: `make test` installs the Debian package chromium")


def in_chromium(page: str, folder: Path, plot: int = 1, coloured: int = 20_000) -> dict:
    """Open ``page`` in headless Chromium: no console error, no injected attribute; hover the first series
    of plot number ``plot`` and toggle it from the legend; a screenshot shows the plots (more than
    ``coloured`` saturated pixels: the page itself is black, white and grey). Returns the probe,
    with the attributes the page set on <body> under ``body``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    harness, plain = folder / "probe.html", folder / "page.html"
    harness.write_text(page.replace("</body>", PROBE.replace("PLOT", str(plot)) + "</body>"))
    plain.write_text(page)
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
              "--virtual-time-budget=8000", f"--user-data-dir={folder / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", harness.as_uri()], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not [line for line in dom.stderr.splitlines() if "CONSOLE" in line]  # nothing failed to load
    body = dom.stdout.split("<body", 1)[1].split(">", 1)[0]
    assert "data-pwned" not in body
    probe = json.loads(html.unescape(body.split('data-probe="', 1)[1].split('"', 1)[0]))
    assert probe["visible"] == "legendonly"  # the series was toggled off
    probe["body"] = body
    shot = folder / "shot.png"
    done = subprocess.run([*common, "--window-size=1200,1400", f"--screenshot={shot}", plain.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert int(((pixels.max(-1) - pixels.min(-1)) > 80).sum()) > coloured  # the plots are drawn
    return probe
