"""Eq. 1, retrieval@1 and the bootstrap on hand-made vectors with known answers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from semhub.analyses.similarity import similarity
from semhub.analyses.stats import item_statistics, summarise


def as_states(*layers):
    """Layers given as (N, D) lists -> (N, K, D) tensor."""
    return torch.tensor(np.stack([np.asarray(l, dtype=float) for l in layers], axis=1), dtype=torch.float32)


def test_eq1_on_orthonormal_vectors():
    eye = np.eye(3)
    stats = item_statistics(as_states(eye), as_states(eye), center=False)
    point, _ = summarise(stats, n_boot=0, seed=0)
    assert point["matched_cosine"] == [pytest.approx(1.0)]
    assert point["mismatched_cosine"] == [pytest.approx(0.0)]
    assert point["eq1"] == [pytest.approx(1.0)]
    assert point["retrieval_at_1"] == [pytest.approx(1.0)]


def test_global_off_diagonal_mean_matches_brute_force():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    stats = item_statistics(as_states(a), as_states(b), center=False, chunk=3)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = an @ bn.T
    off = (c.sum() - np.trace(c)) / (7 * 6)
    assert stats["matched"][0] == pytest.approx(np.diag(c), abs=1e-6)
    assert stats["mismatched"][0].mean() == pytest.approx(off, abs=1e-6)
    hits = ((c.argmax(1) == np.arange(7)).astype(float) + (c.argmax(0) == np.arange(7)).astype(float)) / 2
    assert stats["hit"][0] == pytest.approx(hits)


def test_retrieval_is_directional_and_averaged():
    # a0 and a1 both closest to b0: a->b gets 1 of 2, b->a gets 2 of 2 (b1 is closest to a1).
    a = [[1.0, 0.0], [0.9, 0.1]]
    b = [[1.0, 0.05], [0.0, 1.0]]
    stats = item_statistics(as_states(a), as_states(b), center=False)
    assert stats["hit"][0].mean() == pytest.approx(0.75)


def test_centering_removes_a_shared_offset():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(20, 8))
    offset = np.full(8, 50.0)  # a huge shared direction, like Gemma's massive activations
    a, b = base + offset, base + rng.normal(scale=0.5, size=base.shape) + offset
    raw = summarise(item_statistics(as_states(a), as_states(b), center=False), n_boot=0, seed=0)[0]
    cen = summarise(item_statistics(as_states(a), as_states(b), center=True), n_boot=0, seed=0)[0]
    assert raw["mismatched_cosine"][0] > 0.99  # every pair looks identical
    assert cen["mismatched_cosine"][0] < 0.2
    assert cen["eq1"][0] > 0.5 > raw["eq1"][0]


def test_bootstrap_interval_brackets_estimate_and_is_seeded():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(30, 6))
    b = a + rng.normal(scale=1.0, size=a.shape)
    res1 = similarity({"x": as_states(a, a), "y": as_states(b, b)}, [3, 4], ["x", "y"], n_boot=200, seed=7)
    res2 = similarity({"x": as_states(a, a), "y": as_states(b, b)}, [3, 4], ["x", "y"], n_boot=200, seed=7)
    rec = res1.record("x", "y")
    assert rec["layers"] == [3, 4] and rec["n"] == 30
    for metric in ("eq1", "retrieval_at_1", "matched_cosine", "mismatched_cosine"):
        for value, (lo, hi) in zip(rec[metric], rec["ci95"][metric]):
            assert lo <= value <= hi
    assert rec["ci95"]["eq1"][0][1] - rec["ci95"]["eq1"][0][0] > 0
    assert res1.to_json() == res2.to_json()


def test_first_view_is_compared_with_each_other():
    rng = np.random.default_rng(4)
    states = {v: as_states(rng.normal(size=(5, 3))) for v in ("en", "zh", "es")}
    res = similarity(states, [0], ["en", "zh", "es"], n_boot=0)
    assert [(r["a"], r["b"]) for r in res.records] == [("en", "zh"), ("en", "es")]
    assert res.peak("en", "es")[0] == 0


def test_plot_writes_png(tmp_path):
    rng = np.random.default_rng(5)
    states = {v: as_states(rng.normal(size=(6, 4)), rng.normal(size=(6, 4))) for v in ("en", "zh")}
    out = similarity(states, [0, 1], ["en", "zh"], n_boot=50).plot(tmp_path)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
