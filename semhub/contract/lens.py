"""The lens contract: a read-out of hidden states through the unembedding that users pick with
``--lens NAME`` (``lens=`` in ``semhub.analyze``), registered with ``semhub_register_lenses``.

Every lens analysis reads states through ``ctx.lens`` (a ``semhub.Lens``), so a new lens serves the
dictionary lens, language trends, the code, arithmetic, audio and image lenses at once.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class LensKind:
    """Subclass it and implement ``build``.

    Attributes:
        name: how users pick it (``--lens NAME``); unique across plugins.
        description: one line for ``semhub plugins``.
        needs_path: True when it reads trained parameters (``--lens-path DIR``, or a default
            location it finds itself in ``build``).
        takes_norm: False when it always applies the final norm (``--no-lens-norm`` is then refused).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_path: ClassVar[bool] = False
    takes_norm: ClassVar[bool] = True

    def check(self, path: Path | None) -> None:
        """Validate ``path`` before the model loads (raise ``semhub.ParameterError`` naming ``lens_path``)."""

    def build(self, backbone: Any, *, norm: bool, path: Path | None) -> Any:
        """The ``semhub.Lens`` (or subclass) for ``backbone``."""
        raise NotImplementedError
