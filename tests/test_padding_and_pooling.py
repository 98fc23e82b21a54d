"""Padding (left and right) never changes a pooled state; pooling excludes BOS and padding."""
from __future__ import annotations

import torch

from conftest import tiny_backbone
from semhub.readout.capture import capture, pool
from semhub.default_plugins.text import TextSpoke


def test_pool_mean_and_last_respect_mask():
    h = torch.arange(2 * 4 * 1, dtype=torch.float32).view(2, 4, 1)  # values 0..7
    mask = torch.tensor([[False, True, True, False], [False, False, False, True]])
    assert pool(h, mask, "mean").flatten().tolist() == [1.5, 7.0]
    assert pool(h, mask, "last").flatten().tolist() == [2.0, 7.0]


def test_content_group_excludes_bos_and_padding(sentences):
    bb = tiny_backbone("llama")
    for side in ("left", "right"):
        enc = TextSpoke(padding_side=side).encode(sentences, bb, None)
        ids, content = enc.inputs["input_ids"], enc.groups["content"]
        assert not bool(content[ids == bb.tokenizer.bos_token_id].any())
        assert not bool(content[enc.inputs["attention_mask"] == 0].any())
        lengths = [len(s.split()) for s in sentences]
        assert content.sum(1).tolist() == lengths


def test_batched_equals_one_by_one_for_both_padding_sides(sentences):
    bb = tiny_backbone("qwen2")
    single = torch.cat([capture(bb, [TextSpoke().encode([s], bb, None)]) for s in sentences])
    for side in ("left", "right"):
        batched = capture(bb, [TextSpoke(padding_side=side).encode(sentences, bb, None)])
        torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_left_padding_needs_position_ids(sentences):
    """Without explicit position ids a left-padded GPT-2 reads the wrong learned positions.

    (Rotary models are immune: a constant shift cancels in relative attention.)"""
    bb = tiny_backbone("gpt2")
    enc = TextSpoke(padding_side="left").encode(sentences, bb, None)
    good = capture(bb, [enc])
    kwargs = bb.forward_kwargs(enc.inputs)
    kwargs.pop("position_ids")
    with torch.no_grad():
        hs = bb.model(**kwargs, output_hidden_states=True).hidden_states
    bad = pool(hs[2], enc.groups["content"], "mean")
    assert not torch.allclose(bad, good[:, 2], atol=1e-4)
