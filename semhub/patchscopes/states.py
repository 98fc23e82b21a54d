"""Patchscopes (Ghandeharioun et al. 2024): decode a hidden state by writing it into another prompt.

A state read at (layer, position) of a source prompt (``capture``) replaces the residual stream
at the placeholder of an inspection prompt, at a target layer, and the model goes on from there:
what it says next (greedy continuation) and how likely given tokens are (the next-token
distribution at the prompt's last position) is what the state "means" to the model. The default
inspection prompt is the paper's few-shot identity prompt, which asks the model to repeat the
placeholder's token: decoding a Chinese word's middle-layer state there in English asks the hub
question directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from semhub.errors import ParameterError
from semhub.patchscopes.inspection import InspectionPrompt
from semhub.steering.apply import patch
from semhub.steering.generate import generate


@dataclass
class PatchReadout:
    """What the inspection prompt made of N patched states (one target layer).

    Attributes:
        ids: (K,) the token ids scored; column k of ``logprobs`` is ``ids[k]``.
        logprobs: (N, K) their log-probabilities as the next token after the inspection prompt.
        top_ids: (N, k) the k most probable next tokens.
        top_logprobs: (N, k) their log-probabilities.
        entropy: (N,) the next-token distribution's entropy in nats.
        continuations: the greedy continuations (empty when none was asked for).
    """

    ids: torch.Tensor
    logprobs: torch.Tensor
    top_ids: torch.Tensor
    top_logprobs: torch.Tensor
    entropy: torch.Tensor
    continuations: list[str] = field(default_factory=list)


def source_states(backbone, prompts: Sequence[str], layers: Sequence[int], *, batch_size: int = 16) -> torch.Tensor:
    """(N, len(layers), D) states at the last token of each source prompt (the text spoke's encoding)."""
    from semhub.readout.capture import capture
    from semhub.readout.collect import encode_values

    if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
        raise ParameterError("source", "source prompts must be non-empty strings")
    return capture(backbone, encode_values(backbone, list(prompts), "text", batch_size), layers, pooling="last")


def inspect_states(backbone, states: torch.Tensor, *, layer: int, prompt: InspectionPrompt | None = None,
                   ids: Sequence[int] = (), top_k: int = 5, max_new_tokens: int = 0,
                   batch_size: int = 16) -> PatchReadout:
    """Patch each of ``states`` (N, D) into ``prompt`` at ``layer`` and read the model's next token
    (scores of ``ids``, the top ``top_k``, entropy) and, with ``max_new_tokens``, its greedy continuation."""
    prompt = prompt or InspectionPrompt()
    token_ids, position = prompt.locate(backbone)
    wanted = torch.as_tensor(list(ids), dtype=torch.long)
    inputs = torch.tensor([token_ids], device=backbone.input_device)
    parts: dict[str, list[torch.Tensor]] = {"logprobs": [], "top_ids": [], "top_logprobs": [], "entropy": []}
    continuations: list[str] = []
    for start in range(0, states.shape[0], batch_size):
        chunk = states[start : start + batch_size]
        batch = inputs.expand(len(chunk), -1)
        with patch(backbone, chunk, layer=layer, position=position), torch.inference_mode():
            logits = _last_logits(backbone, batch)
        logp = torch.log_softmax(logits, -1).cpu()
        top = logp.topk(min(top_k, logp.shape[-1]), dim=-1)
        parts["logprobs"].append(logp[:, wanted])
        parts["top_ids"].append(top.indices)
        parts["top_logprobs"].append(top.values)
        parts["entropy"].append(-(logp.exp() * logp).nan_to_num().sum(-1))
        if max_new_tokens:
            with patch(backbone, chunk, layer=layer, position=position):
                continuations += generate(backbone, [prompt.text] * len(chunk), max_new_tokens=max_new_tokens,
                                          batch_size=len(chunk)).continuations
    return PatchReadout(wanted, *(torch.cat(parts[k]) for k in ("logprobs", "top_ids", "top_logprobs", "entropy")),
                        continuations=continuations)


def _last_logits(backbone, input_ids: torch.Tensor) -> torch.Tensor:
    """(B, vocabulary) float logits at the last position; only that position is unembedded where the
    model supports ``logits_to_keep`` (the vocabulary projection dominates the cost of short prompts)."""
    kwargs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    try:
        out = backbone.model(**kwargs, logits_to_keep=1)
    except TypeError:  # an older architecture without the argument
        out = backbone.model(**kwargs)
    return out.logits[:, -1].float()
