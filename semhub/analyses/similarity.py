"""Per-layer cross-view similarity (the paper's Eq. 1), retrieval@1 and bootstrap intervals
(the statistics live in ``semhub.analyses.stats``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from semhub.analyses.stats import item_statistics, summarise
from semhub.contract.result import RecordsResult


@dataclass
class SimilarityResult(RecordsResult):
    """Curves for each compared view pair; ``to_json()`` is the ``results.json`` entry."""

    key: ClassVar[str] = "similarity"

    def plot(self, folder):
        from semhub.plots import plot_similarity

        return plot_similarity(self, self.figure_path(folder))

    def record(self, a: str, b: str) -> dict[str, Any]:
        for rec in self.records:
            if (rec["a"], rec["b"]) == (a, b):
                return rec
        raise KeyError(f"no similarity record for {a}-{b}")

    def peak(self, a: str, b: str, metric: str = "retrieval_at_1") -> tuple[int, float]:
        """(layer, value) of the best layer for a pair."""
        rec = self.record(a, b)
        k = int(np.argmax(rec[metric]))
        return rec["layers"][k], rec[metric][k]

    summary_title = "peak retrieval@1 per view pair"
    summary_columns = ("pair", "n", "peak layer", "retrieval@1", "Eq. 1 there", "chance")

    def summary_rows(self) -> list[tuple[str, ...]]:
        """The terminal summary: each pair's best layer by retrieval@1."""
        rows = []
        for rec in self.records:
            layer, value = self.peak(rec["a"], rec["b"])
            k = rec["layers"].index(layer)
            rows.append((f"{rec['a']}-{rec['b']}", str(rec["n"]), str(layer), f"{value:.3f}",
                         f"{rec['eq1'][k]:.3f}", f"{rec['chance']:.3f}"))
        return rows



def similarity(
    states: dict[str, torch.Tensor],
    layers: list[int],
    views: list[str],
    *,
    center: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    options: dict[str, Any] | None = None,
) -> SimilarityResult:
    """Compare ``views[0]`` with each other view, at every captured layer."""
    first = views[0]
    records = []
    for other in views[1:]:
        stats = item_statistics(states[first], states[other], center=center)
        point, ci = summarise(stats, n_boot=n_boot, seed=seed)
        n = int(states[first].shape[0])
        records.append({"a": first, "b": other, "n": n, "layers": list(layers), **point, "ci95": ci, "chance": 1.0 / n})
    return SimilarityResult(records, dict(options or {}, center=center, n_boot=n_boot, seed=seed))
