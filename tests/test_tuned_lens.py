"""Lenses as a choice: the tuned lens (files in the tuned-lens library's layout, both ways), its
training, the exact KL and top-1 agreement, and lens-quality."""
from __future__ import annotations

import json
from pathlib import Path
import pickle

import pytest
import torch

import semhub
from conftest import WORDS, tiny_backbone, tiny_model
from semhub.errors import DataError, ParameterError
from semhub.lens.logit import Lens
from semhub.lens.quality import content_states, judge_lenses, kl_and_agreement
from semhub.lens.fit import TrainConfig, final_targets, sampled_kl, train
from semhub.lens.tuned import TunedLens, load_tuned_lens, save_tuned_lens

SENTENCES = [" ".join(WORDS[(i * 7 + j * 3) % 60] for j in range(6 + i % 5)) for i in range(120)]


def random_translators(bb, seed=0, scale=0.05):
    g = torch.Generator().manual_seed(seed)
    L, d = bb.n_layers, bb.d_model
    return torch.randn(L, d, d, generator=g) * scale, torch.randn(L, d, generator=g) * scale


def states_of(bb, texts, layers):
    spoke = semhub.spoke_for_view("en")
    return content_states(bb, (spoke.encode(texts[s:s + 8], bb, None) for s in range(0, len(texts), 8)), layers)


