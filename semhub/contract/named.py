"""Named things a plugin registers by value: models (``semhub_register_models``) and datasets
(``semhub_register_datasets``). ``register`` takes these fields as keywords or positionally."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class NamedModel:
    """A model known by a short name (``--model NAME``), resolved only when asked for.

    Attributes:
        name: the short name, unique across plugins.
        resolver: ``resolver()`` returns a ``semhub.ModelSource`` (a local folder, optionally a GGUF file
            in it); it may be slow (unpacking weights), so it runs only when the model is loaded.
        description: one line for ``semhub models``.
    """

    name: str
    resolver: Callable[[], Any]
    description: str = ""


@dataclass(frozen=True)
class NamedDataset:
    """A built-in dataset (``--data NAME``), a file or a recipe.

    Attributes:
        name: the short name, unique across plugins.
        path: an aligned JSONL or TSV file (see the README's data format); None for a recipe.
        description: one line for ``semhub plugins``.
        loader: a recipe: ``loader(views, split, limit)`` returns a ``semhub.AlignedDataset`` (e.g. hub
            tables joined by ``semhub.join_tables``); ``views`` are the run's (None: the recipe's
            default), ``split`` what ``--data NAME@SPLIT`` asked for (None: the recipe's default).
    """

    name: str
    path: Path | None = None
    description: str = ""
    loader: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.loader is None):
            raise ValueError(f"dataset {self.name!r}: give a path or a loader (one of them)")
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))
