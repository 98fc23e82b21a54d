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
from semhub.errors import SemhubError


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
        p_h = final.prepare(final_states[s:s + rows], final.n_layers)
        ((kl, same),) = _stream(final, p_h, [(lens, lens.prepare(states[s:s + rows], layer))])
        kls.append(kl.cpu())
        agree.append(same.cpu())
    if not kls:
        return torch.empty(0), torch.empty(0)
    return torch.cat(kls), torch.cat(agree)


def judge_lenses(lenses: dict, states: dict[int, torch.Tensor], layers: Sequence[int], final: Lens,
                 on_lens=None, rows: int = 256) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """({lens name: mean KL per layer}, {lens name: top-1 agreement per layer}) on ``states``
    ({layer: (N, D)}, the last layer included), each lens against ``final`` at the last layer.

    Every lens and layer is judged in one pass over the vocabulary per block of ``rows`` positions: the
    final distribution's logits are computed once per chunk, not once per lens and layer (half the
    work, and the unembedding is read once: with few positions the pass is memory-bound)."""
    last = max(states)
    n = states[last].shape[0]
    pairs = [(name, layer) for name in lenses for layer in layers]
    kl_sum = {pair: 0.0 for pair in pairs}
    agree_sum = {pair: 0.0 for pair in pairs}
    for s in range(0, n, rows):
        p_h = final.prepare(states[last][s:s + rows], final.n_layers)
        judged = _stream(final, p_h, [(lenses[name], lenses[name].prepare(states[layer][s:s + rows], layer))
                                      for name, layer in pairs])
        for pair, (kl, same) in zip(pairs, judged):
            kl_sum[pair] += float(kl.sum())
            agree_sum[pair] += float(same.sum())
    kl: dict[str, list[float]] = {}
    top1: dict[str, list[float]] = {}
    for name in lenses:
        kl[name] = [kl_sum[(name, layer)] / n if n else float("nan") for layer in layers]
        top1[name] = [agree_sum[(name, layer)] / n if n else float("nan") for layer in layers]
        if on_lens is not None:
            on_lens(1)
    return kl, top1


def _stream(final: Lens, p_h: torch.Tensor,
            judged: list[tuple[Lens, torch.Tensor]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For each (lens, prepared states) of ``judged``: KL(final || lens) per position and top-1 agreement,
    streaming the vocabulary once in ``final``'s chunks (running log-sum-exps, as in ``Lens.scan``)."""
    P = p_h.shape[0]
    dev = p_h.device
    for lens, _ in judged:
        if lens.vocab_size != final.vocab_size:
            raise SemhubError(f"a lens over {lens.vocab_size} tokens judged against an output over {final.vocab_size}")
    neg = torch.full((P,), -torch.inf, device=dev)
    m_p, s_p, best_p = neg.clone(), torch.zeros(P, device=dev), neg.clone()
    arg_p = torch.zeros(P, dtype=torch.long, device=dev)
    q = [{"m": neg.clone(), "s": torch.zeros(P, device=dev), "a": torch.zeros(P, device=dev), "best": neg.clone(),
          "arg": torch.zeros(P, dtype=torch.long, device=dev)} for _ in judged]

    def track_best(z: torch.Tensor, best: torch.Tensor, arg: torch.Tensor, start: int) -> None:
        val, idx = z.max(1)
        better = val > best
        best[better], arg[better] = val[better], idx[better] + start

    # lenses that unembed alike (the logit and tuned lenses share W_U) get one matmul per chunk for all
    # their layers' rows, not one each
    groups: list[list[int]] = []
    for j, (lens, _) in enumerate(judged):
        same = next((g for g in groups if _unembeds_alike(judged[g[0]][0], lens)), None)
        if same is None:
            groups.append([j])
        else:
            same.append(j)
    per_block = max(1, final.max_rows // max(P, 1))  # logits in flight stay at most max_rows x chunk
    blocks = [(judged[group[0]][0], torch.cat([judged[j][1] for j in part]), part)
              for group in groups for part in (group[i:i + per_block] for i in range(0, len(group), per_block))]
    with torch.inference_mode():
        for start in range(0, final.vocab_size, final.chunk):
            rows = slice(start, min(start + final.chunk, final.vocab_size))
            z_p = final._logits(p_h, rows)
            track_best(z_p, best_p, arg_p, start)
            new_p = torch.maximum(m_p, z_p.amax(1))
            scale = torch.exp(m_p - new_p)
            w = torch.exp(z_p - new_p[:, None])
            s_p = s_p * scale + w.sum(1)
            m_p = new_p
            for lens, q_block, members in blocks:
                z_block = lens._logits(q_block, rows)
                for k, j in enumerate(members):
                    z_q, acc = z_block[k * P:(k + 1) * P], q[j]
                    track_best(z_q, acc["best"], acc["arg"], start)
                    acc["a"] = acc["a"] * scale + (w * (z_p - z_q)).sum(1)
                    new_q = torch.maximum(acc["m"], z_q.amax(1))
                    acc["s"] = acc["s"] * torch.exp(acc["m"] - new_q) + torch.exp(z_q - new_q[:, None]).sum(1)
                    acc["m"] = new_q
    log_z_p = m_p + torch.log(s_p)
    return [((acc["a"] / s_p - log_z_p + acc["m"] + torch.log(acc["s"])).clamp_min(0), (arg_p == acc["arg"]).float())
            for acc in q]


def _unembeds_alike(a: Lens, b: Lens) -> bool:
    """True when ``a._logits`` and ``b._logits`` are the same map (the same code, unembedding, bias,
    softcap and excluded ids), so their rows can share one matmul."""
    if type(a)._logits is not type(b)._logits or a.weight is not b.weight or a.softcap != b.softcap:
        return False
    if (a.bias is None) != (b.bias is None) or (a.bias is not None and a.bias is not b.bias):
        return False
    if (a.excluded is None) != (b.excluded is None):
        return False
    return a.excluded is None or torch.equal(a.excluded, b.excluded)