def test_tuned_lens_files_load_both_ways_with_the_tuned_lens_library(tmp_path):
    tl = pytest.importorskip("tuned_lens", reason="the tuned-lens library (installed by make setup, --no-deps)")
    model, fam = tiny_model("llama")
    bb = tiny_backbone("llama")
    bb.model.load_state_dict(model.state_dict())
    theirs = tl.TunedLens.from_model(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for translator in theirs.layer_translators:
            translator.weight.normal_(0, 0.05, generator=g)
            translator.bias.normal_(0, 0.05, generator=g)
    theirs.save(tmp_path / "theirs")
    ours = load_tuned_lens(bb, tmp_path / "theirs")
    enc = bb.tokenizer(["the red cat sat on the mat"], return_tensors="pt")
    with torch.no_grad():
        hs = model(**enc, output_hidden_states=True).hidden_states
        for layer in range(bb.n_layers):
            want = theirs(hs[layer][0], layer)
            got = ours._logits(ours.prepare(hs[layer][0], layer), slice(None))
            assert torch.allclose(got, want, atol=1e-5), layer
    # a lens semhub writes is one the library reads, with the same logits
    W, B = random_translators(bb, seed=2)
    save_tuned_lens(tmp_path / "ours", W, B, base_model="tiny")
    back = tl.TunedLens.from_model_and_pretrained(model, lens_resource_id=str(tmp_path / "ours"))
    mine = TunedLens(bb, W, B)
    with torch.no_grad():
        h = hs[2][0]
        assert torch.allclose(back(h, 2), mine._logits(mine.prepare(h, 2), slice(None)), atol=1e-5)


def test_kl_and_agreement_equal_the_full_softmax():
    bb = tiny_backbone("qwen2")
    L = bb.n_layers
    st = states_of(bb, SENTENCES[:10], range(L + 1))
    lens = TunedLens(bb, *random_translators(bb))
    final = Lens(bb)
    lens.chunk = final.chunk = 7  # several vocabulary chunks on a tiny vocabulary
    for layer in (0, 1, L - 1):
        kl, agree = kl_and_agreement(lens, st[layer], layer, final, st[L])
        z_q = lens._logits(lens.prepare(st[layer], layer), slice(None))
        z_p = final._logits(final.prepare(st[L], L), slice(None))
        q, p = z_q.log_softmax(-1), z_p.log_softmax(-1)
        want = (p.exp() * (p - q)).sum(-1)
        assert torch.allclose(kl, want.clamp_min(0), atol=1e-5)
        assert torch.equal(agree, (z_p.argmax(-1) == z_q.argmax(-1)).float())
    # every lens and layer judged in one pass (blocks of 3 positions) gives each one's own means
    n = st[L].shape[0]
    kl, top1 = judge_lenses({"tuned": lens, "logit": final}, st, list(range(L)), final, rows=3)
    for name, judged in (("tuned", lens), ("logit", final)):
        for layer in range(L):
            alone, same = kl_and_agreement(judged, st[layer], layer, final, st[L])
            assert kl[name][layer] == pytest.approx(float(alone.sum()) / n, abs=1e-5)
            assert top1[name][layer] == pytest.approx(float(same.mean()))
    final.max_rows = 7  # two (lens, layer) blocks of 3 positions per matmul: the same numbers
    kl_blocks, top1_blocks = judge_lenses({"tuned": lens, "logit": final}, st, list(range(L)), final, rows=3)
    for name in kl:
        assert kl_blocks[name] == pytest.approx(kl[name], abs=1e-6) and top1_blocks[name] == top1[name]


def test_the_sampled_objective_is_the_exact_kl_when_every_token_is_scored():
    bb = tiny_backbone("llama")
    L = bb.n_layers
    st = states_of(bb, SENTENCES[:8], range(L + 1))
    lens, final = TunedLens(bb, *random_translators(bb)), Lens(bb)
    exact = float(kl_and_agreement(lens, st[1], 1, final, st[L])[0].mean())
    full = sampled_kl(lens, st[1], 1, final_targets(final, st[L], lens.vocab_size), tail=1, generator=torch.Generator())
    assert abs(full - exact) < 1e-4
    partial = sampled_kl(lens, st[1], 1, final_targets(final, st[L], 3), tail=20, generator=torch.Generator().manual_seed(0))
    assert 0 < partial < exact + 0.5  # a lower bound up to the tail estimate's noise


def test_training_beats_the_logit_lens_on_held_out_text(tmp_path):
    bb = tiny_backbone("llama")
    trained = semhub.train_lens(backbone=bb, data=SENTENCES, out=tmp_path / "lens", steps=40, max_tokens=2000,
                                judge_tokens=200, tail=32, top_k=4, step_positions=64)
    rows = trained.manifest["held_out"]
    assert [r["layer"] for r in rows] == list(range(bb.n_layers))
    for r in rows:
        assert r["kl_tuned"] < r["kl_logit"], r
    assert {p.name for p in (tmp_path / "lens").iterdir()} == {"config.json", "params.pt", "semhub-lens.json"}
    manifest = json.loads((tmp_path / "lens" / "semhub-lens.json").read_text())
    assert manifest["data"]["held_out_texts"] == 12 and manifest["config"]["steps"] == 40
    assert len(manifest["losses"]) == 5 and all(0 <= x < 1e3 for x in manifest["losses"])
    # the lens serves every lens analysis, and results say which lens read them
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"en": a, "es": b}) for a, b in (
        ("the red cat", "el gato rojo"), ("the blue house", "la casa azul"), ("one two three", "uno dos tres"))))
    dictionary = tmp_path / "en-es.tsv"
    dictionary.write_text("en\tes\ncat\tgato\nred\trojo\nhouse\tcasa\nblue\tazul\ntwo\tdos\nthree\ttres\n")
    run = semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], n_boot=0, dictionary=dictionary,
                         lens="tuned", lens_path=tmp_path / "lens")
    rec = run.results["logit_lens"][0]
    assert rec["lens"]["lens"] == "tuned" and rec["lens"]["params_sha256"]
    plain = semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], n_boot=0,
                           dictionary=dictionary).results["logit_lens"][0]
    assert plain["lens"] == {"lens": "logit", "norm": True}
    assert rec["dominant_logprob"] != plain["dominant_logprob"]
    quality = semhub.analyze("lens-quality", backbone=bb, data=data, views=["en"], n_boot=0, lens="tuned",
                             lens_path=tmp_path / "lens").results["lens_quality"]
    assert set(quality[0]["series"]) == {"logit", "tuned"} and len(quality[0]["ratio_to_logit"]) == bb.n_layers


