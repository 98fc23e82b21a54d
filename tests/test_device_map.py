"""Models spread by accelerate (``--device-map``): hooks must stay correct when blocks carry
accelerate's own hooks and their weights arrive only at forward time.

No GPU is needed: blocks offloaded to disk go through the same accelerate machinery
(``AlignDevicesHook`` moving weights onto the execution device around each forward) that a
multi-GPU map uses to move activations between devices.
"""
from __future__ import annotations

import json

import pytest
import torch

import semhub
from conftest import save_tiny_lm
from semhub.steering.apply import steer
from semhub.default_plugins.text import TextSpoke

TEXTS = ["the cat sat on the mat", "a dog", "one two three four"]
PLACEMENT = {"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk",
             "model.layers.2": "disk", "model.norm": "cpu", "model.rotary_emb": "cpu", "lm_head": "cpu"}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_lm(tmp_path_factory.mktemp("device-map") / "tiny")


@pytest.fixture(scope="module")
def spread(tiny_dir, tmp_path_factory):
    return semhub.load(str(tiny_dir), device_map=PLACEMENT, offload_folder=tmp_path_factory.mktemp("offload"))


@pytest.fixture(scope="module")
def plain(tiny_dir):
    return semhub.load(str(tiny_dir))


def test_the_map_is_applied_through_accelerate(spread):
    assert spread.model.hf_device_map["model.layers.1"] == "disk"
    offloaded = spread.blocks[1]
    assert hasattr(offloaded, "_hf_hook") and offloaded.self_attn.q_proj.weight.device.type == "meta"


def test_inputs_go_where_an_offloaded_embedding_runs(tiny_dir, plain, tmp_path):
    placement = {**PLACEMENT, "model.embed_tokens": "disk"}
    bb = semhub.load(str(tiny_dir), device_map=placement, offload_folder=tmp_path)
    assert bb.part("embedding").weight.device.type == "meta" and bb.input_device == torch.device("cpu")
    enc = TextSpoke().encode(TEXTS, bb, None)
    torch.testing.assert_close(semhub.capture(bb, [enc]), semhub.capture(plain, [enc]), atol=1e-5, rtol=1e-5)


def test_capture_on_a_spread_model_equals_hf_hidden_states(spread, plain):
    got = semhub.capture(spread, [TextSpoke().encode(TEXTS, spread, None)], pooling="last")
    enc = TextSpoke().encode(TEXTS, plain, None)
    with torch.inference_mode():
        hs = plain.model(**enc.inputs, output_hidden_states=True).hidden_states
    last = enc.inputs["attention_mask"].sum(1) - 1 if plain.tokenizer.padding_side == "right" else torch.full(
        (len(TEXTS),), enc.inputs["input_ids"].shape[1] - 1)
    rows = torch.arange(len(TEXTS))
    for layer in range(plain.n_layers):  # HF's last entry has the final norm applied; semhub's does not
        torch.testing.assert_close(got[:, layer], hs[layer][rows, last], atol=1e-5, rtol=1e-5)


def test_steering_an_offloaded_block_matches_the_plain_model(spread, plain):
    vector = torch.randn(plain.d_model, generator=torch.Generator().manual_seed(0))
    enc = TextSpoke().encode(TEXTS, plain, None)

    def logits(bb, coeff):
        with torch.inference_mode(), steer(bb, vector, layers=2, coeff=coeff):
            return bb.model(**bb.forward_kwargs(enc.inputs)).logits

    steered = logits(spread, 4.0)
    torch.testing.assert_close(steered, logits(plain, 4.0), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(steered, logits(spread, 0.0), atol=1e-3)
    torch.testing.assert_close(logits(spread, 0.0), logits(plain, 0.0), atol=1e-5, rtol=1e-5)


def test_cli_with_a_json_device_map_gives_the_plain_results(tiny_dir, tmp_path, cli_run):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"en": a, "es": b}) + "\n" for a, b in
                            [("the cat", "el gato"), ("a dog", "un perro"), ("the sun", "el sol"), ("red", "rojo")]))
    placement = tmp_path / "placement.json"
    placement.write_text(json.dumps(PLACEMENT))
    runs = {}
    for name, extra in (("plain", []), ("spread", ["--device-map", str(placement),
                                                    "--offload-folder", str(tmp_path / "offload")])):
        out = tmp_path / name
        code, _, err = cli_run("analyze", "--model", str(tiny_dir), "--data", str(data), "--bootstrap", "20",
                               *extra, "--out", str(out))
        assert code == 0, err
        runs[name] = out
    spread_manifest = json.loads((runs["spread"] / "manifest.json").read_text())
    assert spread_manifest["options"]["device_map"]["model.layers.2"] == "disk"
    plain_rec, spread_rec = (json.loads((runs[k] / "results.json").read_text())["similarity"][0] for k in runs)
    assert plain_rec["layers"] == spread_rec["layers"] and plain_rec["n"] == spread_rec["n"] == 4
    for key in ("matched_cosine", "mismatched_cosine", "retrieval_at_1"):
        assert len(plain_rec[key]) == len(plain_rec["layers"])
        assert plain_rec[key] == pytest.approx(spread_rec[key], abs=1e-5)


@pytest.mark.parametrize("command", ["reproduce", "steer"])
def test_reproduce_and_steer_pass_the_placement_on(command, tiny_dir, tmp_path, cli_run):
    out = tmp_path / "run"
    work = (["reproduce", "multilingual-similarity", "--limit", "3"] if command == "reproduce" else
            ["steer", "--pair", "the cat", "the dog", "--layer", "2", "--prompt", "a red", "--max-new-tokens", "3",
             "--scorer", "perplexity"])
    code, _, err = cli_run(*work, "--model", str(tiny_dir), "--dtype", "float32", "--device-map", json.dumps(PLACEMENT),
                           "--offload-folder", str(tmp_path / "offload"), "--out", str(out))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    placement = manifest["options" if command == "reproduce" else "placement"]
    assert placement["device_map"] == PLACEMENT and placement["dtype"] == "float32"
    assert placement["offload_folder"] == str(tmp_path / "offload")
