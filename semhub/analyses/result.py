"""The shape every built-in analysis result shares: JSON records plus a plot."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass
class RecordsResult:
    """``records`` go to ``results.json`` under ``key``; ``plotter`` names a function in ``semhub.plotting``."""

    records: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    key: ClassVar[str] = ""
    plotter: ClassVar[str] = ""

    def to_json(self) -> list[dict[str, Any]]:
        return self.records

    def plot(self, path: str | Path) -> Path:
        from semhub import plotting

        return getattr(plotting, self.plotter)(self, Path(path))


class CurvesResult(RecordsResult):
    """Records with ``x`` and named ``series`` of y values (``semhub.plotting.plot_curves``), and a
    summary row per curve: where it peaks and where it ends. Plugins subclass it with a ``key``."""

    plotter: ClassVar[str] = "plot_curves"
    summary_columns = ("curve", "peak x", "peak value", "at last x")
    summary_title = ""

    def summary_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for rec in self.records:
            for name, values in rec["series"].items():
                k = int(np.nanargmax(values))
                rows.append((name, str(rec["x"][k]), f"{values[k]:.4g}", f"{values[-1]:.4g}"))
        return rows