def test_least_squares_alone_fits_the_last_state():
    bb = tiny_backbone("llama")
    L = bb.n_layers
    st = states_of(bb, SENTENCES[:60], range(L + 1))
    W, B, report = train(Lens(bb), st, TrainConfig(steps=0))
    assert report.losses == [] and W.shape == (L, bb.d_model, bb.d_model)
    before = (st[L] - st[1]).pow(2).mean()
    after = (st[L] - (st[1] + st[1] @ W[1].T + B[1])).pow(2).mean()
    assert after < 0.5 * before


def test_bad_lenses_are_one_line(tmp_path, cli_run):
    bb = tiny_backbone("llama")
    with pytest.raises(ParameterError, match="lens_path: .* has no config.json"):
        load_tuned_lens(bb, tmp_path)
    W, B = random_translators(bb)
    save_tuned_lens(tmp_path / "ok", W, B, base_model="tiny")
    (tmp_path / "ok" / "config.json").write_text(json.dumps({"d_model": 3, "num_hidden_layers": 2}))
    with pytest.raises(ParameterError, match="lens for 2 layers of width 3"):
        load_tuned_lens(bb, tmp_path / "ok")
    save_tuned_lens(tmp_path / "evil", W, B, base_model="tiny")
    (tmp_path / "evil" / "params.pt").write_bytes(pickle.dumps({"0.weight": object()}))
    with pytest.raises(DataError, match=r"params\.pt: cannot read the translators"):
        load_tuned_lens(bb, tmp_path / "evil")
    with pytest.raises(ParameterError, match="lens_norm: the tuned lens always applies the final norm"):
        semhub.build_lens(bb, "tuned", norm=False, path=tmp_path / "ok")
    with pytest.raises(ParameterError, match="unknown lens 'nope'"):
        semhub.build_lens(bb, "nope")
    code, _, err = cli_run("analyze", "--paper", "--lens", "tuned", "--analysis", "logit-lens", "--views", "en,zh")
    assert code == 2 and err.strip() == ("Error: --lens: given as 'tuned', but paper sets it to 'logit' for "
                                         "logit-lens: drop one of the two")
    code, _, err = cli_run("analyze", "--analysis", "logit-lens", "--lens", "tuned", "--lens-path", str(tmp_path / "x"),
                           "--views", "en,zh")
    assert code == 2 and err.strip().startswith("Error: --lens-path:") and len(err.strip().splitlines()) == 1


@pytest.mark.real_model
def test_a_quick_tuned_lens_halves_the_kl_of_gemma_on_unseen_prose(tmp_path, gemma):
    """Least squares alone (no KL steps: the sampled-KL training is tested on tiny models) already halves
    the logit lens's KL in the middle layers on the guides' paragraphs, never trained on."""
    bb = gemma
    trained = semhub.train_lens(backbone=bb, out=tmp_path / "lens", max_tokens=4000, steps=0, judge_tokens=10)
    guides = sorted(Path(semhub.__file__).parents[1].joinpath("docs", "guides").glob("*.md"))
    held = [p.strip().replace("\n", " ") for page in guides for p in page.read_text().split("\n\n")
            if 120 < len(p.strip()) <= 800 and not p.lstrip().startswith(("```", "|", "#"))][:12]
    data = tmp_path / "held.txt"
    data.write_text("\n".join(held) + "\n")
    rec = semhub.analyze("lens-quality", backbone=bb, data=data, lens="tuned", lens_path=trained.folder,
                         layers="6-12", max_positions=100, n_boot=0).results["lens_quality"][0]
    ratio = dict(zip(rec["x"], rec["ratio_to_logit"]))
    assert rec["x"] == list(range(6, 13))  # measured 0.13-0.29 over these layers (0.01-0.35 over all 18)
    for layer in range(6, 13):
        assert ratio[layer] <= 0.5, (layer, ratio[layer])


