"""Calibrated scores: semhub's fast permutation nulls equal the metric recomputed on shuffled states, and its
calibrated scores, p-values and thresholds equal the ``calibrated-similarity`` package's (Gröger, Wen &
Brbić 2026) on the same states and shuffles, per layer and for the max and mean over layers; under the
null (pairs shuffled) calibrated scores are 0 and at most about alpha of seeds are significant."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import semhub
from semhub.analyses import alignment_metrics as am
from semhub.analyses.alignment import layer_draws
from semhub.analyses.calibration import Calibration, calibrate_curve, permutations
from semhub.analyses.stats import item_statistics

cs = pytest.importorskip("calibrated_similarity", reason="the test extra's reference package (pip install -e .[test])")

N, LAYERS, K, SEED = 40, 3, 30, 5


def _unit(x, center=True):
    x = x.double()
    if center:
        x = x - x.mean(0)
    return torch.nn.functional.normalize(x, dim=-1)


def eq1(x, y):
    c = _unit(x) @ _unit(y).T
    n = len(c)
    trace = torch.diagonal(c).sum()
    return float(trace / n - (c.sum() - trace) / (n * (n - 1)))


def matched(x, y):
    return float(torch.diagonal(_unit(x) @ _unit(y).T).mean())


def retrieval_1(x, y):
    c = (_unit(x) @ _unit(y).T).float()
    idx = torch.arange(len(c))
    return float(((c.argmax(1) == idx).double().mean() + (c.argmax(0) == idx).double().mean()) / 2)


def ranks(x, y):
    return am.partner_ranks(x - x.mean(0), y - y.mean(0))


FRESH = {  # each metric written plainly, recomputed on the shuffled states
    "eq1": eq1, "matched_cosine": matched, "retrieval_at_1": retrieval_1,
    "linear CKA": am.linear_cka, "debiased CKA": am.debiased_cka,
    "mutual k-NN (k=4)": lambda x, y: am.mutual_knn(x, y, 4), "CKNNA (k=4)": lambda x, y: am.cknna(x, y, 4),
    "RSA": am.rsa, "retrieval@3": lambda x, y: am.retrieval_at(ranks(x, y), 3),
    "MRR": lambda x, y: am.mean_reciprocal_rank(ranks(x, y)),
}


@pytest.fixture(scope="module")
def states():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(N, LAYERS, 12, generator=gen)
    mix = torch.randn(12, 12, generator=gen)
    noise = torch.tensor([3.0, 0.8, 0.3])[None, :, None]  # one weak layer, two aligned ones
    y = x @ mix + noise * torch.randn(N, LAYERS, 12, generator=gen)
    return x, y


@pytest.fixture(scope="module")
def draws(states):
    """semhub's fast draws of every metric: (K + 1, LAYERS)."""
    x, y = states
    perms = permutations(N, K, SEED)
    stats = item_statistics(x, y, center=True, perms=perms)
    out = {m: stats[f"null_{m}"] for m in ("eq1", "matched_cosine", "retrieval_at_1")}
    per_layer = [layer_draws(x[:, k], y[:, k], perms, k=4, ks=[3], center=True) for k in range(LAYERS)]
    for name in per_layer[0]:
        out[name] = np.stack([d[name] for d in per_layer], axis=1)
    return out


def test_every_fast_null_equals_the_metric_recomputed_on_shuffled_states(states, draws):
    x, y = states
    perms = permutations(N, K, SEED)
    assert set(FRESH) <= set(draws)
    for name, fn in FRESH.items():
        for k in range(LAYERS):
            fresh = [fn(x[:, k], y[perm, k]) for perm in perms]
            assert draws[name][:, k] == pytest.approx(fresh, rel=1e-5, abs=1e-6), (name, k)


def test_permutations_are_the_package_s_draws_and_groups_stay_within_groups():
    perms = permutations(N, 5, SEED)
    gen = torch.Generator().manual_seed(SEED)
    assert torch.equal(perms[0], torch.arange(N))
    assert all(torch.equal(p, torch.randperm(N, generator=gen)) for p in perms[1:])
    groups = ["a" if i % 3 else "b" for i in range(N)]
    grouped = permutations(N, 20, SEED, groups)
    for perm in grouped:
        assert [groups[int(j)] for j in perm] == groups  # each row's partner comes from its own group
        assert sorted(perm.tolist()) == list(range(N))
    assert any(not torch.equal(p, torch.arange(N)) for p in grouped[1:])


