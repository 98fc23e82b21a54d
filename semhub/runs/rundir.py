"""Run directories: built in a hidden sibling folder and renamed into place when complete.

A run that fails half-way leaves nothing that looks like a finished run.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from semhub.files import atomic_folder
from semhub.places import check_out_dir


def default_run_dir(model: str, analysis: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in model.split("/")[-1])
    return Path("runs") / f"{stamp}-{safe}-{analysis}"


@contextmanager
def staged_run_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out``, on failure it vanishes (``files.atomic_folder``
    after the checks of a run directory's place)."""
    check_out_dir(out)
    with atomic_folder(out) as tmp:
        yield tmp


def environment() -> dict[str, Any]:
    import torch
    import transformers

    from semhub.about import version

    return {
        "semhub": version(),
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
