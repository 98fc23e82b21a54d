"""Image concept patching (a picture's latent in a word's translation prompt) on the tiny vision LLMs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import semhub
from image_models import VISION_LLMS, save_tiny, vision_backbone
from semhub_image import DATA

# the tiny tokenizer's words (tests/conftest.py WORDS): en, es, fr forms of nine concepts
ROWS = [("cat", "gato", "chat"), ("dog", "perro", "chien"), ("house", "casa", "maison"), ("water", "agua", "eau"),
        ("one", "uno", "un"), ("two", "dos", "deux"), ("three", "tres", "trois"), ("red", "rojo", "rouge"),
        ("blue", "azul", "bleu")]


@pytest.fixture
def words_data(tmp_path):
    """Nine built-in drawings, each named by one of the tiny tokenizer's words in en, es and fr."""
    folder = tmp_path / "data"
    folder.mkdir()
    pictures = sorted((DATA / "clipart").glob("*.jpg"))[: len(ROWS)]
    with (folder / "words.jsonl").open("w") as out:
        for (en, es, fr), picture in zip(ROWS, pictures):
            shutil.copy(picture, folder / picture.name)
            out.write(json.dumps({"id": en, "image": picture.name, "en": en, "es": es, "fr": fr}) + "\n")
    return folder / "words.jsonl"


def quotes_apart(bb):
    """The tiny tokenizer splits on whitespace only, so '"gato"' would be one unknown token and every
    translation prompt the same row of unknowns; split punctuation too, as real tokenizers do."""
    from tokenizers import pre_tokenizers

    core = bb.tokenizer.backend_tokenizer
    core.pre_tokenizer = pre_tokenizers.Sequence([core.pre_tokenizer, pre_tokenizers.Punctuation()])
    with torch.no_grad():  # and sharpen its near-uniform next-token distributions, so prompts differ visibly
        bb.model.get_output_embeddings().weight.mul_(40)
    return bb


def next_token_probs(bb, inputs: dict) -> torch.Tensor:
    """A plain forward (no semhub code) of one encoded prompt: the next-token distribution after its last real token."""
    with torch.inference_mode():
        logits = bb.model(**{k: v for k, v in inputs.items()}).logits
    last = int(inputs["attention_mask"][0].sum()) - 1
    return torch.softmax(logits[0, last].float(), -1)


@pytest.mark.parametrize("name", VISION_LLMS)
def test_a_final_layer_patch_gives_the_source_prompts_own_answer(name, words_data):
    """Written at the last layer, a latent decides the next token alone: the target then gives the picture's
    prompt's own probability of C in X (the 'patch' variant) and the words prompt's own (the 'words'
    variant), each checked against a plain forward of that source prompt."""
    bb = quotes_apart(vision_backbone(name))
    L = bb.n_layers
    run = semhub.analyze("image-concept-patching", backbone=bb, modality="image", data=str(words_data), layers=[0, L],
                         target="es:fr", pairs=6, shots=2, n_boot=0)
    records = run.result.to_json()
    by_variant = {r["variant"]: r for r in records[:-1]}
    assert set(by_variant) == {"patch", "control", "words", "mean"}
    pairs = records[-1]["pairs"]
    assert len(pairs) >= 2 and records[-1]["n"] == len(pairs)
    ds = semhub.dataset(str(words_data))
    row = {w: i for i, w in enumerate(ds.columns["en"])}
    spoke = semhub.spoke_for_view("image")
    question = "What is this object? Answer with one word in English."
    words = [{"en": en, "es": es, "fr": fr} for en, es, fr in ROWS]
    picture, said = [], []
    for p in pairs:
        c = row[p["C"]]
        ids = [t for t in semhub.first_token_variants(bb.tokenizer, p["C"]) if t != bb.tokenizer.unk_token_id]
        enc = spoke.encode([ds.columns["image"][c]], bb, ds.base_dir, question=question)
        picture.append(float(next_token_probs(bb, enc.inputs)[ids].sum()))
        prompt = semhub.translation_prompt(words, c, semhub.TranslationDirection("es", "en"), 2, 0)
        said.append(float(next_token_probs(bb, dict(bb.tokenizer(prompt, return_tensors="pt")))[ids].sum()))
    unpatched = records[-1]["unpatched"]["C in X"]
    for variant, own in (("patch", np.mean(picture)), ("words", np.mean(said))):
        got = by_variant[variant]["series"]["C in X"][-1]
        assert got == pytest.approx(own, rel=1e-4)
        assert got != pytest.approx(unpatched, rel=0.01)  # the check tells a patch from none (100x its tolerance)
    # the transfer rates are shares of pairs, with their intervals and the test against the control
    rates = records[-1]
    assert rates["x"] == [0, L] and len(rates["p_vs_control"]) == 2
    for name_, series in rates["series"].items():
        assert all(0 <= v <= 1 for v in series) and len(rates["ci"][name_]) == 2


def test_cli_runs_image_concept_patching_on_a_saved_tiny_llava(tmp_path, cli_run, words_data):
    model_dir = tmp_path / "tiny-llava"
    save_tiny("llava", model_dir)
    out = tmp_path / "run"
    code, stdout, err = cli_run("analyze", "--analysis", "image-concept-patching", "--model", str(model_dir),
                                "--data", str(words_data), "--views", "image", "--target", "es:fr", "--pairs", "4",
                                "--bootstrap", "10", "--out", str(out))
    assert code == 0, err
    records = json.loads((out / "results.json").read_text())["image_concept_patching"]
    assert records[-1]["source"] == "image (asked in en: X = en)" and records[-1]["target"] == "es:fr"
    assert (out / "image_concept_patching.png").stat().st_size > 1000
    assert "transfer" in stdout
    code, _, err = cli_run("analyze", "--analysis", "image-concept-patching", "--model", str(model_dir),
                           "--data", str(words_data), "--views", "image", "--target", "es:en",
                           "--out", str(tmp_path / "bad"))
    assert code == 2 and "--target" in err and "en twice" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli_run("analyze", "--analysis", "image-concept-patching", "--model", str(model_dir),
                           "--data", str(words_data), "--views", "image", "--target", "es:zh",
                           "--out", str(tmp_path / "bad2"))
    assert code == 2 and "no column zh" in err and len(err.strip().splitlines()) == 1
