"""Representational alignment between two aligned sets of states X (N x D) and Y (N x D'): the
indices the field uses beyond Eq. 1, each written from its published formula.

- linear CKA (Kornblith et al. 2019): ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), Xc, Yc
  column-centred; from D x D' products, so memory is O(D^2), not O(N^2).
- debiased CKA: the same ratio of the unbiased HSIC estimator (Song et al. 2012, eq. 5) on the
  linear Gram matrices, as platonic-rep's ``unbiased_cka``, computed from O(N D) sums instead of
  the N x N Gram matrices.
- mutual k-NN (Huh et al. 2024, platonic-rep ``mutual_knn``): unit rows, each item's k nearest
  others by inner product in X and in Y, the mean share of neighbours they have in common.
- CKNNA (Huh et al. 2024): CKA over the pairs that are mutual k-nearest neighbours; the masked
  kernels are sparse (k per row), so O(N k) memory.
- RSA: the Spearman correlation of the two dissimilarity matrices (1 - cosine) over item pairs
  i < j: scipy's ``rankdata`` (ties averaged), then Pearson on ranks; O(N^2), so the analysis
  reads at most ``rsa_items`` items.
- retrieval ranks: for each item, the rank of its partner among all N candidates by cosine, both
  directions; retrieval@k = share with rank <= k; MRR = mean of 1 / rank.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

BLOCK = 4096
"""Rows per block of the D x D' products and row sums: float64 work buffers stay O(BLOCK x D)."""


def cross_product(x: torch.Tensor, y: torch.Tensor, centre: bool = False) -> torch.Tensor:
    """(D, D') float64 X^T Y (column-centred when ``centre``), summed over row blocks in float64."""
    mx = x.double().mean(0) if centre else 0.0
    my = y.double().mean(0) if centre else 0.0
    out = torch.zeros(x.shape[1], y.shape[1], dtype=torch.float64)
    for s in range(0, x.shape[0], BLOCK):
        out += (x[s:s + BLOCK].double() - mx).T @ (y[s:s + BLOCK].double() - my)
    return out


def gram_norm(x: torch.Tensor) -> float:
    """||Xc^T Xc||_F: a view's own term of linear CKA (from the D x D product, O(D^2) memory)."""
    return float(torch.linalg.matrix_norm(cross_product(x, x, centre=True)))


def linear_cka(x: torch.Tensor, y: torch.Tensor, norms: tuple[float, float] | None = None) -> float:
    """Linear CKA of (N, D) and (N, D'): 1 for identical or rotated views, invariant to isotropic scale.
    ``norms``: the two ``gram_norm``s, when already known (a layer reused across pairs, or a row shuffle,
    which leaves them unchanged)."""
    nx, ny = norms or (gram_norm(x), gram_norm(y))
    cross = float(torch.linalg.matrix_norm(cross_product(x, y, centre=True)) ** 2)
    return cross / (nx * ny) if nx * ny > 0 else float("nan")


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
    n = x.shape[0]
    nx, ny = _row_norms2(x), _row_norms2(y)
    kx = _matvec(x, x.double().sum(0)) - nx  # K~ 1
    ly = _matvec(y, y.double().sum(0)) - ny  # L~ 1
    trace = torch.linalg.matrix_norm(cross_product(x, y)) ** 2 - (nx * ny).sum()
    value = trace + kx.sum() * ly.sum() / ((n - 1) * (n - 2)) - 2 * (kx * ly).sum() / (n - 2)
    return value / (n * (n - 3))


def _row_norms2(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([(x[s:s + BLOCK].double() ** 2).sum(1) for s in range(0, x.shape[0], BLOCK)])


def _matvec(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[s:s + BLOCK].double() @ v for s in range(0, x.shape[0], BLOCK)])


def debiased_cka(x: torch.Tensor, y: torch.Tensor, selves: tuple[float, float] | None = None) -> float:
    """CKA with the unbiased HSIC on linear kernels (less biased at small N than ``linear_cka``).
    ``selves``: the two views' ``hsic_unbiased_linear(x, x)``, when already known."""
    if x.shape[0] < 4:
        return float("nan")
    kk, ll = selves or (float(hsic_unbiased_linear(x, x)), float(hsic_unbiased_linear(y, y)))
    kl = float(hsic_unbiased_linear(x, y))
    return kl / (kk * ll) ** 0.5 if kk * ll > 0 else float("nan")


