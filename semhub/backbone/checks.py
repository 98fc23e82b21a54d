"""Backbones checked at load, as nnterp does: a registry entry that points at the wrong module
fails here, in one line naming the family and the part, not as wrong numbers later.

Static checks, every stack: each part resolves; ``blocks`` is a non-empty sequence of modules;
the input table, the final norm and the unembedding all have the residual width. Then a
one-token forward of the stack being read (when it is fed token ids): the hooks see (1, 1, D)
states at every layer, the blocks are as many as the model's hidden states say, and the layer
convention of ``semhub.readout.capture`` holds (layer 0 is HF's ``hidden_states[0]``, layer 1
``hidden_states[1]``, layer L ``hidden_states[L]`` up to the final norm).
"""
from __future__ import annotations

import torch

from semhub.errors import SemhubError


def _fail(backbone, part: str, problem: str) -> SemhubError:
    fam = backbone.family
    return SemhubError(f"registry entry {fam.name!r} ({fam.source}): part {part!r}: {problem}")


def _width(module) -> int | None:
    weight = getattr(module, "weight", None)
    return int(weight.shape[-1]) if isinstance(weight, torch.Tensor) and weight.dim() >= 1 else None


def check_parts(backbone) -> None:
    """Every stack's parts resolve and agree on the residual width."""
    fam = backbone.family
    for stack in fam.stack_names:
        view = backbone.using(stack)
        for part in fam.paths(stack):
            view.part(part)  # raises naming the family and the part
        try:
            blocks = view.blocks
        except TypeError:
            raise _fail(view, "blocks", f"{fam.paths(stack)['blocks']!r} is not a sequence of modules") from None
        if not blocks or not all(isinstance(b, torch.nn.Module) for b in blocks):
            raise _fail(view, "blocks", f"{fam.paths(stack)['blocks']!r} holds no blocks")
        table = view.input_table
        weight = table if isinstance(table, torch.Tensor) else getattr(table, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
            raise _fail(view, fam.input_part(stack), "expected a (rows x width) embedding table")
        width = view.d_model
        for part in [p for p in ("final_norm", "unembedding") if p in fam.paths(stack)]:
            got = _width(view.part(part))
            if got is not None and got != width:
                raise _fail(view, part, f"width {got}, but the stack's {fam.input_part(stack)} has width {width}")


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    a, b = a.float().cpu(), b.float().cpu()
    return a.shape == b.shape and float((a - b).norm()) <= 1e-2 * float(b.norm()) + 1e-4


def check_forward(backbone) -> None:
    """One token through the stack being read: shapes, block count and the layer convention."""
    from semhub.contract.spoke import Encoded
    from semhub.backbone.convention import run_layers

    if backbone.family.input_part(backbone.stack) != "embedding":
        return  # fed features (audio frames, pixels): the parity tests cover these stacks
    token = backbone.tokenizer.bos_token_id
    if token is None or token >= backbone.input_weight.shape[0]:
        token = 0
    ids = torch.tensor([[int(token)]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    L = backbone.n_layers
    with torch.inference_mode():
        try:
            out = backbone.base(**backbone.forward_kwargs(inputs), output_hidden_states=True)
        except (TypeError, ValueError, AttributeError):
            return  # a base that needs more than token ids (an encoder-decoder's decoder needs the audio)
    hidden = getattr(out, "hidden_states", None)
    if hidden is None:
        return
    if len(hidden) != L + 1:
        raise _fail(backbone, "blocks", f"holds {L} blocks, but the model returns {len(hidden) - 1} layers of states")
    seen: dict[int, torch.Tensor] = {}
    run_layers(backbone, [Encoded(inputs, {"content": inputs["attention_mask"].bool()})], sorted({0, 1, L}),
               lambda layer, h, _b: seen.__setitem__(layer, h.detach().clone()))
    for layer, h in seen.items():
        if tuple(h.shape) != (1, 1, backbone.d_model):
            raise _fail(backbone, "blocks", f"layer {layer} has shape {tuple(h.shape)}, expected (1, 1, {backbone.d_model})")
    if not _close(seen[0], hidden[0]):
        raise _fail(backbone, "blocks", "layer 0 (the input of block 0) is not the model's hidden_states[0]")
    if L > 1 and not _close(seen[1], hidden[1]):
        raise _fail(backbone, "blocks", "layer 1 (the output of block 0) is not the model's hidden_states[1]")
    with torch.inference_mode():
        normed = backbone.part("final_norm")(seen[L])
    if not (_close(seen[L], hidden[L]) or _close(normed, hidden[L])):
        raise _fail(backbone, "final_norm", f"layer {L}, with or without it, is not the model's hidden_states[{L}]")


def check_backbone(backbone) -> None:
    """Both checks; a broken entry is one ``SemhubError`` line naming the family and the part."""
    check_parts(backbone)
    check_forward(backbone)
