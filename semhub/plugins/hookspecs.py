"""The hooks a semhub plugin can implement (entry-point group ``semhub``).

Every hook receives a ``register`` callback so one plugin can contribute several objects,
in the style of simonw/llm. Implementations may accept a subset of the arguments.
Each hook is documented in ``docs/plugins.md`` (a test enforces it).
"""
from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("semhub")
hookimpl = pluggy.HookimplMarker("semhub")


@hookspec
def semhub_register_spokes(register: Callable) -> None:
    """Register spokes: ``register(spoke)`` with an object following ``semhub.Spoke``."""


@hookspec
def semhub_register_model_families(register: Callable) -> None:
    """Register registry entries: ``register(path_or_dict)`` with a TOML file path or a dict."""


@hookspec
def semhub_register_models(register: Callable) -> None:
    """Register named models: ``register(name, resolver, description)``.

    ``resolver()`` returns a ``semhub.ModelSource`` (a local path, optionally a GGUF file
    inside it); it runs only when the model is asked for, so it may be slow.
    """


@hookspec
def semhub_register_analyses(register: Callable) -> None:
    """Register analyses: ``register(analysis)`` with an object following ``semhub.Analysis``."""


@hookspec
def semhub_register_lenses(register: Callable) -> None:
    """Register lenses: ``register(lens_kind)`` with a ``semhub.LensKind`` (``--lens NAME``)."""


@hookspec
def semhub_register_datasets(register: Callable) -> None:
    """Register built-in datasets: ``register(name, path, description)`` with an aligned JSONL/TSV path."""


@hookspec
def semhub_register_dictionaries(register: Callable) -> None:
    """Register bilingual dictionaries: ``register(path)`` with a TSV whose header names the two languages."""


@hookspec
def semhub_register_scorers(register: Callable) -> None:
    """Register steering scorers: ``register(scorer)``; ``scorer.score(generation, backbone, **options)``
    returns one float per continuation (see docs/plugins.md)."""


@hookspec
def semhub_register_steering_presets(register: Callable) -> None:
    """Register steering presets: ``register(name, build, description)``; ``build(backbone)`` returns
    ``(SteeringVector, SteerSpec)`` for ``semhub steer --preset name``."""


@hookspec
def semhub_register_experiments(register: Callable) -> None:
    """Register a paper experiment for ``semhub reproduce``: ``register(name, argv, description)``,
    where ``argv`` is a ``semhub`` command line (e.g. ``["analyze", "--analysis", "logit-lens"]``)."""


@hookspec
def semhub_register_commands(cli) -> None:
    """Add click commands to the ``semhub`` command group: ``cli.add_command(...)``."""
