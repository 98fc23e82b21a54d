"""Steering on tiny models: exact no-ops, no leaks, edits only where asked, vectors and scorers."""
from __future__ import annotations

import math

import pytest
import torch

import semhub
from conftest import tiny_backbone
from semhub.backbone.convention import run_layers
from semhub.steering.vectors import from_contrast, from_prompt_pair, from_unembedding, load_vector
from semhub.steering.generate import generate
from semhub.steering.apply import steer
from semhub.default_plugins.text import TextSpoke

PROMPTS = ["the cat sat on", "a dog", "one two three four five six"]


def states(bb, texts, layer, side="right"):
    enc = TextSpoke(padding_side=side).encode(texts, bb, None)
    got = []
    run_layers(bb, [enc], [layer], lambda _l, h, _b: got.append(h.clone()))
    return enc, got[0]


def logits(bb, texts):
    enc = TextSpoke(padding_side="left").encode(texts, bb, None)
    with torch.no_grad():
        return bb.model(**bb.forward_kwargs(enc.inputs)).logits


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_coefficient_zero_and_exit_leave_the_model_bit_identical(name):
    bb = tiny_backbone(name)
    v = torch.randn(bb.d_model) * 10
    plain = generate(bb, PROMPTS, max_new_tokens=6)
    before = logits(bb, PROMPTS)
    with steer(bb, v, layers=[1, 2], coeff=0.0):
        zero = generate(bb, PROMPTS, max_new_tokens=6)
    with steer(bb, v, layers=2, coeff=3.0):
        steered = logits(bb, PROMPTS)
    assert zero.token_ids == plain.token_ids
    assert not torch.equal(steered, before)
    assert torch.equal(logits(bb, PROMPTS), before)  # nothing leaked out of the context
    with pytest.raises(RuntimeError):
        with steer(bb, v, layers=2, coeff=3.0):
            raise RuntimeError("boom")
    assert torch.equal(logits(bb, PROMPTS), before)  # not even after an error


def test_masked_add_changes_only_those_positions():
    bb = tiny_backbone("qwen2")
    v = torch.randn(bb.d_model)
    enc, base = states(bb, PROMPTS, 2)
    mask = torch.zeros_like(enc.groups["content"])
    mask[0, 2] = mask[2, 4] = True
    with steer(bb, v, layers=2, coeff=2.0, positions=mask):
        _, got = states(bb, PROMPTS, 2)
    diff = (got - base).norm(dim=-1) > 1e-6
    assert torch.equal(diff, mask)
    torch.testing.assert_close(got[mask], base[mask] + 2.0 * v)
    with steer(bb, v, layers=2, coeff=1.0, positions=mask, mode="replace"):
        _, replaced = states(bb, PROMPTS, 2)
    torch.testing.assert_close(replaced[mask], v.expand(2, -1))
    torch.testing.assert_close(replaced[~mask], base[~mask])


def test_layer_zero_and_later_layers_follow_the_capture_convention():
    bb = tiny_backbone("gemma3_text")
    v = torch.randn(bb.d_model)
    _, base0 = states(bb, PROMPTS, 0)
    with steer(bb, v, layers=0, coeff=1.0):
        _, got0 = states(bb, PROMPTS, 0)
    torch.testing.assert_close(got0, base0 + v)  # layer 0 = the input of block 0, as captured


