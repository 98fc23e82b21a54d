"""Per-language text corpora (``LANG=FILE``), one text per line, for the token -> language table."""
from __future__ import annotations

from pathlib import Path

from semhub.files import read_text, text_lines
from semhub.errors import DataError, ParameterError


def read_corpus(spec: str) -> tuple[str, list[str]]:
    """``"zh=path.txt"`` -> ("zh", lines of the file)."""
    lang, sep, path = spec.partition("=")
    if not sep or not lang or not path:
        raise ParameterError("trend_corpus", f"expected LANG=FILE, got {spec!r}")
    lines = [line.strip() for line in text_lines(read_text(Path(path))) if line.strip()]
    if not lines:
        raise DataError(path, None, "corpus is empty")
    return lang, lines
