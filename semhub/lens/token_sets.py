"""Token-set scoring: per-layer log-probability of sets of target tokens at chosen positions.

A set is scored as the max over its tokens (the paper's "best candidate") or as the
log of their total probability. Words become token ids through the tokenizer's
prefix-space rule (``semhub.backbone.tokenization``), so " cat" vs "cat" is never guessed from a
model name. Only the requested positions are projected; the normaliser is streamed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from semhub.readout.collect import encode_values, reader
from semhub.errors import SemhubError
from semhub.lens.sites import last_site, read_lens
from semhub.backbone.tokenization import word_start_ids

AGGREGATES = ("max", "logsumexp")


def word_token_ids(backbone, words: list[str], *, single_token: bool = False) -> list[int]:
    """First token of each word as it appears after a space; ``single_token`` drops multi-token words."""
    ids = []
    for word in words:
        pieces = word_start_ids(backbone.tokenizer, word, backbone.quirks)
        if pieces and (len(pieces) == 1 or not single_token):
            ids.append(pieces[0])
    return sorted(set(ids))


@dataclass
class TokenSetScores:
    layers: list[int]
    scores: dict[str, np.ndarray]  # set name -> (N items, len(layers)) log-probabilities

    def mean(self) -> dict[str, list[float]]:
        return {name: s.mean(0).tolist() for name, s in self.scores.items()}

    def to_json(self) -> dict[str, Any]:
        return {"layers": self.layers, "mean_logprob": self.mean()}


def score_token_sets(backbone, values: list[Any], sets: dict[str, list[int]], *, view: str, layers=None,
                     position: str = "last", how: str = "max", norm: bool = True, batch_size: int = 16,
                     base_dir=None, lens=None) -> TokenSetScores:
    """Log p of each token set at the last content token (or every content token, averaged) of each value.

    ``base_dir`` resolves relative media paths (audio, images) in ``values``. ``lens``: a configured
    ``semhub.Lens`` (a run's ``ctx.lens``) instead of the logit lens with ``norm``.
    """
    if how not in AGGREGATES:
        raise SemhubError(f"token sets: unknown aggregate {how!r} (choose from {', '.join(AGGREGATES)})")
    if position not in ("last", "mean"):
        raise SemhubError(f"token sets: position must be 'last' or 'mean', not {position!r}")
    empty = [name for name, ids in sets.items() if not ids]
    if empty:
        raise SemhubError(f"token sets: empty set(s) {', '.join(empty)}")
    backbone = reader(backbone, view)
    layers = list(range(backbone.n_layers + 1)) if layers is None else list(layers)
    names = list(sets)
    ids = torch.tensor(sorted({i for s in sets.values() for i in s}))
    member = torch.stack([torch.isin(ids, torch.tensor(sets[n])) for n in names])  # (S, U)
    out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    where = last_site() if position == "last" else "content"
    for reading in read_lens(backbone, encode_values(backbone, values, view, batch_size, base_dir), layers,
                             sites=where, ids=ids, norm=norm, lens=lens):
        for s, name in enumerate(names):
            masked = reading.logprobs.masked_fill(~member[s], -torch.inf)  # (layers, P, U)
            agg = masked.max(-1).values if how == "max" else torch.logsumexp(masked, -1)
            out[name].append(agg.mean(1).numpy())  # one site ("last"), or the mean over the content
    return TokenSetScores(layers, {n: np.stack(v) for n, v in out.items()})