def one_token_states(bb, layer):
    """States of a one-token pass, the shape of a decode step."""
    from semhub.contract.spoke import Encoded

    ids = torch.tensor([[bb.tokenizer.convert_tokens_to_ids("mat")]])
    enc = Encoded({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, {"content": torch.ones_like(ids).bool()})
    got = []
    run_layers(bb, [enc], [layer], lambda _l, h, _b: got.append(h.clone()))
    return got[0]


@pytest.mark.parametrize("positions", ["last", "prompt"])
def test_prompt_only_positions_skip_decode_steps(positions):
    bb = tiny_backbone("llama")
    v = torch.randn(bb.d_model) * 5
    _, base = states(bb, ["the cat sat"], 1)
    plain_step = one_token_states(bb, 1)
    with steer(bb, v, layers=1, coeff=1.0, positions=positions):
        _, prefill = states(bb, ["the cat sat"], 1)
        step = one_token_states(bb, 1)
    edited = slice(-1, None) if positions == "last" else slice(None)
    torch.testing.assert_close(prefill[0, edited], base[0, edited] + v)
    if positions == "last":
        torch.testing.assert_close(prefill[0, :-1], base[0, :-1])
    torch.testing.assert_close(step, plain_step)  # the decode step is untouched
    with steer(bb, v, layers=1, coeff=1.0, positions="all"):
        states(bb, ["the cat sat"], 1)
        torch.testing.assert_close(one_token_states(bb, 1), plain_step + v)  # "all" edits decode steps too


def test_actadd_vector_is_aligned_to_the_end():
    bb = tiny_backbone("llama")
    pair = from_prompt_pair(bb, "the big red cat", "a small dog", layer=2)
    assert pair.vector.shape == (3, bb.d_model) and pair.provenance["method"] == "actadd"
    _, base = states(bb, ["one two three four five"], 2)
    with steer(bb, pair, layers=2, coeff=1.0):
        _, got = states(bb, ["one two three four five"], 2)
    torch.testing.assert_close(got[0, -3:], base[0, -3:] + pair.vector)
    torch.testing.assert_close(got[0, :-3], base[0, :-3])


def test_vectors_round_trip_with_provenance(tmp_path):
    bb = tiny_backbone("llama")
    vec = from_contrast(bb, ["the cat", "a red cat"], ["the dog", "a blue dog"], layer=2)
    pos = semhub.capture(bb, [TextSpoke().encode(["the cat", "a red cat"], bb, None)], [2])[:, 0].mean(0)
    neg = semhub.capture(bb, [TextSpoke().encode(["the dog", "a blue dog"], bb, None)], [2])[:, 0].mean(0)
    torch.testing.assert_close(vec.vector, pos - neg)
    loaded = load_vector(vec.save(tmp_path / "v.safetensors"))
    assert torch.equal(loaded.vector, vec.vector) and loaded.layer == 2
    assert loaded.provenance["method"] == "contrast" and loaded.provenance["model"] == "tiny-llama"
    unemb = from_unembedding(bb, "cat", "dog")
    w = bb.part("unembedding").weight
    tok = bb.tokenizer
    torch.testing.assert_close(unemb.vector, w[tok.convert_tokens_to_ids("cat")] - w[tok.convert_tokens_to_ids("dog")])
    with pytest.raises(semhub.SemhubError, match="no tensor named 'vector'"):
        from safetensors.torch import save_file

        save_file({"other": torch.zeros(2)}, str(tmp_path / "o.safetensors"))
        load_vector(tmp_path / "o.safetensors")


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_batched_left_padded_generation_equals_one_by_one(name):
    bb = tiny_backbone(name)
    batched = generate(bb, PROMPTS, max_new_tokens=5, batch_size=3)
    single = [generate(bb, [p], max_new_tokens=5).token_ids[0] for p in PROMPTS]
    assert batched.token_ids == single
    a = generate(bb, PROMPTS, max_new_tokens=5, do_sample=True, seed=3)
    b = generate(bb, PROMPTS, max_new_tokens=5, do_sample=True, seed=3)
    assert a.token_ids == b.token_ids


def test_scorers():
    from semhub.default_plugins.scorers import identify, lexicon_sentiment

    assert identify("El gato está durmiendo en el sofá grande.") == "es"
    assert identify("The weather is lovely today.") == "en"
    assert identify("   ...  ") is None
    assert lexicon_sentiment("What a wonderful, happy day", "en") == 1.0
    assert lexicon_sentiment("un día terrible y triste, pero bueno", "es") == pytest.approx(-1 / 3)
    assert lexicon_sentiment("我很高兴", "zh") == 1.0 and lexicon_sentiment("nothing here", "en") == 0.0
    bb = tiny_backbone("llama")
    gen = generate(bb, PROMPTS[:2], max_new_tokens=4)
    ppl = semhub.plugins.catalog.scorers()["perplexity"].score(gen, bb)
    ids = bb.tokenizer(PROMPTS[0])["input_ids"] + gen.token_ids[0]
    with torch.no_grad():
        lg = bb.model(input_ids=torch.tensor([ids])).logits[0]
    n = len(ids) - len(gen.token_ids[0])
    nll = torch.nn.functional.cross_entropy(lg[n - 1 : -1], torch.tensor(ids[n:]))
    assert ppl[0] == pytest.approx(math.exp(float(nll)), rel=1e-5)
    rel = semhub.plugins.catalog.scorers()["relevance"].score(gen, bb)
    assert all(-1 <= r <= 1 for r in rel if not math.isnan(r))


@pytest.mark.parametrize("args,message", [
    (["steer"], "exactly one of"),
    (["steer", "--preset", "nope"], "unknown steering preset 'nope'"),
    (["steer", "--unembed", "a", "b", "--coeff", "x"], "--coeff"),
    (["steer", "--vector", "/no/such.safetensors", "--prompt", "hi", "--layers", "2"], "no such file"),
    (["steer", "--unembed", "a", "b", "--scorer", "nope"], "unknown scorer 'nope'"),
])
def test_steer_cli_errors(cli_run, args, message):
    code, _, err = cli_run(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_sweep_runs_every_setting_with_a_baseline(tmp_path):
    from semhub.steering.run import SteerSpec, run_steering

    bb = tiny_backbone("qwen2")
    vec = from_unembedding(bb, "cat", "dog")
    spec = SteerSpec(PROMPTS, [1, 3], [2.0, 8.0], ["perplexity"], target_word="cat", max_new_tokens=3)
    res = run_steering(bb, vec, spec)
    assert [(r["layer"], r["coeff"]) for r in res.records] == [(1, 0.0), (1, 2.0), (1, 8.0), (3, 0.0), (3, 2.0), (3, 8.0)]
    assert res.records[0]["target_logprob_shift"] == 0.0
    assert res.records[-1]["target_logprob_shift"] > 0  # W_U[cat] - W_U[dog] at the top raises log p(cat)
    assert all(r["n"] == 3 and r["scores"]["perplexity"] > 1 for r in res.records)
    assert res.summary_columns == ("layer", "coeff", "perplexity", "perplexity (random dir.)", "target log p shift")
    assert res.plot(tmp_path).stat().st_size > 1000
    # the random-direction control: every steered setting, none for the unsteered baseline
    assert [("random_direction" in r) for r in res.records] == [False, True, True, False, True, True]
    assert all(r["random_direction"]["perplexity"] > 1 for r in res.records if r["coeff"])
    off = run_steering(bb, vec, SteerSpec(PROMPTS, [1], [8.0], ["perplexity"], max_new_tokens=3,
                                          random_control=False))
    assert not off.controlled and off.summary_columns == ("layer", "coeff", "perplexity")
    assert off.records[1]["scores"] == res.records[2]["scores"]  # the control does not disturb the steered run


def test_the_random_direction_has_the_norm_of_each_row_and_follows_its_seed():
    from semhub.steering.vectors import random_direction

    vec = torch.randn(5, 16) * torch.arange(1, 6)[:, None]
    rand = random_direction(vec, seed=3)
    assert torch.allclose(rand.norm(dim=-1), vec.norm(dim=-1), rtol=1e-5)
    assert torch.equal(rand, random_direction(vec, seed=3)) and not torch.equal(rand, random_direction(vec, seed=4))
    cos = torch.nn.functional.cosine_similarity(rand, vec, dim=-1)
    assert cos.abs().max() < 0.9  # not the steering direction
    flat = torch.randn(16)
    assert random_direction(flat, 0).shape == (16,) and torch.isclose(random_direction(flat, 0).norm(), flat.norm())


def test_contrast_vectors_that_are_zero_or_not_finite_are_refused():
    bb = tiny_backbone("llama")
    with pytest.raises(semhub.ParameterError, match="contrast: the steering vector is zero"):
        from_contrast(bb, ["the cat"], ["the cat"], layer=2)
    with torch.no_grad():  # states that overflow: NaN from block 1 on
        bb.model.model.layers[0].mlp.down_proj.weight.fill_(float("nan"))
    with pytest.raises(semhub.ParameterError, match="contrast: the steering vector is not finite"):
        from_contrast(bb, ["the cat"], ["the dog"], layer=2)
