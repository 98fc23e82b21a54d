"""Batched, left-padded generation with seeds; continuations are sliced by token ids.

Slicing ids (not decoded strings) avoids the pitfall of decoding not reproducing the
prompt. Run it inside ``semhub.steering.steer(...)`` to generate with a steering vector.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from semhub.errors import SemhubError


@dataclass
class Generation:
    prompts: list[str]
    continuations: list[str]
    token_ids: list[list[int]]  # generated ids only, without padding or the prompt


def generate(backbone, prompts: list[str], *, max_new_tokens: int = 32, do_sample: bool = False,
             temperature: float = 1.0, top_p: float = 1.0, repetition_penalty: float | None = None,
             seed: int = 0, batch_size: int = 16) -> Generation:
    """Continue each prompt; sampling is reproducible for a given seed and batch composition."""
    if not prompts or any(not p.strip() for p in prompts):
        raise SemhubError("generate: prompts must be non-empty strings")
    tok, model = backbone.tokenizer, backbone.model
    conts: list[str] = []
    ids_out: list[list[int]] = []
    eos = tok.eos_token_id
    options = {"max_new_tokens": max_new_tokens, "do_sample": do_sample, "pad_token_id": tok.pad_token_id}
    if do_sample:
        options.update(temperature=temperature, top_p=top_p)
    else:  # greedy: drop sampling defaults some checkpoints ship in generation_config
        options.update(temperature=None, top_p=None, top_k=None)
    if repetition_penalty:
        options["repetition_penalty"] = repetition_penalty
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        enc = tok(chunk, return_tensors="pt", padding=True, padding_side="left").to(backbone.input_device)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**enc, **options)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        for row in new:
            if eos is not None and eos in row:
                row = row[: row.index(eos)]
            row = [i for i in row if i != tok.pad_token_id]
            ids_out.append(row)
            conts.append(tok.decode(row, skip_special_tokens=True))
    return Generation(list(prompts), conts, ids_out)
