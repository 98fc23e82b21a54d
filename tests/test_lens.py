"""The logit lens on tiny models: the last layer equals the model's logits, chunking is exact."""
from __future__ import annotations

import pytest
import torch

from conftest import text_families, tiny_backbone
from semhub.backbone.convention import run_layers
from semhub.lens.logit import Lens
from semhub.default_plugins.text import TextSpoke


def states_at(bb, texts, layer):
    enc = TextSpoke().encode(texts, bb, None)
    got = {}
    run_layers(bb, [enc], [layer], lambda l, h, b: got.setdefault("h", h.clone()))
    return enc, got["h"]


@pytest.mark.parametrize("name", text_families())
def test_lens_at_last_layer_equals_model_logits(name, sentences):
    bb = tiny_backbone(name)
    if bb.family.softcap_config:
        setattr(bb.model.config, bb.family.softcap_config, 3.0)  # exercise soft-capping
    enc, h = states_at(bb, sentences[:3], bb.n_layers)
    with torch.no_grad():
        logits = bb.model(**bb.forward_kwargs(enc.inputs)).logits
    mask = enc.inputs["attention_mask"].bool()
    for norm in (True, False):  # layer L is normed either way
        lens = Lens(bb, norm=norm, chunk=16)
        x = lens.prepare(h[mask], bb.n_layers)
        ids = torch.arange(lens.vocab_size)
        torch.testing.assert_close(lens.logits(x, ids), logits[mask], atol=1e-5, rtol=1e-5)
        scan = lens.scan(x, k=5)
        ref = torch.log_softmax(logits[mask], -1)
        torch.testing.assert_close(scan.log_norm, torch.logsumexp(logits[mask], -1), atol=1e-5, rtol=1e-5)
        top = ref.topk(5, dim=-1)
        torch.testing.assert_close(scan.top_logprobs, top.values, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunk", [1, 7, 32, 1000])
def test_chunked_normaliser_and_mixture_equal_full_softmax(chunk, sentences):
    bb = tiny_backbone("llama")
    _, h = states_at(bb, sentences, 1)
    x = Lens(bb).prepare(h.flatten(0, 1), 1)
    table = torch.rand(99, 4)
    scan = Lens(bb, chunk=chunk).scan(x, k=3, table=table)
    full = torch.log_softmax(Lens(bb).logits(x, torch.arange(99)), -1)
    torch.testing.assert_close(scan.log_norm[:, None] + full, Lens(bb).logits(x, torch.arange(99)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scan.mixture, full.exp() @ table, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scan.top_ids, full.topk(3, -1).indices)
    ids = torch.tensor([5, 7, 11])
    torch.testing.assert_close(Lens(bb, chunk=chunk).logprobs(x, ids), full[:, ids], atol=1e-5, rtol=1e-5)


def test_raw_lens_differs_from_normed_lens_below_the_top(sentences):
    bb = tiny_backbone("gpt2")
    _, h = states_at(bb, sentences[:2], 1)
    flat = h.flatten(0, 1)
    raw, normed = Lens(bb, norm=False), Lens(bb, norm=True)
    assert not torch.allclose(raw.prepare(flat, 1), normed.prepare(flat, 1))
    torch.testing.assert_close(raw.prepare(flat, 1), flat)


def test_logits_in_flight_are_bounded_by_rows_and_chunk(sentences, monkeypatch):
    """Memory: no logits block exceeds max_rows x chunk, however many positions and layers."""
    bb = tiny_backbone("llama")
    _, h = states_at(bb, sentences, 2)
    x = Lens(bb).prepare(h.flatten(0, 1).repeat(5, 1), 2)  # 5x the positions
    seen = []
    lens = Lens(bb, chunk=10, max_rows=8)
    original = lens._logits
    monkeypatch.setattr(lens, "_logits", lambda hh, rows: seen.append(tuple(hh.shape[:1])) or original(hh, rows))
    scan = lens.scan(x, k=2, table=torch.rand(99, 3))
    assert max(rows for (rows,) in seen) <= 8 and len(seen) == -(-x.shape[0] // 8) * 10  # ceil(P/8) x ceil(99/10)
    ref = Lens(bb).scan(x, k=2, table=torch.rand(99, 3).fill_(1 / 3))
    torch.testing.assert_close(scan.log_norm, ref.log_norm, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scan.top_ids, ref.top_ids)
