"""The layer convention, used by every read and write of the residual stream (capture, lenses,
steering, patching, the load-time checks).

Index 0 is the input of block 0 (the embedding output, after any scaling or position embedding);
index i >= 1 is the residual stream after block i-1, before the final norm. This equals Hugging Face
``hidden_states[i]`` for i < L; HF's last entry has the final norm applied, which
``final_norm=True`` reproduces at layer L. ``hook_layer`` is the one place that maps an index to a hook.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Callable, Iterable, Sequence

import torch

from semhub.contract.spoke import Encoded
from semhub.errors import ParameterError


class _StopForward(Exception):
    """Raised by the hook of the last needed layer: the rest of the network is skipped."""


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
