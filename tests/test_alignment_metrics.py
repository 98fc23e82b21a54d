"""Alignment metrics against direct implementations of their published formulas, and on cases
with known answers (identical views, rotated views, shuffled rows)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from semhub.analyses import alignment_metrics as am
from semhub.analyses.stats import item_statistics


def data(n=40, d=12, seed=0, noise=0.5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = x @ torch.randn(d, d, generator=g) + noise * torch.randn(n, d, generator=g)
    return x, y


def rotation(d, seed=1):
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed)))
    return q


# ---- direct implementations, written from the papers ------------------------------------------

def cka_direct(x, y):
    """Kornblith et al. (2019) eq. 1-2: HSIC(K, L) = tr(KHLH) / (n-1)^2, CKA = HSIC(K,L)/sqrt(HSIC(K,K)HSIC(L,L))."""
    x, y = x.numpy().astype(float), y.numpy().astype(float)
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h) / (n - 1) ** 2  # noqa: E731
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def debiased_cka_direct(x, y):
    """Nguyen, Raghu & Kornblith (2021) / Kornblith's colab: the unbiased-centred Gram matrices."""
    def centre_unbiased(g):
        g = g.copy()
        n = len(g)
        np.fill_diagonal(g, 0)
        means = g.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        g -= means[:, None] + means[None, :]
        np.fill_diagonal(g, 0)
        return g

    x, y = x.numpy().astype(float), y.numpy().astype(float)
    k, l = centre_unbiased(x @ x.T), centre_unbiased(y @ y.T)
    return (k * l).sum() / np.sqrt((k * k).sum() * (l * l).sum())


def mutual_knn_direct(x, y, k):
    def knn(z):
        z = z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True)
        sims = z @ z.T
        np.fill_diagonal(sims, -np.inf)
        return [set(np.argsort(-row)[:k]) for row in sims]

    a, b = knn(x), knn(y)
    return float(np.mean([len(p & q) / k for p, q in zip(a, b)]))


def cknna_direct(x, y, k):
    """platonic-rep's cknna (unbiased), in numpy, on unit rows."""
    def unit(z):
        z = z.numpy().astype(float)
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    def hsic_u(a, b):  # Song et al. eq. 5
        n = len(a)
        a, b = a.copy(), b.copy()
        np.fill_diagonal(a, 0)
        np.fill_diagonal(b, 0)
        return ((a * b.T).sum() + a.sum() * b.sum() / ((n - 1) * (n - 2)) - 2 * (a @ b).sum() / (n - 2)) / (n * (n - 3))

    def mask(g):
        g = g.copy()
        np.fill_diagonal(g, -np.inf)
        m = np.zeros_like(g)
        np.put_along_axis(m, np.argsort(-g, axis=1)[:, :k], 1.0, axis=1)
        return m

    kx, ly = unit(x) @ unit(x).T, unit(y) @ unit(y).T
    mk, ml = mask(kx), mask(ly)
    both = mk * ml
    return hsic_u(both * kx, both * ly) / np.sqrt(hsic_u(mk * kx, mk * kx) * hsic_u(ml * ly, ml * ly))


def spearman_direct(u, v):
    ru, rv = np.argsort(np.argsort(u)), np.argsort(np.argsort(v))  # ranks (no ties in random data)
    return float(np.corrcoef(ru, rv)[0, 1])


def rsa_direct(x, y):
    def rdm(z):
        z = z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True)
        d = 1 - z @ z.T
        return d[np.triu_indices(len(d), 1)]

    return spearman_direct(rdm(x), rdm(y))


def ranks_direct(x, y):
    def cos(a, b):
        a = a.numpy() / np.linalg.norm(a.numpy(), axis=1, keepdims=True)
        b = b.numpy() / np.linalg.norm(b.numpy(), axis=1, keepdims=True)
        return a @ b.T

    out = []
    for s in (cos(x, y), cos(y, x)):
        out.append([int((row >= row[i]).sum()) for i, row in enumerate(s)])
    return np.array(out)


# ---- the metrics agree with them --------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_their_direct_formulas_on_random_data(seed):
    x, y = data(seed=seed)
    assert am.linear_cka(x, y) == pytest.approx(cka_direct(x, y), rel=1e-9)
    assert am.debiased_cka(x, y) == pytest.approx(debiased_cka_direct(x, y), rel=1e-6)
    for k in (1, 5, 10):
        assert am.mutual_knn(x, y, k) == pytest.approx(mutual_knn_direct(x, y, k))
    assert am.rsa(x, y) == pytest.approx(rsa_direct(x, y), abs=1e-9)
    for k in (2, 5, 10):
        assert am.cknna(x, y, k) == pytest.approx(cknna_direct(x, y, k), rel=1e-6)
    ranks = am.partner_ranks(x, y)
    np.testing.assert_array_equal(ranks.numpy(), ranks_direct(x, y))
    for k in (1, 5):
        assert am.retrieval_at(ranks, k) == pytest.approx(float((ranks_direct(x, y) <= k).mean()))
    assert am.mean_reciprocal_rank(ranks) == pytest.approx(float((1 / ranks_direct(x, y)).mean()))


