"""Pooled per-layer states, captured with forward hooks through the layer convention
(``backbone/convention.py``), streaming batch by batch.

Pooling happens inside the hook, so memory is O(N x layers x D), never N x L x T x D,
and the forward stops after the last requested layer.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch

from semhub.errors import ParameterError, SemhubError
from semhub.backbone.convention import check_layers, run_layers
from semhub.contract.spoke import Encoded

POOLINGS = ("mean", "last")


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


def draw_positions(batches: Iterable[Encoded], max_positions: int, seed: int,
                   group: str = "content") -> tuple[list[tuple[Encoded, torch.Tensor]], int]:
    """([(batch, its drawn (B, T) mask)], how many ``group`` positions there were): at most ``max_positions``
    drawn uniformly (seeded) across every batch, only the batches holding one kept. The one way a capped
    read chooses its positions: batches come length-sorted, so the first positions would be the shortest
    texts' only."""
    batches = list(batches)
    masks = [b.groups[group].bool() for b in batches]
    total = sum(int(m.sum()) for m in masks)
    chosen = torch.ones(total, dtype=torch.bool)
    if total > max_positions:
        chosen = torch.zeros(total, dtype=torch.bool)
        chosen[torch.randperm(total, generator=torch.Generator().manual_seed(int(seed)))[:max_positions]] = True
    out, start = [], 0
    for batch, mask in zip(batches, masks):
        flat = mask.flatten().nonzero()[:, 0]
        picked = torch.zeros(mask.numel(), dtype=torch.bool)
        picked[flat] = chosen[start:start + len(flat)]
        start += len(flat)
        if bool(picked.any()):
            out.append((batch, picked.view_as(mask)))
    return out, total
