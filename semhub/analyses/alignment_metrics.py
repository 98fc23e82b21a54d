"""Representational alignment between two aligned sets of states X (N x D) and Y (N x D'): the
indices the field uses beyond Eq. 1, each written from its published formula.

- linear CKA (Kornblith et al. 2019): ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), Xc, Yc
  column-centred; from D x D' products, so memory is O(D^2), not O(N^2).
- debiased CKA: the same ratio of the unbiased HSIC estimator (Song et al. 2012, eq. 5) on the
  linear Gram matrices, as platonic-rep's ``unbiased_cka``, computed from O(N D) sums instead of
  the N x N Gram matrices.
- mutual k-NN (Huh et al. 2024, platonic-rep ``mutual_knn``): unit rows, each item's k nearest
  others by inner product in X and in Y, the mean share of neighbours they have in common.
- CKNNA (Huh et al. 2024): CKA over the pairs that are mutual k-nearest neighbours; O(N^2).
- RSA: the Spearman correlation of the two dissimilarity matrices (1 - cosine) over item pairs
  i < j (``scipy.stats.spearmanr``, which handles ties).
- retrieval ranks: for each item, the rank of its partner among all N candidates by cosine, both
  directions; retrieval@k = share with rank <= k; MRR = mean of 1 / rank.
"""
from __future__ import annotations

import numpy as np
import torch


def _centred(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    return x - x.mean(0)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of (N, D) and (N, D'): 1 for identical or rotated views, invariant to isotropic scale."""
    xc, yc = _centred(x), _centred(y)
    cross = torch.linalg.matrix_norm(xc.T @ yc) ** 2
    denom = torch.linalg.matrix_norm(xc.T @ xc) * torch.linalg.matrix_norm(yc.T @ yc)
    return float(cross / denom) if denom > 0 else float("nan")


def hsic_unbiased(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Song et al. (2012), eq. 5, on (N, N) kernel matrices; needs N >= 4."""
    n = k.shape[0]
    kt, lt = k.clone().fill_diagonal_(0), l.clone().fill_diagonal_(0)
    value = ((kt * lt.T).sum() + kt.sum() * lt.sum() / ((n - 1) * (n - 2))
             - 2 * (kt @ lt).sum() / (n - 2))
    return value / (n * (n - 3))


def hsic_unbiased_linear(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``hsic_unbiased(X X^T, Y Y^T)`` without the N x N Gram matrices: O(N D + D D') memory.

    With K~ = XX^T off its diagonal: tr(K~L~) = ||X^T Y||^2 - sum_i |x_i|^2 |y_i|^2;
    1^T K~ 1 = |sum_i x_i|^2 - sum_i |x_i|^2; (K~ 1)_i = x_i . sum_j x_j - |x_i|^2.
    """
    x, y = x.double(), y.double()
    n = x.shape[0]
    nx, ny = (x * x).sum(1), (y * y).sum(1)
    kx, ly = x @ x.sum(0) - nx, y @ y.sum(0) - ny  # K~ 1 and L~ 1
    trace = torch.linalg.matrix_norm(x.T @ y) ** 2 - (nx * ny).sum()
    value = trace + kx.sum() * ly.sum() / ((n - 1) * (n - 2)) - 2 * (kx * ly).sum() / (n - 2)
    return value / (n * (n - 3))


def debiased_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """CKA with the unbiased HSIC on linear kernels (less biased at small N than ``linear_cka``)."""
    if x.shape[0] < 4:
        return float("nan")
    kk, ll, kl = hsic_unbiased_linear(x, x), hsic_unbiased_linear(y, y), hsic_unbiased_linear(x, y)
    denom = torch.sqrt(kk * ll)
    return float(kl / denom) if denom > 0 else float("nan")


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1)


def nearest_neighbours(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """(N, k) indices of each row's k nearest other rows by inner product of unit rows, chunked."""
    u = _unit(x)
    n = u.shape[0]
    out = torch.empty(n, k, dtype=torch.long)
    for s in range(0, n, chunk):
        sims = u[s:s + chunk] @ u.T
        rows = torch.arange(s, min(s + chunk, n))
        sims[rows - s, rows] = -torch.inf  # never one's own neighbour
        out[s:s + chunk] = sims.topk(k, dim=1).indices
    return out


def mutual_knn(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """Mean over items of |kNN_X(i) & kNN_Y(i)| / k (platonic-rep's definition)."""
    if not 1 <= k < x.shape[0]:
        return float("nan")
    a, b = nearest_neighbours(x, k), nearest_neighbours(y, k)
    shared = (a[:, :, None] == b[:, None, :]).any(-1).sum(1)
    return float(shared.double().mean() / k)


def cknna(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """CKNNA (Huh et al. 2024): CKA restricted to pairs that are mutual k-nearest neighbours.

    Unit rows, linear kernels K and L; M = 1 where j is among i's k nearest (others) in both; the
    score is HSIC_u(M K, M L) / sqrt(HSIC_u(M_K K, M_K K) HSIC_u(M_L L, M_L L)), M_K and M_L the
    views' own neighbour masks (platonic-rep's ``cknna``, unbiased). O(N^2) memory.
    """
    n = x.shape[0]
    if not 2 <= k < n or n < 4:
        return float("nan")
    u, v = _unit(x).double(), _unit(y).double()
    kx, ly = u @ u.T, v @ v.T
    mk = torch.zeros(n, n, dtype=torch.float64).scatter_(1, nearest_neighbours(x, k), 1.0)
    ml = torch.zeros(n, n, dtype=torch.float64).scatter_(1, nearest_neighbours(y, k), 1.0)
    both = mk * ml
    kl = hsic_unbiased(both * kx, both * ly)
    kk, ll = hsic_unbiased(mk * kx, mk * kx), hsic_unbiased(ml * ly, ml * ly)
    denom = torch.sqrt(kk * ll)
    return float(kl / denom) if denom > 0 else float("nan")


def rsa(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman correlation of the cosine-dissimilarity matrices over pairs i < j."""
    from scipy.stats import spearmanr

    n = x.shape[0]
    if n < 3:
        return float("nan")
    iu = torch.triu_indices(n, n, offset=1)
    dx = (1 - _unit(x) @ _unit(x).T)[iu[0], iu[1]].double().numpy()
    dy = (1 - _unit(y) @ _unit(y).T)[iu[0], iu[1]].double().numpy()
    rho = spearmanr(dx, dy).statistic
    return float(rho) if np.isfinite(rho) else float("nan")


def partner_ranks(x: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """(2, N) rank (1 = first) of each item's partner among all N candidates by cosine: row 0 X -> Y,
    row 1 Y -> X. Ties count against the partner (a candidate as close as it ranks before it)."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"retrieval needs states of one width: {x.shape[1]} vs {y.shape[1]}")
    ranks = []
    for q, g in ((_unit(x), _unit(y)), (_unit(y), _unit(x))):
        n = q.shape[0]
        r = torch.empty(n, dtype=torch.long)
        for s in range(0, n, chunk):
            sims = q[s:s + chunk] @ g.T
            rows = torch.arange(s, min(s + chunk, n))
            own = sims[rows - s, rows]
            better = (sims >= own[:, None]).sum(1)  # own counts itself once
            r[rows] = better
        ranks.append(r)
    return torch.stack(ranks)


def retrieval_at(ranks: torch.Tensor, k: int) -> float:
    """Share of queries (both directions) whose partner ranks within the top k."""
    return float((ranks <= k).double().mean())


def mean_reciprocal_rank(ranks: torch.Tensor) -> float:
    return float((1.0 / ranks.double()).mean())