def test_calibrated_scores_equal_the_package_per_layer_and_for_the_max_and_mean(states, draws):
    x, y = states
    for name, fn in FRESH.items():
        curve = calibrate_curve(draws[name], alpha=0.05)
        for k in range(LAYERS):
            score, p, tau = cs.calibrate(x[:, k], y[:, k], fn, K=K, alpha=0.05,
                                         generator=torch.Generator().manual_seed(SEED))
            assert curve["score"][k] == pytest.approx(float(score), abs=1e-5), (name, k)
            assert curve["p"][k] == pytest.approx(float(p), abs=1e-6), (name, k)
            assert curve["tau"][k] == pytest.approx(float(tau), abs=1e-5), (name, k)
        layers_x, layers_y = [x[:, k] for k in range(LAYERS)], [y[:, k] for k in range(LAYERS)]
        for agg, pick in (("max", lambda s: s.diagonal().max()), ("mean", lambda s: s.diagonal().mean())):
            score, p, tau = cs.calibrate_layers(layers_x, layers_y, fn, agg=pick, K=K, alpha=0.05,
                                                generator=torch.Generator().manual_seed(SEED))
            assert curve[agg]["score"] == pytest.approx(float(score), abs=1e-5), (name, agg)
            assert curve[agg]["p"] == pytest.approx(float(p), abs=1e-6), (name, agg)
            assert curve[agg]["tau"] == pytest.approx(float(tau), abs=1e-5), (name, agg)
    assert calibrate_curve(draws["mutual k-NN (k=4)"], alpha=0.05)["max"]["index"] in (1, 2)  # the aligned layers


def test_the_cross_model_best_pair_equals_the_package_over_the_whole_grid():
    from semhub.analyses.alignment import heatmaps, summaries

    gen = torch.Generator().manual_seed(2)
    a = torch.randn(30, 2, 8, generator=gen)
    b = torch.cat([a[:, :1] @ torch.randn(8, 6, generator=gen), torch.randn(30, 2, 6, generator=gen)], 1)
    perms = permutations(30, 20, SEED)
    grid = heatmaps(a, b, summaries(a, 3), summaries(b, 3), perms)
    for name, fn in (("linear CKA", am.linear_cka), ("mutual k-NN", lambda x, y: am.mutual_knn(x, y, 3))):
        curve = calibrate_curve(grid[name].reshape(len(perms), -1), alpha=0.05)
        score, p, tau = cs.calibrate_layers([a[:, i] for i in range(2)], [b[:, j] for j in range(3)], fn, agg="max",
                                            K=20, alpha=0.05, generator=torch.Generator().manual_seed(SEED))
        assert curve["max"]["score"] == pytest.approx(float(score), abs=1e-5), name
        assert curve["max"]["p"] == pytest.approx(float(p), abs=1e-6), name
        assert divmod(curve["max"]["index"], 3) == (0, 0), name  # the one related pair


def test_under_the_null_scores_are_zero_and_about_alpha_of_seeds_significant():
    """Unrelated views: every seed is a fresh data set; the calibrated max over layers rejects at alpha = 0.05
    for about 5% of them (the max is chosen under the null as well), and most calibrated scores are 0."""
    rejected, nonzero, trials = 0, 0, 60
    for seed in range(trials):
        gen = torch.Generator().manual_seed(100 + seed)
        x, y = torch.randn(30, 4, 6, generator=gen), torch.randn(30, 4, 6, generator=gen)
        stats = item_statistics(x, y, center=True, perms=permutations(30, 99, seed))
        top = calibrate_curve(stats["null_eq1"], alpha=0.05)["max"]
        rejected += top["p"] <= 0.05
        nonzero += top["score"] > 0
    assert rejected <= 0.05 * trials + 2 * (0.05 * 0.95 * trials) ** 0.5 + 1  # within two binomial SDs
    assert nonzero == rejected  # a score above 0 is a rejection, and nothing else is


