"""Dictionary probes, language trends and the lens view on tiny models, plus their maths."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import semhub
from conftest import make_tokenizer, tiny_backbone
from semhub.analyses.language_trends import language_table
from semhub.analyses.lens_view import lens_view
from semhub.analyses.logit_lens import find_words, probe_sites
from semhub.data.dictionary import load_dictionary
from semhub.errors import DataError
from semhub.default_plugins.text import TextSpoke


def test_find_words_longest_first_with_boundaries():
    assert find_words("the cat sat on the category", ["cat"]) == [(4, 7, "cat")]
    assert find_words("水果和水", ["水", "水果"]) == [(0, 2, "水果"), (3, 4, "水")]
    assert find_words("La Luna brilla", ["luna"]) == [(3, 7, "luna")]


def test_dictionary_translations_and_errors(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("en\tes\ncat\tgato\ncat\tgata\ndog\tperro\n")
    d = load_dictionary(path)
    assert d.translations("es", "en") == {"gato": ["cat"], "gata": ["cat"], "perro": ["dog"]}
    assert d.translations("en", "es")["cat"] == ["gato", "gata"]
    bad = tmp_path / "bad.tsv"
    bad.write_text("en\tes\ncat\n")
    with pytest.raises(DataError, match=r"bad\.tsv:2: expected two"):
        load_dictionary(bad)


def test_builtin_dictionaries_cover_four_pairs():
    pairs = {frozenset(d.languages) for d in semhub.data.dictionary.dictionaries()}
    assert {frozenset({"en", lang}) for lang in ("zh", "es", "fr", "de")} <= pairs


def test_probe_sites_read_the_position_before_each_word():
    bb = tiny_backbone("llama")
    texts = ["el gato rojo", "the perro"]
    enc = TextSpoke().encode(texts, bb, None)
    sites = probe_sites(texts, enc, {"gato": ["cat"], "rojo": ["red"], "perro": ["dog"], "el": ["the"]}, bb)
    tok = bb.tokenizer
    got = [(s.row, s.pos, tok.convert_ids_to_tokens(s.native), tok.convert_ids_to_tokens(s.candidates), s.word)
           for s in sites]
    # "el" is first (the position before it is BOS): not probed
    assert got == [(0, 1, "gato", ["cat"], "gato"), (0, 2, "rojo", ["red"], "rojo"), (1, 1, "perro", ["dog"], "perro")]


def test_logit_lens_analysis_on_a_tiny_model(tmp_path):
    bb = tiny_backbone("qwen2")
    data = tmp_path / "d.jsonl"
    rows = [{"en": "the red cat", "es": "el gato rojo"}, {"en": "hello", "es": "hola amigo"},
            {"en": "the blue house", "es": "la casa azul"}, {"en": "one two three", "es": "uno dos tres"}]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    dic = tmp_path / "en-es.tsv"
    dic.write_text("en\tes\ncat\tgato\nred\trojo\nhouse\tcasa\nblue\tazul\ntwo\tdos\nthree\ttres\n")
    ctx = semhub.make_context(bb, data, ["en", "es"], n_boot=50, analysis="logit-lens", dictionary=str(dic))
    res = semhub.plugins.catalog.analyses()["logit-lens"].run(ctx)
    (rec,) = res.to_json()
    assert rec["view"] == "es" and rec["dominant"] == "en" and rec["n_positions"] == 6
    assert rec["layers"] == list(range(4))
    for key in ("native_logprob", "dominant_logprob"):
        assert all(v < 0 for v in rec[key]) and len(rec["ci95"][key]) == 4
    assert all(0 <= w <= 1 for w in rec["dominant_wins"])
    assert rec["random_positions"] == 6 and len(rec["random_wins"]) == 4 and all(0 <= w <= 1 for w in rec["random_wins"])
    assert res.plot(tmp_path).stat().st_size > 1000
    # per data row, at each curve's peak layer: the mean over the row's own sites (None: no site), what
    # compare pairs between two models; recomputed here from the probe's sites
    from semhub.analyses.logit_lens import dictionary_probe

    probe = dictionary_probe(bb, ctx.dataset, "es", {"gato": ["cat"], "rojo": ["red"], "casa": ["house"],
                                                     "azul": ["blue"], "dos": ["two"], "tres": ["three"]},
                             rec["layers"], norm=rec["lens_norm"], batch_size=8)
    per_site = {"dominant_wins": (probe["dominant"] > probe["native"]).astype(float),
                "native_logprob": probe["native"], "dominant_logprob": probe["dominant"]}
    for key, values in per_site.items():
        at = int(np.argmax(values.mean(0)))
        item = rec["items"][key]
        assert item["layer"] == rec["layers"][at]
        expect = [np.mean([v for v, r in zip(values[:, at], probe["rows"]) if r == row]) if row in probe["rows"]
                  else None for row in range(4)]
        assert expect[1] is None and item["values"][1] is None  # "hola amigo": no dictionary word
        assert [v for k, v in enumerate(item["values"]) if k != 1] == pytest.approx([v for k, v in enumerate(expect)
                                                                                     if k != 1])


def test_the_random_word_is_frequency_matched_seeded_and_never_a_translation():
    from semhub.analyses.logit_lens import CONTROL_WINDOW, random_words, single_token_ids

    bb = tiny_backbone("qwen2")
    translations = {"gato": ["cat"], "rojo": ["red"], "casa": ["house"], "azul": ["blue"], "dos": ["two"],
                    "tres": ["three"], "perro": ["dog"], "sol": ["sun"]}
    drawn = random_words(bb, translations, "tokenizer", seed=0)
    pool = sorted({i for g in translations.values() for i in single_token_ids(bb, g)})
    assert drawn and drawn == random_words(bb, translations, "tokenizer", seed=0)
    for word, token in drawn.items():
        own = single_token_ids(bb, translations[word])
        assert token not in own and token in pool
        assert abs(pool.index(token) - pool.index(own[0])) <= CONTROL_WINDOW
    assert any(random_words(bb, translations, "tokenizer", seed=s) != drawn for s in range(1, 6))


def test_language_table_is_a_distribution_over_languages():
    tok = make_tokenizer()
    table, seen = language_table({"en": ["the cat", "the dog"], "es": ["el gato", "the gato"]}, tok, 99)
    ids = {w: tok.convert_tokens_to_ids(w) for w in ("the", "cat", "gato", "mat")}
    torch.testing.assert_close(table.sum(1), torch.ones(99))
    # p(the|en) = 2/4, p(the|es) = 1/4  ->  p(en|the) = 2/3 under a uniform prior
    assert table[ids["the"]].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert table[ids["cat"]].tolist() == [1.0, 0.0] and table[ids["gato"]].tolist() == [0.0, 1.0]
    assert not seen[ids["mat"]] and table[ids["mat"]].tolist() == [0.5, 0.5]


def test_language_trends_masses_sum_to_one(tmp_path):
    bb = tiny_backbone("gemma3_text")
    data = tmp_path / "d.jsonl"
    data.write_text('{"en": "the cat sat on the mat", "es": "el gato rojo"}\n{"en": "a dog runs", "es": "la casa"}\n')
    ctx = semhub.make_context(bb, data, ["en", "es"], analysis="language-trends", max_positions=4)
    res = semhub.plugins.catalog.analyses()["language-trends"].run(ctx)
    for rec in res.to_json():
        assert rec["positions"] == 4 and rec["languages"] == ["en", "es"]
        total = np.array(rec["mass"]["en"]) + np.array(rec["mass"]["es"])
        assert total == pytest.approx(np.ones(len(rec["layers"])), abs=1e-5)
        assert all(0 <= m <= 1 + 1e-6 for m in rec["known_mass"])
        (other,) = [lang for lang in ("en", "es") if lang != rec["view"]]
        middle = [i for i, layer in enumerate(rec["layers"]) if max(rec["layers"]) / 3 <= layer <= 2 * max(rec["layers"]) / 3]
        (cand,) = rec["latent_candidates"]  # every language but the text's own
        assert cand["language"] == other
        assert cand["mass"] == pytest.approx(np.mean(np.array(rec["mass"][other])[middle]))
        # per data row, at each language's peak layer: the mean mass over the row's drawn positions (what
        # compare pairs); weighted by each row's positions they give back the record's mass there
        from semhub.analyses.language_trends import language_table, trend

        table, seen = language_table({v: list(ctx.dataset.columns[v]) for v in ("en", "es")}, bb.tokenizer,
                                     ctx.lens.vocab_size)
        out = trend(bb, ctx.dataset, rec["view"], table, seen, rec["layers"], norm=rec["lens_norm"], batch_size=8,
                    max_positions=4, lens=ctx.lens)
        counts = np.bincount(out["rows"], minlength=2)
        for j, lang in enumerate(("en", "es")):
            item = rec["items"][lang]
            at = rec["layers"].index(item["layer"])
            assert at == int(np.argmax(rec["mass"][lang]))
            expect = [out["sites"][out["rows"] == r, at, j].mean() if counts[r] else None for r in range(2)]
            assert [v is None for v in item["values"]] == [v is None for v in expect]
            got = [v for v in item["values"] if v is not None]
            assert got == pytest.approx([v for v in expect if v is not None])
            weights = [c for c in counts if c]
            assert np.average(got, weights=weights) == pytest.approx(rec["mass"][lang][at], abs=1e-6)


def test_lens_view_top_token_at_last_layer_is_the_models_prediction():
    bb = tiny_backbone("gpt_neox")
    enc = TextSpoke().encode(["the cat sat on the mat"], bb, None)
    view = lens_view(bb, enc, layers=[0, 3], k=2)
    with torch.no_grad():
        logits = bb.model(**bb.forward_kwargs(enc.inputs)).logits[0]
    expected = [bb.tokenizer.decode([int(i)]) for i in logits.argmax(-1)]
    assert [pos[0] for pos in view.top_tokens[1]] == expected
    assert view.tokens[0] == "<bos>" and len(view.tokens) == 7
    probs = torch.softmax(logits, -1).max(-1).values
    torch.testing.assert_close(view.top_probs[1, :, 0], probs, atol=1e-5, rtol=1e-5)
    ranked = view.best_layers()  # the last position: every top-k token, by its best layer's probability
    seen = {t for li in range(2) for t in view.top_tokens[li][-1]}
    assert {r["token"] for r in ranked} == seen
    assert [r["probability"] for r in ranked] == sorted((r["probability"] for r in ranked), reverse=True)
    for r in ranked:
        li = view.layers.index(r["layer"])
        rank = view.top_tokens[li][-1].index(r["token"])
        assert r["probability"] == pytest.approx(float(view.top_probs[li, -1, rank]))
    assert view.to_json()["best_layer"] == ranked


def test_lens_command_rejects_empty_text(cli_run):
    code, _, err = cli_run("lens", "  ")
    assert code == 2 and err.strip() == "Error: TEXT is empty"


def test_lens_command_rejects_an_empty_word_before_the_model_loads(cli_run, tmp_path):
    out = tmp_path / "heat.png"
    code, _, err = cli_run("lens", "the cat", "--word", "Paris", "--word", " ", "--model", str(tmp_path / "absent"),
                           "--out", str(out))
    assert code == 2 and err.strip() == "Error: --word: is empty"  # not the missing model: nothing loaded
    assert not out.exists()


def test_token_set_scores_match_the_models_last_layer_logprobs():
    from semhub.lens.token_sets import score_token_sets, word_token_ids

    bb = tiny_backbone("qwen3")
    texts = ["the cat sat on the", "one two three"]
    sets = {"animals": word_token_ids(bb, ["cat", "dog"]), "numbers": word_token_ids(bb, ["four", "five"])}
    res = score_token_sets(bb, texts, sets, view="en", layers=[1, 3], how="logsumexp", batch_size=1)
    for i, text in enumerate(texts):
        enc = TextSpoke().encode([text], bb, None)
        with torch.no_grad():
            lp = torch.log_softmax(bb.model(**enc.inputs).logits[0, -1], -1)
        for name, ids in sets.items():
            assert res.scores[name][i, 1] == pytest.approx(float(torch.logsumexp(lp[ids], 0)), abs=1e-4)
    best = score_token_sets(bb, texts, sets, view="en", layers=[3], how="max")
    assert (best.scores["animals"] <= res.scores["animals"][:, 1:] + 1e-6).all()
    mean = score_token_sets(bb, texts, sets, view="en", layers=[3], position="mean")
    assert mean.scores["numbers"].shape == (2, 1)
    with pytest.raises(semhub.SemhubError, match="empty set"):
        score_token_sets(bb, texts, {"none": []}, view="en")