@dataclass(frozen=True)
class LayerSummary:
    """What one layer of one view brings to every pairing, computed once (the layer x layer heatmap
    pairs each layer of model A with each of model B): CKA's self terms and the k nearest neighbours.

    Attributes:
        gram_norm: ``gram_norm(x)``, linear CKA's self term.
        hsic: ``hsic_unbiased_linear(x, x)``, debiased CKA's self term.
        neighbours: (N, k) indices of each item's k nearest others (unit rows, inner product).
    """

    gram_norm: float
    hsic: float
    neighbours: torch.Tensor


def summarise_layer(x: torch.Tensor, k: int) -> LayerSummary:
    return LayerSummary(gram_norm(x), float(hsic_unbiased_linear(x, x)), nearest_neighbours(x, k))


def paired_metrics(x: torch.Tensor, y: torch.Tensor, sx: LayerSummary, sy: LayerSummary) -> dict[str, float]:
    """Linear CKA, debiased CKA and mutual k-NN of one layer pair, from the layers' summaries: only the
    cross terms are computed here (one D x D' product, two O(N D) sums, a neighbour intersection)."""
    return {"linear CKA": linear_cka(x, y, (sx.gram_norm, sy.gram_norm)),
            "debiased CKA": debiased_cka(x, y, (sx.hsic, sy.hsic)),
            "mutual k-NN": mutual_knn_of(sx.neighbours, sy.neighbours)}


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (float32): mutual k-NN, CKNNA and RSA read directions only."""
    return torch.nn.functional.normalize(x.float(), dim=-1)


def nearest_neighbours(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """(N, k) indices of each row's k nearest other rows by inner product of unit rows, chunked."""
    u = unit_rows(x)
    n = u.shape[0]
    out = torch.empty(n, k, dtype=torch.long)
    for s in range(0, n, chunk):
        sims = u[s:s + chunk] @ u.T
        rows = torch.arange(s, min(s + chunk, n))
        sims[rows - s, rows] = -torch.inf  # never one's own neighbour
        out[s:s + chunk] = sims.topk(k, dim=1).indices
    return out


