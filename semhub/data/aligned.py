"""Load aligned data (JSONL or two-column TSV) with errors that name the file and line.

JSONL: one object per line, ``id`` plus one field per view (``en``, ``zh``, ``code``,
``audio_es``...). Media paths are relative to the file's folder (spokes resolve them).
TSV: one pair per line, after a header line naming the two views (or with the views
named by the caller, ``--views en,zh``).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semhub.errors import DataError, SemhubError, first_line
from semhub.files import atomic_write, read_text, text_lines

VIEW_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)*$")
ROMANISED = re.compile(r"^([a-z]{2,3})_latn$")  # a language code's text in Latin script: the script control


def romanised_view(view: str) -> str:
    """The name of ``view``'s romanised control view (``zh`` -> ``zh_latn``)."""
    return f"{view.lower()}_latn"


def romanised_source(view: str) -> str | None:
    """The view a romanised view romanises (``zh_latn`` -> ``zh``), or None for any other view."""
    match = ROMANISED.match(view)
    return match.group(1) if match else None


@dataclass
class AlignedDataset:
    """Rows of equivalent values; ``lines[i]`` is the source line of row i, for error messages."""

    path: Path
    ids: list[str]
    columns: dict[str, list[Any]]
    lines: list[int] = field(default_factory=list)
    sha256: str = ""

    @property
    def views(self) -> list[str]:
        return list(self.columns)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def __len__(self) -> int:
        return len(self.ids)

    def require(self, views: list[str]) -> None:
        """Every requested view must be present and non-empty in every row."""
        for view in views:
            if view not in self.columns:
                raise DataError(self.path, None, f"no view {view!r} (views: {', '.join(self.views)})")
            for value, line in zip(self.columns[view], self.lines):
                if value is None:
                    raise DataError(self.path, line, f"row has no view {view!r}")

    def take(self, rows: list[int]) -> "AlignedDataset":
        """The given rows, in that order (a shard of an activation store)."""
        cols = {k: [v[i] for i in rows] for k, v in self.columns.items()}
        lines = [self.lines[i] for i in rows] if self.lines else []
        return AlignedDataset(self.path, [self.ids[i] for i in rows], cols, lines, self.sha256)

    def head(self, limit: int | None) -> "AlignedDataset":
        if limit is None or limit >= len(self):
            return self
        cols = {k: v[:limit] for k, v in self.columns.items()}
        return AlignedDataset(self.path, self.ids[:limit], cols, self.lines[:limit], self.sha256)


def parse_views(spec: str | None) -> list[str] | None:
    """``"en,zh,es"`` -> ["en", "zh", "es"], rejecting malformed names."""
    if spec is None:
        return None
    views = [v.strip() for v in spec.split(",") if v.strip()]
    bad = [v for v in views if not VIEW_NAME.match(v)]
    if bad or not views:
        raise SemhubError(f"--views: invalid view list {spec!r} (expected names like en,zh,audio_es)")
    if len(set(views)) != len(views):
        raise SemhubError(f"--views: {spec!r} names a view twice")
    return views


