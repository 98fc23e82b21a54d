"""Options declared once: a dataclass per analysis, validated in one place.

An analysis declares ``class Options(semhub.Options)`` with ``semhub.option(...)`` fields. The
same names are keywords of ``semhub.analyze(...)`` and flags of ``semhub analyze``
(``max_positions`` -> ``--max-positions``); values from either side go through
``Options.build``, which converts and checks them and names the parameter in its errors.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, get_args, get_origin

from semhub.errors import ParameterError

_NONE = type(None)


SEED_MAX = 2 ** 32 - 1  # numpy's and torch's generators both take seeds up to here


def check_seed(value: Any, parameter: str = "seed") -> int:
    """A seed: an integer from 0 to ``SEED_MAX`` (not a bool), else a ``ParameterError`` naming ``parameter``.
    The one seed check of every entry point (runs, steering seeds, lens training, plugins' generators)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ParameterError(parameter, f"{value!r}: a seed is an integer from 0 to 2**32 - 1")
    return value


def option(default: Any = None, *, help: str, choices: tuple | None = None, min: float | None = None,
           max: float | None = None, flag: str | None = None) -> Any:
    """A declared option: its default, a one-line ``help`` (shown by ``--help``), and optional ``choices``
    or numeric bounds; ``flag`` spells its command-line flag where it differs from ``--name``
    (``n_boot`` -> ``--bootstrap``). A ``list`` default is copied per instance."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "min": min, "max": max, "flag": flag}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionSpec:
    """One declared option as the CLI and the validator see it.

    ``kind`` is the scalar type (``bool``, ``int``, ``float``, ``str`` or ``Path``); ``multiple``
    says the value is a list (a repeatable flag); ``optional`` that ``None`` is allowed.
    """

    name: str
    kind: type
    default: Any
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    multiple: bool = False
    optional: bool = False
    spelled: str | None = None

    @property
    def flag(self) -> str:
        """The command-line flag: ``spelled`` (``option(flag=...)``), else ``--name-with-dashes``."""
        return self.spelled or "--" + self.name.replace("_", "-")

    def convert(self, value: Any) -> Any:
        """A Python value or a CLI string -> the declared type; ``ParameterError`` naming the option."""
        if value is None:
            if self.optional or self.default is None:
                return None
            raise ParameterError(self.name, "may not be None")
        if self.multiple:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise ParameterError(self.name, f"expected a list, got {value!r}")
            return [self._scalar(v) for v in items]
        return self._scalar(value)

    def _scalar(self, value: Any) -> Any:
        kind = self.kind
        try:
            if kind is bool:
                if isinstance(value, bool):
                    out: Any = value
                elif isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                    out = True
                elif isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                    out = False
                else:
                    raise ValueError
            elif kind is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                out = int(value)
            elif kind is float:
                if isinstance(value, bool):
                    raise ValueError
                out = float(value)
                if not math.isfinite(out):  # NaN would pass every bound below (it compares false)
                    raise ParameterError(self.name, f"{value!r} is not a finite number")
            elif kind is Path:
                out = Path(value)
            else:
                if not isinstance(value, str):
                    raise ValueError
                out = value
        except (TypeError, ValueError):
            raise ParameterError(self.name, f"expected {kind.__name__}, got {value!r}") from None
        if self.choices and out not in self.choices:
            raise ParameterError(self.name, f"{out!r} is not one of {', '.join(map(str, self.choices))}")
        if self.min is not None and out < self.min:
            raise ParameterError(self.name, f"{out!r} is below the minimum {self.min:g}")
        if self.max is not None and out > self.max:
            raise ParameterError(self.name, f"{out!r} is above the maximum {self.max:g}")
        return out


def _spec(f: dataclasses.Field, hint: Any) -> OptionSpec:
    optional, multiple, choices = False, False, f.metadata.get("choices")
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not _NONE]
        optional = len(args) < len(get_args(hint))
        hint = args[0] if len(args) == 1 else str
        origin = get_origin(hint)
    if origin in (list, tuple):
        multiple = True
        hint = (get_args(hint) or (str,))[0]
        origin = get_origin(hint)
    if origin is Literal:
        choices = get_args(hint)
        hint = type(choices[0])
    kind = hint if hint in (bool, int, float, str, Path) else str
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None
    return OptionSpec(f.name, kind, default, f.metadata.get("help", ""), choices, f.metadata.get("min"),
                      f.metadata.get("max"), multiple, optional, f.metadata.get("flag"))


@dataclass
class Options:
    """Base of every analysis's options (empty: an analysis without options).

    Subclass it with fields ``name: type = semhub.option(...)`` (it becomes a dataclass, with or
    without ``@dataclass``); type hints decide the
    conversion (``bool``, ``int``, ``float``, ``str``, ``Path``, ``list[...]``, ``Literal[...]``,
    ``X | None``). Override ``check()`` for rules across fields (raise ``ParameterError``).
    """

    @classmethod
    def _dataclass(cls) -> None:
        """A subclass is a dataclass whether or not its author wrote ``@dataclass``."""
        if "__dataclass_fields__" not in cls.__dict__:
            dataclass(cls)

    @classmethod
    def specs(cls) -> list[OptionSpec]:
        cls._dataclass()
        hints = typing.get_type_hints(cls)
        return [_spec(f, hints[f.name]) for f in dataclasses.fields(cls)]

    @classmethod
    def build(cls, values: Mapping[str, Any] | None = None) -> "Options":
        """Validated options from keyword values; unknown names are a ``ParameterError``."""
        values = dict(values or {})
        specs = {s.name: s for s in cls.specs()}
        unknown = [k for k in values if k not in specs]
        if unknown:
            known = ", ".join(specs) or "none"
            raise ParameterError(unknown[0], f"no such option (this analysis takes: {known})")
        obj = cls(**{name: specs[name].convert(value) for name, value in values.items()})
        obj.check()
        return obj

    def check(self) -> None:
        """Rules across fields; raise ``ParameterError(name, problem)``."""

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}
