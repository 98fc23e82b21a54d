"""The spoke contract: how a modality plugin hands model inputs to the core.

A spoke turns raw view values into model inputs for one backbone and says which token
positions belong to the content (position groups). It knows nothing about analyses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch


@dataclass
class Encoded:
    """One padded batch: ``inputs`` go to the model as keyword arguments; ``groups`` are (B, T) bool masks.

    Every spoke provides the group ``content`` (the tokens that carry the view's meaning,
    special tokens and padding excluded); capture pools over a named group. Spokes whose
    values are strings may add ``offsets`` (B, T, 2): each token's character span in its
    value, so analyses can find words (dictionary probes) without knowing the tokenizer.
    ``meta`` carries per-batch facts a spoke's own analyses read (an image's patch grid shape).
    """

    inputs: dict[str, torch.Tensor]
    groups: dict[str, torch.Tensor]
    offsets: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(next(iter(self.groups.values())).shape[0])


@runtime_checkable
class Spoke(Protocol):
    """What ``semhub_register_spokes`` expects; see docs/plugin-hooks.md."""

    name: str
    modality: str

    def claims(self, view: str) -> bool:
        """True if this spoke handles a view name such as ``en`` or ``audio_es``."""

    def validate(self, value: Any, base_dir: Path) -> str | None:
        """A one-line problem with a raw value (checked at load time), or None."""

    def length_hint(self, value: Any) -> int:
        """A cheap size estimate so batches group similar lengths (less padding)."""

    def encode(self, values: list[Any], backbone: Any, base_dir: Path) -> Encoded:
        """Model inputs and position groups for one batch of values."""
