"""What an analysis returns: ``Result`` (the contract), ``RecordsResult`` and ``CurvesResult`` (the shapes
every built-in result uses), and ``Summary`` (the terminal table).

``results.json`` holds ``{result.key: result.to_json()}``, written as strict JSON (NaN and
infinities become ``null``). The run asks for the summary and the plot before it writes
anything, so a result that fails to summarise or plot leaves no run directory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence


@dataclass(frozen=True)
class Summary:
    """A table for the terminal (and the report): ``title``, ``columns`` and rows of strings.

    ``print(summary)`` prints the table as the CLI shows it (``str`` renders it as plain text); rich
    consoles and notebooks get the same table through ``__rich__``.
    """

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title)
        for col in self.columns:
            table.add_column(col, justify="right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def __str__(self) -> str:
        from io import StringIO

        from rich.console import Console

        buffer = StringIO()
        widths = [max([len(c), *(len(str(row[i])) for row in self.rows if i < len(row))])
                  for i, c in enumerate(self.columns)]
        Console(file=buffer, width=max(80, sum(w + 3 for w in widths) + 1), color_system=None,
                force_terminal=False).print(self)
        return buffer.getvalue().rstrip("\n")


class Result:
    """The base of every analysis result.

    Attributes:
        key: the entry in ``results.json`` (e.g. ``"similarity"``); also the default figure name.
        plot_name: the figure's file name in the run directory (default ``<key>.png``).
    """

    key: ClassVar[str] = ""
    plot_name: ClassVar[str] = ""

    def to_json(self) -> Any:
        """JSON-serialisable content (lists, dicts, numbers, strings); NaN is written as null."""
        raise NotImplementedError

    def plot(self, folder: str | Path) -> Path | None:
        """Write the figure into ``folder`` (a PNG named ``figure_name``) and return the file written,
        or return None for no figure. The run keeps the file under the analysis's ``plot_name``."""
        return None

    def figure_path(self, folder: str | Path) -> Path:
        """Where ``plot(folder)`` writes: ``folder / figure_name``."""
        return Path(folder) / self.figure_name

    def summary(self) -> Summary | None:
        """The terminal table; None for none."""
        return None

    @property
    def figure_name(self) -> str:
        return self.plot_name or f"{self.key}.png"


def fmt(value: Any, spec: str = ".3f") -> str:
    """A number for a summary cell; ``-`` for None or NaN (an undefined statistic)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def nanargmax(values: Sequence[Any]) -> int | None:
    """Index of the largest finite value, None when there is none (an all-NaN series)."""
    best = None
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if best is None or v > values[best]:
            best = i
    return best


@dataclass
class RecordsResult(Result):
    """``records`` (a list of JSON objects) go to ``results.json`` under ``key``; ``options`` are the
    settings the plot's title shows (model, pooling...). A summary table comes from ``summary_title``,
    ``summary_columns`` and ``summary_rows()``, when a subclass sets them."""

    records: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    summary_title: ClassVar[str] = ""
    summary_columns: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> Any:
        return self.records

    def summary_rows(self) -> list[tuple[str, ...]]:
        return []

    def summary(self) -> Summary | None:
        columns = tuple(self.summary_columns)
        if not columns:
            return None
        return Summary(self.summary_title or self.key, columns, [tuple(r) for r in self.summary_rows()])


class CurvesResult(RecordsResult):
    """Records with ``x`` (a list), ``series`` (name -> list of y values, NaN allowed) and optional
    ``title``, ``xlabel`` and ``ylabel``; plotted as line panels, one per record, and summarised per
    curve: where it peaks and where it ends. Plugins subclass it with a ``key``."""

    summary_columns: ClassVar[tuple[str, ...]] = ("curve", "peak x", "peak value", "at last x")

    def summary_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for rec in self.records:
            for name, values in rec["series"].items():
                k = nanargmax(values)
                peak = ("-", "-") if k is None else (str(rec["x"][k]), fmt(values[k], ".4g"))
                rows.append((name, *peak, fmt(values[-1], ".4g") if values else "-"))
        return rows

    def plot(self, folder: str | Path) -> Path:
        from semhub.plots import plot_curves

        return plot_curves(self, self.figure_path(folder))
