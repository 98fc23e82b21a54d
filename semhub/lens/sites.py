"""The one lens read-out: lens quantities at chosen (layer, position) sites, item by item.

Every lens analysis (the dictionary probe, language trends, token sets, the lens view, and
the plugins' code, audio and image lenses) asks the same thing: run each batch once, take the
states at some positions of some layers, push them through the lens, and keep a few numbers
per site. ``read_lens`` does that once: only the sites are projected, the vocabulary is
streamed (``semhub.lens.logit``), and at most ``Lens.max_rows`` states wait for their
projection, so memory does not grow with the number of layers or positions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, Union

import torch

from semhub.contract.spoke import Encoded
from semhub.errors import ParameterError
from semhub.readout.capture import last_index
from semhub.backbone.convention import check_layers, run_layers
from semhub.lens.logit import Lens

Where = Union[str, Callable[[Encoded], torch.Tensor]]
"""A position group's name, or a function of the batch returning a (B, T) bool mask of sites."""

Batch = Union[Encoded, "tuple[Sequence[int], Encoded]"]
"""An encoded batch (its items numbered on from the previous batch) or a (rows, batch) pair,
as ``view_batches`` yields: ``rows[b]`` is item b's row in the data."""


@dataclass
class LensReading:
    """The lens at one item's sites, on the CPU. P is the item's number of sites (it may be 0);
    every tensor's first axis follows ``layers``."""

    row: int
    """The item's row: its index in the data (or among the values given)."""
    batch: Encoded
    """The encoded batch the item came in (for groups, meta and input ids)."""
    item: int
    """The item's index within ``batch``."""
    positions: torch.Tensor
    """(P,) the token positions read, ascending."""
    layers: list[int]
    ids: torch.Tensor | None = None
    """(K,) the token ids scored for this batch: column k of ``logprobs`` is ``ids[k]``."""
    logprobs: torch.Tensor | None = None
    """(layers, P, K) log p of ``ids`` under the lens."""
    next_logprob: torch.Tensor | None = None
    """(layers, P) log p of the input token that follows each site (``next_token=True``)."""
    top_ids: torch.Tensor | None = None
    """(layers, P, k) the k most probable ids (``top_k=k``)."""
    top_logprobs: torch.Tensor | None = None
    """(layers, P, k) their log-probabilities."""
    mixture: torch.Tensor | None = None
    """(layers, P, n) the expected row of ``table`` under the lens distribution."""
    entropy: torch.Tensor | None = None
    """(layers, P) the lens distribution's entropy in nats (``entropy=True``)."""


def last_site(group: str = "content") -> Callable[[Encoded], torch.Tensor]:
    """Sites: the last position of ``group`` in each item (the usual "last token" read-out)."""

    def where(batch: Encoded) -> torch.Tensor:
        mask = batch.groups[group]
        out = torch.zeros_like(mask, dtype=torch.bool)
        out[torch.arange(mask.shape[0]), last_index(mask)] = True
        return out & mask.bool()

    return where


def site_mask(batch: Encoded, sites: Where) -> torch.Tensor:
    """The (B, T) bool mask of a batch's sites."""
    if callable(sites):
        mask = sites(batch)
    elif sites in batch.groups:
        mask = batch.groups[sites]
    else:
        raise ParameterError("sites", f"position group {sites!r} not provided (have: {', '.join(batch.groups)})")
    shape = tuple(batch.inputs["input_ids"].shape) if "input_ids" in batch.inputs else tuple(mask.shape)
    if tuple(mask.shape) != shape:
        raise ParameterError("sites", f"site mask {tuple(mask.shape)} does not match the batch {shape}")
    return mask.bool().cpu()


def _numbered(batches: Iterable[Batch]) -> Iterator[tuple[list[int], Encoded]]:
    start = 0
    for batch in batches:
        if isinstance(batch, tuple):
            rows, enc = batch
            rows = [int(r) for r in rows]
        else:
            enc, rows = batch, list(range(start, start + len(batch)))
        start = max(rows, default=start - 1) + 1
        yield rows, enc


