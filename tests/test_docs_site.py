"""The documentation site: built strictly from a clean tree with the tutorial notebooks executed, a
newcomer's pages reachable from the navigation, the CLI and API references generated, a broken link
failing the build; the README a short front page whose links all resolve."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HF_HUB_OFFLINE": "1"}


def mkdocs(config: Path, site: Path, execute: bool) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, capture_output=True, text=True, timeout=900,
                          env={**ENV, "SEMHUB_DOCS_EXECUTE": "true" if execute else "false"})


@pytest.mark.real_model
def test_the_site_builds_strictly_with_the_notebooks_executed(tmp_path):
    from semhub.cli import _attach_commands, cli
    from semhub.cli.help import COMMAND_SECTIONS

    site = tmp_path / "site"
    done = mkdocs(ROOT / "mkdocs.yml", site, execute=True)
    assert done.returncode == 0, done.stderr[-3000:]
    index = (site / "index.html").read_text()
    for page in ("guides/first-analysis/", "guides/your-data/", "plugins/tutorial/", "guides/cards/",
                 "notebooks/first-analysis/", "reference/cli/", "reference/api/", "findings/"):
        assert f'href="{page}"' in index, page  # in the navigation of the front page
    _attach_commands()
    reference = (site / "reference" / "cli" / "index.html").read_text()
    # semhub's own commands and its first-party plugins' (a test may have installed another plugin since)
    ours = [name for listed in COMMAND_SECTIONS.values() for name in listed if name in cli.commands]
    missing = [name for name in ours if f"semhub {name}" not in reference]
    assert len(ours) >= 15 and not missing, missing
    api = (site / "reference" / "api" / "index.html").read_text()
    assert "register_plugin" in api and "CalibrationSpec" in api and "Run" in api
    first = (site / "notebooks" / "first-analysis" / "index.html").read_text()
    assert re.search(r"raw peak \d\.\d{3} at layer \d+, calibrated \d\.\d{3}, p = ", first)  # executed outputs
    plugin = (site / "notebooks" / "analysis-plugin" / "index.html").read_text()
    assert "distance between the views" in plugin and "ParameterError - normalise" in plugin
    card = (site / "notebooks" / "hub-card" / "index.html").read_text()
    assert "hub card: " in card and "Plotly.newPlot" in card
    findings = (site / "findings" / "index.html").read_text()
    for img in re.findall(r'src="(img/[^"]+)"', findings.replace("../", "")):
        assert (site / img).exists(), img


def test_a_broken_link_fails_the_build(tmp_path):
    """The site's own settings (strict, link validation) on a two-page copy: a link to a missing page
    fails the build and names it (the whole site is built by the test above)."""
    import yaml

    class Loader(yaml.SafeLoader):
        """mkdocs.yml's !ENV tags read as None: only strict and validation are taken from it."""

    Loader.add_constructor("!ENV", lambda loader, node: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    assert config["strict"] is True
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the guide](guide.md).\n")
    (docs / "guide.md").write_text("# Guide\n\nSee [the missing page](no-such-page.md).\n")
    small = {"site_name": "t", "docs_dir": "docs", "strict": config["strict"], "validation": config["validation"],
             "nav": [{"Home": "index.md"}, {"Guide": "guide.md"}]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(small))
    done = mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site", execute=False)
    assert done.returncode != 0 and "no-such-page.md" in done.stderr, done.stderr[-2000:]
    (docs / "guide.md").write_text("# Guide\n\nBack [home](index.md).\n")
    assert mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site", execute=False).returncode == 0  # the fix builds


def test_the_readme_is_a_short_front_page_whose_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    assert "make demo" in readme and "make test" in readme and "make docs" in readme
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert len(links) >= 15
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
