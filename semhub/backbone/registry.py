"""Model families: the one place that knows where each architecture keeps its parts.

Entries are TOML files (``registry/*.toml`` ship in the wheel as ``semhub_registry``;
plugins add more through ``semhub_register_model_families``). Code elsewhere asks a
``ModelFamily`` for module paths and never spells one itself.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semhub.errors import ParameterError, SemhubError
from semhub.plugins import catalog

MODULE_KEYS = ("base", "blocks", "final_norm")
"""Parts every stack names. Each means one thing: ``base`` the model without its output head (what a
forward runs), ``blocks`` the residual blocks in order, ``final_norm`` the norm after the last block."""
OPTIONAL_KEYS = ("unembedding",)
"""Parts a stack names when it has them: ``unembedding``, the output head (vocabulary logits, or a dual
encoder's projection to the joint space); a ViT with no text side has none, and the lenses refuse it."""
INPUT_KEYS = ("embedding", "position_embedding")
"""And at least one of: ``embedding``, the token embedding (vocabulary x width) of a stack fed token ids;
``position_embedding``, the learned position table (positions x width) of a stack fed features (CLIP's
vision tower, Whisper's encoder). Its weight gives the residual width, the dtype and the input device."""


@dataclass(frozen=True)
class ModelFamily:
    """A registry entry; see ``docs/registry.md`` for every field."""

    name: str
    description: str
    architectures: tuple[str, ...]
    model_types: tuple[str, ...]
    modules: dict[str, str]
    dominant_language: str = "en"
    modalities: tuple[str, ...] = ("text",)
    bos: str = "auto"
    prefix_space: str = "auto"
    examples: tuple[str, ...] = ()
    softcap_config: str | None = None
    tiny: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    loader: str = "AutoModelForCausalLM"
    processor: str | None = None
    stacks: dict[str, dict[str, str]] = field(default_factory=dict)
    main_stack: str = "main"
    placeholders: dict[str, str] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)
    input_stacks: dict[str, str] = field(default_factory=dict)
    vision: dict[str, Any] = field(default_factory=dict)
    lens_exclude: tuple[str, ...] = ()
    position_ids: str = "semhub"

    @property
    def stack_names(self) -> tuple[str, ...]:
        """The ``[modules]`` stack (named by ``main_stack``) plus any ``[stacks.<name>]``."""
        return (self.main_stack, *self.stacks)

    def paths(self, stack: str = "main") -> dict[str, str]:
        if stack in ("main", self.main_stack):
            return self.modules
        if stack not in self.stacks:
            raise ParameterError("stack", f"{self.name} has no stack {stack!r} (have: {', '.join(self.stack_names)})")
        return self.stacks[stack]

    def stack_for(self, kind: str) -> str:
        """The stack that reads an input kind (``[input_stacks]``: a dual encoder's image vs text tower)."""
        return self.input_stacks.get(kind, "main")

    def input_part(self, stack: str = "main") -> str:
        """The stack's input part: ``embedding`` (token ids) or, for a stack fed features, ``position_embedding``."""
        return "embedding" if "embedding" in self.paths(stack) else "position_embedding"

    def module(self, model: Any, part: str, stack: str = "main") -> Any:
        """Resolve ``part`` (e.g. ``"blocks"``) of a stack by its dotted path.

        A path may list alternatives, ``"lm_head|embed_out"``, for names that changed
        across transformers versions; the first that exists wins; ``"."`` is the model itself.
        """
        paths = self.paths(stack)
        if part not in paths:
            if part in OPTIONAL_KEYS:
                raise ParameterError("model", f"a {self.name} model (stack {stack!r}) has no {part}: this needs a model with one "
                                  f"(a language model or a dual encoder; see `semhub models`)")
            raise SemhubError(f"registry entry {self.name!r} ({self.source}): no part {part!r} in stack {stack!r}")
        spec = paths[part]
        if spec == ".":
            return model
        for path in spec.split("|"):
            obj = model
            for attr in path.strip().split("."):
                obj = getattr(obj, attr, None)
                if obj is None:
                    break
            if obj is not None:
                return obj
        raise SemhubError(f"registry entry {self.name!r} ({self.source}): part {part!r}: "
                          f"{type(model).__name__} has no module {spec!r}")


