"""Capture pooled per-layer states with forward hooks, streaming batch by batch.

Layer convention (used by every analysis and by steering): index 0 is the input of
block 0 (the embedding output, after any scaling or position embedding); index i >= 1
is the residual stream after block i-1, before the final norm. This equals Hugging Face
``hidden_states[i]`` for i < L; HF's last entry has the final norm applied, which
``final_norm=True`` reproduces at layer L.

Pooling happens inside the hook, so memory is O(N x layers x D), never N x L x T x D,
and the forward stops after the last requested layer.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Callable, Iterable, Sequence

import torch

from semhub.errors import ParameterError, SemhubError
from semhub.contract.spoke import Encoded

POOLINGS = ("mean", "last")


class _StopForward(Exception):
    """Raised by the hook of the last needed layer: the rest of the network is skipped."""


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """(B, T, D) states and a (B, T) bool mask -> (B, D) pooled over the mask."""
    mask = mask.to(hidden.device)
    if how == "mean":
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
    if how == "last":
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last_index(mask)]
    raise ParameterError("pooling", f"unknown pooling {how!r} (choose from {', '.join(POOLINGS)})")


def last_index(mask: torch.Tensor) -> torch.Tensor:
    """(B,) the last True position of each row of a (B, T) mask (0 for an empty row)."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    return torch.where(mask.bool(), positions, -1).max(dim=1).values.clamp(min=0)


def check_layers(layers: Sequence[int], n_layers: int) -> list[int]:
    bad = [i for i in layers if not 0 <= i <= n_layers]
    if bad:
        shown = f"{bad}" if len(bad) <= 6 else f"[{', '.join(map(str, bad[:3]))}, ..., {bad[-1]}] ({len(bad)} layers)"
        raise ParameterError("layers", f"{shown} out of range 0..{n_layers} for this model")
    return sorted(set(layers))


def run_layers(
    backbone,
    batches: Iterable[Encoded],
    layers: Sequence[int],
    on_layer: Callable[[int, torch.Tensor, Encoded], None],
    *,
    final_norm: bool = False,
    on_batch: Callable[[Encoded], None] | None = None,
) -> None:
    """Run ``batches`` and call ``on_layer(layer, hidden (B, T, D), batch)`` for each requested layer.

    The single place that maps layer indices to hooks; the forward stops after the last
    requested layer. ``final_norm`` applies the model's final norm at layer L.
    """
    L = backbone.n_layers
    layers = check_layers(layers, L)
    stop_at = layers[-1]
    final = backbone.part("final_norm") if final_norm else None
    current: dict[str, Encoded] = {}

    def make_record(layer: int):
        def record(hidden: torch.Tensor) -> None:
            batch = current.get("batch")
            if batch is None:  # a forward pass not ours (a spoke running the model while it encodes)
                return
            if layer == L and final is not None:
                hidden = final(hidden)
            on_layer(layer, hidden, batch)
            if layer == stop_at:
                raise _StopForward

        return record

    with ExitStack() as stack:
        for layer in layers:
            stack.callback(hook_layer(backbone, layer, make_record(layer)).remove)
        with torch.inference_mode():
            for batch in batches:
                current["batch"] = batch
                try:
                    backbone.base(**backbone.forward_kwargs(batch.inputs))
                except _StopForward:
                    pass
                finally:
                    current.pop("batch")
                if on_batch is not None:
                    on_batch(batch)


def hook_layer(backbone, layer: int, fn: Callable[[torch.Tensor], torch.Tensor | None]):
    """Call ``fn(hidden)`` on the residual stream at ``layer``; a returned tensor replaces it.

    The one place that maps a layer index to a hook: layer 0 is the input of block 0 (a
    pre-hook), layer i the output of block i-1. Capture, the lens and steering all use it,
    so reading and writing "layer 6" always mean the same state. Returns the hook handle.
    """
    blocks = backbone.blocks
    if layer == 0:
        def pre_hook(_module, args, kwargs):
            new = fn(args[0] if args else kwargs["hidden_states"])
            if new is None:
                return None
            if args:
                return (new, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": new}

        return blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True)

    def hook(_module, _args, output):
        new = fn(output[0] if isinstance(output, tuple) else output)
        if new is None:
            return None
        return (new, *output[1:]) if isinstance(output, tuple) else new

    return blocks[layer - 1].register_forward_hook(hook)


def group_mask(batch: Encoded, group: str) -> torch.Tensor:
    """A batch's (B, T) mask for a position group; every item must have at least one position."""
    mask = batch.groups.get(group)
    if mask is None:
        raise SemhubError(f"position group {group!r} not provided (have: {', '.join(batch.groups)})")
    if not bool(mask.any(dim=1).all()):
        raise SemhubError(f"position group {group!r} is empty for some item")
    return mask


def capture(
    backbone,
    batches: Iterable[Encoded],
    layers: Sequence[int] | None = None,
    *,
    pooling: str = "mean",
    group: str = "content",
    final_norm: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Pooled states: float32 (N, len(layers), D) on the CPU, pooled inside the hooks."""
    if pooling not in POOLINGS:
        raise ParameterError("pooling", f"unknown pooling {pooling!r} (choose from {', '.join(POOLINGS)})")
    layers = check_layers(range(backbone.n_layers + 1) if layers is None else layers, backbone.n_layers)
    slot = {layer: k for k, layer in enumerate(layers)}
    pieces: list[torch.Tensor] = []

    def on_layer(layer: int, hidden: torch.Tensor, batch: Encoded) -> None:
        if layer == layers[0]:
            pieces.append(torch.empty(len(batch), len(layers), backbone.d_model))
        pieces[-1][:, slot[layer]] = pool(hidden, group_mask(batch, group), pooling).float().cpu()

    run_layers(backbone, batches, layers, on_layer, final_norm=final_norm,
               on_batch=(lambda b: on_batch(len(b))) if on_batch else None)
    if not pieces:
        return torch.empty(0, len(layers), backbone.d_model)
    return torch.cat(pieces)
