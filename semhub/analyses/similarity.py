"""Per-layer cross-view similarity (the paper's Eq. 1), retrieval@1 and bootstrap intervals
(the statistics live in ``semhub.analyses.stats``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from semhub.contract.analysis import Analysis, PaperSetting
from semhub.contract.result import RecordsResult
from semhub.errors import SemhubError

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch


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
        import numpy as np

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
    from semhub.analyses.stats import item_statistics, summarise

    first = views[0]
    records = []
    for other in views[1:]:
        stats = item_statistics(states[first], states[other], center=center)
        point, ci = summarise(stats, n_boot=n_boot, seed=seed)
        n = int(states[first].shape[0])
        records.append({"a": first, "b": other, "n": n, "layers": list(layers), **point, "ci95": ci, "chance": 1.0 / n})
    return SimilarityResult(records, dict(options or {}, center=center, n_boot=n_boot, seed=seed))


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class SimilarityAnalysis(Analysis):
    """Eq. 1, matched/mismatched cosine and retrieval@1 for the first view against each other one."""

    name = "similarity"
    description = "per-layer cross-view similarity (Eq. 1) and retrieval@1 with bootstrap CIs"
    plot_name = "similarity.png"
    needs_model = False  # reads only pooled states: runs from an activation store (--from-store)
    paper = PaperSetting(template="paper")  # multilingual/similarity.py appends "This represents" / "这代表了"

    def run(self, ctx):
        from semhub.readout.collect import reader

        stacks = {view: reader(ctx.backbone, view).stack for view in ctx.views} if ctx.backbone else {}
        if len(set(stacks.values())) > 1:
            towers = ", ".join(f"{v}: {s}" for v, s in stacks.items())
            raise SemhubError(f"--views: {ctx.model_name} reads these views on different towers ({towers}), whose "
                              "layers do not correspond; for dual encoders use --analysis joint-alignment")
        states = {view: ctx.states_by_layer(view) for view in ctx.views}
        s = ctx.settings
        return similarity(states, ctx.layers, ctx.views, center=s.center, n_boot=s.n_boot, seed=s.seed,
                          options={"model": ctx.model_name, "pooling": s.pooling})