def knn_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, k) bool: whether each of ``a``'s neighbours (rows of indices) is also among ``b``'s."""
    return (a[:, :, None] == b[:, None, :]).any(-1)


def mutual_knn(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """Mean over items of |kNN_X(i) & kNN_Y(i)| / k (platonic-rep's definition)."""
    if not 1 <= k < x.shape[0]:
        return float("nan")
    return mutual_knn_of(nearest_neighbours(x, k), nearest_neighbours(y, k))


def mutual_knn_of(a: torch.Tensor, b: torch.Tensor) -> float:
    """``mutual_knn`` from neighbour indices already found (reused across layer pairs)."""
    return float(knn_overlap(a, b).sum(1).double().mean() / a.shape[1])


def _masked_kernel(u: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """u_i . u_j at the given (i, j) pairs only, in float64 chunks: O(pairs + chunk x D) memory."""
    out = torch.empty(len(rows), dtype=torch.float64)
    for s in range(0, len(rows), chunk):
        out[s:s + chunk] = (u[rows[s:s + chunk]].double() * u[cols[s:s + chunk]].double()).sum(1)
    return out


def hsic_unbiased_sparse(rows: torch.Tensor, cols: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                         n: int) -> float:
    """``hsic_unbiased(A, B)`` for (N, N) matrices that are zero off one support (i, j) (j != i): each
    term of Song et al.'s eq. 5 is a sum over the support, so memory is O(support), not O(N^2)."""
    if n < 4:
        return float("nan")
    key = rows * n + cols
    order = torch.argsort(key)
    key_sorted, b_sorted = key[order], b[order]
    flipped = cols * n + rows  # B^T at (i, j) is B at (j, i)
    where = torch.searchsorted(key_sorted, flipped).clamp(max=len(key) - 1)
    bt = torch.where(key_sorted[where] == flipped, b_sorted[where], torch.zeros_like(b))
    trace = float((a * bt).sum())
    col_a = torch.zeros(n, dtype=torch.float64).index_add_(0, cols, a)  # 1^T A
    row_b = torch.zeros(n, dtype=torch.float64).index_add_(0, rows, b)  # B 1
    value = trace + float(a.sum()) * float(b.sum()) / ((n - 1) * (n - 2)) - 2 * float(col_a @ row_b) / (n - 2)
    return value / (n * (n - 3))


def cknna(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """CKNNA (Huh et al. 2024): CKA restricted to pairs that are mutual k-nearest neighbours.

    Unit rows, linear kernels K and L; M = 1 where j is among i's k nearest (others) in both; the
    score is HSIC_u(M K, M L) / sqrt(HSIC_u(M_K K, M_K K) HSIC_u(M_L L, M_L L)), M_K and M_L the
    views' own neighbour masks (platonic-rep's ``cknna``, unbiased). The masked kernels have at most
    k entries per row, so memory is O(N k) beyond the chunked neighbour search.
    """
    n = x.shape[0]
    if not 2 <= k < n or n < 4:
        return float("nan")
    return cknna_of(unit_rows(x), unit_rows(y), nearest_neighbours(x, k), nearest_neighbours(y, k))


def cknna_of(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
    """``cknna`` from unit rows (float32; products summed in float64) and neighbour indices already found."""
    n, k = a.shape
    rows_all = torch.arange(n).repeat_interleave(k)
    both = knn_overlap(a, b).reshape(-1)
    rows, cols = rows_all[both], a.reshape(-1)[both]
    kl = hsic_unbiased_sparse(rows, cols, _masked_kernel(u, rows, cols), _masked_kernel(v, rows, cols), n)
    ka, lb = a.reshape(-1), b.reshape(-1)
    kx = _masked_kernel(u, rows_all, ka)
    ly = _masked_kernel(v, rows_all, lb)
    kk = hsic_unbiased_sparse(rows_all, ka, kx, kx, n)
    ll = hsic_unbiased_sparse(rows_all, lb, ly, ly, n)
    denom = (kk * ll) ** 0.5 if kk * ll > 0 else 0.0
    return float(kl / denom) if denom > 0 else float("nan")


def dissimilarity_ranks(x: torch.Tensor) -> torch.Tensor:
    """(N, N) float64: the rank (1 = least, ties averaged) of each pair's 1 - cosine among all pairs
    i < j, filled symmetrically (diagonal 0). Ranked once per view, it serves RSA and every shuffle of
    its null (shuffling rows permutes this matrix; ranks do not change)."""
    from scipy.stats import rankdata

    n = x.shape[0]
    iu = torch.triu_indices(n, n, offset=1)
    u = unit_rows(x)
    ranks = torch.from_numpy(rankdata((1 - u @ u.T)[iu[0], iu[1]].double().numpy()))
    out = torch.zeros(n, n, dtype=torch.float64)
    out[iu[0], iu[1]] = ranks
    return out + out.T


def rsa_of(rx: torch.Tensor, ry: torch.Tensor) -> float:
    """RSA from two ``dissimilarity_ranks`` matrices: the Pearson correlation of ranks is Spearman's."""
    n = rx.shape[0]
    iu = torch.triu_indices(n, n, offset=1)
    a, b = rx[iu[0], iu[1]], ry[iu[0], iu[1]]
    a, b = a - a.mean(), b - b.mean()
    denom = float(a.norm() * b.norm())
    return float(a @ b) / denom if denom > 0 else float("nan")


def rsa(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman correlation of the cosine-dissimilarity matrices over pairs i < j (ties averaged, as
    ``scipy.stats.spearmanr``; scipy's ``rankdata`` ranks)."""
    if x.shape[0] < 3:
        return float("nan")
    return rsa_of(dissimilarity_ranks(x), dissimilarity_ranks(y))


def partner_ranks(x: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """(2, N) rank (1 = first) of each item's partner among all N candidates by cosine: row 0 X -> Y,
    row 1 Y -> X. Ties count against the partner (a candidate as close as it ranks before it)."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"retrieval needs states of one width: {x.shape[1]} vs {y.shape[1]}")
    ranks = []
    ux, uy = unit_rows(x), unit_rows(y)
    for q, g in ((ux, uy), (uy, ux)):
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


def inverse_permutations(perms: torch.Tensor) -> torch.Tensor:
    """(P, N): row p's inverse permutation (``inverse[p][perms[p][i]] == i``): where each shuffled row came from."""
    inverse = torch.empty_like(perms)
    inverse.scatter_(1, perms, torch.arange(perms.shape[1]).expand_as(perms).contiguous())
    return inverse


GRAM_ROWS = 2048
"""Up to this many rows a shuffled CKA is read from the N x N centred Gram matrices (O(N^2) per shuffle);
above it from the D x D' product of the shuffled rows (O(N D D'), memory O(D D'))."""


def cka_draws(x: torch.Tensor, y: torch.Tensor, perms: torch.Tensor) -> dict[str, list[float]]:
    """Linear and debiased CKA of ``x`` and ``y[perm]`` for every row of ``perms``. A shuffle leaves each
    view's own terms unchanged, so only the cross term is computed per shuffle: <Kc, P Lc P^T> (linear) and
    the unbiased HSIC's trace and row-sum terms, from the Gram matrices formed once."""
    n = x.shape[0]
    linear, debiased = [], []
    if n > GRAM_ROWS:
        norms = gram_norm(x), gram_norm(y)
        selves = float(hsic_unbiased_linear(x, x)), float(hsic_unbiased_linear(y, y))
        for perm in perms:
            yp = y[perm]
            linear.append(linear_cka(x, yp, norms))
            debiased.append(debiased_cka(x, yp, selves) if n >= 4 else float("nan"))
        return {"linear CKA": linear, "debiased CKA": debiased}
    xd, yd = x.double(), y.double()
    k, l = xd @ xd.T, yd @ yd.T
    kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
    lc = l - l.mean(0, keepdim=True) - l.mean(1, keepdim=True) + l.mean()
    norm = float(kc.norm() * lc.norm())
    kt, lt = k.clone().fill_diagonal_(0), l.clone().fill_diagonal_(0)
    k1, l1 = kt.sum(1), lt.sum(1)
    constant = float(kt.sum() * lt.sum()) / ((n - 1) * (n - 2)) if n >= 4 else float("nan")
    kk, ll = (float(hsic_unbiased(m, m)) if n >= 4 else float("nan") for m in (k, l))
    for perm in perms:
        lp = lt[perm][:, perm]
        linear.append(float((kc * lc[perm][:, perm]).sum()) / norm if norm > 0 else float("nan"))
        if n < 4 or kk * ll <= 0:
            debiased.append(float("nan"))
            continue
        hsic = (float((kt * lp).sum()) + constant - 2 * float(k1 @ l1[perm]) / (n - 2)) / (n * (n - 3))
        debiased.append(hsic / (kk * ll) ** 0.5)
    return {"linear CKA": linear, "debiased CKA": debiased}


def partner_ranks_under(x: torch.Tensor, y: torch.Tensor, perms: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """(P, 2, N) ``partner_ranks(x, y[perm])`` for every row of ``perms``: each query's similarities are
    sorted once, and a shuffled partner's rank is where its similarity falls among them (ties count
    against it, as in ``partner_ranks``). Memory O(chunk x N + P x N)."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"retrieval needs states of one width: {x.shape[1]} vs {y.shape[1]}")
    ux, uy = unit_rows(x), unit_rows(y)
    n = ux.shape[0]
    inverse = inverse_permutations(perms)
    out = torch.empty(perms.shape[0], 2, n, dtype=torch.long)
    # X -> Y: a_i's partner is y[perm(i)]; Y -> X: y_j's partner is a[perm^-1(j)]
    for side, (q, g, partner) in enumerate(((ux, uy, perms), (uy, ux, inverse))):
        for s in range(0, n, chunk):
            sims = q[s:s + chunk] @ g.T
            rows = torch.arange(s, min(s + chunk, n))
            own = sims[rows - s, partner[:, rows]].T.contiguous()  # (c, P)
            ordered = sims.sort(dim=1).values.contiguous()
            out[:, side, rows] = (n - torch.searchsorted(ordered, own, side="left")).T
    return out


def cknna_draws(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor, perms: torch.Tensor) -> list[float]:
    """``cknna_of(u, v[perm], a, b relabelled)`` for every row of ``perms``: each view's own term is the
    same under a shuffle (its kernel on its own neighbour lists, relabelled), so only the cross term is
    read per shuffle, from kernel values found once (``v``'s Gram matrix up to ``GRAM_ROWS`` rows)."""
    n, k = a.shape
    rows_all, ka, lb = torch.arange(n).repeat_interleave(k), a.reshape(-1), b.reshape(-1)
    kx = _masked_kernel(u, rows_all, ka)
    ly = _masked_kernel(v, rows_all, lb)
    kk = hsic_unbiased_sparse(rows_all, ka, kx, kx, n)
    ll = hsic_unbiased_sparse(rows_all, lb, ly, ly, n)
    denom = (kk * ll) ** 0.5 if kk * ll > 0 else 0.0
    gram = v.double() @ v.double().T if n <= GRAM_ROWS else None
    inverse = inverse_permutations(perms)
    out = []
    for perm, inv in zip(perms, inverse):
        both = knn_overlap(a, inv[b[perm]]).reshape(-1)
        rows, cols = rows_all[both], ka[both]
        pr, pc = perm[rows], perm[cols]  # y[perm]'s rows i, j are y's rows perm[i], perm[j]
        values = gram[pr, pc] if gram is not None else _masked_kernel(v, pr, pc)
        kl = hsic_unbiased_sparse(rows, cols, kx[both], values, n)
        out.append(float(kl / denom) if denom > 0 else float("nan"))
    return out
