"""The surface baseline: how much of a cross-view match the tokens alone explain, without the model.

Each text becomes a bag of its token ids (the model's tokenizer, no special tokens): a count vector over
the token ids the sample uses. The similarity metrics read these vectors exactly as they read a layer's
states (``stats.item_statistics``, the run's centring, the same permutations), so a layer's calibrated
score can be set against the calibrated score of shared tokens, names, numbers and punctuation: the hub
gain. The token overlap of each pair (Jaccard of the two token sets) says how much the pairs share at all.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def token_ids(texts: list[str], tokenizer: Any) -> list[list[int]]:
    """Each text's token ids as the model's tokenizer splits it (no BOS or other special tokens)."""
    return [list(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]


def bags(ids_a: list[list[int]], ids_b: list[list[int]]):
    """(N, 1, V) float32 bag-of-token counts of each side over the V token ids the two sides use: the
    shape of one layer's states, so every state metric reads them."""
    import torch

    vocab = {t: i for i, t in enumerate(sorted({t for ids in (*ids_a, *ids_b) for t in ids}))}
    out = []
    for side in (ids_a, ids_b):
        counts = torch.zeros(len(side), 1, max(1, len(vocab)))
        for row, ids in enumerate(side):
            for t in ids:
                counts[row, 0, vocab[t]] += 1
        out.append(counts)
    return out[0], out[1]


def token_overlap(ids_a: list[list[int]], ids_b: list[list[int]]) -> np.ndarray:
    """Jaccard overlap of each pair's token sets (1: the same tokens, 0: none shared)."""
    out = np.zeros(len(ids_a))
    for i, (a, b) in enumerate(zip(ids_a, ids_b)):
        sa, sb = set(a), set(b)
        out[i] = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
    return out


def text_column(dataset: Any, view: str) -> list[str] | None:
    """The view's values when every one is text (a lexical baseline needs words), else None."""
    values = dataset.columns.get(view)
    if not values or not all(isinstance(v, str) for v in values):
        return None
    return list(values)


def text_view(dataset: Any, view: str) -> list[str] | None:
    """The view's values when its spoke reads text (``input_kind``) and every value is text, else None:
    code and arithmetic have words; a clip's or an image's path is not one."""
    from semhub.contract.spoke import optional
    from semhub.plugins import catalog

    if optional(catalog.spoke_for_view(view), "input_kind") != "text":
        return None
    return text_column(dataset, view)


def lexical_pairs(ctx: Any) -> dict[str, tuple[list[list[int]], list[list[int]]]]:
    """Other view -> the token ids of both sides, for every pair of text views of a run that has the
    model's tokenizer (a run from a store has none; audio and images have no tokens to share)."""
    tokenizer = getattr(ctx.backbone, "tokenizer", None)
    if tokenizer is None:
        return {}
    first = text_view(ctx.dataset, ctx.views[0])
    if first is None:
        return {}
    ids_first = token_ids(first, tokenizer)
    out = {}
    for other in ctx.views[1:]:
        values = text_view(ctx.dataset, other)
        if values is not None:
            out[other] = (ids_first, token_ids(values, tokenizer))
    return out


LENGTH_BINS = 5


def row_lengths(ctx: Any) -> list[int] | None:
    """Each row's length in the first view: its token count where the view is text and the model has a
    tokenizer, else the spoke's own ``length_hint`` (an audio clip's duration in centiseconds). None
    when neither says anything (every hint 0)."""
    from semhub.plugins import catalog
    from semhub.readout.collect import view_lengths

    view = ctx.views[0]
    texts = text_view(ctx.dataset, view)
    if texts is not None:
        tokenizer = getattr(ctx.backbone, "tokenizer", None)
        return None if tokenizer is None else [len(ids) for ids in token_ids(texts, tokenizer)]
    spoke = catalog.spoke_for_view(view)
    if spoke is None:
        return None
    hints = view_lengths(spoke, ctx.dataset.columns[view], ctx.dataset.base_dir)
    return hints if any(hints) else None


def length_bins(ctx: Any, bins: int = LENGTH_BINS) -> list[str] | None:
    """Each row's length bin (quantiles of ``row_lengths``: tokens of text, seconds of audio): shuffles
    within them keep short items with short ones, a control for what length alone explains. None where
    the first view has no length."""
    import numpy as np

    lengths = row_lengths(ctx)
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, bins + 1)[1:-1]))
    return [f"length bin {int(b)}" for b in np.searchsorted(edges, lengths, side="right")]


def controls(ctx: Any) -> dict[str, Any]:
    """The calibrations ``--controls`` adds beside the run's own (name -> ``Calibration``): shuffles within
    length bins, and with ``--perm-groups`` the unrestricted shuffles the grouped ones are read against."""
    from semhub.analyses.calibration import Calibration, permutations

    calibration = ctx.calibration
    if calibration is None or not ctx.settings.calibration.controls:
        return {}
    out = {}
    bins = length_bins(ctx)
    if bins is not None:
        out["length-matched shuffles"] = calibration.within(bins, "length bins")
    if calibration.groups is not None:
        n = int(calibration.perms.shape[1])
        out["unrestricted shuffles"] = Calibration(permutations(n, calibration.permutations, calibration.seed),
                                                   calibration.alpha, calibration.aggregate, calibration.seed)
    return out


def control_views(views: list[str]) -> dict[str, str]:
    """The romanised control views among ``views`` and the view each controls (``zh_latn`` -> ``zh``)."""
    from semhub.data.aligned import romanised_source

    return {view: romanised_source(view) for view in views if romanised_source(view) in views}
