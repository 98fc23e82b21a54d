"""The steering contracts: ``Scorer`` (a measurement of generated continuations), ``SteeringPreset``
(a named vector + settings for ``semhub steer --preset``) and ``Experiment`` (a paper experiment for
``semhub reproduce``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal


class Scorer:
    """Subclass it; ``score`` returns exactly one float per continuation (NaN: undefined for that one).

    Attributes:
        name: how ``--scorer NAME`` and ``SteerSpec.scorers`` pick it; unique across plugins.
        description: one line for ``semhub plugins``.
        default: scored when a steering run names no scorer (the built-in ``perplexity`` and ``relevance`` are).
        reads_target_language: ``score`` uses ``target_language`` (``language``, ``sentiment``); a run that
            gives one while none of its scorers reads it is refused before the model loads.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default: ClassVar[bool] = False
    reads_target_language: ClassVar[bool] = False

    def score(self, generation: "Generation", backbone: "Backbone", *, target_language: str | None = None) -> list[float]:
        """One value per ``generation.continuations`` entry, in order."""
        raise NotImplementedError

    def check(self, *, target_language: str | None = None) -> None:
        """Refuse options it cannot score with (raise ``semhub.ParameterError``), before the model loads."""


@dataclass(frozen=True)
class SteeringPreset:
    """``build(backbone)`` returns ``(SteeringVector, SteerSpec)``: the direction and how to apply it.

    Attributes:
        name: ``semhub steer --preset NAME`` / ``semhub.steer(preset=NAME)``.
        build: called with the loaded backbone; may be slow (it builds the vector).
        description: one line for ``semhub steer --list-presets``.
    """

    name: str
    build: Callable[["Backbone"], "tuple[SteeringVector, SteerSpec]"]
    description: str = ""


@dataclass(frozen=True)
class Experiment:
    """A paper experiment: ``semhub reproduce NAME`` calls ``semhub.analyze`` (``command="analyze"``) or
    ``semhub.steer`` (``command="steer"``) with ``arguments`` as keywords; the user's overrides win.

    Attributes:
        name: ``semhub reproduce NAME``.
        command: ``"analyze"`` or ``"steer"``.
        arguments: keywords of that function, e.g. ``{"analysis": "logit-lens", "views": ["en", "zh"]}``.
        description: one line for ``semhub reproduce --list``.
    """

    name: str
    command: Literal["analyze", "steer"]
    arguments: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.command not in ("analyze", "steer"):
            raise ValueError(f"Experiment {self.name!r}: command must be 'analyze' or 'steer', not {self.command!r}")


def reads_target_language(scorer: Any) -> bool:
    """``scorer.reads_target_language``, False for a scorer that does not declare it."""
    return bool(getattr(scorer, "reads_target_language", Scorer.reads_target_language))
