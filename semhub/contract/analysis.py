"""The analysis contract: what ``semhub_register_analyses`` registers.

An analysis reads a ``RunContext`` (the backbone, the data, the views, the layers, the run's
settings, its own typed ``options``, and lazily captured states) and returns a ``Result``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from semhub.contract.options import Options
from semhub.contract.result import Result


@dataclass(frozen=True)
class PaperSetting:
    """What ``--paper`` (``paper=True``) sets for an analysis: the choices of the paper's own code
    (ZhaofengWu/semantic-hub). A setting the user also gives with another value is an error naming
    both, never a silent override.

    Attributes:
        pooling: the state read per input ("last": the last token).
        center: subtract each view's mean state (False: raw vectors, as Eq. 1 is implemented).
        drop_embeddings: layers 1..L (the embedding output hs[0] is not an analysis layer).
        final_norm: the last layer is HF's post-norm ``hidden_states[L]``.
        lens_norm: the lens applies the final norm below the last layer (False: the raw lens).
        lens: the lens (the paper reads the logit lens only).
        dtype: the weights' precision (the paper's text models load in float32).
        bos: prepend BOS (the multilingual lens tokenizes without it).
        template: the text template (``semhub.data.templates``): "paper" for the similarity's suffix.
        options: the analysis's own options it sets (the logit lens: ``{"sites": "words"}``).
    """

    pooling: str = "last"
    center: bool = False
    drop_embeddings: bool = True
    final_norm: bool = True
    lens_norm: bool = False
    lens: str = "logit"
    dtype: str = "float32"
    bos: bool = True
    template: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)



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
        paper: what ``--paper`` sets for it (``PaperSetting``; default: the paper's common choices).
        min_views: the fewest views it reads (2: it compares the first with the others; 1: a lens
            or probe that reads one view), checked before the model loads.
        controls: the controls ``--controls`` runs for it: ``"romanised"`` (the run adds ``<lang>_latn``
            for each non-Latin text view, compared like any other view) and the ones it computes itself
            from ``ctx.calibration`` (``"length"``: shuffles within length bins); empty: ``--controls`` is
            refused for it.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_model: ClassVar[bool] = True
    input_kinds: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[Options]] = Options
    plot_name: ClassVar[str] = ""
    cross_model: ClassVar[bool] = False
    paper: ClassVar[PaperSetting] = PaperSetting()
    min_views: ClassVar[int] = 2
    controls: ClassVar[tuple[str, ...]] = ()

    def check(self, settings: "RunSettings", options: Options) -> None:
        """Refuse a run before the model loads: ``settings`` are the run's shared settings (``RunSettings``:
        pooling, center, lens, limit, seed...), ``options`` this analysis's own. Raise
        ``semhub.ParameterError(name, problem)`` naming the setting; the default accepts every run."""

    def work(self, ctx: "RunContext") -> int | None:
        """Units of work for the progress bar (each ``ctx.on_batch(n)`` advances it by n); None: rows x views."""
        return None

    def run(self, ctx: "RunContext") -> Result:
        """Compute the result; raise ``semhub.SemhubError`` for a problem with the user's input."""
        raise NotImplementedError


def declared(analysis: object, name: str) -> Any:
    """``analysis.<name>``, or the default ``Analysis`` declares for it: the one reading of an optional
    attribute, so an analysis registered without subclassing ``Analysis`` gets the same defaults (methods
    such as ``check`` and ``work`` come bound to it)."""
    if hasattr(analysis, name):
        return getattr(analysis, name)
    default = getattr(Analysis, name)
    return default.__get__(analysis) if callable(default) and not isinstance(default, type) else default


def options_class(analysis: object) -> type[Options]:
    """An analysis's ``Options`` class (the empty ``Options`` for one that declares none)."""
    return declared(analysis, "Options")