def test_unbiased_hsic_without_gram_matrices_equals_the_gram_formula():
    x, y = data(n=25, d=7, seed=3)
    x, y = x.double(), y.double()
    gram = am.hsic_unbiased(x @ x.T, y @ y.T)
    assert float(am.hsic_unbiased_linear(x, y)) == pytest.approx(float(gram), rel=1e-9)


def test_unbiased_hsic_on_a_sparse_support_equals_the_dense_formula():
    gen = torch.Generator().manual_seed(5)
    n = 30
    support = (torch.rand(n, n, generator=gen) < 0.2).fill_diagonal_(False)  # asymmetric, like a kNN mask
    a_dense = torch.randn(n, n, generator=gen, dtype=torch.float64) * support
    b_dense = torch.randn(n, n, generator=gen, dtype=torch.float64) * support
    rows, cols = support.nonzero(as_tuple=True)
    got = am.hsic_unbiased_sparse(rows, cols, a_dense[rows, cols], b_dense[rows, cols], n)
    assert got == pytest.approx(float(am.hsic_unbiased(a_dense, b_dense)), rel=1e-9)


def test_retrieval_at_1_is_the_similarity_analysis_retrieval():
    x, y = data(n=30, seed=4, noise=2.0)
    hit = item_statistics(x[:, None], y[:, None], center=False)["hit"].mean()
    assert am.retrieval_at(am.partner_ranks(x, y), 1) == pytest.approx(hit)


def test_identical_and_rotated_views_align_perfectly():
    x, _ = data(n=50, d=16)
    q = rotation(16)
    for other in (x, x @ q, 3.0 * x @ q):
        assert am.linear_cka(x, other) == pytest.approx(1.0)
        assert am.debiased_cka(x, other) == pytest.approx(1.0)
        assert am.rsa(x, other) == pytest.approx(1.0)
        assert am.mutual_knn(x, other, 5) == pytest.approx(1.0)
        assert am.cknna(x, other, 5) == pytest.approx(1.0)
    ranks = am.partner_ranks(x, x @ q)  # a rotation of one space is a different space for retrieval ...
    assert am.retrieval_at(am.partner_ranks(x, x), 1) == 1.0 and am.mean_reciprocal_rank(am.partner_ranks(x, x)) == 1.0
    assert ranks.shape == (2, 50)


def test_shuffled_rows_fall_to_chance():
    x, _ = data(n=300, d=8)
    y = x + 0.3 * torch.randn(300, 8, generator=torch.Generator().manual_seed(5))  # one space: retrieval is meaningful
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    aligned = {"cka": am.linear_cka(x, y), "dcka": am.debiased_cka(x, y), "rsa": am.rsa(x, y),
               "knn": am.mutual_knn(x, y, 10), "cknna": am.cknna(x, y, 10),
               "r1": am.retrieval_at(am.partner_ranks(x, y), 1)}
    shuffled = {"cka": am.linear_cka(x, y[perm]), "dcka": am.debiased_cka(x, y[perm]), "rsa": am.rsa(x, y[perm]),
                "knn": am.mutual_knn(x, y[perm], 10), "cknna": am.cknna(x, y[perm], 10), "r1": am.retrieval_at(am.partner_ranks(x, y[perm]), 1)}
    assert all(aligned[m] > 0.5 for m in aligned), aligned
    assert abs(shuffled["dcka"]) < 0.05 and abs(shuffled["rsa"]) < 0.05  # unbiased: ~0 under independence
    assert shuffled["knn"] < 0.1 and shuffled["r1"] < 0.05  # chance: k / (N - 1) and about 1 / N
    assert shuffled["cka"] < aligned["cka"] / 2 and shuffled["cknna"] < aligned["cknna"] / 4


def test_a_constructed_neighbourhood_case():
    """Four points at known angles: in X, 0~1 and 2~3 are neighbours; Y swaps 1 and 2."""
    angles = torch.tensor([0.0, 0.1, 3.0, 3.1])
    x = torch.stack([angles.cos(), angles.sin()], 1)
    y = x[[0, 2, 1, 3]]
    assert am.mutual_knn(x, x, 1) == 1.0
    assert am.mutual_knn(x, y, 1) == 0.0  # every nearest neighbour changed
    ranks = am.partner_ranks(x, y)  # X->Y: items 1 and 2 rank their partner on the far side
    assert ranks[0].tolist() == [1, 3, 3, 1]  # behind x0 and x1 themselves (cos 0.1 and 1)


def test_row_blocks_do_not_change_cka(monkeypatch):
    x, y = data(n=50, d=9, seed=6)
    whole = (am.linear_cka(x, y), am.debiased_cka(x, y))
    monkeypatch.setattr(am, "BLOCK", 7)  # 50 rows in 8 blocks, the last one short
    assert (am.linear_cka(x, y), am.debiased_cka(x, y)) == pytest.approx(whole, rel=1e-12)
