"""The analysis contract: what ``semhub_register_analyses`` registers.

An analysis reads a ``RunContext`` (the backbone, the data, the views, the layers, the run's
settings, its own typed ``options``, and lazily captured states) and returns a ``Result``.
"""
from __future__ import annotations

from typing import ClassVar

from semhub.contract.options import Options
from semhub.contract.result import Result


class Analysis:
    """Subclass it and set the class attributes; ``run`` does the work.

    Attributes:
        name: how users pick it (``--analysis NAME``, ``semhub.analyze(NAME)``); unique across plugins.
        description: one line for ``semhub plugins`` and the CLI help.
        needs_model: False when ``run`` reads only pooled states (``ctx.states``): the analysis then also
            runs on a finished activation store (``--from-store``), where ``ctx.backbone`` is None.
        input_kinds: the input kinds it reads (``"text"``, ``"audio"``, ``"image"``: a spoke's ``input_kind``);
            at least one view must be of one of them, checked before the model loads; empty = any.
        Options: a ``semhub.Options`` dataclass of its own options (default: none). Each field is a
            keyword of ``semhub.analyze`` and a flag of ``semhub analyze`` (``--field-name``).
        plot_name: the figure's file name (default: the result's ``<key>.png``).
        cross_model: True when ``run`` also reads ``ctx.partner``, the views a second model reads
            (``model_b``, ``--model-b``); other analyses refuse a second model.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_model: ClassVar[bool] = True
    input_kinds: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[Options]] = Options
    plot_name: ClassVar[str] = ""
    cross_model: ClassVar[bool] = False

    def work(self, ctx: "RunContext") -> int | None:
        """Units of work for the progress bar (each ``ctx.on_batch(n)`` advances it by n); None: rows x views."""
        return None

    def run(self, ctx: "RunContext") -> Result:
        """Compute the result; raise ``semhub.SemhubError`` for a problem with the user's input."""
        raise NotImplementedError


def options_class(analysis: object) -> type[Options]:
    """An analysis's ``Options`` class (the empty ``Options`` for one that declares none)."""
    return getattr(analysis, "Options", Options)
