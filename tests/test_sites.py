"""The one lens read-out (``semhub.read_lens``) against the lens computed by hand from HF states."""
from __future__ import annotations

import pytest
import torch

import semhub
from conftest import tiny_backbone
from semhub.default_plugins.text import TextSpoke
from semhub.lens.logit import Lens


def reference(bb, enc, layer: int, norm: bool = True) -> torch.Tensor:
    """(B, T, V) log-probabilities of the lens at ``layer``, from HF's hidden states."""
    with torch.no_grad():
        hs = bb.model(**bb.forward_kwargs(enc.inputs), output_hidden_states=True).hidden_states
    h = hs[layer]
    if layer < bb.n_layers and norm:
        h = bb.part("final_norm")(h)
    return torch.log_softmax(h @ bb.part("unembedding").weight.T, -1)


@pytest.mark.parametrize("max_rows", [1, 5, 4096])
def test_readings_equal_the_lens_by_hand_at_every_site(sentences, max_rows):
    bb = tiny_backbone("llama")
    enc = TextSpoke().encode(sentences[:3], bb, None)
    layers = [0, 1, 2]
    ids = [5, 9, 17]
    lens = Lens(bb, chunk=13, max_rows=max_rows)  # several flushes and vocabulary chunks per batch
    readings = list(semhub.read_lens(bb, [enc], layers, sites="content", ids=ids, next_token=False, top_k=4,
                                     table=torch.eye(bb.model.config.vocab_size)[:, :3], lens=lens))
    assert [r.row for r in readings] == [0, 1, 2]
    for r in readings:
        want_pos = enc.groups["content"][r.item].nonzero()[:, 0]
        assert r.positions.tolist() == want_pos.tolist()
        for k, layer in enumerate(layers):
            ref = reference(bb, enc, layer)[r.item, want_pos]  # (P, V)
            torch.testing.assert_close(r.logprobs[k], ref[:, ids], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(r.top_logprobs[k], ref.topk(4, -1).values, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(r.mixture[k], ref.exp()[:, :3], atol=1e-5, rtol=1e-5)


def test_next_token_and_mask_sites_and_row_numbers(sentences):
    bb = tiny_backbone("gpt2")
    spoke = TextSpoke()
    batches = [([7, 3], spoke.encode(sentences[:2], bb, None)), spoke.encode(sentences[2:4], bb, None)]

    def second_content(batch):  # a function of the batch: the first content position of each item
        mask = torch.zeros_like(batch.groups["content"], dtype=torch.bool)
        mask[torch.arange(len(batch)), batch.groups["content"].int().argmax(1)] = True
        return mask

    readings = list(semhub.read_lens(bb, batches, [1], sites=second_content, ids=lambda b: [1, 2],
                                     next_token=True))
    assert [r.row for r in readings] == [7, 3, 8, 9]  # given rows, then numbered on
    for r in readings:
        (j,) = r.positions.tolist()
        ref = reference(bb, r.batch, 1)[r.item, j]
        nxt = int(r.batch.inputs["input_ids"][r.item, j + 1])
        torch.testing.assert_close(r.next_logprob[0, 0], ref[nxt], atol=1e-5, rtol=1e-5)
        assert r.ids.tolist() == [1, 2]


def test_last_site_is_the_last_content_token(sentences):
    bb = tiny_backbone("llama")
    enc = TextSpoke().encode(sentences[:3], bb, None)
    (first, *_) = semhub.read_lens(bb, [enc], [2], sites=semhub.last_site(), ids=[4])
    assert first.positions.tolist() == [int(enc.groups["content"][0].nonzero()[-1])]


def test_bad_sites_name_the_parameter(sentences):
    bb = tiny_backbone("llama")
    enc = TextSpoke().encode(sentences[:2], bb, None)
    with pytest.raises(semhub.ParameterError, match="^sites: position group 'nope'"):
        list(semhub.read_lens(bb, [enc], [1], sites="nope"))
    with pytest.raises(semhub.ParameterError, match="^sites: site mask"):
        list(semhub.read_lens(bb, [enc], [1], sites=lambda b: torch.ones(1, 1, dtype=torch.bool)))
    last = lambda b: torch.nn.functional.one_hot(torch.full((len(b),), b.inputs["input_ids"].shape[1] - 1),  # noqa: E731
                                                 b.inputs["input_ids"].shape[1]).bool()
    with pytest.raises(semhub.ParameterError, match="no token follows"):
        list(semhub.read_lens(bb, [enc], [1], sites=last, next_token=True))


def test_a_batch_without_sites_is_not_run(sentences, monkeypatch):
    bb = tiny_backbone("llama")
    enc = TextSpoke().encode(sentences[:2], bb, None)
    calls = []
    monkeypatch.setattr(bb, "forward_kwargs", lambda inputs: calls.append(1) or dict(inputs))
    (a, b) = semhub.read_lens(bb, [enc], [1, 2], sites=lambda b: torch.zeros_like(b.groups["content"]), ids=[3])
    assert not calls and a.logprobs.shape == (2, 0, 1) and b.positions.numel() == 0
