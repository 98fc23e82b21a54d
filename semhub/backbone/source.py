"""ModelSource: where a named model's files are (a folder, optionally a GGUF file in it), resolved only
when the model is loaded."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from semhub.errors import SemhubError


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are: a directory, optionally one GGUF file inside it.

    ``fetch`` may stand in for ``path``: it produces the directory (e.g. assembles a GGUF
    from chunk packages and checks its SHA-256) and is skipped when a de-quantised copy
    keyed by ``sha256`` is already cached.
    """

    path: Path | None = None
    gguf_file: str | None = None
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    fetch: Callable[[], Path] | None = None

    def directory(self) -> Path:
        if self.path is not None:
            return self.path
        if self.fetch is None:
            raise SemhubError("model source has neither a path nor a fetch function")
        return Path(self.fetch())
