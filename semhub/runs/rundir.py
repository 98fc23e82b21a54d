"""Run directories: built in a hidden sibling folder and renamed into place when complete.

A run that fails half-way leaves nothing that looks like a finished run.
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from semhub.errors import SemhubError


def default_run_dir(model: str, analysis: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in model.split("/")[-1])
    return Path("runs") / f"{stamp}-{safe}-{analysis}"


def check_out_dir(out: Path, flag: str = "--out") -> None:
    """Refuse, before any work, a run directory that could not be written or would mix runs: a
    symbolic link (dangling or not), an existing file, a non-empty folder, a path under a file, or
    a folder that cannot be written in. ``flag`` is how the message names it (a command's argument)."""
    out = Path(out)
    if out.is_symlink():
        raise SemhubError(f"{flag}: {out} is a symbolic link; give a plain folder")
    if out.exists() and not out.is_dir():
        raise SemhubError(f"{flag}: {out} already exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise SemhubError(f"{flag}: {out} already exists and is not empty")
    _check_parent(out, flag)


def _check_parent(out: Path, flag: str) -> None:
    """The nearest existing ancestor of ``out`` must be a folder we can write in."""
    parent = out.absolute().parent
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        raise SemhubError(f"{flag}: {parent} is a file (or a broken link), not a folder: cannot create {out}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SemhubError(f"{flag}: cannot write in {parent}")


def check_out_file(out: Path, *, option: str = "out", suffix: str | None = None) -> Path:
    """Refuse, before any work, an output file that could not be written: a symbolic link, a folder,
    a path under a file, or a folder that cannot be written in. Returns the path to write (with
    ``suffix`` added when it has none, so the message names the file actually written)."""
    given = Path(out)
    out = given.with_name(given.name + suffix) if suffix and not given.suffix else given
    flag = "--" + option.replace("_", "-")
    for path in {given, out}:
        if path.is_symlink():
            raise SemhubError(f"{flag}: {path} is a symbolic link; give a plain file")
        if path.is_dir():
            raise SemhubError(f"{flag}: {path} is a folder; give a file name")
    _check_parent(out, flag)
    return out


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
    """Remove the staging folders that killed runs left in ``parent`` (``.<name>.partial-<pid>-*``
    whose process no longer exists), with a one-line notice; a live run's folder is never touched."""
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
def staged_run_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out``, on failure it vanishes."""
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def environment() -> dict[str, Any]:
    import torch
    import transformers

    from semhub import __version__

    return {
        "semhub": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "argv": sys.argv,
    }


def strict(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither), numpy scalars and arrays as Python."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy / torch values
        return strict(value.tolist())
    return value


def dumps(payload: Any) -> str:
    """Strict JSON text as semhub writes it (NaN -> null), identical from the CLI and from Python."""
    return json.dumps(strict(payload), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: Path, payload: Any) -> None:
    path.write_text(dumps(payload), encoding="utf-8")
