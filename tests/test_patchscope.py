"""Patchscopes: a state read from one prompt, written into an inspection prompt, decoded there."""
from __future__ import annotations

import json

import pytest
import torch

import semhub
from conftest import save_tiny_lm, tiny_backbone
from semhub.errors import ParameterError
from semhub.patchscopes.inspection import InspectionPrompt
from semhub.patchscopes.states import inspect_states, source_states
from semhub.steering.apply import patch

TARGET = InspectionPrompt("the cat is cat the dog is dog the X is", "X")


def logits(bb, text):
    ids = bb.tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return torch.log_softmax(bb.model(input_ids=ids).logits[0, -1].float(), -1)


def test_the_placeholder_is_located_from_the_end():
    bb = tiny_backbone("llama")
    ids, position = TARGET.locate(bb)
    assert bb.tokenizer.convert_ids_to_tokens(ids[position]) == "<unk>"  # X is not a word of the tiny vocabulary
    assert position == -2 and bb.tokenizer.convert_ids_to_tokens(ids[-1]) == "is"
    with pytest.raises(ParameterError, match="does not occur") as err:
        InspectionPrompt("the cat is", "X").locate(bb)
    assert err.value.parameter == "placeholder"


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_a_layer0_patch_equals_writing_the_token_there(family):
    """At layer 0 (the embedding output) a word's last-token state is its embedding: patching it at the
    placeholder must give exactly the logits of the prompt with that word in the placeholder's place."""
    bb = tiny_backbone(family)
    words = ["red", "moon", "water"]
    states = source_states(bb, words, [0])[:, 0]
    readout = inspect_states(bb, states, layer=0, prompt=TARGET, ids=list(range(20)), top_k=3)
    for i, word in enumerate(words):
        expected = logits(bb, TARGET.text.replace("X", word))
        assert torch.allclose(readout.logprobs[i], expected[:20], atol=1e-4)
        assert readout.top_ids[i].tolist() == expected.topk(3).indices.tolist()
        assert readout.entropy[i] == pytest.approx(float(-(expected.exp() * expected).sum()), abs=1e-3)


def test_patching_a_prompt_with_its_own_state_changes_nothing_and_later_layers_matter():
    bb = tiny_backbone("llama")
    text = "the cat is cat the dog is dog the sun is"
    own = source_states(bb, ["the cat is cat the dog is dog the sun"], [2])[:, 0]
    same = InspectionPrompt(text, "sun")
    out = inspect_states(bb, own, layer=2, prompt=same, ids=list(range(99)))
    assert torch.allclose(out.logprobs[0], logits(bb, text), atol=1e-4)
    other = source_states(bb, ["the moon"], [2, bb.n_layers])
    changed = inspect_states(bb, other[:, 0], layer=2, prompt=same, ids=list(range(99)))
    assert not torch.allclose(changed.logprobs[0], logits(bb, text), atol=1e-3)
    # after the last block a patch at an earlier position cannot reach the last one
    late = inspect_states(bb, other[:, 1], layer=bb.n_layers, prompt=same, ids=list(range(99)))
    assert torch.allclose(late.logprobs[0], logits(bb, text), atol=1e-4)


def test_only_the_prefill_is_patched_and_hooks_do_not_leak():
    bb = tiny_backbone("llama")
    state = source_states(bb, ["the moon"], [1])[:, 0]
    ids = bb.tokenizer(TARGET.text, return_tensors="pt")["input_ids"]
    calls = []
    with patch(bb, state, layer=1, position=-2):
        for _ in range(2):
            with torch.inference_mode():
                calls.append(bb.model(input_ids=ids).logits[0, -1])
    assert not torch.allclose(calls[0], calls[1])  # the second forward (a decode step) is not edited
    with torch.inference_mode():
        after = bb.model(input_ids=ids).logits[0, -1]
    assert torch.equal(after, calls[1])  # and nothing is edited once the block is left
    with pytest.raises(semhub.SemhubError, match="expected \\(batch, "):
        with patch(bb, state[0], layer=1, position=-2):
            pass


def test_greedy_continuations_follow_the_patched_prefill():
    bb = tiny_backbone("llama")
    states = source_states(bb, ["the moon", "red"], [2])[:, 0]
    out = inspect_states(bb, states, layer=2, prompt=TARGET, top_k=1, max_new_tokens=3)
    assert len(out.continuations) == 2
    for i in range(2):  # the first generated token is the patched distribution's argmax
        first = bb.tokenizer.decode([int(out.top_ids[i, 0])]).strip()
        assert out.continuations[i].split()[0] == first


