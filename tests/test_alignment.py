"""The ``alignment`` analysis: per-layer metrics equal the metric functions on the captured
states, options from the CLI and Python, the null and the pool-size curve, --from-store, and on
the real model, an inner-layer peak with shuffled rows near the null."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import semhub
from semhub.analyses import alignment_metrics as am

SENTENCES = ["the cat sleeps", "a dog runs home", "the big red house", "one two three", "the river is cold",
             "a book on the table", "we eat bread", "the road is long", "my old lamp", "a green tree grows"]


@pytest.fixture
def tiny_dir(tmp_path):
    from conftest import save_tiny_lm

    return save_tiny_lm(tmp_path / "tiny")


@pytest.fixture
def rows(tmp_path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"en": s, "fr": " ".join(reversed(s.split()))}) + "\n" for s in SENTENCES))
    return path


def test_each_layer_equals_the_metric_functions_on_the_captured_states(tiny_dir, rows):
    run = semhub.analyze("alignment", model=str(tiny_dir), data=str(rows), views=["en", "fr"], k=3,
                         retrieval_k=[1, 2], permutations=20, pool_sizes=[4, 8])
    curves, pool = run.result.records
    bb = semhub.load(str(tiny_dir))
    ds = semhub.dataset(str(rows))
    states = {v: semhub.capture(bb, semhub.encode_values(bb, list(ds.columns[v]), v)) for v in ("en", "fr")}
    for k, layer in enumerate(curves["x"]):
        x, y = states["en"][:, k], states["fr"][:, k]
        assert curves["series"]["linear CKA"][k] == pytest.approx(am.linear_cka(x, y), rel=1e-5, nan_ok=True)
        assert curves["series"]["debiased CKA"][k] == pytest.approx(am.debiased_cka(x, y), rel=1e-4, abs=1e-6, nan_ok=True)
        assert curves["series"]["mutual k-NN (k=3)"][k] == pytest.approx(am.mutual_knn(x, y, 3))
        ranks = am.partner_ranks(x - x.mean(0), y - y.mean(0))  # the run's default: centred, as similarity
        assert curves["series"]["retrieval@2"][k] == pytest.approx(am.retrieval_at(ranks, 2))
    cal = curves["calibration"]
    assert cal["permutations"] == 20 and set(cal["metrics"]) == {n for n in curves["series"] if "(null mean)" not in n}
    assert all(lo <= hi for lo, hi in cal["metrics"]["RSA"]["null_ci95"])
    assert curves["series"]["linear CKA (null mean)"] == cal["metrics"]["linear CKA"]["null_mean"]
    assert pool["x"] == [4, 8] and set(pool["series"]) == {"mutual k-NN", "retrieval@1", "mutual k-NN (chance)",
                                                          "retrieval@1 (chance)"}
    assert pool["series"]["mutual k-NN (chance)"] == [3 / 3, 3 / 7] and pool["series"]["retrieval@1 (chance)"] == [1 / 4, 1 / 8]
    assert pool["layer"] in curves["x"]


def test_cli_options_python_keywords_and_the_store_agree(tiny_dir, rows, tmp_path, cli_run):
    args = ["--model", str(tiny_dir), "--data", str(rows), "--views", "en,fr", "--analysis", "alignment"]
    code, _, err = cli_run("analyze", *args, "--k", "3", "--retrieval-k", "1", "--retrieval-k", "3",
                           "--permutations", "19", "--pool-sizes", "5", "--out", str(tmp_path / "cli"),
                           "--store", str(tmp_path / "store"))
    assert code == 0, err
    run = semhub.analyze("alignment", model=str(tiny_dir), data=str(rows), views=["en", "fr"], k=3, retrieval_k=[1, 3],
                         permutations=19, pool_sizes=[5])
    assert run.results_text == (tmp_path / "cli" / "results.json").read_text()
    code, _, err = cli_run("analyze", "--from-store", str(tmp_path / "store"), "--analysis", "alignment", "--k", "3",
                           "--retrieval-k", "1", "--retrieval-k", "3", "--permutations", "19", "--pool-sizes", "5",
                           "--out", str(tmp_path / "stored"))
    assert code == 0, err
    stored = json.loads((tmp_path / "stored" / "results.json").read_text())["alignment"]
    assert [r["series"] for r in stored] == [r["series"] for r in json.loads(run.results_text)["alignment"]]
    code, _, err = cli_run("analyze", *args, "--pool-sizes", "1", "--out", str(tmp_path / "bad"))
    assert code == 2 and "--pool-sizes: 1 is below the minimum 2" in err and not (tmp_path / "bad").exists()


@pytest.mark.real_model
def test_en_zh_peak_inside_the_network_and_shuffled_rows_sit_on_the_null(tmp_path, gemma):
    bb = gemma
    run = semhub.analyze("alignment", backbone=bb, data="multilingual", views=["en", "zh"], permutations=20,
                         pool_sizes=[16])
    curves = run.result.records[0]
    last = len(curves["x"]) - 1
    for metric in ("linear CKA", "debiased CKA", "mutual k-NN (k=10)"):
        values = curves["series"][metric]
        peak = max(range(len(values)), key=values.__getitem__)
        assert 0 < peak < last, (metric, values)  # an inner layer, not the embeddings nor the output
        cal = curves["calibration"]["metrics"][metric]
        assert cal["p"][peak] <= 1 / 21 + 1e-9 and cal["max"]["p"] <= 1 / 21 + 1e-9  # above every shuffle
    from conftest import shuffled_pairs

    shuffled = shuffled_pairs(tmp_path)
    off = semhub.analyze("alignment", backbone=bb, data=str(shuffled), views=["en", "zh"], permutations=20,
                         pool_sizes=[16]).result.records[0]
    for metric in ("debiased CKA", "mutual k-NN (k=10)", "RSA"):
        null = off["calibration"]["metrics"][metric]
        for k in range(1, len(off["x"])):
            lo, hi = null["null_ci95"][k]
            width = hi - lo
            assert lo - width <= off["series"][metric][k] <= hi + width, (metric, k)
        assert null["max"]["score"] == 0, metric  # shuffled pairs: nothing survives calibration
    assert max(off["series"]["retrieval@1"]) < 0.1  # chance is 1/120


def test_the_null_relabels_neighbour_lists_exactly_as_a_fresh_search_on_shuffled_rows():
    """RSA on a subset of rows: a shuffle of its items among themselves, read from the ranks found once."""
    from semhub.analyses.alignment import layer_draws
    from semhub.analyses.calibration import permutations

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(60, 8, generator=gen)
    y = x @ torch.randn(8, 8, generator=gen) + 0.3 * torch.randn(60, 8, generator=gen)
    perms = permutations(60, 6, 9)
    rows = torch.arange(0, 60, 2)
    draws = layer_draws(x, y, perms, k=5, ks=[1], center=True, rows=rows)
    for i, p in enumerate(perms):
        yp = y[p]
        assert draws["mutual k-NN (k=5)"][i] == pytest.approx(am.mutual_knn(x, yp, 5))
        q = torch.argsort(p[rows])  # RSA's items shuffled among themselves (a uniform shuffle of them)
        assert draws["RSA"][i] == pytest.approx(am.rsa(x[rows], y[rows][q]))
        assert draws["linear CKA"][i] == pytest.approx(am.linear_cka(x, yp), rel=1e-6)


def test_jackknife_pseudo_values_at_each_metrics_peak_equal_an_independent_leave_a_block_out():
    """Each metric's pseudo-values at its own calibrated peak: G s - (G - 1) s_-g, blocks i mod G, with
    CKA and RSA recomputed here from numpy and scipy (RSA's subset keeps its items that remain)."""
    import numpy as np
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    from semhub.analyses.alignment import peak_items

    gen = torch.Generator().manual_seed(5)
    a = torch.randn(23, 3, 6, generator=gen)
    b = a @ torch.randn(6, 5, generator=gen) + 0.5 * torch.randn(23, 3, 5, generator=gen)
    rows = torch.tensor([0, 2, 3, 7, 8, 11, 12, 15, 19, 20, 22])
    metrics = {"linear CKA": {"max": {"index": 1}}, "RSA": {"max": {"index": 2}}, "MRR": {"max": None}}
    out = peak_items(a, b, metrics, [0, 4, 8], blocks=4, k=3, ks=[1], center=True, rows=rows)
    assert set(out) == {"linear CKA", "RSA"} and out["linear CKA"]["layer"] == 4 and out["RSA"]["layer"] == 8

    def cka(x, y):
        x, y = x - x.mean(0), y - y.mean(0)
        return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))

    def rsa(x, y):
        return spearmanr(pdist(x, "cosine"), pdist(y, "cosine")).statistic

    for name, fn, at, use in (("linear CKA", cka, 1, np.arange(23)), ("RSA", rsa, 2, rows.numpy())):
        x, y = a[:, at].double().numpy(), b[:, at].double().numpy()
        whole = fn(x[use], y[use])
        expect = [4 * whole - 3 * fn(x[[i for i in use if i % 4 != g]], y[[i for i in use if i % 4 != g]])
                  for g in range(4)]
        assert out[name]["values"] == pytest.approx(expect, rel=1e-4, abs=1e-6), name
        assert np.mean(out[name]["values"]) == pytest.approx(4 * whole - 3 * np.mean([
            fn(x[[i for i in use if i % 4 != g]], y[[i for i in use if i % 4 != g]]) for g in range(4)]), rel=1e-4)


