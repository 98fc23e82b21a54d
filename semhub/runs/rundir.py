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
from semhub.places import check_out_dir


def default_run_dir(model: str, analysis: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in model.split("/")[-1])
    return Path("runs") / f"{stamp}-{safe}-{analysis}"


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
