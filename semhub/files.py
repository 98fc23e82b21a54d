"""Reading and writing files safely: the one bounded text reader, the one JSON-object reader, and the
one atomic writer for files and for folders (a killed process never leaves something that looks complete).

The lowest layer beside errors.py: data, backbones, lenses, stores, cards and run directories all read
and write through these, so every refusal of a device, a pipe, a huge file or bad UTF-8 reads the same.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from semhub.errors import DataError, first_line

MAX_FILE_BYTES = 1 << 30  # 1 GiB of aligned text; bigger corpora belong in a hub dataset or a store
MAX_LINE_CHARS = 1_000_000  # one aligned row; longer lines are a wrong file, not a long sentence


LINE_BREAK = re.compile(r"\r\n|\r|\n")


def text_lines(text: str) -> list[str]:
    """Lines split at LF, CRLF or CR only. ``str.splitlines`` also splits at U+2028, U+0085 and
    other separators, which JSON strings may hold raw (``json.dumps(..., ensure_ascii=False)``)."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_bytes(path: Path, expect: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """A user file's bytes, read with bounds: a regular file (never a device or a pipe such as /dev/zero)
    of at most ``limit`` bytes. ``expect`` says what the file should have been, in the messages."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise DataError(path, None, f"is not a regular file (a device, pipe or socket); give {expect}")
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
        if len(raw) > limit:
            raise DataError(path, None, f"is over the {limit >> 20:,} MiB limit of {expect}")
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, None, f"is a directory; give {expect}") from None
    except OSError as exc:
        raise DataError(path, None, f"cannot read ({exc.strerror})") from None
    return raw


def read_text(path: Path, expect: str = "a .jsonl, .tsv or .txt file") -> str:
    """A user file's text, read with bounds (``read_bytes``): strict UTF-8, no BOM, no NUL, no line over
    ``MAX_LINE_CHARS``. ``expect`` says what the file should have been, in the messages."""
    raw = read_bytes(path, expect)
    if raw.startswith(b"\xef\xbb\xbf"):
        raise DataError(path, 1, "starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(path, 1, "is UTF-16; save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(path, raw[:nul].count(b"\n") + 1, "contains a NUL byte (binary data, not text)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(path, line, "not valid UTF-8") from None
    for n, line_text in enumerate(text_lines(text), 1):
        if len(line_text) > MAX_LINE_CHARS:
            raise DataError(path, n, f"line is {len(line_text):,} characters, over the {MAX_LINE_CHARS:,} limit")
    return text


def read_json_object(path: Path, expect: str = "a JSON object", *, limit: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """A JSON file that must hold an object, the one reader of semhub's JSON files (run files, cards,
    store manifests, configs, tuned lenses): bounded (``read_bytes``), UTF-8, decoded, and refused in one
    ``DataError`` line naming the file when it is not JSON (``not <expect>``, with the line), nests too
    deeply or is not an object."""
    raw = read_bytes(path, expect, limit)
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(path, None, "unreadable (not UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, f"not {expect} (invalid JSON: {exc.msg})") from None
    except RecursionError:
        raise DataError(path, None, "unreadable (nested too deeply)") from None
    except ValueError as exc:  # an integer beyond Python's digit limit for str -> int
        raise DataError(path, None, f"unreadable (a number Python will not read: {first_line(exc)})") from None
    if not isinstance(value, dict):
        raise DataError(path, None, f"expected a JSON object, got {type(value).__name__}")
    return value


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it replaces ``path`` whole, on failure it
    vanishes. Readers see the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # an output's missing folders (its place was checked first)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # ``.<name>.*.tmp``
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: str | bytes) -> Path:
    """``path`` holding ``data`` (UTF-8 text or bytes), written through ``atomic_file``."""
    with atomic_file(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
    return Path(path)


STAGING = re.compile(r"^\..+\.partial-(\d+)-[^/]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def clean_stale_staging(parent: Path) -> list[Path]:
    """Remove the staging folders that killed processes left in ``parent`` (``.<name>.partial-<pid>-*``
    whose process no longer exists), with a one-line notice; a live process's folder is never touched."""
    removed = []
    for path in parent.glob(".*.partial-*"):
        m = STAGING.match(path.name)
        if not m or path.is_symlink() or not path.is_dir():
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        sys.stderr.write(f"semhub: removed {len(removed)} staging folder(s) left by killed runs in {parent}\n")
    return removed


@contextmanager
def atomic_folder(out: Path, *, replace: bool = False,
                  keep: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``out``; on success it becomes ``out``, on failure it vanishes.

    The one folder writer (run directories, converted models in the cache, tuned lenses): staging
    folders left by killed processes are removed first. ``replace=True`` swaps out an existing ``out``
    (a cache entry rebuilt); otherwise ``out`` must be absent or an empty folder. ``keep(out)`` true at
    the end leaves ``out`` as it is and drops ours: another process finished the same cache entry while
    we built it, and a reader may already be using its files.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    try:
        yield tmp
        if keep is not None and keep(out):
            return
        if replace:
            shutil.rmtree(out, ignore_errors=True)
        elif out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
