"""How well a lens reads a layer: the KL from the model's final distribution to the lens's, and how
often their top-1 tokens agree, computed exactly over the whole vocabulary.

Both distributions are streamed over vocabulary chunks in one pass (a running log-sum-exp for each,
and the running sum of p * (z_p - z_q) rescaled with p's), so no (positions x vocabulary) matrix
is ever held: KL(p || q) = E_p[z_p - z_q] - lse(z_p) + lse(z_q).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from semhub.contract.spoke import Encoded
from semhub.backbone.convention import run_layers
from semhub.lens.logit import Lens


def content_states(backbone, batches: Iterable[Encoded], layers: Sequence[int], *, max_tokens: int | None = None,
                   group: str = "content") -> dict[int, torch.Tensor]:
    """{layer: (N, D) float32 states} at every ``group`` position of ``batches`` (padding and BOS
    excluded), up to ``max_tokens`` positions in batch order: what a lens is trained on and judged on.
    ``sampled_content_states`` draws a capped set across all batches instead."""
    layers = sorted(set(int(x) for x in layers))
    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    taken = {"n": 0, "batch": None, "mask": None}

    def on_layer(layer: int, hidden: torch.Tensor, batch: Encoded) -> None:
        if taken["batch"] is not batch:
            mask = batch.groups[group].bool().to(hidden.device)
            room = None if max_tokens is None else max_tokens - taken["n"]
            if room is not None and int(mask.sum()) > room:
                flat = mask.flatten().nonzero()[:, 0]
                keep = torch.zeros_like(mask.flatten())
                keep[flat[:max(room, 0)]] = True
                mask = keep.view_as(mask)
            taken.update(batch=batch, mask=mask, n=taken["n"] + int(mask.sum()))
        parts[layer].append(hidden[taken["mask"]].float().cpu())

    def limited():
        for batch in batches:
            if max_tokens is not None and taken["n"] >= max_tokens:
                return
            yield batch

    run_layers(backbone, limited(), layers, on_layer)
    return {layer: torch.cat(p) if p else torch.empty(0, backbone.d_model) for layer, p in parts.items()}


DRAWN = "drawn_positions"  # the position group sampled_content_states reads


def sampled_content_states(backbone, batches: Iterable[Encoded], layers: Sequence[int], *, max_tokens: int,
                           seed: int, group: str = "content") -> tuple[dict[int, torch.Tensor], int]:
    """(states as ``content_states`` gives them, how many positions there were): at most ``max_tokens``
    ``group`` positions drawn uniformly (seeded) across every batch (``readout.capture.draw_positions``);
    only the batches holding a drawn position run through the model."""
    from semhub.readout.capture import draw_positions

    drawn, total = draw_positions(batches, max_tokens, seed, group)
    for batch, mask in drawn:
        batch.groups[DRAWN] = mask
    return content_states(backbone, [batch for batch, _ in drawn], layers, group=DRAWN), total


def kl_and_agreement(lens: Lens, states: torch.Tensor, layer: int, final: Lens, final_states: torch.Tensor,
                     rows: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position: KL(final || lens) in nats, and 1.0 where both top-1 tokens agree. ``final`` reads
    ``final_states`` at the last layer (the model's own output distribution)."""
    kls, agree = [], []
    for s in range(0, states.shape[0], rows):
        q_h = lens.prepare(states[s:s + rows], layer)
        p_h = final.prepare(final_states[s:s + rows], final.n_layers)
        kl, same = _stream(lens, q_h, final, p_h)
        kls.append(kl.cpu())
        agree.append(same.cpu())
    if not kls:
        return torch.empty(0), torch.empty(0)
    return torch.cat(kls), torch.cat(agree)


def judge_lenses(lenses: dict, states: dict[int, torch.Tensor], layers: Sequence[int], final: Lens,
                 on_lens=None) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """({lens name: mean KL per layer}, {lens name: top-1 agreement per layer}) on ``states``
    ({layer: (N, D)}, the last layer included), each lens against ``final`` at the last layer."""
    last = max(states)
    kl: dict[str, list[float]] = {}
    top1: dict[str, list[float]] = {}
    for name, lens in lenses.items():
        kl[name], top1[name] = [], []
        for layer in layers:
            k, a = kl_and_agreement(lens, states[layer], layer, final, states[last])
            kl[name].append(float(k.mean()))
            top1[name].append(float(a.mean()))
        if on_lens is not None:
            on_lens(1)
    return kl, top1


def _stream(lens: Lens, q_h: torch.Tensor, final: Lens, p_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    P = q_h.shape[0]
    neg = torch.full((P,), -torch.inf, device=q_h.device)
    m_p, m_q = neg.clone(), neg.clone()
    s_p, s_q, a_p = (torch.zeros(P, device=q_h.device) for _ in range(3))
    best_p, best_q = neg.clone(), neg.clone()
    arg_p = torch.zeros(P, dtype=torch.long, device=q_h.device)
    arg_q = torch.zeros_like(arg_p)
    with torch.inference_mode():
        for start in range(0, lens.vocab_size, lens.chunk):
            rows = slice(start, min(start + lens.chunk, lens.vocab_size))
            z_q = lens._logits(q_h, rows)
            z_p = final._logits(p_h, rows)
            for z, best, arg in ((z_p, best_p, arg_p), (z_q, best_q, arg_q)):
                val, idx = z.max(1)
                better = val > best
                best[better], arg[better] = val[better], idx[better] + start
            new_p = torch.maximum(m_p, z_p.amax(1))
            scale = torch.exp(m_p - new_p)
            w = torch.exp(z_p - new_p[:, None])
            s_p = s_p * scale + w.sum(1)
            a_p = a_p * scale + (w * (z_p - z_q)).sum(1)
            m_p = new_p
            new_q = torch.maximum(m_q, z_q.amax(1))
            s_q = s_q * torch.exp(m_q - new_q) + torch.exp(z_q - new_q[:, None]).sum(1)
            m_q = new_q
    kl = a_p / s_p - (m_p + torch.log(s_p)) + (m_q + torch.log(s_q))
    return kl.clamp_min(0), (arg_p == arg_q).float()
