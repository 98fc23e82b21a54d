"""Every registry entry, on a tiny random model of its architecture: module paths resolve, and
captured states equal Hugging Face ``output_hidden_states`` (the layer convention)."""
from __future__ import annotations

import pytest
import torch

from conftest import text_families, tiny_backbone
from semhub.readout.capture import capture, pool
from semhub.backbone.registry import MODULE_KEYS, parse_family
from semhub.backbone.registry import family_for
from semhub.errors import SemhubError
from semhub.default_plugins.text import TextSpoke

FAMILIES = text_families()  # multimodal families are tested in test_audio.py
REQUIRED = {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "gpt2", "gpt_neox", "opt", "bloom"}


def test_required_families_present():
    assert REQUIRED <= set(FAMILIES)


def hf_reference(bb, texts, how):
    """Per-item, unpadded HF hidden states, pooled the same way (content = non-special tokens)."""
    rows = []
    for text in texts:
        enc = TextSpoke().encode([text], bb, None)
        with torch.no_grad():
            hs = bb.model(**enc.inputs, output_hidden_states=True).hidden_states
        rows.append(torch.stack([pool(h, enc.groups["content"], how)[0] for h in hs]))
    return torch.stack(rows)  # (N, L+1, D), last entry post-norm


@pytest.mark.parametrize("name", FAMILIES)
def test_entry_resolves_on_tiny_model(name):
    bb = tiny_backbone(name)
    for part in (*MODULE_KEYS, "embedding"):
        assert isinstance(bb.part(part), torch.nn.Module), part
    assert bb.n_layers == 3
    assert family_for(bb.model.config).name == name
    assert bb.part("unembedding").weight.shape[-1] == bb.d_model


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("how", ["mean", "last"])
def test_capture_matches_hf_hidden_states(name, side, how, sentences):
    bb = tiny_backbone(name)
    ref = hf_reference(bb, sentences, how)
    spoke = TextSpoke(padding_side=side)
    batches = [spoke.encode(sentences[i : i + 4], bb, None) for i in range(0, len(sentences), 4)]
    got = capture(bb, batches, pooling=how, final_norm=True)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["llama", "gpt2", "gemma3_text"])
def test_last_layer_is_pre_norm_by_default(name, sentences):
    bb = tiny_backbone(name)
    ref = hf_reference(bb, sentences, "last")
    enc = TextSpoke().encode(sentences, bb, None)
    got = capture(bb, [enc], pooling="last")
    L = bb.n_layers
    torch.testing.assert_close(got[:, :L], ref[:, :L], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got[:, L], ref[:, L], atol=1e-3)
    with torch.no_grad():
        normed = bb.part("final_norm")(got[:, L])
    torch.testing.assert_close(normed, ref[:, L], atol=1e-5, rtol=1e-5)


def test_early_stop_skips_later_blocks(sentences):
    bb = tiny_backbone("llama")
    calls = []
    handle = bb.blocks[2].register_forward_hook(lambda *a: calls.append(1))
    try:
        enc = TextSpoke().encode(sentences, bb, None)
        part = capture(bb, [enc], [0, 1])
        full = capture(bb, [enc])
    finally:
        handle.remove()
    assert len(calls) == 1  # only the full capture reached block 2
    torch.testing.assert_close(part, full[:, :2])


def test_bad_entries_are_rejected():
    with pytest.raises(SemhubError, match="lacks"):
        parse_family({"name": "x", "architectures": ["X"], "modules": {"base": "m"}}, "x.toml")
    with pytest.raises(SemhubError, match="required key 'architectures'"):
        parse_family({"name": "x", "modules": {k: "m" for k in (*MODULE_KEYS, "embedding")}}, "x.toml")
    with pytest.raises(SemhubError, match="prefix_space must be"):
        parse_family({"name": "x", "architectures": ["X"], "modules": {k: "m" for k in (*MODULE_KEYS, "embedding")},
                      "tokenizer": {"prefix_space": "none"}}, "x.toml")


# ---- backbones checked at load --------------------------------------------------------------

def _all_tiny_backbones():
    from image_models import VISION_LLMS, vision_backbone
    from test_audio import AUDIO_LLMS, audio_llm

    yield from ((name, lambda n=name: tiny_backbone(n)) for name in FAMILIES)
    yield from ((name, lambda n=name: vision_backbone(n)) for name in [*VISION_LLMS, "clip", "dinov2"])
    yield from ((name, lambda n=name: audio_llm(n)) for name in AUDIO_LLMS)
    yield "whisper", lambda: tiny_backbone("whisper")


@pytest.mark.parametrize("name, make", list(_all_tiny_backbones()), ids=[n for n, _ in _all_tiny_backbones()])
def test_every_entry_passes_the_load_checks(name, make):
    from semhub.backbone.checks import check_backbone

    bb = make()
    check_backbone(bb)
    for stack in bb.family.stack_names:  # every stack, and the forward of each token-fed one
        check_backbone(bb.using(stack))


def _broken(bb, **modules):
    import dataclasses

    from semhub.backbone.adapter import Backbone

    family = dataclasses.replace(bb.family, modules={**bb.family.modules, **modules}, source="broken.toml")
    return Backbone(bb.model, bb.tokenizer, family, bb.name)


@pytest.mark.parametrize("modules, part, problem", [
    ({"blocks": "model.layerz"}, "blocks", "has no module 'model.layerz'"),
    ({"blocks": "model.layers.0.mlp"}, "blocks", "is not a sequence of modules"),
    ({"final_norm": "model.layers.0.mlp.down_proj"}, "final_norm", "width 37"),
    ({"blocks": "model.layers[1:]"}, "blocks", "holds 2 blocks, but the model returns 3 layers"),
    ({"final_norm": "model.layers.0.input_layernorm"}, "final_norm", "is not the model's hidden_states[3]"),
])
def test_a_broken_entry_is_one_line_naming_the_family_and_the_part(modules, part, problem):
    from semhub.backbone.checks import check_backbone

    bb = tiny_backbone("llama")
    with torch.no_grad():
        bb.model.model.layers[0].input_layernorm.weight.fill_(2.0)  # not the final norm's function
    skip_first = modules.get("blocks") == "model.layers[1:]"
    broken = _broken(bb, **({} if skip_first else modules))
    if skip_first:  # a path that resolves to the wrong list of blocks (one missing)
        broken.__dict__["blocks"] = list(bb.model.model.layers)[1:]
    with pytest.raises(SemhubError) as info:
        check_backbone(broken)
    message = str(info.value)
    assert message.startswith(f"registry entry 'llama' (broken.toml): part '{part}'") and problem in message
    assert "\n" not in message


def test_parts_mean_one_thing_each():
    """Unknown part names are refused; a stack names its token or its position embedding."""
    base = {"name": "x", "architectures": ["X"], "modules": {"base": "m", "blocks": "m.b", "final_norm": "m.n",
                                                              "unembedding": "h"}}
    with pytest.raises(SemhubError, match="lacks embedding or position_embedding"):
        parse_family(base, "x.toml")
    with pytest.raises(SemhubError, match="unknown part"):
        parse_family({**base, "modules": {**base["modules"], "embedding": "m.e", "embeddings": "m.e"}}, "x.toml")
    fam = parse_family({**base, "modules": {**base["modules"], "position_embedding": "m.p"}}, "x.toml")
    assert fam.input_part() == "position_embedding"
