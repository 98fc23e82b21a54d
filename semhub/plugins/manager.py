"""The plugin manager: the default plugins, entry-point discovery, the load filter, the failure log.

semhub's own plugins (``DEFAULT_PLUGINS``: the built-in analyses, the text spoke, the embedded
models, the multilingual sample, the scorers) are registered first, exactly like external ones;
then every ``semhub`` entry point, by name. A plugin that fails to import is recorded with the
file and line of the error and shown by ``semhub plugins``; the rest load.
"""
from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points

import pluggy

from semhub.plugins import hookspecs

ENTRY_POINT_GROUP = "semhub"
LOAD_ENV = "SEMHUB_LOAD_PLUGINS"
# The core's own analyses: always loaded, whatever SEMHUB_LOAD_PLUGINS says.
CORE_PLUGINS = {"semhub.analyses": "semhub.default_plugins.analyses", "semhub.lenses": "semhub.default_plugins.lenses"}
# Plugins inside the library (as simonw/llm's DEFAULT_PLUGINS), loaded first, by these names;
# SEMHUB_LOAD_PLUGINS filters them like entry points.
DEFAULT_PLUGINS = {
    "text": "semhub.default_plugins.text",
    "embedded_models": "semhub.default_plugins.embedded_models",
    "multilingual_sample": "semhub.default_plugins.multilingual_sample",
    "scorers": "semhub.default_plugins.scorers",
}

pm = pluggy.PluginManager("semhub")
pm.add_hookspecs(hookspecs)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported (``hook`` empty) or whose hook failed.

    Attributes:
        name: the plugin (entry-point name or module).
        module: its module.
        error: the one-line error.
        hook: the hook that failed, empty for an import failure.
        where: ``file:line`` of the error (a syntax error's own line), when known.
        traceback: the full traceback (printed with ``SEMHUB_DEBUG=1``).
    """

    name: str
    module: str
    error: str
    hook: str = ""
    where: str = ""
    traceback: str = ""

    def to_dict(self) -> dict[str, str]:
        out = asdict(self)
        out.pop("traceback")
        return out


failures: list[PluginFailure] = []
_loaded = False


MACHINERY = os.path.dirname(os.path.abspath(__file__)) + os.sep  # semhub/plugins: the manager and the catalog


def error_location(exc: BaseException) -> str:
    """``file:line`` of a syntax error itself, else of the innermost frame outside the plugin machinery
    and generated code (``<frozen ...>``, a dataclass's ``<string>``): where the plugin raised."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<") and not os.path.abspath(f.filename).startswith(MACHINERY)]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def record_failure(name: str, plugin: object, exc: BaseException, hook: str = "") -> None:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, SyntaxError):
        last = f"SyntaxError: {exc.msg}"
    failure = PluginFailure(name, getattr(plugin, "__name__", str(plugin)), last, hook, error_location(exc),
                            "".join(traceback.format_exception(exc)))
    if all((f.name, f.error, f.hook) != (failure.name, failure.error, failure.hook) for f in failures):
        failures.append(failure)
        if os.environ.get("SEMHUB_DEBUG"):
            import sys

            print(f"semhub: plugin {name} failed{' in ' + hook if hook else ' to load'}:\n{failure.traceback}",
                  file=sys.stderr)


def _allowed() -> set[str] | None:
    raw = os.environ.get(LOAD_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_plugins() -> None:
    """Import the default plugins and every allowed entry point once; cheap after the first call."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    allowed = _allowed()
    for name, module in {**CORE_PLUGINS, **DEFAULT_PLUGINS}.items():
        if name in DEFAULT_PLUGINS and allowed is not None and not ({name, module} & allowed):
            continue
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(module), name=name)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else ""
        if allowed is not None and not ({ep.name, ep.module, dist} & allowed):
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = importlib.import_module(ep.module)
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not break the others
            record_failure(ep.name, ep.module, exc)
            continue
    pm.check_pending()


def unload() -> None:
    """Unregister every plugin and forget the failures (``catalog.reset`` also clears the tables)."""
    global _loaded
    for name, plugin in list(pm.list_name_plugin()):
        if plugin is not hookspecs:
            pm.unregister(name=name)
    failures.clear()
    _loaded = False


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
