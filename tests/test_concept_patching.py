"""Concept patching (Dumas et al. 2025): a latent from one translation prompt written into another."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import semhub
from conftest import tiny_backbone
from semhub.errors import ParameterError
from semhub.patchscopes.concept_patching import (
    ConceptPatchingOptions,
    Direction,
    SuffixRun,
    answer_probs,
    prompt_for,
    word_end,
)
from semhub.patchscopes.states import source_states

PROMPTS = ["the cat sat on the mat and the dog", "red house big tree", "the sun is big and the moon is small and"]
ANSWER = [[[5], [6]], [[7], [8]], [[20], [21]]]  # two scored "words" per prompt (token ids), padded to four below


def full_logprobs(bb, text: str) -> torch.Tensor:
    ids = bb.tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return torch.log_softmax(bb.model(input_ids=ids).logits[0, -1].float(), -1)


def four(words):
    return [*words, [30], [31]]


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_the_cached_suffix_reproduces_the_whole_prompt(family):
    """Left-padded prefixes with their positions and a copied cache: the suffix's next token equals a
    plain unpadded forward of the whole prompt, every time it is rerun."""
    bb = tiny_backbone(family)
    rows = [bb.tokenizer(p)["input_ids"] for p in PROMPTS]
    for cut in (1, 3):
        run = SuffixRun(bb, rows, [len(r) - cut for r in rows])
        for _ in range(2):
            got = run.next_token_logprobs()
            for i, text in enumerate(PROMPTS):
                assert torch.allclose(got[i], full_logprobs(bb, text), atol=1e-4)


@pytest.mark.parametrize("site", ["last", "word"])
def test_patching_a_prompt_with_its_own_latents_changes_nothing(site):
    """The identity checks of the issue: a patch at layer 0 of the same prompt, and a patch of the latent
    from an identical prompt at any layer (and, at the word site, every layer after it), change nothing."""
    bb = tiny_backbone("gemma3")
    words = ["dog", "tree", "moon"]  # the word patched at the word site: its last occurrence in each prompt
    ends = [p.rindex(w) + len(w) for p, w in zip(PROMPTS, words)]
    sources = PROMPTS if site == "last" else [p[:e] for p, e in zip(PROMPTS, ends)]
    L = bb.n_layers
    states = source_states(bb, sources, list(range(L + 1)))
    answer = [four(a) for a in ANSWER]
    edits = {None: (None, [])}
    for layer in range(L + 1):
        edits[layer] = (states, [layer] if site == "last" else list(range(layer, L + 1)))
    got = answer_probs(bb, PROMPTS, answer, edits, site, ends, batch_size=2)
    for i, text in enumerate(PROMPTS):
        expected = full_logprobs(bb, text).exp()
        assert got[None][0][i, 0] == pytest.approx(float(expected[5 if i == 0 else 7 if i == 1 else 20]), abs=1e-5)
    for layer in range(L + 1):
        assert np.allclose(got[layer][0], got[None][0], atol=1e-5), layer
        assert (got[layer][1] == got[None][1]).all()


def test_a_last_token_patch_at_the_final_layer_gives_the_source_prompts_answer():
    """Written over the last token after the last block, another prompt's latent *is* the output: the
    target then answers exactly as the source prompt does (and at the embeddings it does not)."""
    bb = tiny_backbone("llama")
    L = bb.n_layers
    states = source_states(bb, list(reversed(PROMPTS)), list(range(L + 1)))
    answer = [four([[t] for t in range(k, k + 2)]) for k in (4, 9, 14)]
    got = answer_probs(bb, PROMPTS, answer, {"end": (states, [L]), "start": (states, [0])}, "last", [0, 0, 0], 3)
    for i, source in enumerate(reversed(PROMPTS)):
        expected = full_logprobs(bb, source).exp()
        assert got["end"][0][i, :2] == pytest.approx([float(expected[t]) for t in (answer[i][0][0], answer[i][1][0])],
                                                    abs=1e-5)
    assert not np.allclose(got["start"][0], got["end"][0], atol=1e-4)


def test_prompts_follow_the_latent_language_format_and_demonstrations_exclude_the_query():
    words = [{"en": e, "de": d, "fr": f} for e, d, f in
             [("dog", "Hund", "chien"), ("cat", "Katze", "chat"), ("water", "Wasser", "eau"), ("house", "Haus", "maison")]]
    prompt = prompt_for(words, 0, Direction("de", "fr"), 2, seed=0)
    lines = prompt.split("\n")
    assert len(lines) == 3 and lines[-1] == 'Deutsch: "Hund" - Français: "'
    assert all(line.startswith('Deutsch: "') and "Hund" not in line for line in lines[:-1])
    assert prompt == prompt_for(words, 0, Direction("de", "fr"), 2, seed=0)  # seeded
    assert prompt[: word_end(prompt, "Hund")].endswith('Deutsch: "Hund')


@pytest.mark.parametrize("options, parameter, message", [
    ({"source": "de"}, "source", "INPUT:OUTPUT"),
    ({"source": "de:de"}, "source", "two different"),
    ({"source": "de:zh"}, "target", "another language"),
    ({"target": ":zh"}, "target", "INPUT:OUTPUT"),
])
def test_bad_directions_name_their_option(options, parameter, message):
    with pytest.raises(ParameterError, match=message) as err:
        ConceptPatchingOptions.build(options)
    assert err.value.parameter == parameter


@pytest.mark.real_model
def test_gemma_carries_the_concept_across_languages_above_the_unrelated_control(tmp_path):
    """Gemma 3 270M, the built-in dictionaries: a German word's latent written over a Spanish word's (at
    a middle layer and after) makes the model answer with the German concept in Chinese far more often
    than an unrelated concept's latent does; the written files carry every curve and the pairs."""
    run = semhub.analyze(analysis="concept-patching", pairs=20, layers=[8, 16])
    run.write(tmp_path / "run")
    rates = run.results["concept_patching"][-1]
    k = rates["x"].index(8)
    assert rates["series"]["patch"][k] >= rates["series"]["control"][k] + 0.2
    assert rates["p_vs_control"][k] < 0.05
    assert "mean" in rates["series"] and rates["mean_over"]
    assert rates["series"]["patch"][rates["x"].index(16)] <= 0.1  # too late: the answer no longer reads the word
    written = json.loads((tmp_path / "run" / "results.json").read_text())["concept_patching"]
    assert [r.get("variant") for r in written] == ["patch", "control", "mean", None]
    assert len(written[-1]["pairs"]) == 20 and "pairs" not in written[0] and (tmp_path / "run" / "concept_patching.png").stat().st_size > 0


