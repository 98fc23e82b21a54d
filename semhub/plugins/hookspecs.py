"""The hooks a semhub plugin can implement (entry-point group ``semhub``).

Every hook receives a ``register`` callback (``semhub_register_commands``: the click group) so one
plugin can contribute several objects, in the style of simonw/llm; ``register`` takes the object, or
its fields as keywords. The catalog (``semhub.plugins.catalog``) calls each plugin's implementation on
its own: one that raises or registers something of the wrong shape is unregistered whole and listed
once by ``semhub plugins``, naming the hook and the file:line. Each hook is documented in
``docs/plugins/hooks.md`` (a test enforces it).
"""
from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("semhub")
hookimpl = pluggy.HookimplMarker("semhub")


@hookspec
def semhub_register_spokes(register: Callable) -> None:
    """Register spokes: ``register(spoke)`` with an object following the ``semhub.Spoke`` protocol (its
    optional attributes and their defaults: ``semhub.contract.spoke.OPTIONAL``)."""


@hookspec
def semhub_register_model_families(register: Callable) -> None:
    """Register model families: ``register(path_or_dict)`` with a registry TOML file's path or its dict
    (docs/registry.md); parsed by ``semhub.backbone.registry``. A name already registered is refused."""


@hookspec
def semhub_register_models(register: Callable) -> None:
    """Register named models: ``register(name, resolver, description)``.

    ``resolver()`` returns a ``semhub.ModelSource`` (a local path, optionally a GGUF file
    inside it); it runs only when the model is asked for, so it may be slow.
    """


@hookspec
def semhub_register_analyses(register: Callable) -> None:
    """Register analyses: ``register(analysis)`` with a ``semhub.Analysis`` (subclass instance, or the class:
    it is instantiated); it needs ``name`` and ``run``, and its ``Options`` must be a ``semhub.Options``."""


@hookspec
def semhub_register_lenses(register: Callable) -> None:
    """Register lenses: ``register(lens_kind)`` with a ``semhub.LensKind`` (``--lens NAME``)."""


@hookspec
def semhub_register_datasets(register: Callable) -> None:
    """Register built-in datasets (``--data NAME``): ``register(name, path=..., description=...)`` with an
    aligned JSONL/TSV file, or ``register(name, loader=..., description=...)`` with a recipe
    (``semhub.NamedDataset``)."""


@hookspec
def semhub_register_dictionaries(register: Callable) -> None:
    """Register bilingual dictionaries: ``register(path)`` with a TSV whose header names the two languages,
    or a CC-CEDICT file; parsed by ``semhub.data.dictionary``."""


@hookspec
def semhub_register_scorers(register: Callable) -> None:
    """Register steering scorers: ``register(scorer)``; ``scorer.score(generation, backbone, *, target_language=None)``
    returns one float per continuation (see docs/plugins/hooks.md)."""


@hookspec
def semhub_register_steering_presets(register: Callable) -> None:
    """Register steering presets: ``register(name, build, description)``; ``build(backbone)`` returns
    ``(SteeringVector, SteerSpec)`` for ``semhub steer --preset name``."""


@hookspec
def semhub_register_experiments(register: Callable) -> None:
    """Register a paper experiment for ``semhub reproduce``: ``register(name, command, arguments, description)``
    (``semhub.Experiment``): ``command`` is ``"analyze"`` or ``"steer"``, ``arguments`` its keywords
    (e.g. ``{"analysis": "logit-lens", "views": ["en", "zh"]}``)."""


@hookspec
def semhub_register_commands(cli) -> None:
    """Add click commands to the ``semhub`` command group: ``cli.add_command(...)``. ``semhub plugins
    --json`` lists the commands each plugin added."""