def test_compare_flags_a_set_level_difference_through_pseudo_values_and_rarely_a_null_one():
    """Two 'models' that differ only in their noise draw: the paired test on CKA's pseudo-values is
    significant in about alpha of the draws; one with three times the noise differs every time."""
    from semhub.analyses.alignment import peak_items
    from semhub.cards.compare import paired_difference

    gen = torch.Generator().manual_seed(11)
    peak = {"linear CKA": {"max": {"index": 0}}, "mutual k-NN (k=5)": {"max": {"index": 0}}}
    w = torch.linalg.qr(torch.randn(8, 8, generator=gen))[0]

    def model(x, noise):
        y = x @ w + noise * torch.randn(x.shape, generator=gen)
        return peak_items(x[:, None], y[:, None], peak, [0], blocks=10, k=5, ks=[1], center=True, rows=None)

    same, louder = [], []
    for _ in range(20):
        x = torch.randn(40, 8, generator=gen)
        one, two, loud = model(x, 1.0), model(x, 1.0), model(x, 3.0)
        same.append(paired_difference(one["linear CKA"]["values"], two["linear CKA"]["values"], flips=2000))
        louder.append(paired_difference(one["linear CKA"]["values"], loud["linear CKA"]["values"], flips=2000))
        assert len(one["mutual k-NN (k=5)"]["values"]) == 10
    assert sum(p <= 0.05 for p in same) <= 3  # about 5% of 20 draws under the null (binomial: P(> 3) < 0.02)
    assert all(p <= 0.05 for p in louder)  # what compare flags between two cards
