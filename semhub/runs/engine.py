"""Where pooled states are computed: in this process, or over Ray workers (``semhub.runs.ray_engine``).

Every engine captures a view shard by shard (``shard_rows`` dataset rows, length-sorted batches
inside each shard), so the local engine, the Ray engine and a resumed activation store all give
bit-identical states.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from semhub.readout.collect import view_states
from semhub.data.aligned import AlignedDataset


@dataclass(frozen=True)
class CaptureSpec:
    """What is captured: the same for every shard and every worker."""

    layers: tuple[int, ...]
    pooling: str
    batch_size: int
    final_norm: bool


class LocalEngine:
    """Shards captured one after the other with the backbone loaded in this process."""

    def __init__(self, backbone, dataset: AlignedDataset, spec: CaptureSpec):
        self.backbone, self.dataset, self.spec = backbone, dataset, spec

    def map(self, view: str, shards: list[list[int]]) -> Iterator[torch.Tensor]:
        """(len(rows), layers, D) per shard, in the order given."""
        for rows in shards:
            yield capture_rows(self.backbone, self.dataset.take(rows), view, self.spec)

    def close(self) -> None:
        pass


def capture_rows(backbone, dataset: AlignedDataset, view: str, spec: CaptureSpec) -> torch.Tensor:
    return view_states(backbone, dataset, view, layers=list(spec.layers), pooling=spec.pooling,
                       batch_size=spec.batch_size, final_norm=spec.final_norm)
