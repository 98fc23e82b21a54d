"""What the model "is thinking" at every position and layer: top-k tokens under the logit lens."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from semhub.readout.capture import run_layers
from semhub.readout.lens import Lens
from semhub.contract.spoke import Encoded


@dataclass
class LensView:
    """Top-k tokens per (layer, position) for one input."""

    tokens: list[str]  # the input tokens, one per position
    layers: list[int]
    top_tokens: list[list[list[str]]]  # [layer][position][rank]
    top_probs: torch.Tensor  # (layers, positions, k)
    norm: bool
    model: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "layers": self.layers, "top_tokens": self.top_tokens,
                "top_probs": self.top_probs.tolist(), "lens_norm": self.norm, "model": self.model}

    def plot(self, path: str | Path) -> Path:
        from semhub.runs.plots import plot_lens_view

        return plot_lens_view(self, Path(path))


def lens_view(backbone, batch: Encoded, *, layers: list[int], k: int = 3, norm: bool = True,
              group: str = "all") -> LensView:
    """Top-k lens tokens for the first item of ``batch`` at the positions of ``group``."""
    lens = Lens(backbone, norm=norm)
    mask = batch.groups[group][0]
    xs: list[torch.Tensor] = []
    run_layers(backbone, [batch], layers, lambda layer, h, b: xs.append(lens.prepare(h[0][mask.to(h.device)], layer)))
    scan = lens.scan(torch.cat(xs), k=k)  # one vocabulary pass for every layer
    P = int(mask.sum())
    ids = scan.top_ids.view(len(layers), P, -1).cpu()
    probs = scan.top_logprobs.exp().view(len(layers), P, -1).cpu()
    tok = backbone.tokenizer
    decode = lambda i: tok.decode([int(i)])  # noqa: E731 - readable token text, spaces kept
    tokens = [decode(i) for i in batch.inputs["input_ids"][0][mask.to(batch.inputs["input_ids"].device)]]
    top = [[[decode(i) for i in pos] for pos in layer] for layer in ids.tolist()]
    return LensView(tokens, list(layers), top, probs, norm, backbone.name)
