"""The ``alignment`` analysis: CKA, debiased CKA, mutual k-NN, CKNNA, RSA, retrieval@k and MRR per layer
for the first view against each other one, with a shuffled-rows null, and a pool-size curve.

Reads only pooled states (``ctx.states_by_layer``: one layer at a time, from a store too), so it
runs ``--from-store``. Retrieval follows the run's ``center`` setting, as the similarity analysis
does (its retrieval@1 is this one's, except that an exact tie counts against the partner here); CKA centres by definition; mutual k-NN and RSA use unit
rows as platonic-rep does. The pool-size curve (does an alignment figure hold as the gallery
grows?) is read at the layer where mutual k-NN peaks: for each pool size m, ``pool_draws``
random pools of m aligned items, retrieval@1 and mutual k-NN within each.

Memory is O(N x block) for any N (CKA from D x D products, neighbours and ranks in row chunks,
CKNNA on its sparse mask) except RSA, which ranks all pairs: it reads ``rsa_items`` items (all of
them when N is smaller), drawn once per run. With a second model (``ctx.partner``) the analysis
compares layer pairs instead (``cross_alignment``).
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np
import torch

from semhub.analyses import alignment_metrics as am
from semhub.contract.result import CurvesResult, nanargmax



class AlignmentResult(CurvesResult):
    key: ClassVar[str] = "alignment"
    summary_title = "alignment per layer (and the pool-size curve at the peak layer)"


def rsa_rows(n: int, cap: int, seed: int) -> torch.Tensor | None:
    """The items RSA reads: all of them up to ``cap``, else ``cap`` drawn once (the same at every layer),
    since its N(N-1)/2 dissimilarities must be ranked together (O(cap^2) memory)."""
    if n <= cap:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:cap].sort().values


def null_metrics(rows: torch.Tensor | None = None) -> dict[str, Callable[[torch.Tensor, torch.Tensor], float]]:
    """The metrics scored afresh at each layer; RSA on ``rows``."""
    def rsa(a: torch.Tensor, b: torch.Tensor) -> float:
        return am.rsa(a, b) if rows is None else am.rsa(a[rows], b[rows])

    return {"linear CKA": am.linear_cka, "debiased CKA": am.debiased_cka, "RSA": rsa}


NULL_METRICS = ("linear CKA", "debiased CKA", "mutual k-NN", "RSA")
"""The metrics that get a shuffled-rows null."""


def centred_ranks(x: torch.Tensor, y: torch.Tensor, center: bool) -> torch.Tensor:
    """Partner ranks, after subtracting each view's mean when the run centres (as similarity does)."""
    if center:
        x, y = x - x.mean(0), y - y.mean(0)
    return am.partner_ranks(x, y)


