"""Progress: the one interface every entry point reports to (the CLI draws a bar; the default ignores it)."""
from __future__ import annotations


class Progress:
    """Receives progress from ``analyze``, ``steer``, ``patchscope``, ``train_lens`` and ``profile``.

    Subclass it (or pass any object with these three methods); every method may be left as is.
    """

    def start(self, label: str, total: int | None) -> None:
        """A phase begins with ``total`` units (None: unknown)."""

    def advance(self, n: int) -> None:
        """``n`` more units are done."""

    def note(self, text: str) -> None:
        """A line worth showing (a steering setting finished, a training step's loss)."""
