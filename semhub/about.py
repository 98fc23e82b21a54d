"""semhub's own version, read from the installed metadata on first use (not at import: the CLI starts faster)."""
from __future__ import annotations

from functools import cache


@cache
def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("semhub")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"
