"""Alignment across two models: every layer of model A (the first view) against every layer of
model B (each other view, ``ctx.partner``): linear CKA, debiased CKA and mutual k-NN heatmaps, the
best layer pair of each, a shuffled-rows null at that pair, and the pool-size curve of mutual k-NN
at the best mutual-k-NN pair.

Why this shape: the platonic-representation question (do a vision model and a language model
organise the same items alike?) has no a-priori layer correspondence, so every pair is scored.
Each layer is summarised once (CKA's self terms, its k nearest neighbours), so a pair costs one
D_A x D_B product, two O(N D) sums and a neighbour intersection. States are read from the store a
block of B's layers at a time (``BLOCK_BYTES``): B once, A once per block, memory bounded for any N.
Retrieval is left out: two models' states live in different spaces, so cosine ranks between them
mean nothing.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from semhub.analyses import alignment_metrics as am
from semhub.analyses.alignment import null_band, pool_curve, pool_sizes, rsa_rows
from semhub.contract.result import RecordsResult, fmt, nanargmax

BLOCK_BYTES = 1 << 30
"""States of model B's layers held at once (float32)."""
METRICS = ("linear CKA", "debiased CKA", "mutual k-NN")


class CrossAlignmentResult(RecordsResult):
    """Records: one ``pairs`` record per (first view, other view) with ``heatmaps`` (metric -> rows of
    model A's layers x columns of model B's), ``best`` (metric -> layer_a, layer_b, value) and ``null``
    at each best pair; then a ``pool`` record (``x`` pool sizes, ``series``) at the best mutual-k-NN pair."""

    key: ClassVar[str] = "alignment"
    summary_title = "alignment across models: the best layer pair of each metric"
    summary_columns = ("views", "metric", "best pair (A x B)", "value", "shuffled rows (95%)")

    def summary_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for rec in self.records:
            if rec.get("pool"):
                for name, values in rec["series"].items():
                    rows.append((f"{rec['a']} x {rec['b']}", f"{name}, pool {rec['x'][0]} -> {rec['x'][-1]}",
                                 f"{rec['layer_a']} x {rec['layer_b']}", f"{fmt(values[0])} -> {fmt(values[-1])}", "-"))
                continue
            for name, best in rec["best"].items():
                null = rec["null"].get(name)
                band = "-" if not null else f"{fmt(null['mean'])} [{fmt(null['ci95'][0])}, {fmt(null['ci95'][1])}]"
                rows.append((f"{rec['a']} x {rec['b']}", name, f"{best['layer_a']} x {best['layer_b']}",
                             fmt(best["value"]), band))
        return rows

    def plot(self, folder) -> Any:

        from semhub.plots import plot_layer_pairs

        return plot_layer_pairs(self, self.figure_path(folder))


def summaries(states, k: int) -> list[am.LayerSummary]:
    """Each layer summarised once, reading it once."""
    return [am.summarise_layer(states[:, i].float(), k) for i in range(states.shape[1])]


def layer_blocks(n_layers: int, rows: int, width: int) -> list[range]:
    per = max(1, BLOCK_BYTES // max(1, rows * width * 4))
    return [range(s, min(s + per, n_layers)) for s in range(0, n_layers, per)]


def heatmaps(a, b, sa: list[am.LayerSummary], sb: list[am.LayerSummary]) -> dict[str, np.ndarray]:
    """(L_A, L_B) of each metric: B's layers a block at a time, each A layer read once per block."""
    out = {name: np.full((len(sa), len(sb)), np.nan) for name in METRICS}
    for block in layer_blocks(len(sb), b.shape[0], b.shape[2]):
        ys = {j: b[:, j].float() for j in block}
        for i in range(len(sa)):
            x = a[:, i].float()
            for j, y in ys.items():
                for name, value in am.paired_metrics(x, y, sa[i], sb[j]).items():
                    out[name][i, j] = value
    return out


def best_pair(grid: np.ndarray) -> tuple[int, int] | None:
    flat = nanargmax([float(v) for v in grid.reshape(-1)])
    return None if flat is None else divmod(flat, grid.shape[1])


def run_cross_alignment(ctx) -> CrossAlignmentResult:
    opts, s, partner = ctx.options, ctx.settings, ctx.partner
    gen = torch.Generator().manual_seed(s.seed)
    first = ctx.views[0]
    a = ctx.states_by_layer(first)
    n = int(a.shape[0])
    k = min(opts.k, n - 1)
    sa = summaries(a, k)
    la, lb = list(ctx.layers), list(partner.layers)
    model_b = partner.model_name
    records: list[dict[str, Any]] = []
    for other in partner.views:
        b = partner.states_by_layer(other)
        sb = summaries(b, k)
        grids = heatmaps(a, b, sa, sb)
        best, null, bands = {}, {}, {}
        rows = rsa_rows(n, opts.rsa_items, s.seed)
        for name, grid in grids.items():
            pair = best_pair(grid)
            if pair is None:
                continue
            i, j = pair
            best[name] = {"layer_a": la[i], "layer_b": lb[j], "value": float(grid[i, j])}
            if opts.permutations:
                if (i, j) not in bands:  # metrics that peak at one pair share its shuffles
                    bands[i, j] = null_band(a[:, i].float(), b[:, j].float(), k=k, permutations=opts.permutations,
                                            gen=gen, rows=rows, knn=(sa[i].neighbours, sb[j].neighbours))
                band = bands[i, j][name]
                null[name] = {"mean": band[0], "ci95": band[1:]}
        label = {"mutual k-NN": f"mutual k-NN (k={k})"}
        records.append({"a": first, "b": other, "model_a": ctx.model_name, "model_b": model_b, "n": n, "k": k,
                        "layers_a": la, "layers_b": lb,
                        "heatmaps": {label.get(m, m): grid.tolist() for m, grid in grids.items()},
                        "best": {label.get(m, m): v for m, v in best.items()},
                        "null": {label.get(m, m): v for m, v in null.items()},
                        "title": f"{ctx.model_name} ({first}) x {model_b} ({other}), n={n}"})
        if "mutual k-NN" in best:
            i, j = la.index(best["mutual k-NN"]["layer_a"]), lb.index(best["mutual k-NN"]["layer_b"])
            sizes = pool_sizes(opts, n)
            records.append({"a": first, "b": other, "pool": True, "x": sizes, "n": n,
                            "layer_a": la[i], "layer_b": lb[j], "xlabel": "candidates in the pool",
                            "ylabel": "alignment", "title": f"pool size at {la[i]} x {lb[j]}",
                            "series": pool_curve(a[:, i].float(), b[:, j].float(), sizes, k=opts.k,
                                                 draws=opts.pool_draws, center=s.center, gen=gen, retrieval=False)})
    return CrossAlignmentResult(records, {"model": ctx.model_name, "model_b": model_b, "pooling": s.pooling})