def test_scan_entropy_equals_the_full_softmax():
    bb = tiny_backbone("qwen2")
    lens = Lens(bb)
    lens.chunk = 13
    h = lens.prepare(torch.randn(7, bb.d_model) * 3, bb.n_layers)
    logp = lens._logits(h, slice(None)).log_softmax(-1)
    assert torch.allclose(lens.scan(h, entropy=True).entropy, -(logp.exp() * logp).sum(-1), atol=1e-5)


def test_latent_language_prompts_and_curves_on_a_tiny_model(tmp_path):
    from semhub.analyses.latent_language import build_items, triples
    from semhub.data.dictionary import load_dictionary

    (tmp_path / "en-es.tsv").write_text("en\tes\ncat\tgato\ndog\tperro\nhouse\tcasa\nwater\tagua\nred\trojo\n")
    (tmp_path / "en-fr.tsv").write_text("en\tfr\ncat\tchat\ndog\tchien\nhouse\tmaison\nwater\teau\ntree\tarbre\n")
    dicts = [load_dictionary(tmp_path / n) for n in ("en-es.tsv", "en-fr.tsv")]
    words = triples(dicts, "es", "fr")
    assert words == [("cat", "gato", "chat"), ("dog", "perro", "chien"), ("house", "casa", "maison"),
                     ("water", "agua", "eau")]
    item = build_items(words, "es", "fr", "translation", 2, 0)[0]
    lines = item.prompt.split("\n")
    assert len(lines) == 3 and lines[-1] == 'Español: "gato" - Français: "' and "gato" not in "".join(lines[:2])
    rep = build_items(words, "es", "fr", "repetition", 1, 0)[1]
    assert rep.prompt.endswith('Français: "chien" - Français: "')
    bb = tiny_backbone("llama")
    data = tmp_path / "d.txt"
    data.write_text("the cat\nthe dog\n")
    run = semhub.analyze("latent-language", backbone=bb, data=data, n_boot=0, source="es", target="fr", shots=2,
                         dictionary=[tmp_path / "en-es.tsv", tmp_path / "en-fr.tsv"])
    curves, ent = run.results["latent_language"]
    assert curves["n"] == 4 and set(curves["series"]) == {"target (fr)", "English"}
    for values in curves["series"].values():
        assert len(values) == bb.n_layers + 1 and all(0 <= v <= 1 for v in values)
    assert all(e >= 0 for e in ent["series"]["entropy"])
    with pytest.raises(ParameterError, match="no en-ja dictionary"):
        semhub.analyze("latent-language", backbone=bb, data=data, source="es", target="ja",
                       dictionary=[tmp_path / "en-es.tsv"])


