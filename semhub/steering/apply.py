"""Adding (or writing) a vector into the residual stream, as a context manager.

Positions:
- ``all``: every position of every forward pass, prompt and generated tokens alike;
- ``prompt``: every prompt position, in the prefill pass only (generated tokens untouched);
- ``last``: the last prompt position, prefill only (prompts are left-padded by ``generate``);
- a (B, T) bool mask: those prompt positions, prefill only (e.g. a spoke's image or audio group).
A (T, D) vector (ActAdd) is added to the last T prompt positions, prefill only.

Hooks are removed when the block exits, even on error: nothing leaks into later calls.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Iterator, Sequence

import torch

from semhub.backbone.convention import check_layers, hook_layer
from semhub.errors import SemhubError

POSITIONS = ("all", "prompt", "last")
MODES = ("add", "replace")


@contextmanager
def steer(backbone, vector, *, layers: int | Sequence[int], coeff: float = 1.0,
          positions: str | torch.Tensor = "all", mode: str = "add") -> Iterator[None]:
    """Within the block, every forward of ``backbone`` has ``coeff * vector`` added at ``layers``.

    ``mode="replace"`` writes ``coeff * vector`` over the chosen positions instead (the
    paper's Chameleon edit). ``vector`` is a tensor or a ``SteeringVector``.
    """
    vec = getattr(vector, "vector", vector)
    if mode not in MODES:
        raise SemhubError(f"--mode: unknown steering mode {mode!r} (choose from {', '.join(MODES)})")
    if isinstance(positions, str) and positions not in POSITIONS:
        raise SemhubError(f"--positions: unknown {positions!r} (choose from {', '.join(POSITIONS)})")
    if vec.shape[-1] != backbone.d_model:
        raise SemhubError(f"--vector: the steering vector has size {vec.shape[-1]}, the model's residual stream "
                          f"{backbone.d_model} (it was made for another model)")
    layers = check_layers([layers] if isinstance(layers, int) else list(layers), backbone.n_layers)
    state: dict = {"calls": 0}
    per_position = vec.dim() == 2

    def edit(hidden: torch.Tensor, layer: int) -> torch.Tensor | None:
        v = (coeff * vec).to(hidden.device, hidden.dtype)
        if not per_position and isinstance(positions, str) and positions == "all":
            return hidden + v if mode == "add" else v.expand_as(hidden).clone()
        if hidden.shape[1] == 1 and state["calls"] > 0:
            return None  # a decode step: prompt-only edits are done
        B, T = hidden.shape[:2]
        mask = torch.zeros(B, T, dtype=torch.bool, device=hidden.device)
        if per_position:
            t = min(v.shape[0], T)
            mask[:, T - t :] = True
            value = torch.zeros_like(hidden)
            value[:, T - t :] = v[-t:]
        else:
            value = v.expand_as(hidden)
            if isinstance(positions, torch.Tensor):
                if tuple(positions.shape) != (B, T):
                    raise SemhubError(f"steering mask {tuple(positions.shape)} does not match the input {(B, T)}")
                mask = positions.to(hidden.device, torch.bool)
            elif positions == "last":
                mask[:, -1] = True
            else:  # prompt
                mask[:] = True
        out = hidden.clone()
        out[mask] = value[mask] + (hidden[mask] if mode == "add" else 0)
        return out

    with edit_hooks(backbone, layers, edit, state):
        yield


@contextmanager
def edit_hooks(backbone, layers: Sequence[int], edit, state: dict) -> Iterator[None]:
    """Install ``edit(hidden, layer)`` at every layer in ``layers`` for the block; ``state["calls"]``
    counts the forward passes seen (incremented after the last layer's edit), so an edit can tell the
    prefill pass (0) from decode steps. The one place steering and patching install their hooks."""
    state.setdefault("calls", 0)
    layers = sorted(layers)

    def make(layer: int):
        def fn(hidden):
            out = edit(hidden, layer)
            if layer == layers[-1]:
                state["calls"] += 1
            return out

        return fn

    with ExitStack() as stack:
        for layer in layers:
            stack.callback(hook_layer(backbone, layer, make(layer)).remove)
        yield


@contextmanager
def patch(backbone, values: torch.Tensor, *, layer: int, position: int | torch.Tensor) -> Iterator[None]:
    """Within the block, the first forward of ``backbone`` has its residual stream at ``layer`` and
    token ``position`` replaced by ``values`` (B, D), row b of the batch by ``values[b]``.

    Only the first pass is edited (the prefill of ``generate``; decode steps run on the patched
    cache), so use one block per batch. This is the write half of a patchscope.
    """
    with patch_layers(backbone, {layer: values}, position=position):
        yield


@contextmanager
def patch_layers(backbone, values: dict[int, torch.Tensor], *, position: int | torch.Tensor) -> Iterator[None]:
    """Within the block, the first forward of ``backbone`` has its residual stream at every layer of
    ``values`` replaced, at ``position`` (one index for all rows, or a (B,) tensor: one per row), by
    ``values[layer]`` (B, D). Concept patching writes a word's states at a layer and every layer after it."""
    layers = check_layers(list(values), backbone.n_layers)
    batch = {v.shape[0] for v in values.values()}
    for v in values.values():
        if v.dim() != 2 or v.shape[-1] != backbone.d_model or len(batch) != 1:
            raise SemhubError(f"patched states have shape {tuple(v.shape)}, expected (batch, {backbone.d_model}), "
                              "the same batch at every layer")
    state = {"calls": 0}

    def edit(hidden: torch.Tensor, layer: int) -> torch.Tensor | None:
        if state["calls"] > 0:
            return None
        B, T = hidden.shape[:2]
        where = torch.as_tensor(position)
        where = where.expand(B) if where.dim() == 0 else where
        if B not in batch or where.shape != (B,) or not ((-T <= where) & (where < T)).all():
            raise SemhubError(f"patch: a batch of {(B, T)} cannot take {batch.pop()} states at position(s) "
                              f"{where.tolist()}")
        out = hidden.clone()
        out[torch.arange(B), where.to(hidden.device)] = values[layer].to(hidden.device, hidden.dtype)
        return out

    with edit_hooks(backbone, layers, edit, state):
        yield
