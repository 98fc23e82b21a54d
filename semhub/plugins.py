"""The plugin manager: entry-point discovery, the load filter, and the failure log.

First-party plugins in ``plugins/`` are found through the same ``semhub`` entry-point
group as third-party packages, so the core never imports a spoke by name.
"""
from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points

import pluggy

from semhub import hookspecs

ENTRY_POINT_GROUP = "semhub"
LOAD_ENV = "SEMHUB_LOAD_PLUGINS"
# The core's own hook implementations: always loaded, whatever the filter says.
DEFAULT_PLUGINS = ("semhub.analyses",)

pm = pluggy.PluginManager("semhub")
pm.add_hookspecs(hookspecs)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported (``hook`` empty) or whose hook raised: reported by
    ``semhub plugins``, never fatal to the other plugins."""

    name: str
    module: str
    error: str
    hook: str = ""


def record_failure(name: str, plugin: object, exc: BaseException, hook: str = "") -> None:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    failure = PluginFailure(name, getattr(plugin, "__name__", str(plugin)), last, hook)
    if failure not in failures:
        failures.append(failure)


_loaded = False
failures: list[PluginFailure] = []


def _allowed() -> set[str] | None:
    raw = os.environ.get(LOAD_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_plugins() -> None:
    """Import every allowed entry point once; idempotent and cheap after the first call."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in DEFAULT_PLUGINS:
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(name), name=name)
    allowed = _allowed()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else ""
        if allowed is not None and not ({ep.name, ep.module, dist} & allowed):
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = importlib.import_module(ep.module)
        except Exception as exc:  # a broken plugin must not break the others
            record_failure(ep.name, ep.module, exc)
            continue
        pm.register(module, name=ep.name)
    pm.check_pending()


def reset() -> None:
    """Forget what was loaded (tests, or after changing ``SEMHUB_LOAD_PLUGINS``)."""
    global _loaded
    for name, plugin in list(pm.list_name_plugin()):
        if plugin is not hookspecs:
            pm.unregister(name=name)
    failures.clear()
    _loaded = False
    from semhub import catalog

    catalog.clear_cache()


def plugin_summaries() -> list[dict]:
    """One record per loaded plugin, with the hooks it implements (for ``semhub plugins``)."""
    load_plugins()
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda p: p[0]):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        if not hooks:
            continue
        rows.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)), "hooks": hooks})
    return rows
