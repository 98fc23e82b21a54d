"""What the loaded plugins contributed: spokes, model families, named models, analyses, datasets.

Each table is built once from the hooks and cached; ``semhub.plugins.reset()`` clears it.
Lookups raise ``SemhubError`` with the known names, so a typo gets a helpful one-liner.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable

from semhub.errors import SemhubError
from semhub.plugins import load_plugins, pm, record_failure


@dataclass(frozen=True)
class NamedModel:
    """A model known by a short name (e.g. the embedded default), resolved lazily."""

    name: str
    resolver: Callable[[], Any]
    description: str


@dataclass(frozen=True)
class NamedDataset:
    name: str
    path: Path
    description: str


OWNERS: dict[tuple[str, str], str] = {}  # (hook, registered name) -> the plugin that registered it


def call_isolated(hook_name: str, **kwargs: Any) -> None:
    """Call each plugin's implementation of a hook on its own, in pluggy's order: one that raises
    is recorded as a failure naming the plugin and the hook (``semhub plugins`` shows it), and
    nothing it registered in that call is kept; the other plugins are unaffected."""
    load_plugins()
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):  # pluggy calls the last registered first
        try:
            impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
        except Exception as exc:  # a broken plugin must not break the others
            record_failure(impl.plugin_name, impl.plugin, exc, hook_name)


def _collect(hook_name: str) -> list[tuple]:
    items: list[tuple] = []
    load_plugins()
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        mine: list[tuple] = []
        try:
            impl.function(register=lambda *args: mine.append(args))
        except Exception as exc:  # registration failed: keep nothing half-registered from this plugin
            record_failure(impl.plugin_name, impl.plugin, exc, hook_name)
            continue
        for args in mine:
            OWNERS[(hook_name, str(getattr(args[0], "name", args[0])))] = impl.plugin_name
        items.extend(mine)
    return items


def owner(hook_name: str, name: str) -> str:
    """The plugin that registered ``name`` through ``hook_name`` (for error messages)."""
    return OWNERS.get((hook_name, name), "unknown plugin")


@cache
def spokes() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (spoke,) in _collect("semhub_register_spokes"):
        out[spoke.name] = spoke
    return out


@cache
def analyses() -> dict[str, Any]:
    return {a.name: a for (a,) in _collect("semhub_register_analyses")}


@cache
def scorers() -> dict[str, Any]:
    return {s.name: s for (s,) in _collect("semhub_register_scorers")}


@cache
def steering_presets() -> dict[str, tuple]:
    return {args[0]: args for args in _collect("semhub_register_steering_presets")}


@cache
def experiments() -> dict[str, tuple]:
    return {args[0]: args for args in _collect("semhub_register_experiments")}


@cache
def models() -> dict[str, NamedModel]:
    return {args[0]: NamedModel(*args) for args in _collect("semhub_register_models")}


@cache
def datasets() -> dict[str, NamedDataset]:
    return {args[0]: NamedDataset(args[0], Path(args[1]), args[2]) for args in _collect("semhub_register_datasets")}


@cache
def dictionaries() -> list[Any]:
    from semhub.data.dictionary import load_dictionary

    return [load_dictionary(args[0]) for args in _collect("semhub_register_dictionaries")]


def family_sources() -> list[Any]:
    return [args[0] for args in _collect("semhub_register_model_families")]


def clear_cache() -> None:
    for fn in (spokes, analyses, models, datasets, dictionaries, scorers, steering_presets, experiments):
        fn.cache_clear()
    from semhub import registry

    registry.families.cache_clear()


def lookup(kind: str, table: dict[str, Any], name: str) -> Any:
    """``table[name]`` or a one-line error listing the choices."""
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none loaded"
        raise SemhubError(f"unknown {kind} {name!r} (known: {known})") from None


def spoke_for_view(view: str) -> Any:
    """The spoke that claims a view name (``en`` -> text, ``audio_es`` -> audio)."""
    table = spokes()
    prefix = view.split("_", 1)[0]
    if prefix in table and "_" in view:
        return table[prefix]
    for spoke in table.values():
        if spoke.claims(view):
            return spoke
    known = ", ".join(sorted(table)) or "none loaded"
    raise SemhubError(f"no spoke handles view {view!r} (loaded spokes: {known}; see `semhub plugins`)")
