"""The shape every built-in analysis result shares: JSON records plus a plot."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


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
