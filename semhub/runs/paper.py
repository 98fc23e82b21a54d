"""``--paper``: one switch for the paper's code's choices, resolved against what the user gave.

Every run setting ``--paper`` can set defaults to None (not given) in ``semhub.analyze``; this module
fills them from the analysis's ``PaperSetting`` under ``paper=True`` and from semhub's defaults
otherwise, and refuses a given value that contradicts ``--paper`` (naming the parameter).
"""
from __future__ import annotations

from typing import Any

from semhub.contract.analysis import PaperSetting, declared
from semhub.contract.options import Options
from semhub.errors import ParameterError

DEFAULTS: dict[str, Any] = {"pooling": "mean", "center": True, "final_norm": False, "lens_norm": True,
                            "lens": "logit", "dtype": "auto", "bos": True, "template": None}
"""semhub's own defaults for the settings ``--paper`` decides (centred mean pooling, normed lens...)."""


def paper_setting(analysis: Any) -> PaperSetting:
    return declared(analysis, "paper") or PaperSetting()


def resolve(analysis: Any, paper: bool, given: dict[str, Any]) -> dict[str, Any]:
    """The run settings in ``DEFAULTS``: the given ones, then the paper's (``paper``) or semhub's defaults."""
    if not paper:
        return {k: DEFAULTS[k] if given.get(k) is None else given[k] for k in DEFAULTS}
    setting = paper_setting(analysis)
    out = {}
    for name in DEFAULTS:
        wanted = getattr(setting, name)
        value = given.get(name)
        if value is not None and str(value) != str(wanted):
            raise ParameterError(name, f"given as {value!r}, but paper sets it to {wanted!r} for "
                                       f"{getattr(analysis, 'name', 'this analysis')}: drop one of the two")
        out[name] = wanted
    return out


def paper_options(analysis: Any, paper: bool, options: dict[str, Any], opts: Options) -> dict[str, Any] | None:
    """The analysis options with the paper's added, or None when ``--paper`` sets none; a given option
    that contradicts it is an error naming the option."""
    if not paper:
        return None
    wanted = dict(paper_setting(analysis).options)
    if not wanted:
        return None
    for name, value in wanted.items():
        if name in options and str(getattr(opts, name)) != str(value):
            raise ParameterError(name, f"given as {getattr(opts, name)!r}, but paper sets it to {value!r} for "
                                       f"{getattr(analysis, 'name', 'this analysis')}: drop one of the two")
    return {**options, **wanted}
