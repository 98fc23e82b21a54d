"""From aligned views to pooled per-layer states: spoke encoding, length-sorted batches, capture."""
from __future__ import annotations

from typing import Callable

import torch

from semhub import catalog
from semhub.capture import capture
from semhub.data import AlignedDataset
from semhub.errors import DataError


def validate_views(dataset: AlignedDataset, views: list[str]) -> None:
    """Fail before the model loads: every view present, every value acceptable to its spoke."""
    dataset.require(views)
    for view in views:
        spoke = catalog.spoke_for_view(view)
        for value, line in zip(dataset.columns[view], dataset.lines):
            problem = spoke.validate(value, dataset.base_dir)
            if problem:
                raise DataError(dataset.path, line, f"view {view!r}: {problem}")


def view_states(
    backbone,
    dataset: AlignedDataset,
    view: str,
    *,
    layers: list[int],
    pooling: str,
    batch_size: int,
    final_norm: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """(N, len(layers), D) states for one view, in dataset order.

    Items are batched by length (a spoke's ``length_hint``) so little compute goes to padding.
    """
    spoke = catalog.spoke_for_view(view)
    values = dataset.columns[view]
    order = sorted(range(len(values)), key=lambda i: spoke.length_hint(values[i]))
    batches = (
        spoke.encode([values[i] for i in order[s : s + batch_size]], backbone, dataset.base_dir)
        for s in range(0, len(order), batch_size)
    )
    states = capture(backbone, batches, layers, pooling=pooling, final_norm=final_norm, on_batch=on_batch)
    out = torch.empty_like(states)
    out[torch.tensor(order)] = states
    return out