def _check_value(path: Path, line: int, view: str, value: Any) -> None:
    if not VIEW_NAME.match(view):
        raise DataError(path, line, f"invalid view name {view!r}")
    if not isinstance(value, str):
        raise DataError(path, line, f"view {view!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(path, line, f"view {view!r} is empty")
    if not _encodable(value):
        raise DataError(path, line, f"view {view!r} holds a lone surrogate (an escape like \\ud800 that is no character)")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: ``{"en": "a", "en": "b"}`` would silently drop "a"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RepeatedKey(key)
        out[key] = value
    return out


def _load_jsonl(path: Path, text: str) -> tuple[list[str], dict[str, list[Any]], list[int]]:
    ids: list[str] = []
    rows: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(text_lines(text), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise DataError(path, line_no, f"invalid JSON ({exc.msg}, column {exc.colno})") from None
        except RecursionError:
            raise DataError(path, line_no, "JSON nested too deeply") from None
        except RepeatedKey as exc:
            raise DataError(path, line_no, f"key {exc.key!r} appears twice in one object (JSON keeps only the last)") from None
        except ValueError as exc:  # an integer beyond Python's digit limit for str -> int
            raise DataError(path, line_no, f"a number Python will not read ({first_line(exc)})") from None
        if not isinstance(obj, dict):
            raise DataError(path, line_no, f"expected a JSON object, got {type(obj).__name__}")
        row_id = obj.pop("id", None)
        if row_id is None:
            row_id = str(len(ids) + 1)
        if isinstance(row_id, bool) or not isinstance(row_id, (str, int)):
            raise DataError(path, line_no, "'id' must be a string or an integer")
        if isinstance(row_id, int) and not -10 ** 18 < row_id < 10 ** 18:
            raise DataError(path, line_no, "'id' is an integer of more than 18 digits; write it as a string")
        if isinstance(row_id, str) and not (row_id.strip() and _encodable(row_id) and len(row_id) <= 1000):
            raise DataError(path, line_no, "'id' must be a non-empty string of at most 1000 characters")
        if isinstance(row_id, str) and not row_id.isprintable():
            raise DataError(path, line_no, f"'id' {row_id!r} holds a control character (a newline, tab or NUL)")
        row_id = str(row_id)
        if row_id in seen:
            raise DataError(path, line_no, f"duplicate id {row_id!r} (first on line {seen[row_id]})")
        seen[row_id] = line_no
        if not obj:
            raise DataError(path, line_no, "row has no views")
        for view, value in obj.items():
            _check_value(path, line_no, view, value)
        ids.append(row_id)
        rows.append((line_no, obj))
    views: list[str] = []
    for _, obj in rows:
        views += [v for v in obj if v not in views]
    columns = {v: [obj.get(v) for _, obj in rows] for v in views}
    return ids, columns, [n for n, _ in rows]


def _tsv_columns(path: Path, first: str, views: list[str] | None) -> tuple[str, str, bool]:
    """The two view names and whether line 1 is a header.

    Line 1 is a header when it names two views. When the caller names the views
    (``--views en,zh``) and line 1 names none of them, line 1 is data.
    """
    fields = [f.strip() for f in first.split("\t")]
    looks_like_header = len(fields) == 2 and all(VIEW_NAME.match(f) for f in fields)
    if views is not None and len(views) == 2 and not (looks_like_header and set(fields) & set(views)):
        return views[0], views[1], False
    if len(fields) != 2:
        raise DataError(path, 1, f"expected 2 tab-separated fields (a header naming two views, e.g. 'en<TAB>zh'), "
                                 f"got {len(fields)}")
    if not looks_like_header:
        raise DataError(path, 1, "expected a header line naming two views, e.g. 'en<TAB>zh' (or pass --views en,zh)")
    if fields[0] == fields[1]:
        raise DataError(path, 1, f"header names view {fields[0]!r} twice")
    return fields[0], fields[1], True


def _load_tsv(path: Path, text: str, views: list[str] | None) -> tuple[list[str], dict[str, list[Any]], list[int]]:
    lines = text_lines(text)
    if not lines:
        raise DataError(path, None, "file is empty")
    a, b, has_header = _tsv_columns(path, lines[0], views)
    ids, cols, line_nos = [], {a: [], b: []}, []
    for line_no, line in enumerate(lines[1:] if has_header else lines, 2 if has_header else 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(path, line_no, f"expected 2 tab-separated fields, got {len(fields)}")
        for view, value in zip((a, b), fields):
            _check_value(path, line_no, view, value)
            cols[view].append(value)
        ids.append(str(len(ids) + 1))
        line_nos.append(line_no)
    return ids, cols, line_nos


def _load_txt(path: Path, text: str, views: list[str] | None) -> tuple[list[str], dict[str, list[Any]], list[int]]:
    """Plain text: every non-empty line is one row of a single view (``views[0]``, default ``text``)."""
    view = views[0] if views else "text"
    ids, values, line_nos = [], [], []
    for line_no, line in enumerate(text_lines(text), 1):  # read_text already bounded every line
        if line.strip():
            ids.append(str(len(ids) + 1))
            values.append(line.strip())
            line_nos.append(line_no)
    return ids, {view: values}, line_nos


def write_aligned(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write aligned rows as JSONL (one object a line, UTF-8 as written), renamed into place whole, so a
    killed write never leaves a file that looks complete. For plugins' ``make-*`` commands."""
    return atomic_write(Path(path), "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def load_aligned(path: str | Path, views: list[str] | None = None) -> AlignedDataset:
    """Load a ``.jsonl`` or ``.tsv`` aligned dataset, or a ``.txt`` file (one text per line, one view:
    held-out text for a lens); any problem raises ``DataError``.

    ``views`` names the columns of a header-less two-column TSV, or a text file's one view.
    """
    path = Path(path)
    text = read_text(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        ids, columns, lines = _load_jsonl(path, text)
    elif suffix in (".tsv", ".tab"):
        ids, columns, lines = _load_tsv(path, text, views)
    elif suffix == ".txt":
        ids, columns, lines = _load_txt(path, text, views)
    else:
        raise DataError(path, None, f"unknown data format {suffix!r} (use .jsonl, .tsv or .txt)")
    if not ids:
        raise DataError(path, None, "no rows")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return AlignedDataset(path, ids, columns, lines, sha)
