"""The statistics every analysis reports, in one place: Eq. 1 and retrieval@1 per item (chunked,
O(N x chunk) memory per layer), their item-bootstrap intervals, and mean +- bootstrap CI per column.

For aligned sets A and B at layer k, C[i, j] = cos(a_i, b_j). Eq. 1 is the mean matched cosine
minus the mean over all off-diagonal pairs; retrieval@1 asks whether a_i's nearest b is b_i.
"""
from __future__ import annotations

import numpy as np
import torch

METRICS = ("matched_cosine", "mismatched_cosine", "eq1", "retrieval_at_1")
NULL_METRICS = ("matched_cosine", "eq1", "retrieval_at_1")
"""The similarity metrics calibrated against their permutation null."""


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


def item_statistics(a: torch.Tensor, b: torch.Tensor, *, center: bool, chunk: int | None = None,
                    perms: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-layer, per-item statistics for aligned (N, K, D) states -> arrays of shape (K, N).

    ``a`` and ``b`` only need ``shape`` and ``[:, k]`` (an activation store's states load one layer
    at a time). Unit vectors are float32 (one N x D copy per view); cosines are summed in float64.
    Rows are compared ``chunk`` at a time: at most ~1M float32 similarities in flight.

    ``matched[k, i]`` = cos(a_i, b_i); ``mismatched[k, i]`` = mean over j != i of cos(a_i, b_j);
    ``hit[k, i]`` = retrieval@1 of item i averaged over both directions (a->b and b->a);
    ``hit_ab[k, i]`` = a->b only (is b_i the nearest b to a_i?), for asymmetric questions.

    ``perms`` ((P, N), row 0 the identity: ``calibration.permutations``) adds ``null_<metric>`` arrays of
    shape (P, K): matched cosine, Eq. 1 and retrieval@1 with b's rows permuted, read from the same
    similarity chunks (a permuted pair's cosine is gathered; its retrieval is whether the row's and the
    column's best match are the permuted partners), so the null costs O(P x N) per layer, not P passes.
    """
    if a.shape != b.shape:
        raise ValueError(f"aligned states differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    n, n_layers, _ = a.shape
    if n < 2:
        raise ValueError("similarity needs at least two aligned items")
    chunk = chunk or max(16, min(2048, 1_000_000 // n))
    out = {name: np.empty((n_layers, n)) for name in ("matched", "mismatched", "hit", "hit_ab")}
    if perms is not None:
        out.update({f"null_{name}": np.empty((len(perms), n_layers)) for name in NULL_METRICS})
    idx = torch.arange(n)
    for k in range(n_layers):
        x = _unit_rows(a[:, k], center, owned=getattr(a, "fresh_layers", False))
        y = _unit_rows(b[:, k], center, owned=getattr(b, "fresh_layers", False))
        col_best = torch.full((n,), -torch.inf, dtype=torch.float64)
        col_arg = torch.zeros(n, dtype=torch.long)
        diag, row_sum, row_hit = (torch.empty(n, dtype=torch.float64) for _ in range(3))
        row_arg = torch.empty(n, dtype=torch.long)
        permuted = torch.zeros(0 if perms is None else len(perms), dtype=torch.float64)
        for start in range(0, n, chunk):
            sims = x[start : start + chunk] @ y.T  # float32; exact in float64, so max/argmax need no copy
            rows = idx[start : start + chunk]
            diag[rows] = sims[rows - start, rows].double()
            row_sum[rows] = sims.sum(1, dtype=torch.float64)
            row_arg[rows] = sims.argmax(1)
            row_hit[rows] = (row_arg[rows] == rows).double()
            if perms is not None:  # sum over these rows of cos(a_i, b_perm(i)), for every permutation
                permuted += sims[rows - start, perms[:, rows]].sum(1, dtype=torch.float64)
            best, arg = sims.max(0)
            best = best.double()
            better = best > col_best
            col_best = torch.where(better, best, col_best)
            col_arg = torch.where(better, arg + start, col_arg)
        out["matched"][k] = diag.numpy()
        out["mismatched"][k] = ((row_sum - diag) / (n - 1)).numpy()
        out["hit"][k] = ((row_hit + (col_arg == idx).double()) / 2).numpy()
        out["hit_ab"][k] = row_hit.numpy()
        if perms is not None:
            total = float(row_sum.sum())
            hits = (row_arg[None, :] == perms).sum(1) + (col_arg[perms] == idx).sum(1)  # a->b, b->a
            out["null_matched_cosine"][:, k] = (permuted / n).numpy()
            out["null_eq1"][:, k] = (permuted / n - (total - permuted) / (n * (n - 1))).numpy()
            out["null_retrieval_at_1"][:, k] = (hits.double() / (2 * n)).numpy()
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


def upper_peak(values: list[float], layers: list[int]) -> int:
    """Index of the largest value from a third of the depth up, where the lens stops reading token frequency."""
    upper = [k for k, layer in enumerate(layers) if layer >= layers[-1] / 3] or list(range(len(layers)))
    return max(upper, key=values.__getitem__)


def mean_ci(values: np.ndarray, n_boot: int, seed: int) -> tuple[list[float], list[list[float]]]:
    """Mean over rows per column (in float64: raw-lens log-probs reach -1e4, where float32 sums
    drift by 1e-3), with an item-bootstrap 95% interval."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(0).tolist()
    if n_boot <= 0:
        return mean, []
    draws = np.random.default_rng(seed).integers(0, len(values), size=(n_boot, len(values)))
    boot = values[draws].mean(1)  # (n_boot, K)
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return mean, [[float(a), float(b)] for a, b in zip(lo, hi)]


def wilson_interval(share: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a share of ``n`` trials ((0, 1) without trials): honest at
    shares near 0 or 1 and small n, where the normal interval leaves [0, 1]."""
    if n <= 0:
        return 0.0, 1.0
    centre = share + z * z / (2 * n)
    spread = z * (share * (1 - share) / n + z * z / (4 * n * n)) ** 0.5
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


def row_values(per_site: dict[str, np.ndarray], rows: np.ndarray, n_rows: int, layers: list[int]) -> dict[str, dict]:
    """Per curve (``per_site[name]``: sites x layers), at the layer where its mean over sites peaks:
    each data row's mean over its own sites (None for a row without one). Why: a lens reads token
    positions, which depend on the tokenizer, while rows do not, so two models' lens runs on the same
    data pair row by row (``semhub compare``'s paired test)."""
    out = {}
    for name, values in per_site.items():
        curve = np.nanmean(values, axis=0)
        if not np.isfinite(curve).any():
            continue
        at = int(np.nanargmax(curve))
        sums = np.bincount(rows, weights=values[:, at], minlength=n_rows)
        counts = np.bincount(rows, minlength=n_rows)
        means = [float(v / c) if c else None for v, c in zip(sums, counts)]
        out[name] = {"layer": layers[at], "values": [v if v is not None and np.isfinite(v) else None for v in means]}
    return out
