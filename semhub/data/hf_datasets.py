"""Aligned data from Hugging Face datasets: ``--data hf:NAME[:CONFIG][@SPLIT][#VIEW=COLUMN,...]``.

``NAME`` is a hub id (``openlanguagedata/flores_plus``) or a local folder: one written by
``Dataset.save_to_disk``, one laid out as ``CONFIG/SPLIT/*.parquet`` (the hub's parquet export),
or a clone of a hub repository (its README's configs). Tables are read through ``datasets``
(``load_dataset`` / ``load_from_disk``), so the hub cache, ``HF_HUB_OFFLINE`` and revisions behave
as everywhere else in the field.

Columns become views, renamed by the ``#VIEW=COLUMN`` mapping (``#id=COLUMN`` names the id column;
``VIEW=CONFIG/COLUMN`` reads another configuration, joined on the id).
Recipes (``semhub.join_tables``) join several tables on a shared id, e.g. FLEURS recordings and
FLORES+ sentences, one table per language. Media columns (``datasets.Audio``, ``datasets.Image``)
are read undecoded and written once as files, since spokes read media from paths; the joined rows
become an aligned JSONL file in semhub's cache (built atomically), so every check of a data file
(``file:line`` errors, confinement, hashes for ``--resume``) applies unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semhub.errors import ParameterError, SemhubError, first_line

PREFIX = "hf:"
PARQUET_EXPORT = "refs/convert/parquet"


@dataclass(frozen=True)
class HubTable:
    """One table of a hub dataset (or of a local copy).

    Attributes:
        name: hub id or local folder.
        config: the configuration (subset), e.g. ``eng_Latn``; None: the dataset's default.
        split: the split; None: ``test`` if there is one, else the only one.
        revision: a hub revision (branch, tag, commit), e.g. ``refs/convert/parquet``.
    """

    name: str
    config: str | None = None
    split: str | None = None
    revision: str | None = None

    def describe(self) -> str:
        return (f"{PREFIX}{self.name}" + (f":{self.config}" if self.config else "")
                + (f"@{self.split}" if self.split else ""))


@dataclass(frozen=True)
class HubSpec:
    """A parsed ``--data hf:...``: the table, and which column each view reads."""

    table: HubTable
    columns: dict[str, str] = field(default_factory=dict)  # view -> column; empty: every column as itself
    id_column: str | None = None

    @classmethod
    def parse(cls, text: str) -> "HubSpec":
        body = text.removeprefix(PREFIX)
        body, _, mapping = body.partition("#")
        body, _, split = body.partition("@")
        name, config = body, None
        if not Path(body).exists() and body.count(":") == 1:  # a local path may itself hold a colon
            name, config = body.split(":")
        if not name or (split == "" and "@" in text) or (config == "") or (":" in name and not Path(name).exists()):
            raise ParameterError("data", f"{text!r}: write hf:NAME[:CONFIG][@SPLIT][#VIEW=COLUMN,...]")
        columns: dict[str, str] = {}
        id_column = None
        for pair in filter(None, mapping.split(",")):
            view, eq, column = pair.partition("=")
            if not eq or not view or not column:
                raise ParameterError("data", f"{text!r}: the mapping {pair!r} is not VIEW=COLUMN")
            if view in columns or (view == "id" and id_column is not None):
                raise ParameterError("data", f"{text!r}: the mapping names view {view!r} twice")
            if view == "id":
                id_column = column
            else:
                columns[view] = column
        return cls(HubTable(name, config, split or None), columns, id_column)


def is_hub(data: Any) -> bool:
    return isinstance(data, str) and data.startswith(PREFIX)


def parquet_export_files(table: HubTable, split: str) -> str:
    """The hub's parquet export of one configuration and split, as an ``hf://`` pattern ``datasets`` reads
    (the export is laid out CONFIG/SPLIT/NNNN.parquet on the ``refs/convert/parquet`` branch)."""
    from urllib.parse import quote

    return f"hf://datasets/{table.name}@{quote(PARQUET_EXPORT, safe='')}/{table.config or 'default'}/{split}/*.parquet"


def _local_parquet(folder: Path, table: HubTable):
    """``CONFIG/SPLIT/*.parquet`` (the hub's parquet export) -> a DatasetDict of that config's splits."""
    import datasets

    root = folder / table.config if table.config else folder
    if not root.is_dir():
        return None
    files = {d.name: sorted(str(p) for p in d.glob("*.parquet")) for d in sorted(root.iterdir()) if d.is_dir()}
    files = {k: v for k, v in files.items() if v}
    if not files:
        return None
    return datasets.load_dataset("parquet", data_files=files)


def _pick_split(tables, table: HubTable):
    """A DatasetDict's split: the one asked for, else ``test``, else the only one."""
    import datasets

    if isinstance(tables, datasets.Dataset):
        return tables
    splits = list(tables)
    split = table.split or ("test" if "test" in splits else splits[0] if len(splits) == 1 else None)
    if split is None:
        raise ParameterError("data", f"{table.describe()}: several splits ({', '.join(splits)}); choose one with @SPLIT")
    if split not in tables:
        raise ParameterError("data", f"{table.describe()}: no split {split!r}; it has {', '.join(splits)} "
                                     "(choose with @SPLIT)")
    return tables[split]


@contextmanager
def quiet():
    """No ``datasets`` progress bars while semhub reads (its own progress is shown; errors stay one line)."""
    import datasets
    from datasets.utils import logging as ds_logging

    was_disabled = datasets.are_progress_bars_disabled()
    level = ds_logging.get_verbosity()
    datasets.disable_progress_bars()
    ds_logging.set_verbosity(ds_logging.CRITICAL)  # its "failed to read" logs: semhub's one line says why
    try:
        yield
    finally:
        ds_logging.set_verbosity(level)
        if not was_disabled:
            datasets.enable_progress_bars()


def load_table(table: HubTable):
    """The ``datasets.Dataset`` of ``table``; one line naming the dataset when it cannot be had."""
    with quiet():
        return _load_table(table)


def _load_table(table: HubTable):
    import datasets

    from semhub.cache import hub_offline

    folder = Path(table.name).expanduser()
    try:
        if folder.is_dir():
            if (folder / "dataset_dict.json").exists() or (folder / "state.json").exists():
                loaded = datasets.load_from_disk(str(folder))
            elif (folder / "README.md").exists() or (loaded := _local_parquet(folder, table)) is None:
                loaded = datasets.load_dataset(str(folder), table.config)  # a clone: its README's configs
            return _pick_split(loaded, table)
        if folder.exists() or table.name.startswith(("/", "./", "../", "~")):
            raise ParameterError("data", f"{table.describe()}: {folder} is not a dataset folder")
        if table.revision == PARQUET_EXPORT:  # a script dataset's parquet export (datasets runs no scripts)
            split = table.split or "test"
            loaded = datasets.load_dataset("parquet", data_files={split: parquet_export_files(table, split)})
        else:
            loaded = datasets.load_dataset(table.name, table.config, revision=table.revision)
        return _pick_split(loaded, table)
    except (ParameterError, SemhubError):
        raise
    except Exception as exc:  # noqa: BLE001 - the datasets library's many failures, as one line
        first = first_line(exc)
        if folder.is_dir():
            raise ParameterError("data", f"{table.describe()}: {folder} is not a dataset folder `datasets` can "
                                         f"read ({type(exc).__name__}: {first})") from None
        if hub_offline() and not folder.exists():
            raise ParameterError("data", f"{table.describe()}: not in the local cache and the hub is offline "
                                         f"(HF_HUB_OFFLINE=1); download it once with hub access, or give a "
                                         f"local copy (hf:/path/to/folder)") from None
        raise ParameterError("data", f"{table.describe()}: {type(exc).__name__}: {first}") from None


def _media_kind(feature) -> str | None:
    import datasets

    if isinstance(feature, datasets.Audio):
        return "audio"
    if isinstance(feature, datasets.Image):
        return "image"
    return None


PLAIN_TYPES = ("string", "large_string")
"""Value types a text view's column may hold (a view is text or a media file; numbers, bytes and dates are not)."""


def _plain(feature) -> bool:
    """A text column (``Value('string')``)."""
    import datasets

    return isinstance(feature, datasets.Value) and feature.dtype.startswith(PLAIN_TYPES)


def _feature_name(feature) -> str:
    """A column type in a few words for an error line (``List``, ``struct``, ``binary``...)."""
    import datasets

    if isinstance(feature, datasets.Value):
        return feature.dtype
    return "struct" if isinstance(feature, dict) else type(feature).__name__


def undecoded(ds):
    """The table with media columns undecoded (bytes and path): no decoder library needed."""
    import datasets

    for name, feature in ds.features.items():
        kind = _media_kind(feature)
        if kind == "audio":
            ds = ds.cast_column(name, datasets.Audio(decode=False))
        elif kind == "image":
            ds = ds.cast_column(name, datasets.Image(decode=False))
    return ds


@dataclass
class HubColumn:
    """One view's source in a join: a table and its column (media written as files); ``source`` is where the
    table came from (its local folder confines the paths its media cells may name; None: the hub's caches)."""

    table: Any
    column: str
    id_column: str
    source: HubTable | None = None


def hub_columns(name: str, picks: dict[str, tuple[str | None, str]], *, split: str | None = None,
                revision: str | None = None, id_column: str = "id") -> dict[str, HubColumn]:
    """``{view: (config, column)}`` of one dataset -> ``{view: HubColumn}``, each config loaded once
    (a recipe's FLEURS ``audio_es`` and ``es`` both read config ``es_419``)."""
    tables: dict[str | None, Any] = {}
    out = {}
    for view, (config, column) in picks.items():
        if config not in tables:
            tables[config] = load_table(HubTable(name, config, split, revision))
        out[view] = HubColumn(tables[config], column, id_column, HubTable(name, config, split, revision))
    return out


def join_tables(views: dict[str, HubColumn], *, key: str, describe: str, limit: int | None = None):
    """Rows of every table that share an id, one per id (the first occurrence), in id order, as an
    ``AlignedDataset`` built once in semhub's cache (``key`` names the build)."""
    from semhub.cache import cache_root, cached_build
    from semhub.data.aligned import load_aligned

    if not views:
        raise ParameterError("data", f"{describe}: no column to read besides the id")
    import datasets

    with quiet():
        sources = {view: (undecoded(c.table), c) for view, c in views.items()}
    for view, (table, c) in sources.items():
        for col in (c.column, c.id_column):
            if col not in table.column_names:
                raise ParameterError("data", f"{describe}: view {view!r} reads column {col!r}, which is not there "
                                             f"(columns: {', '.join(table.column_names)})")
        # column types from the table's features, before any cell is read (pyarrow cannot even read some structs)
        if not isinstance(id_feature := table.features[c.id_column], datasets.Value):
            raise ParameterError("data", f"{describe}: the id column {c.id_column!r} holds "
                                         f"{_feature_name(id_feature)} values; ids are strings or integers")
        if not _plain(feature := table.features[c.column]) and not _media_kind(feature):
            raise ParameterError("data", f"{describe}: view {view!r} (column {c.column!r}) holds "
                                         f"{_feature_name(feature)} cells, not texts or media files")
    fingerprints = [getattr(t, "_fingerprint", "") for t, _ in sources.values()]
    from semhub.contract.spoke import outside_paths_allowed

    allowed = outside_paths_allowed()  # a build that read outside files is never reused without the flag
    digest = hashlib.sha256(json.dumps([key, sorted(views), fingerprints, limit] + ([True] if allowed else []))
                            .encode()).hexdigest()[:20]
    target = cache_root() / "hub-data" / digest

    roots = {view: media_roots(c.source) for view, c in views.items()}

    def build(folder: Path) -> None:
        first: dict[str, dict[Any, int]] = {}
        for view, (table, c) in sources.items():
            seen: dict[Any, int] = {}
            for i, value in enumerate(table[c.id_column]):
                if isinstance(value, bool) or not isinstance(value, (str, int)):
                    raise ParameterError("data", f"{describe}: row {i}: the id column {c.id_column!r} holds "
                                                 f"{type(value).__name__} values; ids are strings or integers")
                seen.setdefault(value, i)
            first[view] = seen
        shared = set.intersection(*(set(s) for s in first.values()))
        if not shared:
            raise ParameterError("data", f"{describe}: the tables share no id")
        ids = sorted(shared, key=lambda v: (str(type(v)), v))[:limit]  # [:None] keeps all
        cells = {view: table.select_columns([c.column]) for view, (table, c) in sources.items()}  # read one column
        with (folder / "data.jsonl").open("w", encoding="utf-8") as out:
            for ident in ids:
                row: dict[str, Any] = {"id": str(ident)}
                for view, (table, c) in sources.items():
                    i = first[view][ident]
                    value = cells[view][i][c.column]
                    if value is None:
                        raise ParameterError("data", f"{describe}: view {view!r} (column {c.column!r}), id {ident}: an "
                                                     "empty cell")
                    kind = _media_kind(table.features[c.column])
                    row[view] = _write_media(folder, view, ident, value, roots[view]) if kind else value
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        (folder / "source.json").write_text(json.dumps({"data": describe, "views": sorted(views)}) + "\n")

    with quiet():
        folder = cached_build(target, build, describe)
    return load_aligned(folder / "data.jsonl")


def media_roots(table: HubTable | None) -> list[Path]:
    """Where a table's media cells may point: its local folder, or the caches ``datasets`` and the hub
    download into. A cell naming any other file is refused unless ``--allow-outside-paths``."""
    folder = Path(table.name).expanduser() if table is not None else None
    if folder is not None and folder.is_dir():
        return [folder.resolve()]
    from huggingface_hub import constants

    roots = [Path(constants.HF_HUB_CACHE)]
    try:
        from datasets import config

        roots.append(Path(config.HF_DATASETS_CACHE))
    except ImportError:
        pass
    return [r.expanduser().resolve() for r in roots]


def _media_path(view: str, ident: Any, original: str, roots: list[Path]) -> Path:
    """The file a media cell's path names (relative: to the table's folder), confined to ``roots``: checked
    before a byte is read, whatever the data's source, as media paths in aligned files are."""
    from semhub.contract.spoke import outside_paths_allowed

    path = Path(original).expanduser()
    if not path.is_absolute():
        path = roots[0] / path
    real = Path(os.path.realpath(path))
    if not outside_paths_allowed() and not any(real == r or r in real.parents for r in roots):
        raise ParameterError("data", f"view {view!r}, id {ident}: the media cell names {original}, outside the "
                                     f"dataset's folder (pass --allow-outside-paths to read it)")
    return real


def _write_media(folder: Path, view: str, ident: Any, value: dict, roots: list[Path]) -> str:
    """An undecoded media cell ({bytes, path}) -> a file under the build folder; its relative path."""
    data, original = value.get("bytes"), value.get("path")
    if data is None and original:
        path = _media_path(view, ident, original, roots)
        data = path.read_bytes() if path.is_file() else None
    if data is None:
        raise SemhubError(f"view {view!r}, id {ident}: the media cell holds neither bytes nor a readable path")
    suffix = Path(original or "").suffix.lower() or ".bin"
    safe = hashlib.sha256(str(ident).encode()).hexdigest()[:16]
    rel = Path("media") / view / f"{safe}{suffix}"
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    (folder / rel).write_bytes(data)
    return rel.as_posix()


def load_hub(text: str, limit: int | None = None):
    """``--data hf:...``: one table's columns (renamed by the mapping) as views; a mapping
    ``VIEW=CONFIG/COLUMN`` reads that column of another configuration, joined on the id column
    (``#audio_en=en_us/audio,audio_es=es_419/audio``: one configuration per language)."""
    spec = HubSpec.parse(text)
    picks = {view: (column.split("/", 1) if "/" in column else (spec.table.config, column))
             for view, column in spec.columns.items()}
    if any(config != spec.table.config for config, _ in picks.values()):
        id_column = spec.id_column or "id"
        columns = hub_columns(spec.table.name, {v: (c, col) for v, (c, col) in picks.items()},
                              split=spec.table.split, revision=spec.table.revision, id_column=id_column)
        return join_tables(columns, key=text, describe=spec.table.describe(), limit=limit)
    table = load_table(spec.table)
    id_column = spec.id_column or ("id" if "id" in table.column_names else None)
    columns = spec.columns or {c: c for c in table.column_names if c != id_column}
    if id_column is None:
        table = table.add_column("__row", list(range(len(table))))
        id_column = "__row"
    views = {view: HubColumn(table, column, id_column, spec.table) for view, column in columns.items()}
    return join_tables(views, key=text, describe=spec.table.describe(), limit=limit)


__all__ = ["HubColumn", "HubSpec", "HubTable", "hub_columns", "is_hub", "join_tables", "load_hub", "load_table"]