def test_patchscope_command_writes_readings_and_refuses_bad_flags(cli_run, tmp_path):
    model = save_tiny_lm(tmp_path / "m")
    code, out, err = cli_run("patchscope", "--model", str(model), "--source", "the moon", "--source", "red",
                             "--layers", "1,2", "--target-prompt", TARGET.text, "--placeholder", "X",
                             "--candidate", "cat", "--max-new-tokens", "2", "--out", str(tmp_path / "r"))
    assert code == 0, err
    res = json.loads((tmp_path / "r/results.json").read_text())["patchscope_prompts"]
    assert [(r["prompt"], r["layer"]) for r in res["readings"]] == [("the moon", 1), ("red", 1), ("the moon", 2),
                                                                     ("red", 2)]
    assert all(0 <= r["candidates"]["cat"] <= 1 and len(r["top"]) == 5 for r in res["readings"])
    assert res["curves"][0]["series"]["cat"] == pytest.approx(
        [sum(r["candidates"]["cat"] for r in res["readings"][k:k + 2]) / 2 for k in (0, 2)])
    for args, flag_name in ((["--placeholder", "Q"], "--placeholder"), (["--layers", "2-"], "--layers"),
                            (["--target-layer", "99"], "--target-layer"), (["--source", " "], "--source")):
        code, out, err = cli_run("patchscope", "--model", str(model), "--source", "red", "--target-prompt",
                                 TARGET.text, "--placeholder", "X", *args, "--out", str(tmp_path / "bad"))
        assert code == 2 and err.count("\n") == 1 and err.startswith(f"Error: {flag_name}"), (args, err)
        assert not (tmp_path / "bad").exists()


def test_patchscope_analysis_on_dictionary_words(tmp_path):
    (tmp_path / "en-es.tsv").write_text("en\tes\ncat\tgato\ndog\tperro\nhouse\tcasa\nwater\tagua\n")
    bb = tiny_backbone("llama")
    data = tmp_path / "d.txt"
    data.write_text("the cat\nthe dog\n")
    run = semhub.analyze("patchscope", backbone=bb, data=data, n_boot=0, source="es", examples=1, max_new_tokens=2,
                         target_prompt=TARGET.text, placeholder="X", dictionary=[tmp_path / "en-es.tsv"])
    res = run.results["patchscope"]
    probs, top1 = res["curves"]
    assert probs["n"] == 4 and probs["words"][0] == ["cat", "gato"]
    assert all(len(v) == bb.n_layers + 1 and all(0 <= x <= 1 for x in v) for v in probs["series"].values())
    assert all(x in (0, 0.25, 0.5, 0.75, 1) for v in top1["series"].values() for x in v)
    assert len(res["examples"][0]["continuations"]) == bb.n_layers + 1
    # at layer 0 the patched state is the word's embedding: the readout equals writing the word there
    expected = {"English": [], "source": []}
    for en, es in probs["words"]:
        row = logits(bb, TARGET.text.replace("X", es)).exp()
        expected["English"].append(float(row[bb.tokenizer.convert_tokens_to_ids(en)]))
        expected["source"].append(float(row[bb.tokenizer.convert_tokens_to_ids(es)]))
    for name, values in expected.items():
        assert probs["series"][name][0] == pytest.approx(sum(values) / len(values), abs=1e-5)
    with pytest.raises(ParameterError, match="decode a language other than English"):
        semhub.analyze("patchscope", backbone=bb, data=data, source="en", dictionary=[tmp_path / "en-es.tsv"])
    with pytest.raises(ParameterError) as err:
        semhub.analyze("patchscope", backbone=bb, data=data, source="es", placeholder="Q",
                       dictionary=[tmp_path / "en-es.tsv"])
    assert err.value.parameter == "placeholder"


@pytest.mark.real_model
def test_chinese_word_states_decode_as_english_mid_network_on_the_default_model():
    """The hub question asked directly (docs/findings.md): in Gemma 3 270M a Chinese word's state is
    repeated as the Chinese word at the bottom and read out as its English translation in the middle."""
    run = semhub.analyze("patchscope", data="multilingual", views=["en"], layers="0,6,8", max_words=32, examples=0,
                         n_boot=0)
    probs, top1 = run.results["patchscope"]["curves"]
    assert top1["series"]["source"][0] > 0.4 and top1["series"]["English"][0] < top1["series"]["source"][0]
    assert max(top1["series"]["English"][1:]) > top1["series"]["English"][0] + 0.1
    assert max(probs["series"]["English"][1:]) > probs["series"]["English"][0]
