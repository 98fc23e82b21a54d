"""What the loaded plugins contributed: spokes, model families, named models, analyses, datasets,
dictionaries, scorers, steering presets and experiments.

Each table is built once from its hook and cached (``reset()`` forgets them). Each plugin's
implementation is called on its own: one that raises or registers something of the wrong shape is
dropped whole (recorded once as failed, unregistered, every table rebuilt without it); a name another
plugin registered first is refused, naming both; the other plugins are unaffected. Model families and
dictionaries are parsed by the layers that own them (backbone/registry.py, data/dictionary.py) from
``sources``. Lookups raise one
line listing the known names, and say when a plugin failed to load.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Iterator

from semhub.contract.analysis import Analysis
from semhub.contract.named import NamedDataset, NamedModel
from semhub.contract.spoke import Spoke
from semhub.contract.steering import Experiment, SteeringPreset
from semhub.errors import SemhubError
from semhub.plugins import manager
from semhub.plugins.manager import load_plugins, pm, record_failure


@dataclass(frozen=True)
class Kind:
    """How one hook's registrations become table entries: ``build(*args, **kwargs)`` makes the entry,
    ``check(entry)`` returns a problem or None."""

    hook: str
    label: str
    build: Callable[..., Any]
    check: Callable[[Any], str | None] = lambda entry: None


def _instance(obj: Any) -> Any:
    return obj() if isinstance(obj, type) else obj


def _one(*args: Any, **kwargs: Any) -> Any:
    if kwargs or len(args) != 1:
        raise TypeError(f"register() takes one object here, got {len(args)} positional and {len(kwargs)} keyword arguments")
    return _instance(args[0])


def _build(cls: type) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], cls):
            return args[0]
        return cls(*args, **kwargs)
    return build


def _needs(*attrs: str) -> Callable[[Any], str | None]:
    def check(entry: Any) -> str | None:
        missing = [a for a in attrs if not getattr(entry, a, None)]
        return f"{type(entry).__name__} lacks {', '.join(missing)}" if missing else None
    return check


def _check_spoke(entry: Any) -> str | None:
    if not isinstance(entry, Spoke):
        return f"{type(entry).__name__} does not follow semhub.Spoke (needs name, modality, claims, validate, length_hint, encode)"
    return None


def _check_analysis(entry: Any) -> str | None:
    problem = _needs("name", "run")(entry)
    options = getattr(entry, "Options", Analysis.Options)
    if problem is None and not (isinstance(options, type) and hasattr(options, "specs")):
        problem = f"{type(entry).__name__}.Options is not a semhub.Options dataclass"
    return problem


SPOKES = Kind("semhub_register_spokes", "spoke", _one, _check_spoke)
ANALYSES = Kind("semhub_register_analyses", "analysis", _one, _check_analysis)
SCORERS = Kind("semhub_register_scorers", "scorer", _one, _needs("name", "score"))
LENSES = Kind("semhub_register_lenses", "lens", _one, _needs("name", "build"))
MODELS = Kind("semhub_register_models", "named model", _build(NamedModel))
DATASETS = Kind("semhub_register_datasets", "dataset", _build(NamedDataset))
PRESETS = Kind("semhub_register_steering_presets", "steering preset", _build(SteeringPreset))
EXPERIMENTS = Kind("semhub_register_experiments", "experiment", _build(Experiment))

OWNERS: dict[tuple[str, str], str] = {}  # (hook, registered name) -> the plugin that registered it

TABLES: list[Any] = []  # every cached lookup table, cleared together; a layer above adds its own with ``table``


def table(fn: Callable[[], Any]) -> Any:
    """Cache a lookup table built from registrations and clear it with the others (``reset``, a dropped
    plugin). Used here and by the layers that own a kind of registration (model families, dictionaries)."""
    cached = cache(fn)
    TABLES.append(cached)
    return cached


def call_isolated(hook_name: str, observe: Callable[[], set[str]] | None = None, **kwargs: Any) -> None:
    """Call each plugin's implementation of ``hook_name`` on its own: one that raises is dropped whole
    (``drop``), the others still run. ``observe()`` names what exists (e.g. the CLI's commands): what a
    plugin's call added is recorded as registered by it."""
    load_plugins()
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        before = observe() if observe else set()
        try:
            impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
        except Exception as exc:  # a broken plugin must not break the others
            drop(impl.plugin_name, impl.plugin, exc, hook_name)
            continue
        for name in (observe() - before) if observe else ():
            OWNERS[(hook_name, name)] = impl.plugin_name


ON_DROP: list[Callable[[list[tuple[str, str]]], None]] = []
"""Called with the (hook, name) pairs a dropped plugin had registered: a layer above that holds some of
them outside the tables (the CLI's commands) removes them."""


def drop(plugin_name: str, plugin: Any, exc: BaseException, hook: str) -> None:
    """A plugin whose hook failed: recorded once as failed (the hook, the file:line), unregistered whole,
    and every table rebuilt without it, so nothing it registered through another hook stays behind."""
    record_failure(plugin_name, plugin, exc, hook)
    if pm.get_plugin(plugin_name) is not None:
        pm.unregister(name=plugin_name)
    owned = [k for k, owner in OWNERS.items() if owner == plugin_name]
    for listener in ON_DROP:
        listener(owned)
    for key in owned:
        del OWNERS[key]
    for fn in TABLES:
        fn.cache_clear()


def _registrations(hook: str, build: Callable[..., Any] = _one, check: Callable[[Any], str | None] = lambda e: None,
                   label: str = "object") -> Iterator[tuple[Any, list[Any]]]:
    """(hook implementation, what it registered) per plugin, in registration order (the default plugins
    first). A plugin whose call raises or registers something ``check`` refuses is recorded as a failure
    and yields nothing: nothing half-registered is kept."""
    load_plugins()
    for impl in getattr(pm.hook, hook).get_hookimpls():
        mine: list[Any] = []
        try:
            impl.function(register=lambda *args, **kwargs: mine.append(build(*args, **kwargs)))
            for entry in mine:
                problem = check(entry)
                if problem:
                    raise TypeError(f"registered {label}: {problem}")
        except Exception as exc:  # a broken plugin must not break the others
            drop(impl.plugin_name, impl.plugin, exc, hook)
            continue
        yield impl, mine


def _collect(kind: Kind) -> dict[str, Any]:
    """name -> entry for one hook; the first plugin to register a name keeps it (built-ins load first)."""
    table: dict[str, Any] = {}
    for impl, mine in _registrations(kind.hook, kind.build, kind.check, kind.label):
        for entry in mine:
            name = str(entry.name)
            first = OWNERS.get((kind.hook, name))
            if name in table:
                record_failure(impl.plugin_name, impl.plugin,
                               SemhubError(f"{kind.label} {name!r} is already registered by plugin {first}; "
                                           f"plugin {impl.plugin_name}'s is refused"), kind.hook)
                continue
            OWNERS[(kind.hook, name)] = impl.plugin_name
            table[name] = entry
    return table


def owner(hook_name: str, name: str) -> str:
    """The plugin that registered ``name`` through ``hook_name`` (for error messages)."""
    return OWNERS.get((hook_name, name), "unknown plugin")


@table
def spokes() -> dict[str, Any]:
    return _collect(SPOKES)


@table
def analyses() -> dict[str, Any]:
    return _collect(ANALYSES)


@table
def scorers() -> dict[str, Any]:
    return _collect(SCORERS)


@table
def lenses() -> dict[str, Any]:
    return _collect(LENSES)


@table
def steering_presets() -> dict[str, SteeringPreset]:
    return _collect(PRESETS)


@table
def experiments() -> dict[str, Experiment]:
    return _collect(EXPERIMENTS)


@table
def models() -> dict[str, NamedModel]:
    return _collect(MODELS)


@table
def datasets() -> dict[str, NamedDataset]:
    return _collect(DATASETS)


def sources(hook: str) -> list[tuple[str, Any, Any]]:
    """(plugin name, plugin, value) for plain values (paths, dicts) registered through ``hook``; the layer
    that owns such values (backbone/registry.py: families; data/dictionary.py: dictionaries) parses them."""
    return [(impl.plugin_name, impl.plugin, value) for impl, mine in _registrations(hook) for value in mine]


def load_all() -> None:
    """Build every table, so that every registration failure is known (``semhub plugins``). A table built
    later may drop a plugin (clearing the tables built before it): repeat until none is dropped."""
    while True:
        dropped = len(manager.failures)
        for built in list(TABLES):
            try:
                built()
            except SemhubError as exc:  # e.g. a plugin's malformed dictionary file
                manager.failures.append(manager.PluginFailure("?", "?", str(exc), built.__name__))
        if len(manager.failures) == dropped:
            return


def registered() -> dict[str, dict[str, list[str]]]:
    """plugin -> hook -> the names it registered (``semhub plugins --json``), after ``load_all``."""
    out: dict[str, dict[str, list[str]]] = {}
    for (hook, name), plugin in sorted(OWNERS.items()):
        out.setdefault(plugin, {}).setdefault(hook, []).append(name)
    return out


def clear_cache() -> None:
    for fn in TABLES:
        fn.cache_clear()
    OWNERS.clear()


def register_plugin(plugin: Any, name: str) -> str:
    """Register ``plugin`` (a module, class or object with ``@semhub.hookimpl`` functions) in this process,
    beside the installed plugins: how a notebook or a script tries a plugin before packaging it. Its
    registrations are checked as an installed plugin's are (a failing hook drops it, `semhub plugins`
    says why). Returns ``name``; a name already taken is refused."""
    manager.load_plugins()
    if not isinstance(name, str) or not name:
        raise SemhubError("register_plugin: name must be a non-empty string")
    if manager.pm.get_plugin(name) is not None:
        raise SemhubError(f"register_plugin: a plugin named {name!r} is already registered "
                          "(unregister_plugin it first, or pick another name)")
    manager.pm.register(plugin, name=name)
    manager.pm.check_pending()
    clear_cache()
    return name


def unregister_plugin(name: str) -> None:
    """Remove a plugin ``register_plugin`` added (or any loaded one) and forget the tables built with it."""
    if manager.pm.get_plugin(name) is None:
        raise SemhubError(f"unregister_plugin: no plugin named {name!r} is registered")
    manager.pm.unregister(name=name)
    clear_cache()


def reset() -> None:
    """Forget the loaded plugins and every table (tests, or after changing ``SEMHUB_LOAD_PLUGINS``)."""
    manager.unload()
    clear_cache()


def failure_note() -> str:
    """``" (N plugin(s) failed to load: ...; see `semhub plugins`)"`` or ``""``: appended to "unknown X"."""
    if not manager.failures:
        return ""
    names = ", ".join(sorted({f.name for f in manager.failures}))
    return f"; note: {len(manager.failures)} plugin failure(s) ({names}), see `semhub plugins`"


def lookup(kind: str, table: dict[str, Any], name: str) -> Any:
    """``table[name]`` or a one-line error listing the choices (and any plugin failures)."""
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none loaded"
        raise SemhubError(f"unknown {kind} {name!r} (known: {known}){failure_note()}") from None


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
    raise SemhubError(f"no spoke handles view {view!r} (loaded spokes: {known}; see `semhub plugins`){failure_note()}")


def spoke_of(modality: str) -> Any | None:
    """The first loaded spoke of ``modality``, or None."""
    return next((s for s in spokes().values() if s.modality == modality), None)


def declared(modality: str, attr: str) -> str | None:
    """The first spoke of ``modality`` that declares ``attr`` (``default_model``, ``default_dataset``)."""
    return next((getattr(s, attr) for s in spokes().values() if s.modality == modality and getattr(s, attr, None)), None)


def default_model(modality: str = "text") -> str | None:
    """The model a modality runs on by default: its spoke's ``default_model``; a tokenizer-based spoke
    (code, arithmetic...) without one runs on the text spoke's default language model."""
    own = declared(modality, "default_model")
    if own or getattr(spoke_of(modality), "input_kind", "text") != "text":
        return own
    return declared("text", "default_model")
