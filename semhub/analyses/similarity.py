"""Per-layer cross-view similarity (the paper's Eq. 1), retrieval@1 and bootstrap intervals.

For aligned sets A and B at layer k, C[i, j] = cos(a_i, b_j). Eq. 1 is the mean matched
cosine minus the mean over all off-diagonal pairs. Statistics are reduced per item
(row by row, in chunks), so memory is O(N x chunk) per layer, never N x N x L, and the
bootstrap resamples items.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from semhub.analyses.result import RecordsResult

METRICS = ("matched_cosine", "mismatched_cosine", "eq1", "retrieval_at_1")


def _unit_rows(states: torch.Tensor, center: bool, owned: bool = False, rows: int = 1024) -> torch.Tensor:
    """float32 unit rows, centred with a float64 mean; at most one N x D copy, none if ``owned``.

    ``owned``: ``states`` is a float32 buffer nobody else holds (a store's layer read), so it is
    centred and normalised in place. The float64 sums run ``rows`` rows at a time: a float64 copy
    of the whole layer would double the peak memory of a large run.
    """
    x = states.float()
    if x.data_ptr() == states.data_ptr() and not owned:
        x = x.clone()  # worked on in place below: never touch the caller's states
    blocks = range(0, x.shape[0], rows)
    if center:
        total = sum(torch.sum(x[s : s + rows], 0, dtype=torch.float64) for s in blocks)
        x.sub_((total / x.shape[0]).float())
    for s in blocks:
        part = x[s : s + rows]
        part.div_(torch.linalg.vector_norm(part, dim=-1, keepdim=True, dtype=torch.float64).float().clamp_min_(1e-12))
    return x


def item_statistics(a: torch.Tensor, b: torch.Tensor, *, center: bool, chunk: int | None = None) -> dict[str, np.ndarray]:
    """Per-layer, per-item statistics for aligned (N, K, D) states -> arrays of shape (K, N).

    ``a`` and ``b`` only need ``shape`` and ``[:, k]`` (an activation store's states load one layer
    at a time). Unit vectors are float32 (one N x D copy per view); cosines are summed in float64.
    Rows are compared ``chunk`` at a time: at most ~1M float32 similarities in flight.

    ``matched[k, i]`` = cos(a_i, b_i); ``mismatched[k, i]`` = mean over j != i of cos(a_i, b_j);
    ``hit[k, i]`` = retrieval@1 of item i averaged over both directions (a->b and b->a).
    """
    if a.shape != b.shape:
        raise ValueError(f"aligned states differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    n, n_layers, _ = a.shape
    if n < 2:
        raise ValueError("similarity needs at least two aligned items")
    chunk = chunk or max(16, min(2048, 1_000_000 // n))
    out = {name: np.empty((n_layers, n)) for name in ("matched", "mismatched", "hit")}
    idx = torch.arange(n)
    for k in range(n_layers):
        x = _unit_rows(a[:, k], center, owned=getattr(a, "fresh_layers", False))
        y = _unit_rows(b[:, k], center, owned=getattr(b, "fresh_layers", False))
        col_best = torch.full((n,), -torch.inf, dtype=torch.float64)
        col_arg = torch.zeros(n, dtype=torch.long)
        diag, row_sum, row_hit = (torch.empty(n, dtype=torch.float64) for _ in range(3))
        for start in range(0, n, chunk):
            sims = x[start : start + chunk] @ y.T  # float32; exact in float64, so max/argmax need no copy
            rows = idx[start : start + chunk]
            diag[rows] = sims[rows - start, rows].double()
            row_sum[rows] = sims.sum(1, dtype=torch.float64)
            row_hit[rows] = (sims.argmax(1) == rows).double()
            best, arg = sims.max(0)
            best = best.double()
            better = best > col_best
            col_best = torch.where(better, best, col_best)
            col_arg = torch.where(better, arg + start, col_arg)
        out["matched"][k] = diag.numpy()
        out["mismatched"][k] = ((row_sum - diag) / (n - 1)).numpy()
        out["hit"][k] = ((row_hit + (col_arg == idx).double()) / 2).numpy()
        del x, y  # freed before the next layer is read: one layer of unit vectors alive, not two
    return out


def summarise(stats: dict[str, np.ndarray], *, n_boot: int, seed: int) -> tuple[dict, dict]:
    """Point estimates per layer and item-bootstrap 95% intervals."""
    matched, mismatched, hit = stats["matched"], stats["mismatched"], stats["hit"]
    per_item = {"matched_cosine": matched, "mismatched_cosine": mismatched, "eq1": matched - mismatched, "retrieval_at_1": hit}
    point = {k: v.mean(1).tolist() for k, v in per_item.items()}
    ci: dict[str, list] = {}
    if n_boot > 0:
        n = matched.shape[1]
        rng = np.random.default_rng(seed)
        boot = {key: np.empty((values.shape[0], n_boot)) for key, values in per_item.items()}
        step = max(1, 2_000_000 // n)  # resamples drawn a block at a time: memory O(step x n), not O(n_boot x n)
        for start in range(0, n_boot, step):
            draws = rng.integers(0, n, size=(min(step, n_boot - start), n))  # the same stream as one big draw
            for key, values in per_item.items():
                boot[key][:, start:start + len(draws)] = values[:, draws].mean(-1)
        for key, means in boot.items():
            lo, hi = np.percentile(means, [2.5, 97.5], axis=1)
            ci[key] = [[float(l), float(h)] for l, h in zip(lo, hi)]
    return point, ci


@dataclass
class SimilarityResult(RecordsResult):
    """Curves for each compared view pair; ``to_json()`` is the ``results.json`` entry."""

    key: ClassVar[str] = "similarity"
    plotter: ClassVar[str] = "plot_similarity"

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