def test_calibration_record_names_how_its_null_was_drawn(draws):
    cal = Calibration(permutations(N, K, SEED), alpha=0.1, aggregate="mean", seed=SEED, groups=None)
    rec = cal.record({"eq1": draws["eq1"]})
    assert (rec["permutations"], rec["alpha"], rec["aggregate"], rec["seed"]) == (K, 0.1, "mean", SEED)
    curve = rec["metrics"]["eq1"]
    assert curve["observed"] == pytest.approx(draws["eq1"][0].tolist())
    assert all(lo <= mean <= hi for (lo, hi), mean in zip(curve["null_ci95"], curve["null_mean"]))
    json.dumps(rec, allow_nan=False)


def test_lexical_baseline_equals_bags_of_tokens_built_independently(tmp_path):
    """The bag-of-tokens retrieval@1 and token overlap in a run equal a plain recomputation from the tokenizer."""
    from collections import Counter

    from conftest import save_tiny_lm

    tiny = save_tiny_lm(tmp_path / "tiny")
    rows = [("the red cat sleeps", "el gato rojo duerme"), ("a blue car", "un coche azul"),
            ("the red car stops", "el coche rojo para"), ("one two three", "uno dos tres"),
            ("Paris in May 2024", "París en mayo 2024"), ("the cat and the dog", "el gato y el perro")]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"en": en, "es": es}) + "\n" for en, es in rows))
    run = semhub.analyze("similarity", model=str(tiny), data=str(data), views=["en", "es"], permutations=20,
                         n_boot=0)
    rec = run.result.records[0]
    tok = semhub.load(str(tiny)).tokenizer
    ids = [[tok(t, add_special_tokens=False)["input_ids"] for t in side] for side in zip(*rows)]
    vocab = sorted({t for side in ids for row in side for t in row})
    bags = [np.array([[Counter(row)[t] for t in vocab] for row in side], dtype=float) for side in ids]
    unit = [(b - b.mean(0)) / np.linalg.norm(b - b.mean(0), axis=1, keepdims=True) for b in bags]
    sims = unit[0] @ unit[1].T
    hits = ((sims.argmax(1) == np.arange(6)).mean() + (sims.argmax(0) == np.arange(6)).mean()) / 2
    lexical = rec["surface"]["lexical"]
    assert lexical["raw"]["retrieval_at_1"] == pytest.approx(hits)
    jaccard = [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(*ids)]
    assert lexical["token_overlap"] == pytest.approx(np.mean(jaccard))
    assert rec["surface"]["embeddings"]["layer"] == 0
    gains = rec["hub_gain"]["retrieval_at_1"]
    floor = max(lexical["score"]["retrieval_at_1"], rec["surface"]["embeddings"]["score"]["retrieval_at_1"])
    assert gains == pytest.approx([s - floor for s in rec["calibration"]["metrics"]["retrieval_at_1"]["score"]])