def published_lens_cache(root, resource, W, B, repo="AlignmentResearch/tuned-lens"):
    """A hub cache holding a published lens as ``hf_hub_download`` leaves it: the space's snapshot
    with ``lens/<resource>/config.json`` and ``params.pt``, ``refs/main`` naming the snapshot."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    space = root / f"spaces--{repo.replace('/', '--')}"
    save_tuned_lens(space / "snapshots" / commit / "lens" / resource, W, B, base_model=resource)
    (space / "refs").mkdir(parents=True)
    (space / "refs" / "main").write_text(commit)
    return space / "snapshots" / commit / "lens" / resource


def test_a_published_lens_id_loads_from_the_hub_cache_offline(tmp_path, monkeypatch, cli_run):
    import huggingface_hub.constants as hub

    bb = tiny_backbone("llama")
    W, B = random_translators(bb, seed=3)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    folder = published_lens_cache(tmp_path / "hub", "org/tiny-llama", W, B)
    for given in ("org/tiny-llama", "hub:org/tiny-llama"):
        lens = semhub.build_lens(bb, "tuned", path=given)
        assert Path(lens.path) == folder and torch.equal(lens.translator_weight, W)
    # not in the cache, offline: one line naming the lens, before any model loads
    data = tmp_path / "d.txt"
    data.write_text("the cat\nthe dog\n")
    code, out, err = cli_run("analyze", "--analysis", "logit-lens", "--data", str(data), "--views", "en",
                             "--lens", "tuned", "--lens-path", "org/other-model", "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1, err
    assert "--lens-path" in err and "lens/org/other-model" in err and "HF_HUB_OFFLINE=1" in err
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv("TUNED_LENS_REPO_ID", "me/my-lenses")  # another repository, as the library allows
    published_lens_cache(tmp_path / "hub", "org/other-model", W, B, repo="me/my-lenses")
    assert semhub.build_lens(bb, "tuned", path="org/other-model").path.endswith("lens/org/other-model")
    monkeypatch.delenv("TUNED_LENS_REPO_ID")
    tl = pytest.importorskip("tuned_lens", reason="the tuned-lens library (installed by make setup, --no-deps)")
    model, _ = tiny_model("llama")
    bb.model.load_state_dict(model.state_dict())
    theirs = tl.TunedLens.from_model_and_pretrained(model, lens_resource_id="org/tiny-llama")  # the library, same cache
    h = torch.randn(4, bb.d_model)
    with torch.no_grad():
        assert torch.allclose(theirs(h, 1), lens._logits(lens.prepare(h, 1), slice(None)), atol=1e-5)


def test_latent_language_cloze_prompts_come_from_the_data(tmp_path):
    from semhub.analyses.latent_language import build_items, cloze_rows

    rows = [("cat", "gato", "el ___ sleeps on la casa"), ("dog", "perro", "el ___ eats"),
            ("water", "agua", "la ___ is blue"), ("house", "casa", "la ___ is big")]
    data = tmp_path / "cloze.jsonl"
    data.write_text("".join(json.dumps({"id": en, "en": en, "es": es, "es_cloze": d}) + "\n" for en, es, d in rows))
    ds = semhub.load_aligned(data)
    words = cloze_rows(ds, "es")
    assert words[1] == ("dog", "el ___ eats", "perro")  # (english, definition, answer)
    item = build_items(words, "fr", "es", "cloze", 2, 0)[0]
    lines = item.prompt.split("\n")
    assert lines[-1] == 'el ___ sleeps on la casa Respuesta: "' and len(lines) == 3
    assert all(line.endswith('"') and "Respuesta: " in line and "gato" not in line for line in lines[:2])
    bb = tiny_backbone("llama")
    run = semhub.analyze("latent-language", backbone=bb, data=data, views=["en"], task="cloze", target="es", shots=1)
    curves, _ = run.results["latent_language"]
    assert curves["n"] == 4 and curves["task"] == "cloze" and curves["example_prompt"].endswith('Respuesta: "')
    with pytest.raises(ParameterError, match="need the views en, fr, fr_cloze") as err:
        semhub.analyze("latent-language", backbone=bb, data=data, views=["en"], task="cloze", target="fr")
    assert err.value.parameter == "data"
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "a", "en": "cat", "es": "gato", "es_cloze": "no blank"}) + "\n"
                                        + json.dumps({"id": "b", "en": "dog", "es": "perro", "es_cloze": "x ___"}) + "\n")
    with pytest.raises(ParameterError, match="'cat' has no ___"):
        semhub.analyze("latent-language", backbone=bb, data=tmp_path / "bad.jsonl", views=["en"], task="cloze",
                       target="es")


def test_lens_quality_draws_its_positions_across_all_texts(tmp_path):
    """A cap on positions takes them uniformly (seeded) from every text, not the first ones of the
    length-sorted batches (which were the shortest texts only); the draw is recorded."""
    from semhub.lens.quality import sampled_content_states
    from semhub.readout.collect import encode_values

    bb = tiny_backbone("llama")
    long_text = " ".join(list(reversed(WORDS)) * 6)  # starts with a word no short text starts with
    texts = [" ".join(WORDS[: 1 + (i % 3)]) for i in range(30)] + [long_text] * 4  # few long texts
    batches = list(encode_values(bb, texts, "text", 4))
    sizes = [int(b.groups["content"].sum()) for b in batches]
    states, available = sampled_content_states(bb, batches, [0, 1], max_tokens=60, seed=3)
    assert available == sum(sizes) > 60 and states[1].shape[0] == 60
    first = content_states(bb, batches, [0, 1], max_tokens=60)  # the biased read, for contrast
    long_rows = {tuple(r.tolist()) for b in batches for r in b.inputs["input_ids"] if len(r) > 20}
    assert long_rows  # the long texts are in the last batches
    drawn_again, _ = sampled_content_states(bb, batches, [0, 1], max_tokens=60, seed=3)
    assert torch.equal(drawn_again[1], states[1])  # seeded
    other, _ = sampled_content_states(bb, batches, [0, 1], max_tokens=60, seed=4)
    assert not torch.equal(other[1], states[1])
    # the long texts' positions are in the draw (their share of all positions is most of them)
    long_states, _ = sampled_content_states(bb, batches[-1:], [0, 1], max_tokens=10_000, seed=0)
    in_draw = sum(bool((states[1] == row).all(-1).any()) for row in long_states[1])  # layer 1: context-dependent
    in_first = sum(bool((first[1] == row).all(-1).any()) for row in long_states[1])
    assert in_draw > 0 and in_first == 0
    data = tmp_path / "held.txt"
    data.write_text("\n".join(texts) + "\n")
    rec = semhub.analyze("lens-quality", backbone=bb, data=data, views=["text"], n_boot=0,
                         max_positions=60).results["lens_quality"][0]
    assert rec["n"] == 60 and rec["positions_available"] > 60 and rec["positions_seed"] == 0


def test_a_lens_for_another_model_is_refused_unless_forced_and_nan_translators_never(tmp_path, monkeypatch):
    import shutil

    from conftest import save_tiny_lm
    from safetensors.torch import load_file, save_file

    first = save_tiny_lm(tmp_path / "a")
    second = tmp_path / "b"
    shutil.copytree(first, second)  # the same width and depth, other weights
    state = load_file(second / "model.safetensors")
    name = next(k for k in state if k.endswith("mlp.up_proj.weight"))
    state[name] = state[name] + 0.5
    save_file(state, second / "model.safetensors", metadata={"format": "pt"})
    bb_a, bb_b = semhub.load(str(first)), semhub.load(str(second))
    L, d = bb_a.n_layers, bb_a.d_model
    from semhub.lens.tuned import lens_key

    save_tuned_lens(tmp_path / "lens", torch.eye(d).repeat(L, 1, 1), torch.zeros(L, d), base_model=bb_a.name,
                    manifest={"model": bb_a.describe(), "model_key": lens_key(bb_a)})
    assert load_tuned_lens(bb_a, tmp_path / "lens").n_layers == L
    with pytest.raises(ParameterError, match="^lens_path: .* was trained for .*SEMHUB_FORCE_LENS=1 applies it anyway"):
        load_tuned_lens(bb_b, tmp_path / "lens")
    monkeypatch.setenv("SEMHUB_FORCE_LENS", "1")
    assert load_tuned_lens(bb_b, tmp_path / "lens").n_layers == L
    weight = torch.eye(d).repeat(L, 1, 1)
    weight[1, 0, 0] = float("nan")
    save_tuned_lens(tmp_path / "nan", weight, torch.zeros(L, d), base_model=bb_a.name)
    with pytest.raises(DataError, match="NaN or infinite"):
        load_tuned_lens(bb_a, tmp_path / "nan")
