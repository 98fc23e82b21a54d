"""``Run``: a finished analysis or steering run in memory, and its run directory.

Everything a run directory holds is computed when the ``Run`` is built (the strict-JSON results,
the summary, the figure rendered to PNG bytes), so a result that cannot be summarised or plotted
fails before anything is written. ``write`` then stages the folder and renames it into place.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semhub.contract.result import Result, Summary
from semhub.errors import PluginError, RunError, SemhubError, first_line
from semhub.places import check_out_dir
from semhub.runs.rundir import dumps, staged_run_dir


@dataclass
class Run:
    """A run: what ``semhub.analyze``, ``semhub.steer`` and ``semhub.reproduce`` return.

    Attributes:
        result: the analysis's ``Result`` (its ``to_json()`` is ``results.json``'s one entry).
        manifest: model, data, every option as given, seed, timings and the environment.
        summary: the terminal table, or None.
        figures: file name -> PNG bytes.
        files: other files of the run directory (``continuations.json``, ``vector.safetensors``) -> bytes.
        results_text: ``results.json`` exactly as written (strict JSON).
    """

    result: Result
    manifest: dict[str, Any]
    summary: Summary | None = None
    figures: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    results_text: str = ""

    @classmethod
    def build(cls, result: Any, manifest: dict[str, Any], *, producer: str, files: dict[str, bytes] | None = None,
              figure_name: str | None = None) -> "Run":
        """Check ``result`` and compute everything the run directory will hold. ``producer`` names the
        analysis and its plugin in errors ("analysis 'cka' (plugin semhub_cka)")."""
        if not isinstance(result, Result) and not all(hasattr(result, a) for a in ("key", "to_json")):
            raise PluginError(f"{producer} returned {type(result).__name__}, not a semhub.Result "
                              "(see docs/plugins/contracts.md: results)")
        try:
            results_text = dumps({result.key: result.to_json()})
            summary_fn = getattr(result, "summary", None)
            summary = summary_fn() if callable(summary_fn) else None
            figures = {}
            name = figure_name or getattr(result, "figure_name", None) or f"{result.key}.png"
            with tempfile.TemporaryDirectory(prefix="semhub-figure-") as tmp:
                path = result.plot(Path(tmp))  # a folder; the result returns the file it wrote
                if path is not None and Path(path).is_file():
                    figures[name] = Path(path).read_bytes()
        except SemhubError:
            raise
        except Exception as exc:
            raise RunError(f"{producer}: its result could not be written ({type(exc).__name__}: {first_line(exc, default='')}); "
                           "nothing was written (SEMHUB_DEBUG=1 shows the traceback)") from exc
        manifest = {**manifest, "figures": sorted(figures)}  # the report embeds these and nothing else
        return cls(result, manifest, summary, figures, dict(files or {}), results_text)

    @property
    def results(self) -> dict[str, Any]:
        """``results.json`` as Python objects."""
        import json

        return json.loads(self.results_text)

    def write(self, out: str | Path) -> Path:
        """Write the run directory at ``out`` (which must not exist or be empty): results.json, the
        figures, the other files, summary.json (the headline table), manifest.json and report.html appear together or not at all."""
        from semhub.runs.report import write_report

        out = Path(out)
        check_out_dir(out)
        with staged_run_dir(out) as tmp:
            (tmp / "results.json").write_text(self.results_text, encoding="utf-8")
            for name, data in {**self.figures, **self.files}.items():
                (tmp / name).write_bytes(data)
            if self.summary is not None:  # the headline table, for the report (and anyone reading the folder)
                table = {"title": self.summary.title, "columns": list(self.summary.columns),
                         "rows": [list(row) for row in self.summary.rows]}
                (tmp / "summary.json").write_text(dumps(table), encoding="utf-8")
            (tmp / "manifest.json").write_text(dumps(self.manifest), encoding="utf-8")
            write_report(tmp)  # inside the staged folder: the run appears complete, report included, or not at all
        return out