def neighbours(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each view's k nearest others (k capped at N - 1), found once per layer for every use."""
    kk = min(k, len(x) - 1)
    return am.nearest_neighbours(x, kk), am.nearest_neighbours(y, kk)


def layer_metrics(x: torch.Tensor, y: torch.Tensor, *, k: int, ks: list[int], center: bool,
                  rows: torch.Tensor | None = None,
                  knn: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, float]:
    """Every metric at one layer (mutual k-NN and CKNNA from the ``knn`` lists, found here if not
    given); retrieval only where both views have one width (one space)."""
    scores = {name: fn(x, y) for name, fn in null_metrics(rows).items()}
    kk = min(k, len(x) - 1)
    na, nb = knn or neighbours(x, y, k)
    cknna = am.cknna_of(am.unit_rows(x), am.unit_rows(y), na, nb) if kk >= 2 and len(x) >= 4 \
        else float("nan")
    out = {"linear CKA": scores["linear CKA"], "debiased CKA": scores["debiased CKA"],
           f"mutual k-NN (k={k})": am.mutual_knn_of(na, nb), f"CKNNA (k={k})": cknna, "RSA": scores["RSA"]}
    if x.shape[1] == y.shape[1]:
        ranks = centred_ranks(x, y, center)
        out.update({f"retrieval@{kk}": am.retrieval_at(ranks, kk) for kk in ks})
        out["MRR"] = am.mean_reciprocal_rank(ranks)
    return out


def null_band(x: torch.Tensor, y: torch.Tensor, *, k: int, permutations: int, gen: torch.Generator,
              rows: torch.Tensor | None = None,
              knn: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, list[float]]:
    """Mean and 95% band of each metric over ``permutations`` row shuffles of ``y``. A shuffle only
    relabels what mutual k-NN and RSA rank (j is a neighbour of i in y[p] iff p[j] is one of p[i] in y;
    y[p]'s dissimilarity ranks are y's, permuted), so neighbours and ranks are found once; RSA's
    shuffle permutes its ``rows`` among themselves."""
    n = len(y)
    na, nb = knn or neighbours(x, y, k)
    rx, ry = (am.dissimilarity_ranks(x), am.dissimilarity_ranks(y)) if rows is None else \
        (am.dissimilarity_ranks(x[rows]), am.dissimilarity_ranks(y[rows]))
    norms = am.gram_norm(x), am.gram_norm(y)  # a row shuffle leaves each view's own terms unchanged
    selves = float(am.hsic_unbiased_linear(x, x)), float(am.hsic_unbiased_linear(y, y))
    draws: dict[str, list[float]] = {name: [] for name in NULL_METRICS}
    for _ in range(permutations):
        perm = torch.randperm(n, generator=gen)
        yp = y[perm]
        draws["linear CKA"].append(am.linear_cka(x, yp, norms))
        draws["debiased CKA"].append(am.debiased_cka(x, yp, selves) if n >= 4 else float("nan"))
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(n)
        draws["mutual k-NN"].append(am.mutual_knn_of(na, inverse[nb[perm]]))
        q = perm if rows is None else torch.argsort(perm[rows])  # a uniform shuffle of RSA's items
        draws["RSA"].append(am.rsa_of(rx, ry[q][:, q]))
    out = {}
    for name, values in draws.items():
        finite = [v for v in values if np.isfinite(v)]  # undefined draws (constant states) are left out
        out[name] = [float(np.mean(finite)), *np.percentile(finite, [2.5, 97.5]).tolist()] if finite else [np.nan] * 3
    return out


def pool_curve(x: torch.Tensor, y: torch.Tensor, sizes: list[int], *, k: int, draws: int, center: bool,
               gen: torch.Generator, retrieval: bool = True) -> dict[str, list[float]]:
    """Retrieval@1 (one space only) and mutual k-NN within random pools of each size (mean over
    ``draws`` pools), from one layer pair's states read once, each with its chance level: unrelated
    neighbour lists of k among m - 1 share k / (m - 1) of them, a random ranking retrieves 1 / m."""
    series: dict[str, list[float]] = {"mutual k-NN": [], "mutual k-NN (chance)": [min(k, m - 1) / (m - 1) for m in sizes]}
    if retrieval and x.shape[1] == y.shape[1]:
        series["retrieval@1"] = []
        series["retrieval@1 (chance)"] = [1 / m for m in sizes]
    for m in sizes:
        knn, r1 = [], []
        for _ in range(draws if m < len(x) else 1):
            pick = torch.randperm(len(x), generator=gen)[:m]
            a, b = x[pick], y[pick]
            knn.append(am.mutual_knn(a, b, min(k, m - 1)))
            if "retrieval@1" in series:
                r1.append(am.retrieval_at(centred_ranks(a, b, center), 1))
        series["mutual k-NN"].append(float(np.mean(knn)))
        if r1:
            series["retrieval@1"].append(float(np.mean(r1)))
    return series


def default_pool_sizes(n: int) -> list[int]:
    """16, 64, 256... below N, then N itself."""
    sizes, m = [], 16
    while m < n:
        sizes.append(m)
        m *= 4
    return [*sizes, n]


def pool_sizes(opts, n: int) -> list[int]:
    return sorted({m for m in (list(opts.pool_sizes) or default_pool_sizes(n)) if 2 <= m <= n})


def run_alignment(ctx) -> AlignmentResult:
    opts, s = ctx.options, ctx.settings
    gen = torch.Generator().manual_seed(s.seed)
    first = ctx.views[0]
    records: list[dict[str, Any]] = []
    for other in ctx.views[1:]:
        a, b = ctx.states_by_layer(first), ctx.states_by_layer(other)
        n = int(a.shape[0])
        rows = rsa_rows(n, opts.rsa_items, s.seed)
        per_layer: dict[str, list[float]] = {}
        null: dict[str, list[list[float]]] = {name: [] for name in NULL_METRICS}
        for k in range(len(ctx.layers)):
            x, y = a[:, k].float(), b[:, k].float()
            knn = neighbours(x, y, opts.k)
            for name, value in layer_metrics(x, y, k=opts.k, ks=list(opts.retrieval_k), center=s.center,
                                             rows=rows, knn=knn).items():
                per_layer.setdefault(name, []).append(value)
            if opts.permutations:
                for name, band in null_band(x, y, k=opts.k, permutations=opts.permutations, gen=gen,
                                            rows=rows, knn=knn).items():
                    null[name].append(band)
            if ctx.on_batch:
                ctx.on_batch(n)
        series = dict(per_layer)
        if opts.permutations:
            series["linear CKA (shuffled rows)"] = [band[0] for band in null["linear CKA"]]
            series["mutual k-NN (shuffled rows)"] = [band[0] for band in null["mutual k-NN"]]
        records.append({"a": first, "b": other, "n": n, "x": list(ctx.layers), "k": opts.k,
                        "rsa_items": n if rows is None else len(rows),
                        "title": f"{ctx.model_name}: {first} vs {other} (n={n})", "ylabel": "alignment",
                        "series": series,
                        "null": {name: {"mean": [b[0] for b in bands], "ci95": [b[1:] for b in bands]}
                                 for name, bands in null.items()} if opts.permutations else {}})
        knn_curve = per_layer[f"mutual k-NN (k={opts.k})"]
        peak = nanargmax(knn_curve)
        peak = len(ctx.layers) - 1 if peak is None else peak
        sizes = pool_sizes(opts, n)
        pool = pool_curve(a[:, peak].float(), b[:, peak].float(), sizes, k=opts.k, draws=opts.pool_draws,
                          center=s.center, gen=gen)
        records.append({"a": first, "b": other, "n": n, "x": sizes, "layer": ctx.layers[peak], "pool": True,
                        "xlabel": "candidates in the pool", "ylabel": "alignment",
                        "title": f"{first} vs {other} at layer {ctx.layers[peak]}: pool size", "series": pool})
    return AlignmentResult(records, {"model": ctx.model_name, "pooling": s.pooling})