def parse_family(data: dict[str, Any], source: str) -> ModelFamily:
    """Validate one entry; errors name the file, since entries come from plugins too."""
    try:
        modules = dict(data["modules"])
        stacks = {name: dict(paths) for name, paths in data.get("stacks", {}).items()}
        for table, paths in [("[modules]", modules), *((f"[stacks.{n}]", p) for n, p in stacks.items())]:
            missing = [k for k in MODULE_KEYS if k not in paths]
            if not any(k in paths for k in INPUT_KEYS):
                missing.append(" or ".join(INPUT_KEYS))
            unknown = [k for k in paths if k not in (*MODULE_KEYS, *OPTIONAL_KEYS, *INPUT_KEYS)]
            if missing:
                raise SemhubError(f"{source}: {table} lacks {', '.join(missing)}")
            if unknown:
                raise SemhubError(f"{source}: {table} has unknown part(s) {', '.join(unknown)} "
                                  f"(parts: {', '.join((*MODULE_KEYS, *OPTIONAL_KEYS, *INPUT_KEYS))})")
        tok = data.get("tokenizer", {})
        if tok.get("bos", "auto") not in ("auto", "always", "never"):
            raise SemhubError(f"{source}: [tokenizer] bos must be auto, always or never")
        if tok.get("prefix_space", "auto") not in ("auto", "explicit", "sentencepiece"):
            raise SemhubError(f"{source}: [tokenizer] prefix_space must be auto, explicit or sentencepiece")
        if data.get("position_ids", "semhub") not in ("semhub", "model"):
            raise SemhubError(f"{source}: position_ids must be semhub or model")
        input_stacks = dict(data.get("input_stacks", {}))
        unknown = [s for s in input_stacks.values() if s not in (data.get("main_stack", "main"), "main", *stacks)]
        if unknown:
            raise SemhubError(f"{source}: [input_stacks] names unknown stack(s) {', '.join(unknown)}")
        return ModelFamily(
            name=data["name"],
            description=data.get("description", ""),
            architectures=tuple(data["architectures"]),
            model_types=tuple(data.get("model_types", ())),
            modules=modules,
            dominant_language=data.get("dominant_language", "en"),
            modalities=tuple(data.get("modalities", ("text",))),
            bos=tok.get("bos", "auto"),
            prefix_space=tok.get("prefix_space", "auto"),
            examples=tuple(data.get("examples", ())),
            softcap_config=data.get("lens", {}).get("softcap_config"),
            tiny=dict(data.get("tiny", {})),
            source=source,
            loader=data.get("loader", "AutoModelForCausalLM"),
            processor=data.get("processor"),
            stacks=stacks,
            main_stack=data.get("main_stack", "main"),
            placeholders=dict(data.get("placeholders", {})),
            prompts=dict(data.get("prompts", {})),
            input_stacks=input_stacks,
            vision=dict(data.get("vision", {})),
            lens_exclude=tuple(data.get("lens", {}).get("exclude", ())),
            position_ids=data.get("position_ids", "semhub"),
        )
    except KeyError as exc:
        raise SemhubError(f"{source}: registry entry lacks required key {exc.args[0]!r}") from None


def load_family(source: Any) -> ModelFamily:
    """A family from a TOML file path or a dict (a plugin's entry)."""
    if isinstance(source, dict):
        return parse_family(source, "<plugin>")
    path = Path(source)
    try:
        with open(path, "rb") as fh:
            return parse_family(tomllib.load(fh), str(path))
    except tomllib.TOMLDecodeError as exc:
        raise SemhubError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise SemhubError(f"{path}: cannot read registry entry ({exc.strerror})") from None


def match_family(config: Any, families: dict[str, ModelFamily]) -> ModelFamily:
    """The entry matching a transformers config (by architecture class, then model_type)."""
    archs = tuple(getattr(config, "architectures", None) or ())
    model_type = getattr(config, "model_type", None)
    for fam in families.values():
        if set(archs) & set(fam.architectures):
            return fam
    for fam in families.values():
        if model_type in fam.model_types:
            return fam
    raise SemhubError(
        f"no registry entry for architecture {archs or model_type!r}; "
        "add a registry/*.toml entry (see docs/registry.md) or a plugin"
    )


@catalog.table
def families() -> dict[str, ModelFamily]:
    """Every model family: the TOML files shipped in ``semhub_registry``, then plugin entries. A plugin
    entry that is malformed or reuses a family name is that plugin's failure (it is dropped whole)."""
    from importlib.resources import files

    out: dict[str, ModelFamily] = {}
    for path in sorted(p for p in files("semhub_registry").iterdir() if p.name.endswith(".toml")):
        fam = load_family(Path(str(path)))
        out[fam.name] = fam
    for plugin_name, plugin, src in catalog.sources("semhub_register_model_families"):
        try:
            fam = load_family(src)
            if fam.name in out:
                raise SemhubError(f"model family {fam.name!r} is already registered ({out[fam.name].source}); "
                                  f"plugin {plugin_name}'s is refused")
        except SemhubError as exc:
            catalog.drop(plugin_name, plugin, exc, "semhub_register_model_families")
            continue
        out[fam.name] = fam
        catalog.OWNERS[("semhub_register_model_families", fam.name)] = plugin_name
    return out


def family_for(config: Any) -> ModelFamily:
    """The family matching a transformers config (by architecture class, then model_type)."""
    return match_family(config, families())
