"""The ``alignment`` analysis: CKA, debiased CKA, mutual k-NN, CKNNA, RSA, retrieval@k and MRR per layer
for the first view against each other one, each calibrated against its permutation null (``calibration``:
per layer, and the max and mean over layers), and a pool-size curve.

Reads only pooled states (``ctx.states_by_layer``: one layer at a time, from a store too), so it
runs ``--from-store``. Retrieval follows the run's ``center`` setting, as the similarity analysis
does (its retrieval@1 is this one's, except that an exact tie counts against the partner here); CKA centres by definition; mutual k-NN and RSA use unit
rows as platonic-rep does. The pool-size curve (does an alignment figure hold as the gallery
grows?) is read at the layer where mutual k-NN peaks: for each pool size m, ``pool_draws``
random pools of m aligned items, retrieval@1 and mutual k-NN within each.

Memory is O(N x block) for any N (CKA from D x D products, neighbours and ranks in row chunks,
CKNNA on its sparse mask) except RSA, which ranks all pairs: it reads ``rsa_items`` items (all of
them when N is smaller), drawn once per run.

Across two models (``ctx.partner``, ``run_cross_alignment`` below): every layer of model A (the first
view) against every layer of model B (each other view): linear CKA, debiased CKA and mutual k-NN heatmaps, the
best layer pair of each, every pair and the best pair calibrated against the permutation null (the best
pair chosen again under each shuffle), and the pool-size curve of mutual k-NN
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

import math
from typing import TYPE_CHECKING, Any, ClassVar, Collection

from semhub.contract.analysis import Analysis
from semhub.contract.options import Options, option
from semhub.contract.result import CurvesResult, RecordsResult, fmt, nanargmax

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import numpy as np
    import torch

    from semhub.analyses import alignment_metrics as am


class AlignmentResult(CurvesResult):
    key: ClassVar[str] = "alignment"
    summary_title = "alignment per layer: raw peak, calibrated max over layers, the embedding layer; pool sizes"
    summary_columns = ("pair", "metric", "peak layer", "value", "calibrated max", "p", "embeddings", "gain")

    def summary_rows(self) -> list[tuple[str, ...]]:
        """Per pair and metric: the raw peak, the calibrated max over layers with its p-value, the embedding
        layer's calibrated score and the gain over it at the best layer; then the pool-size curves."""
        rows = []
        for rec in self.records:
            pair = f"{rec['a']}-{rec['b']}"
            if rec.get("pool"):
                for name, values in rec["series"].items():
                    if "(chance)" not in name:
                        rows.append((pair, f"{name}, pool {rec['x'][0]} -> {rec['x'][-1]}", str(rec["layer"]),
                                     f"{fmt(values[0])} -> {fmt(values[-1])}", "-", "-", "-", "-"))
                continue
            metrics = (rec.get("calibration") or {}).get("metrics", {})
            for name, values in rec["series"].items():
                if "(null mean)" in name:
                    continue
                k = nanargmax(values)
                cal = metrics.get(name) or {}
                top = cal.get("max") or {}
                at0 = cal["score"][rec["x"].index(0)] if cal and 0 in rec["x"] else None
                best = cal["score"][top["index"]] if "index" in top else None
                gain = None if best is None or at0 is None else best - at0
                rows.append((pair, name, "-" if k is None else str(rec["x"][k]), fmt(None if k is None else values[k]),
                             fmt(top.get("score")), fmt(top.get("p"), ".3g"), fmt(at0), fmt(gain)))
        return rows


def rsa_rows(n: int, cap: int, seed: int) -> torch.Tensor | None:
    """The items RSA reads: all of them up to ``cap``, else ``cap`` drawn once (the same at every layer),
    since its N(N-1)/2 dissimilarities must be ranked together (O(cap^2) memory)."""
    import torch

    if n <= cap:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:cap].sort().values


def centred_ranks(x: torch.Tensor, y: torch.Tensor, center: bool) -> torch.Tensor:
    """Partner ranks, after subtracting each view's mean when the run centres (as similarity does)."""
    from semhub.analyses import alignment_metrics as am

    if center:
        x, y = x - x.mean(0), y - y.mean(0)
    return am.partner_ranks(x, y)


