"""Null calibration of a metric read at every layer: its permutation null, the critical value tau, the
calibrated score and the add-one p-value, per layer and for the aggregate over layers a headline reports.

The definitions are those of Gröger, Wen & Brbić (2026) and their ``calibrated-similarity`` package
(``calibrate``, ``calibrate_layers``): K row permutations of the second view; tau is the
ceil((1 - alpha)(K + 1))-th smallest of the observed score and the K null scores together; the
calibrated score is (observed - tau) / (smax - tau) clipped to [0, 1]; p = (1 + #{null >= observed}) /
(K + 1). The aggregate (max or mean over layers) is calibrated against the same aggregate of each
permutation, one permutation shared by every layer: the best layer is chosen under the null too, so its
score is not inflated by the choice.

What differs is how the null scores are found: the package re-computes the metric on permuted states;
semhub's analyses derive them from what a layer's states give once (relabelled neighbour lists and
rank matrices, gathered similarities: ``draws`` below, row 0 observed), and tests hold them equal to
the package on small inputs. Calibration never re-runs the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

EPSILON = 1e-12  # the package's guard of smax - tau
TIE = 1e-9  # relative: null scores this close to the observed one are ties


def permutations(n: int, count: int, seed: int, groups: Sequence[str] | None = None):
    """(count + 1, n) LongTensor: row 0 the identity (the observed score), then ``count`` shuffles drawn as
    ``calibrated-similarity`` draws them (``torch.randperm(n, generator)``, the generator seeded ``seed``),
    or, with ``groups`` (a label per row), shuffles within each group only (a block permutation)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    rows = [torch.arange(n)]
    if groups is None:
        rows += [torch.randperm(n, generator=gen) for _ in range(count)]
        return torch.stack(rows)
    members: dict[str, list[int]] = {}
    for i, label in enumerate(groups):
        members.setdefault(label, []).append(i)
    blocks = [torch.tensor(m) for m in members.values() if len(m) > 1]
    for _ in range(count):
        perm = torch.arange(n)
        for block in blocks:
            perm[block] = block[torch.randperm(len(block), generator=gen)]
        rows.append(perm)
    return torch.stack(rows)


def critical(draws: np.ndarray, alpha: float, smax: float | None = 1.0) -> dict[str, np.ndarray]:
    """Calibrate each column of ``draws`` ((K + 1, ...): row 0 observed, the rest the null): ``tau``,
    ``score`` and ``p`` (arrays of the trailing shape). A NaN observed score stays NaN; NaN null draws (a
    metric undefined on a shuffle) are left out of that column's null."""
    draws = np.asarray(draws, dtype=np.float64)
    observed, null = draws[0], draws[1:]
    tau = np.full(observed.shape, np.nan)
    p = np.full(observed.shape, np.nan)
    for index in np.ndindex(observed.shape):
        obs = observed[index]
        column = null[(slice(None), *index)]
        column = column[np.isfinite(column)]
        if not np.isfinite(obs) or column.size == 0:
            continue
        k = column.size
        combined = np.sort(np.concatenate([[obs], column]))
        tau[index] = combined[max(0, min(int(math.ceil((1.0 - alpha) * (k + 1))) - 1, k))]
        # a null score equal to the observed one counts against it, also when float rounding of a mean
        # (sums of one value in another order) puts it an ulp below
        p[index] = (1.0 + np.count_nonzero(column >= obs - TIE * max(1.0, abs(obs)))) / (k + 1)
    if smax is None:
        score = np.maximum(observed - tau, 0.0)
    else:
        score = np.clip((observed - tau) / np.maximum(smax - tau, EPSILON), 0.0, 1.0)
    score = np.where(np.isfinite(tau), score, np.nan)
    return {"tau": tau, "score": score, "p": p}


def calibrate_curve(draws: np.ndarray, alpha: float, smax: float | None = 1.0) -> dict[str, Any]:
    """A metric's calibration at every layer and for the max and mean over layers: ``draws`` is (K + 1, L),
    row 0 observed, row k the metric under permutation k (the same permutation at every layer).

    Returns the JSON-ready record: per layer ``observed``, ``tau``, ``score``, ``p``, the null's ``null_mean``
    and 95% band ``null_ci95``; ``max`` and ``mean``: ``observed``, ``tau``, ``score``, ``p`` (``max`` also
    its ``index``, the layer position it is at)."""
    draws = np.asarray(draws, dtype=np.float64)
    per = critical(draws, alpha, smax)
    null = draws[1:]
    out: dict[str, Any] = {"observed": _floats(draws[0]), "tau": _floats(per["tau"]), "score": _floats(per["score"]),
                           "p": _floats(per["p"])}
    finite = [null[np.isfinite(null[:, i]), i] for i in range(null.shape[1])]
    out["null_mean"] = [float(c.mean()) if c.size else None for c in finite]
    out["null_ci95"] = [np.percentile(c, [2.5, 97.5]).tolist() if c.size else None for c in finite]
    usable = np.isfinite(draws[0])
    if usable.any():
        for name, agg in (("max", np.nanmax), ("mean", np.nanmean)):
            with np.errstate(all="ignore"):
                totals = agg(np.where(usable, draws, np.nan), axis=1)  # over the layers the observed curve has
            one = critical(totals, alpha, smax)
            out[name] = {"observed": float(totals[0]), "tau": float(one["tau"]), "score": float(one["score"]),
                         "p": float(one["p"])}
        out["max"]["index"] = int(np.nanargmax(np.where(usable, draws[0], np.nan)))
    return out


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


@dataclass
class Calibration:
    """The permutations one run calibrates every metric with (built once per run: ``RunContext.calibration``).

    Attributes:
        perms: (K + 1, N) LongTensor, row 0 the identity (``permutations``).
        alpha: the level of tau.
        aggregate: the layer aggregate headlines lead with (``max`` or ``mean``).
        seed: what drew the permutations.
        groups: the data column shuffles stayed within, or None.
    """

    perms: Any
    alpha: float = 0.05
    aggregate: str = "max"
    seed: int = 0
    groups: str | None = None

    @property
    def permutations(self) -> int:
        return int(self.perms.shape[0]) - 1

    def record(self, draws: dict[str, np.ndarray], smax: dict[str, float | None] | None = None) -> dict[str, Any]:
        """Every metric's ``calibrate_curve`` (``draws``: metric -> (K + 1, L)) and how its null was drawn."""
        smax = smax or {}
        return {"permutations": self.permutations, "alpha": self.alpha, "aggregate": self.aggregate,
                "seed": self.seed, "perm_groups": self.groups,
                "metrics": {name: calibrate_curve(d, self.alpha, smax.get(name, 1.0)) for name, d in draws.items()}}

    def within(self, labels: Sequence[str], name: str) -> "Calibration":
        """The same number of shuffles from the same seed, each within the groups of ``labels`` (a control:
        what survives is more than the groups explain); ``name`` is recorded as its ``perm_groups``."""
        perms = permutations(int(self.perms.shape[1]), self.permutations, self.seed, list(labels))
        return Calibration(perms, self.alpha, self.aggregate, self.seed, name)

    def draws(self, x, y, metric) -> np.ndarray:
        """(K + 1,) ``metric(x, y[perm])`` for every permutation: the plain null of any metric a plugin
        analysis computes (the package's way; the built-in metrics derive theirs faster)."""
        return np.array([float(metric(x, y[perm])) for perm in self.perms])