def test_perm_groups_column_and_its_errors(tmp_path, cli_run):
    from conftest import save_tiny_lm

    tiny = save_tiny_lm(tmp_path / "tiny")
    data = tmp_path / "grouped.jsonl"
    data.write_text("".join(json.dumps({"en": f"word {i} here", "fr": f"mot {i} ici", "topic": "ab"[i % 2]}) + "\n"
                            for i in range(8)))
    code, _, err = cli_run("analyze", "--model", str(tiny), "--data", str(data), "--views", "en,fr",
                           "--perm-groups", "topic", "--permutations", "20", "--bootstrap", "0",
                           "--out", str(tmp_path / "run"))
    assert code == 0, err
    rec = json.loads((tmp_path / "run" / "results.json").read_text())["similarity"][0]
    assert rec["calibration"]["perm_groups"] == "topic" and rec["calibration"]["permutations"] == 20
    code, _, err = cli_run("analyze", "--model", str(tiny), "--data", str(data), "--views", "en,fr",
                           "--perm-groups", "colour", "--out", str(tmp_path / "bad"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no column 'colour'" in err and str(data) in err
    assert not (tmp_path / "bad").exists()


def test_controls_add_romanised_views_length_matched_and_unrestricted_shuffles(tmp_path, cli_run):
    from conftest import save_tiny_lm

    tiny = save_tiny_lm(tmp_path / "tiny")
    words = ["кошка", "собака", "дом", "река", "город", "книга", "вода", "окно"]
    english = ["cat", "dog", "house", "river", "city", "book", "water", "window"]
    rows = [{"en": " ".join(english[: i % 4 + 1]) + f" {english[i]}", "ru": " ".join(words[: i % 4 + 1]) + f" {words[i]}",
             "topic": "ab"[i % 2]} for i in range(8)]
    data = tmp_path / "ru.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, _, err = cli_run("analyze", "--model", str(tiny), "--data", str(data), "--views", "en,ru", "--controls",
                           "--perm-groups", "topic", "--permutations", "20", "--bootstrap", "0",
                           "--out", str(tmp_path / "run"))
    assert code == 0, err
    records = json.loads((tmp_path / "run" / "results.json").read_text())["similarity"]
    assert [(r["a"], r["b"], r.get("control_of")) for r in records] == [("en", "ru", None), ("en", "ru_latn", "ru")]
    for rec in records:
        assert set(rec["controls"]) == {"length-matched shuffles", "unrestricted shuffles"}
        length = rec["controls"]["length-matched shuffles"]
        assert length["perm_groups"] == "length bins" and length["permutations"] == 20
        assert length["metrics"]["eq1"]["observed"] == rec["calibration"]["metrics"]["eq1"]["observed"]
    code, _, err = cli_run("analyze", "--model", str(tiny), "--data", str(data), "--views", "en,ru", "--controls",
                           "--analysis", "logit-lens", "--out", str(tmp_path / "bad"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--controls: analysis 'logit-lens' has no controls" in err


def test_shuffles_within_length_bins_keep_each_row_in_its_bin():
    labels = [f"length bin {i % 3}" for i in range(30)]
    cal = Calibration(permutations(30, 25, SEED), seed=SEED).within(labels, "length bins")
    assert cal.permutations == 25 and cal.groups == "length bins"
    for perm in cal.perms:
        assert [labels[int(j)] for j in perm] == labels


def test_a_plugin_metric_is_calibrated_through_the_run_s_shuffles(states):
    """``Calibration.draws``: any metric under every shuffle, recorded like the built-in ones."""
    x, y = states
    cal = Calibration(permutations(N, K, SEED), seed=SEED)
    draws = np.stack([cal.draws(x[:, k], y[:, k], am.linear_cka) for k in range(LAYERS)], axis=1)
    assert draws.shape == (K + 1, LAYERS)
    assert draws[3, 1] == pytest.approx(am.linear_cka(x[:, 1], y[cal.perms[3], 1]))
    rec = cal.record({"my CKA": draws})["metrics"]["my CKA"]
    score, p, _ = cs.calibrate_layers([x[:, k] for k in range(LAYERS)], [y[:, k] for k in range(LAYERS)],
                                      am.linear_cka, agg=lambda s: s.diagonal().max(), K=K,
                                      generator=torch.Generator().manual_seed(SEED))
    assert rec["max"]["score"] == pytest.approx(float(score), abs=1e-5) and rec["max"]["p"] == pytest.approx(float(p))


def test_make_context_takes_the_calibration_keywords(tmp_path):
    from conftest import tiny_backbone

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"en": f"word {i}", "es": f"palabra {i}"}) + "\n" for i in range(6)))
    ctx = semhub.make_context(tiny_backbone("llama"), data, ["en", "es"], permutations=30, alpha=0.1)
    assert (ctx.settings.calibration.permutations, ctx.settings.calibration.alpha) == (30, 0.1)
    assert tuple(ctx.calibration.perms.shape) == (31, 6) and ctx.calibration is ctx.calibration  # drawn once
    assert semhub.make_context(tiny_backbone("llama"), data, ["en", "es"], permutations=0).calibration is None