def neighbours(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each view's k nearest others (k capped at N - 1), found once per layer for every use."""
    from semhub.analyses import alignment_metrics as am

    kk = min(k, len(x) - 1)
    return am.nearest_neighbours(x, kk), am.nearest_neighbours(y, kk)


def layer_draws(x: torch.Tensor, y: torch.Tensor, perms: torch.Tensor, *, k: int, ks: list[int], center: bool,
                rows: torch.Tensor | None = None, knn: tuple[torch.Tensor, torch.Tensor] | None = None,
                only: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Every metric (or those named in ``only``) at one layer with ``y``'s rows permuted by each row of
    ``perms`` ((P, N), row 0 the identity: the observed value) -> metric -> (P,). Nothing is recomputed
    that a shuffle leaves alone: CKA's self terms and Gram matrices, each view's neighbour lists (a
    shuffle only relabels them: j is a neighbour of i in y[p] iff p[j] is one of p[i]'s in y), RSA's
    dissimilarity ranks (permuted, not re-ranked), retrieval's sorted similarities
    (``partner_ranks_under``). Retrieval only where both views have one width (one space); RSA on
    ``rows`` (a shuffle of them among themselves)."""
    import numpy as np
    import torch

    from semhub.analyses import alignment_metrics as am

    n = len(x)
    kk = min(k, n - 1)
    knn_name, cknna_name = f"mutual k-NN (k={k})", f"CKNNA (k={k})"
    retrieval = [*(f"retrieval@{cut}" for cut in ks), "MRR"]
    want = (lambda *names: True) if only is None else (lambda *names: any(name in only for name in names))  # noqa: E731
    out: dict[str, list[float]] = dict(am.cka_draws(x, y, perms)) if want("linear CKA", "debiased CKA") else {}
    if want(knn_name, cknna_name):
        na, nb = knn or neighbours(x, y, k)
    if want(cknna_name):
        ux, uy = am.unit_rows(x), am.unit_rows(y)
        out[cknna_name] = am.cknna_draws(ux, uy, na, nb, perms) if kk >= 2 and n >= 4 else [float("nan")] * len(perms)
    if want(knn_name):
        inverse = am.inverse_permutations(perms)
        out[knn_name] = [am.mutual_knn_of(na, inv[nb[perm]]) for perm, inv in zip(perms, inverse)]  # y[perm]'s lists
    if want("RSA"):
        rx, ry = (am.dissimilarity_ranks(x), am.dissimilarity_ranks(y)) if rows is None else \
            (am.dissimilarity_ranks(x[rows]), am.dissimilarity_ranks(y[rows]))
        out["RSA"] = []
        for perm in perms:
            q = perm if rows is None else torch.argsort(perm[rows])  # a uniform shuffle of RSA's items
            out["RSA"].append(am.rsa_of(rx, ry[q][:, q]) if len(rx) >= 3 else float("nan"))
    if x.shape[1] == y.shape[1] and want(*retrieval):
        if center:
            x, y = x - x.mean(0), y - y.mean(0)
        ranks = am.partner_ranks_under(x, y, perms)  # (P, 2, N)
        for cut in ks:
            out[f"retrieval@{cut}"] = (ranks <= cut).double().mean((1, 2)).tolist()
        out["MRR"] = (1.0 / ranks.double()).mean((1, 2)).tolist()
    return {name: np.asarray(values, dtype=np.float64) for name, values in out.items()}


def layer_metrics(x: torch.Tensor, y: torch.Tensor, *, k: int, ks: list[int], center: bool,
                  rows: torch.Tensor | None = None, knn: tuple[torch.Tensor, torch.Tensor] | None = None,
                  only: Collection[str] | None = None) -> dict[str, float]:
    """Every metric (or those in ``only``) at one layer: ``layer_draws`` under the identity alone."""
    import torch

    draws = layer_draws(x, y, torch.arange(len(x))[None], k=k, ks=ks, center=center, rows=rows, knn=knn, only=only)
    return {name: float(values[0]) for name, values in draws.items()}


def pool_curve(x: torch.Tensor, y: torch.Tensor, sizes: list[int], *, k: int, draws: int, center: bool,
               gen: torch.Generator, retrieval: bool = True) -> dict[str, list[float]]:
    """Retrieval@1 (one space only) and mutual k-NN within random pools of each size (mean over
    ``draws`` pools), from one layer pair's states read once, each with its chance level: unrelated
    neighbour lists of k among m - 1 share k / (m - 1) of them, a random ranking retrieves 1 / m."""
    import numpy as np
    import torch

    from semhub.analyses import alignment_metrics as am

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


def pair_draws(ctx, a, b, perms: torch.Tensor, rows: torch.Tensor | None) -> dict[str, np.ndarray]:
    """Every metric at every layer under every row of ``perms``: metric -> (P, L)."""
    import numpy as np

    opts, s = ctx.options, ctx.settings
    draws: dict[str, list[np.ndarray]] = {}
    for k in range(len(ctx.layers)):
        x, y = a[:, k].float(), b[:, k].float()
        for name, values in layer_draws(x, y, perms, k=opts.k, ks=list(opts.retrieval_k), center=s.center,
                                        rows=rows, knn=neighbours(x, y, opts.k)).items():
            draws.setdefault(name, []).append(values)
        if ctx.on_batch:
            ctx.on_batch(len(x))
    return {name: np.stack(columns, axis=1) for name, columns in draws.items()}


JACKKNIFE_ITEMS = 2000
"""Above this many items no pseudo-values are kept: each block re-searches neighbours and re-ranks RSA's
pairs (O(N^2) per block), so a 20k-item run would spend longer on them than on its calibration."""


def peak_items(a: torch.Tensor, b: torch.Tensor, metrics: dict[str, Any], layers: list[int], *, blocks: int, k: int,
               ks: list[int], center: bool, rows: torch.Tensor | None) -> dict[str, dict[str, Any]]:
    """Per metric, at its calibrated max layer: the jackknife pseudo-values of ``blocks`` blocks of items
    (item i in block i mod G), G s - (G - 1) s_-g, where s_-g is the metric without block g.

    Why: a paired test between two models (``semhub compare``) needs values per item, and CKA, mutual
    k-NN or RSA have none; pseudo-values are the standard stand-in (their mean is the jackknife
    estimate, their spread its standard error), and for a mean over items they are the blocks' means.
    Blocks fall at the same items in every run over the same data, so two cards' values pair up. Only
    the metrics peaking at a layer are recomputed there; none above ``JACKKNIFE_ITEMS`` items."""
    import torch

    n = len(a)
    g = min(blocks, n)
    if g < 2 or n > JACKKNIFE_ITEMS:
        return {}
    by_layer: dict[int, list[str]] = {}
    for name, cal in metrics.items():
        top = cal.get("max")
        if top is not None and top.get("index") is not None:
            by_layer.setdefault(int(top["index"]), []).append(name)
    block = torch.arange(n) % g
    out: dict[str, dict[str, Any]] = {}
    for at, names in sorted(by_layer.items()):
        x, y = a[:, at].float(), b[:, at].float()
        whole = layer_metrics(x, y, k=k, ks=ks, center=center, rows=rows, only=names)
        left = []
        for j in range(g):
            keep = (block != j).nonzero().flatten()
            sub = None
            if rows is not None:
                where = torch.full((n,), -1, dtype=torch.long)
                where[keep] = torch.arange(len(keep))
                sub = where[rows][where[rows] >= 0]
            left.append(layer_metrics(x[keep], y[keep], k=k, ks=ks, center=center, rows=sub, only=names))
        for name in names:
            values = [g * whole[name] - (g - 1) * rest[name] for rest in left]
            if all(math.isfinite(v) for v in values):  # a block whose removal leaves the metric undefined: none
                out[name] = {"layer": layers[at], "jackknife_blocks": g, "values": values}
    return out


def run_alignment(ctx) -> AlignmentResult:
    import torch

    from semhub.analyses.surface import control_views, controls

    opts, s = ctx.options, ctx.settings
    gen = torch.Generator().manual_seed(s.seed)
    calibration = ctx.calibration
    extra, control_of = controls(ctx), control_views(ctx.views)
    first = ctx.views[0]
    records: list[dict[str, Any]] = []
    for other in ctx.views[1:]:
        a, b = ctx.states_by_layer(first), ctx.states_by_layer(other)
        n = int(a.shape[0])
        perms = calibration.perms if calibration is not None else torch.arange(n)[None]
        rows = rsa_rows(n, opts.rsa_items, s.seed)
        by_metric = pair_draws(ctx, a, b, perms, rows)
        series = {name: [float(v) for v in d[0]] for name, d in by_metric.items()}
        rec = {"a": first, "b": other, "n": n, "x": list(ctx.layers), "k": opts.k,
               "rsa_items": n if rows is None else len(rows),
               "title": f"{ctx.model_name}: {first} vs {other} (n={n})", "ylabel": "alignment"}
        if calibration is not None:
            rec["calibration"] = calibration.record(by_metric)
            for name in ("linear CKA", f"mutual k-NN (k={opts.k})"):
                series[f"{name} (null mean)"] = rec["calibration"]["metrics"][name]["null_mean"]
            if opts.jackknife_blocks:  # what a paired test between two models' runs reads (compare)
                rec["items"] = peak_items(a, b, rec["calibration"]["metrics"], list(ctx.layers),
                                          blocks=opts.jackknife_blocks, k=opts.k, ks=list(opts.retrieval_k),
                                          center=s.center, rows=rows)
        for name, control in extra.items():
            rec.setdefault("controls", {})[name] = control.record(pair_draws(ctx, a, b, control.perms, rows))
        if other in control_of:
            rec["control_of"] = control_of[other]
        records.append({**rec, "series": series})
        knn_curve = series[f"mutual k-NN (k={opts.k})"]
        peak = nanargmax(knn_curve)
        peak = len(ctx.layers) - 1 if peak is None else peak
        sizes = pool_sizes(opts, n)
        pool = pool_curve(a[:, peak].float(), b[:, peak].float(), sizes, k=opts.k, draws=opts.pool_draws,
                          center=s.center, gen=gen)
        records.append({"a": first, "b": other, "n": n, "x": sizes, "layer": ctx.layers[peak], "pool": True,
                        "xlabel": "candidates in the pool", "ylabel": "alignment",
                        "title": f"{first} vs {other} at layer {ctx.layers[peak]}: pool size", "series": pool})
    return AlignmentResult(records, {"model": ctx.model_name, "pooling": s.pooling})


# --- across two models ------------------------------------------------------------

BLOCK_BYTES = 1 << 30
"""States of model B's layers held at once (float32)."""
CROSS_METRICS = ("linear CKA", "debiased CKA", "mutual k-NN")


class CrossAlignmentResult(RecordsResult):
    """Records: one ``pairs`` record per (first view, other view) with ``heatmaps`` (metric -> rows of
    model A's layers x columns of model B's), ``best`` (metric -> layer_a, layer_b, value) and ``calibration``
    (each metric's per-pair curves over the flattened grid, ``grid`` its shape, and its calibrated max); then a ``pool`` record (``x`` pool sizes, ``series``) at the best mutual-k-NN pair."""

    key: ClassVar[str] = "alignment"
    summary_title = "alignment across models: the best layer pair of each metric"
    summary_columns = ("views", "metric", "best pair (A x B)", "value", "calibrated max", "p")

    def summary_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for rec in self.records:
            if rec.get("pool"):
                for name, values in rec["series"].items():
                    rows.append((f"{rec['a']} x {rec['b']}", f"{name}, pool {rec['x'][0]} -> {rec['x'][-1]}",
                                 f"{rec['layer_a']} x {rec['layer_b']}", f"{fmt(values[0])} -> {fmt(values[-1])}",
                                 "-", "-"))
                continue
            metrics = (rec.get("calibration") or {}).get("metrics", {})
            for name, best in rec["best"].items():
                top = (metrics.get(name) or {}).get("max") or {}
                rows.append((f"{rec['a']} x {rec['b']}", name, f"{best['layer_a']} x {best['layer_b']}",
                             fmt(best["value"]), fmt(top.get("score")), fmt(top.get("p"), ".3g")))
        return rows

    def plot(self, folder) -> Any:

        from semhub.plots import plot_layer_pairs

        return plot_layer_pairs(self, self.figure_path(folder))


def summaries(states, k: int) -> list[am.LayerSummary]:
    """Each layer summarised once, reading it once."""
    from semhub.analyses import alignment_metrics as am

    return [am.summarise_layer(states[:, i].float(), k) for i in range(states.shape[1])]


def layer_blocks(n_layers: int, rows: int, width: int) -> list[range]:
    per = max(1, BLOCK_BYTES // max(1, rows * width * 4))
    return [range(s, min(s + per, n_layers)) for s in range(0, n_layers, per)]


def heatmaps(a, b, sa: list[am.LayerSummary], sb: list[am.LayerSummary], perms: torch.Tensor) -> dict[str, np.ndarray]:
    """(P, L_A, L_B) of each metric, B's rows permuted by each row of ``perms`` (row 0 the identity: the
    observed heatmap): B's layers a block at a time, each A layer read once per block; CKA's shuffles from
    ``cka_draws``, mutual k-NN's by relabelling the layers' neighbour lists."""
    import numpy as np

    from semhub.analyses import alignment_metrics as am

    inverse = am.inverse_permutations(perms)
    out = {name: np.full((len(perms), len(sa), len(sb)), np.nan) for name in CROSS_METRICS}
    for block in layer_blocks(len(sb), b.shape[0], b.shape[2]):
        ys = {j: b[:, j].float() for j in block}
        for i in range(len(sa)):
            x = a[:, i].float()
            for j, y in ys.items():
                for name, values in am.cka_draws(x, y, perms).items():
                    out[name][:, i, j] = values
                nb = sb[j].neighbours
                out["mutual k-NN"][:, i, j] = [am.mutual_knn_of(sa[i].neighbours, inv[nb[perm]])
                                               for perm, inv in zip(perms, inverse)]
    return out


def best_pair(grid: np.ndarray) -> tuple[int, int] | None:
    flat = nanargmax([float(v) for v in grid.reshape(-1)])
    return None if flat is None else divmod(flat, grid.shape[1])


def run_cross_alignment(ctx) -> CrossAlignmentResult:
    import torch

    from semhub.analyses.surface import controls

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
    calibration = ctx.calibration
    perms = calibration.perms if calibration is not None else torch.arange(n)[None]
    for other in partner.views:
        b = partner.states_by_layer(other)
        sb = summaries(b, k)
        draws = heatmaps(a, b, sa, sb, perms)
        grids = {name: d[0] for name, d in draws.items()}
        best = {}
        for name, grid in grids.items():
            pair = best_pair(grid)
            if pair is not None:
                i, j = pair
                best[name] = {"layer_a": la[i], "layer_b": lb[j], "value": float(grid[i, j])}
        label = {"mutual k-NN": f"mutual k-NN (k={k})"}
        rec = {"a": first, "b": other, "model_a": ctx.model_name, "model_b": model_b, "n": n, "k": k,
               "layers_a": la, "layers_b": lb,
               "heatmaps": {label.get(m, m): grid.tolist() for m, grid in grids.items()},
               "best": {label.get(m, m): v for m, v in best.items()},
               "title": f"{ctx.model_name} ({first}) x {model_b} ({other}), n={n}"}
        if calibration is not None:  # every layer pair, and the best pair chosen under each shuffle too
            rec["calibration"] = calibration.record({label.get(m, m): d.reshape(len(perms), -1)
                                                     for m, d in draws.items()})
            rec["calibration"]["grid"] = [len(la), len(lb)]
        for name, control in controls(ctx).items():
            grid = heatmaps(a, b, sa, sb, control.perms)
            rec.setdefault("controls", {})[name] = control.record(
                {label.get(m, m): d.reshape(len(control.perms), -1) for m, d in grid.items()})
        records.append(rec)
        if "mutual k-NN" in best:
            i, j = la.index(best["mutual k-NN"]["layer_a"]), lb.index(best["mutual k-NN"]["layer_b"])
            sizes = pool_sizes(opts, n)
            records.append({"a": first, "b": other, "pool": True, "x": sizes, "n": n,
                            "layer_a": la[i], "layer_b": lb[j], "xlabel": "candidates in the pool",
                            "ylabel": "alignment", "title": f"pool size at {la[i]} x {lb[j]}",
                            "series": pool_curve(a[:, i].float(), b[:, j].float(), sizes, k=opts.k,
                                                 draws=opts.pool_draws, center=s.center, gen=gen, retrieval=False)})
    return CrossAlignmentResult(records, {"model": ctx.model_name, "model_b": model_b, "pooling": s.pooling})


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class AlignmentOptions(Options):
    k: int = option(10, min=1, help="Neighbours for mutual k-NN (capped at N - 1).")
    retrieval_k: list[int] = option([1, 5, 10], min=1, help="Cut-offs of retrieval@k (repeatable).")
    pool_sizes: list[int] = option([], min=2, help="Candidate-pool sizes of the pool-size curve (repeatable; "
                                   "default 16, 64, 256... and N).")
    pool_draws: int = option(5, min=1, max=10_000, help="Random pools drawn per pool size.")
    rsa_items: int = option(2000, min=3, help="Items RSA ranks the pairwise dissimilarities of (a random "
                            "subset when N is larger: RSA's memory grows as its square).")
    jackknife_blocks: int = option(50, min=0, help="Blocks of items whose jackknife pseudo-values are kept at "
                                   "each metric's calibrated peak (the values semhub compare's paired test reads; "
                                   "0 or 1: none).")


class AlignmentAnalysis(Analysis):
    """The field's alignment indices beyond Eq. 1: CKA, debiased CKA, mutual k-NN, CKNNA, RSA, retrieval@k, MRR."""

    name = "alignment"
    description = ("CKA, debiased CKA, mutual k-NN, CKNNA, RSA, retrieval@k and MRR per layer; pool-size curve; "
                   "with --model-b, every layer of one model against every layer of another")
    plot_name = "alignment.png"
    needs_model = False  # pooled states only: also runs from an activation store (--from-store)
    cross_model = True  # with --model-b: every layer of one model against every layer of the other
    controls = ("romanised", "length")  # one model; across two, --controls adds the length control only
    Options = AlignmentOptions

    def run(self, ctx):
        if ctx.partner is not None:
            return run_cross_alignment(ctx)
        return run_alignment(ctx)
