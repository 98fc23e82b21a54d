"""The base of every ingredient: a typed spec an entry point takes, declared once with ``semhub.option``
fields (the same declaration the CLI turns into its shared flags), built from a spec or from keywords."""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from semhub.contract.options import Options
from semhub.errors import ParameterError

S = TypeVar("S", bound="Ingredient")


class Ingredient(Options):
    """A spec: ``semhub.option`` fields with defaults and help, ``check()`` before anything loads.

    Entry points take a spec or, as a convenience, its fields as keywords: ``gather`` builds one from
    either (a spec and a keyword for one of its fields together is an error naming the keyword).
    """

    main: Any = None  # the field a plain value stands for: ModelSpec.of("gpt2") is ModelSpec(model="gpt2")

    @classmethod
    def names(cls) -> list[str]:
        return [s.name for s in cls.specs()]

    @classmethod
    def of(cls: type[S], value: Any = None, keywords: dict[str, Any] | None = None) -> S:
        """``value`` (a spec of this kind, or a plain value for its main field) and this spec's fields popped
        from ``keywords`` (a caller's ``**keywords``), as one spec."""
        mine = {k: keywords.pop(k) for k in cls.names() if keywords is not None and k in keywords}
        if isinstance(value, cls):
            if mine:
                raise ParameterError(next(iter(mine)), f"give it inside the {cls.__name__} or as a keyword, not both")
            return value
        if value is not None:
            if cls.main is None or cls.main in mine:
                raise ParameterError(cls.main or cls.__name__, f"expected a {cls.__name__}, got {value!r}")
            mine[cls.main] = value
        return cls(**mine)

    def replace(self: S, **changes: Any) -> S:
        return dataclasses.replace(self, **changes)

    def given(self) -> dict[str, Any]:
        """The fields as the manifest records them (paths as strings)."""
        return self.to_dict()