def read_lens(
    backbone,
    batches: Iterable[Batch],
    layers: Sequence[int],
    *,
    sites: Where = "content",
    ids: Sequence[int] | torch.Tensor | Callable[[Encoded], Sequence[int]] | None = None,
    next_token: bool = False,
    top_k: int = 0,
    table: torch.Tensor | None = None,
    entropy: bool = False,
    norm: bool = True,
    lens: Lens | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[LensReading]:
    """Yield one ``LensReading`` per item of ``batches``, in order.

    ``sites``: where to read (a group name or a mask function). ``ids``: token ids to score
    (fixed, or a function of the batch). ``next_token``: also score the token after each site.
    ``top_k``: keep the top-k ids. ``entropy``: the lens distribution's entropy. ``table``: a (vocabulary, n) table to average under the lens
    distribution (language mixtures). ``norm``: the lens applies the final norm (see ``Lens``);
    ``lens``: a configured ``Lens`` (its chunk and ``max_rows``) instead. A batch without sites
    is not run at all.
    """
    layers = check_layers(layers, backbone.n_layers)
    lens = lens or Lens(backbone, norm=norm)
    for rows, batch in _numbered(batches):
        mask = site_mask(batch, sites)
        where = mask.nonzero()  # (P, 2) row-major: item, then position
        batch_ids = ids(batch) if callable(ids) else ids
        batch_ids = None if batch_ids is None else torch.as_tensor(batch_ids, dtype=torch.long).reshape(-1)
        following = None
        if next_token:
            tokens = batch.inputs["input_ids"]
            if len(where) and int(where[:, 1].max()) + 1 >= tokens.shape[1]:
                raise ParameterError("sites", "next_token: a site is the last position of its input; no token follows it")
            following = tokens.cpu()[where[:, 0], where[:, 1] + 1]
        parts = _read_batch(backbone, lens, batch, layers, where, batch_ids, following, top_k, table, entropy)
        owner = where[:, 0]
        for b in range(len(batch)):
            keep = owner == b
            fields = {name: value[:, keep] for name, value in parts.items()}
            yield LensReading(rows[b], batch, b, where[keep, 1], list(layers), ids=batch_ids, **fields)
        if on_batch is not None:
            on_batch(len(batch))


def _read_batch(backbone, lens: Lens, batch: Encoded, layers: list[int], where: torch.Tensor,
                ids: torch.Tensor | None, following: torch.Tensor | None, top_k: int,
                table: torch.Tensor | None, entropy: bool = False) -> dict[str, torch.Tensor]:
    """Run one batch; {field: (layers, P, ...)} for the quantities asked for."""
    P = len(where)
    wanted = {"logprobs": ids is not None, "next_logprob": following is not None,
              "top_ids": top_k > 0, "top_logprobs": top_k > 0, "mixture": table is not None,
              "entropy": entropy}
    pieces: dict[str, list[torch.Tensor]] = {name: [] for name, on in wanted.items() if on}
    if P == 0:
        return {name: _empty(len(layers), name, ids, top_k, table) for name in pieces}
    # every scored id in one logit matrix: a site's next token and a candidate equal to it tie exactly
    asked = [t for t in (ids, following) if t is not None]
    scored = torch.unique(torch.cat(asked)) if asked else torch.empty(0, dtype=torch.long)
    id_cols = None if ids is None else torch.searchsorted(scored, ids)
    next_cols = None if following is None else torch.searchsorted(scored, following)[:, None]
    pending: list[torch.Tensor] = []

    def flush() -> None:
        """Project the states waiting: one vocabulary pass for all of them."""
        if not pending:
            return
        h = torch.cat(pending)
        pending.clear()
        scan = lens.scan(h, k=top_k, table=table, entropy=entropy)
        if len(scored):
            logprobs = (lens.logits(h, scored) - scan.log_norm[:, None]).cpu()
            if id_cols is not None:
                pieces["logprobs"].append(logprobs[:, id_cols])
            if next_cols is not None:
                pieces["next_logprob"].append(logprobs.gather(1, next_cols.repeat(h.shape[0] // P, 1))[:, 0])
        if top_k:
            pieces["top_ids"].append(scan.top_ids.cpu())
            pieces["top_logprobs"].append(scan.top_logprobs.cpu())
        if table is not None:
            pieces["mixture"].append(scan.mixture.cpu())
        if entropy:
            pieces["entropy"].append(scan.entropy.cpu())

    def on_layer(layer: int, hidden: torch.Tensor, _batch: Encoded) -> None:
        at = where.to(hidden.device)
        pending.append(lens.prepare(hidden[at[:, 0], at[:, 1]], layer))
        if len(pending) * P >= lens.max_rows:
            flush()

    run_layers(backbone, [batch], layers, on_layer)
    flush()
    return {name: torch.cat(values).view(len(layers), P, *values[0].shape[1:]) for name, values in pieces.items()}


def _empty(n_layers: int, name: str, ids, top_k: int, table) -> torch.Tensor:
    width = {"logprobs": None if ids is None else len(ids), "top_ids": top_k, "top_logprobs": top_k,
             "mixture": None if table is None else table.shape[1]}.get(name)
    dtype = torch.long if name == "top_ids" else torch.float32
    return torch.empty(n_layers, 0, *([] if width is None else [width]), dtype=dtype)
