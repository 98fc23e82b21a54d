"""Batched, left-padded generation with seeds; continuations are sliced by token ids.

Slicing ids (not decoded strings) avoids the pitfall of decoding not reproducing the
prompt. Run it inside ``semhub.steer_hooks(...)`` to generate with a steering vector.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from semhub.contract.spoke import Encoded
from semhub.errors import ParameterError


@dataclass
class Generation:
    prompts: list[str]
    continuations: list[str]
    token_ids: list[list[int]]  # generated ids only, without padding or the prompt


def generate(backbone, prompts: list[str] | Encoded, *, max_new_tokens: int = 32, do_sample: bool = False,
             temperature: float = 1.0, top_p: float = 1.0, repetition_penalty: float | None = None,
             seed: int = 0, batch_size: int = 16) -> Generation:
    """Continue each prompt; sampling is reproducible for a given seed and batch composition.

    ``prompts`` are strings (tokenised here, left-padded, ``batch_size`` at a time) or one batch a
    spoke encoded (an image or audio prompt with its pixel or feature inputs), generated as it is:
    a steering mask over its positions then lines up with the prompt.
    """
    if isinstance(prompts, Encoded):
        texts = [""] * len(prompts)
        chunks = [(texts, {k: v.to(backbone.input_device) for k, v in prompts.inputs.items()})]
    else:
        if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
            raise ParameterError("prompts", "must be non-empty strings")
        texts = list(prompts)
        chunks = ((texts[s : s + batch_size], _tokenize(backbone, texts[s : s + batch_size]))
                  for s in range(0, len(texts), batch_size))
    tok, model = backbone.tokenizer, backbone.model
    eos = tok.eos_token_id
    options = {"max_new_tokens": max_new_tokens, "do_sample": do_sample, "pad_token_id": tok.pad_token_id}
    if do_sample:
        options.update(temperature=temperature, top_p=top_p)
    else:  # greedy: drop sampling defaults some checkpoints ship in generation_config
        options.update(temperature=None, top_p=None, top_k=None)
    if repetition_penalty:
        options["repetition_penalty"] = repetition_penalty
    conts: list[str] = []
    ids_out: list[list[int]] = []
    for _chunk, inputs in chunks:
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**inputs, **options)
        for row in out[:, inputs["input_ids"].shape[1] :].tolist():
            if eos is not None and eos in row:
                row = row[: row.index(eos)]
            row = [i for i in row if i != tok.pad_token_id]
            ids_out.append(row)
            conts.append(tok.decode(row, skip_special_tokens=True))
    return Generation(texts, conts, ids_out)


def _tokenize(backbone, texts: list[str]) -> dict:
    return backbone.tokenizer(texts, return_tensors="pt", padding=True, padding_side="left").to(backbone.input_device)