@pytest.mark.parametrize("variants", [("patch", "control"), ("patch", "control", "mean"),
                                      ("patch", "control", "words", "mean")])
def test_every_patching_result_tabulates_the_variants_it_ran(variants):
    """Text, speech and image patching share one table: a transfer column per variant run, in run
    order, then the control and the McNemar p; each cell is the rate ``transfer_records`` wrote."""
    from semhub_audio.concept_patching import SpeechPatchingResult
    from semhub_image.concept_patching import ImagePatchingResult

    from semhub.patchscopes.concept_patching import ConceptPatchingResult

    rng = np.random.default_rng(0)
    layers = [0, 3, 6]
    probs = {v: rng.random((8, 3, 4)) for v in variants}
    wins = {v: rng.random((8, 3)) < 0.5 for v in variants}
    titles = {**{v: v for v in variants}, "transfer": "rates"}
    records = semhub.transfer_records(probs, wins, layers, {}, n_boot=20, seed=0, titles=titles, xlabel="layer")
    labels = {"patch": "transfer", "words": "transfer (words)", "mean": "transfer (mean)"}
    for cls in (ConceptPatchingResult, SpeechPatchingResult, ImagePatchingResult):
        table = cls(records).summary()
        ran = [v for v in variants if v != "control"]
        assert table.columns == ("layer", "p(C in Y)", "p(C in X)", "p(D in Y)", *(labels[v] for v in ran),
                                 "control", "p vs control")
        for k, row in enumerate(table.rows):
            assert row[0] == str(layers[k])
            assert [float(c) for c in row[1:4]] == pytest.approx(probs["patch"][:, k, :3].mean(0), abs=5e-4)
            rates = [float(c) for c in row[4:-1]]
            assert rates == pytest.approx([wins[v][:, k].mean() for v in [*ran, "control"]], abs=0.0051)
