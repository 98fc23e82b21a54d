"""What the model "is thinking" at every position and layer: top-k tokens under the logit lens."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from semhub.contract.spoke import Encoded
from semhub.lens.sites import read_lens


@dataclass
class LensView:
    """Top-k tokens per (layer, position) for one input."""

    tokens: list[str]  # the input tokens, one per position
    layers: list[int]
    top_tokens: list[list[list[str]]]  # [layer][position][rank]
    top_probs: torch.Tensor  # (layers, positions, k)
    norm: bool
    model: str = ""

    def best_layers(self, position: int = -1) -> list[dict[str, Any]]:
        """Every token in the top-k of some layer at ``position`` (default: the last), ranked by its best
        probability over the layers, with that layer: a token the middle layers favour is ranked where
        its peak puts it, not where the output leaves it (the question "which layer thinks this most?")."""
        best: dict[str, tuple[float, int]] = {}
        for li, layer in enumerate(self.layers):
            for rank, token in enumerate(self.top_tokens[li][position]):
                prob = float(self.top_probs[li, position, rank])
                if token not in best or prob > best[token][0]:
                    best[token] = (prob, layer)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
        return [{"token": token, "probability": prob, "layer": layer} for token, (prob, layer) in ranked]

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "layers": self.layers, "top_tokens": self.top_tokens,
                "top_probs": self.top_probs.tolist(), "best_layer": self.best_layers(), "lens_norm": self.norm,
                "model": self.model}

    def plot(self, path: str | Path) -> Path:
        """Write the figure to the file ``path`` (a view is not a run's result: the caller names the file)."""
        from semhub.plots import plot_lens_view

        return plot_lens_view(self, Path(path))


def lens_view(backbone, batch: Encoded, *, layers: list[int], k: int = 3, norm: bool = True,
              group: str = "all", lens=None) -> LensView:
    """Top-k lens tokens for the first item of ``batch`` at the positions of ``group``."""
    def first_item(b: Encoded) -> torch.Tensor:
        mask = b.groups[group].clone().bool()
        mask[1:] = False
        return mask

    reading = next(read_lens(backbone, [batch], layers, sites=first_item, top_k=k, norm=norm, lens=lens))
    tok = backbone.tokenizer
    decode = lambda i: tok.decode([int(i)])  # noqa: E731 - readable token text, spaces kept
    tokens = [decode(batch.inputs["input_ids"][0][int(j)]) for j in reading.positions]
    top = [[[decode(i) for i in pos] for pos in layer] for layer in reading.top_ids.tolist()]
    return LensView(tokens, sorted(set(layers)), top, reading.top_logprobs.exp(), norm, backbone.name)
