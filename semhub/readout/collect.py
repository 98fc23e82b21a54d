"""From aligned views to pooled per-layer states: spoke encoding, length-sorted batches, capture."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from semhub.plugins import catalog
from semhub.readout.capture import capture
from semhub.data.aligned import AlignedDataset
from semhub.errors import DataError, PluginError, SemhubError, first_line
from semhub.contract.spoke import Encoded, FileSpoke, optional


def derive_views(dataset: AlignedDataset, views: list[str]) -> AlignedDataset:
    """Add the derived views among ``views``: a column the data lacks whose spoke names, through
    ``source_view(view)``, a column it has (``reverse_en`` -> ``en``). The derived column holds the
    source's values, or what the spoke's ``derive(view, values)`` makes of them (romanised text), so that
    validation, baselines and reports see the derived values; otherwise ``encode`` turns them into what
    the view means."""
    extra = {}
    for view in views:
        if view in dataset.columns or view in extra:
            continue
        try:
            spoke = catalog.spoke_for_view(view)
        except SemhubError:
            continue  # reported by validate_views as a missing view
        source_view = optional(spoke, "source_view")
        source = source_view(view) if callable(source_view) else None
        if source is not None and source in dataset.columns:
            derive = optional(spoke, "derive")
            values = list(dataset.columns[source])
            try:
                extra[view] = list(derive(view, values)) if callable(derive) else values
            except Exception as exc:  # noqa: BLE001 - a plugin's bug, named, not a traceback
                plugin = catalog.owner("semhub_register_spokes", spoke.name)
                raise PluginError(f"spoke {spoke.name!r} (plugin {plugin}) raised {type(exc).__name__} while "
                                  f"deriving view {view!r} from {source!r}: {first_line(exc, default='')}") from None
            if len(extra[view]) != len(values):
                raise PluginError(f"spoke {spoke.name!r} derived {len(extra[view])} values of view {view!r} "
                                  f"from {len(values)} rows")
    if not extra:
        return dataset
    return AlignedDataset(dataset.path, dataset.ids, {**dataset.columns, **extra}, dataset.lines, dataset.sha256)


def validate_views(dataset: AlignedDataset, views: list[str]) -> None:
    """Fail before the model loads: every view present, every value acceptable to its spoke."""
    dataset.require(views)
    for view in views:
        spoke = catalog.spoke_for_view(view)
        for value, line in zip(dataset.columns[view], dataset.lines):
            try:
                problem = spoke.validate(value, dataset.base_dir)
            except SemhubError:
                raise
            except (OSError, ValueError, RecursionError, MemoryError) as exc:  # the value itself: bad input
                raise DataError(dataset.path, line, f"view {view!r}: {type(exc).__name__}: "
                                                    f"{first_line(exc, default='unreadable')}") from None
            except Exception as exc:  # noqa: BLE001 - a plugin's bug, named, not a traceback
                plugin = catalog.owner("semhub_register_spokes", spoke.name)
                raise PluginError(f"spoke {spoke.name!r} (plugin {plugin}) raised {type(exc).__name__} while "
                                  f"validating {dataset.path}:{line}: {first_line(exc, default='')}") from None
            if problem:
                raise DataError(dataset.path, line, f"view {view!r}: {problem}")


def reader(backbone, view: str):
    """The backbone as seen by ``view``'s spoke: a dual encoder reads images and text on different towers."""
    return backbone.for_input(optional(catalog.spoke_for_view(view), "input_kind"))


def check_fits(backbone, enc: Encoded, where: Callable[[int], str]) -> Encoded:
    """Every row of a token batch fits the model's context window; ``where(i)`` names row i of the batch
    in the error (a file and line). A longer text is refused before the forward, which would need
    memory of its length squared (a 750 kB line reaches 24 GB on a small model)."""
    window = backbone.context_window
    ids = enc.inputs.get("input_ids")
    if window is None or not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.shape[1] <= window:
        return enc
    mask = enc.inputs.get("attention_mask")
    lengths = mask.sum(dim=1) if isinstance(mask, torch.Tensor) else torch.full((ids.shape[0],), ids.shape[1])
    i = int(lengths.argmax())
    if int(lengths[i]) > window:
        raise SemhubError(f"{where(i)}: {int(lengths[i]):,} tokens, over this model's context of {window:,}")
    return enc


def encode_values(backbone, values: list[Any], view: str, batch_size: int = 16,
                  base_dir: Path | None = None) -> Iterator[Encoded]:
    """Encoded batches of raw values through the spoke of ``view``, in order."""
    spoke = catalog.spoke_for_view(view)
    for start in range(0, len(values), batch_size):
        enc = spoke.encode(values[start : start + batch_size], backbone, base_dir)
        yield check_fits(backbone, enc, lambda i, s=start: f"view {view!r}, text {s + i + 1}")


def view_lengths(spoke: Any, values: list[Any], base_dir: Path | None) -> list[int]:
    """The spoke's ``length_hint`` of each value; a ``FileSpoke`` is handed the path resolved against the
    data file's folder (its values are relative to it, not to the working directory)."""
    if isinstance(spoke, FileSpoke):
        return [int(spoke.length_hint(str(FileSpoke.path(v, base_dir)) if isinstance(v, str) else v)) for v in values]
    return [int(spoke.length_hint(v)) for v in values]


def view_batches(backbone, dataset: AlignedDataset, view: str, batch_size: int) -> Iterator[tuple[list[int], Encoded]]:
    """(row indices, encoded batch) for one view, batched by the spoke's ``length_hint``.

    Similar lengths share a batch, so little compute goes to padding.
    """
    spoke = catalog.spoke_for_view(view)
    values = dataset.columns[view]
    lengths = view_lengths(spoke, values, dataset.base_dir)
    order = sorted(range(len(values)), key=lambda i: lengths[i])
    with_rows = bool(optional(spoke, "reads_rows"))
    for s in range(0, len(order), batch_size):
        rows = order[s : s + batch_size]
        batch = [values[i] for i in rows]
        if with_rows:
            full = [{name: column[i] for name, column in dataset.columns.items()} for i in rows]
            enc = spoke.encode(batch, backbone, dataset.base_dir, view=view, rows=full)
        else:
            enc = spoke.encode(batch, backbone, dataset.base_dir)
        yield rows, check_fits(backbone, enc, lambda i, rows=rows: row_place(dataset, rows[i], view))


def row_place(dataset: AlignedDataset, row: int, view: str) -> str:
    """``file:line: view 'en'`` for a row, as data errors name it."""
    line = dataset.lines[row] if dataset.lines else None
    return f"{dataset.path}{f':{line}' if line is not None else ''}: view {view!r}"


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
    """(N, len(layers), D) pooled states for one view, in dataset order."""
    backbone = reader(backbone, view)
    order: list[int] = []

    def batches():
        for rows, enc in view_batches(backbone, dataset, view, batch_size):
            order.extend(rows)
            yield enc

    states = capture(backbone, batches(), layers, pooling=pooling, final_norm=final_norm, on_batch=on_batch)
    out = torch.empty_like(states)
    out[torch.tensor(order, dtype=torch.long)] = states
    return out
