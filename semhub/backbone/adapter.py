"""A loaded model seen through its registry entry: blocks, final norm, embedding, unembedding.

Nothing outside this class (and the registry) touches architecture-specific attributes.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import torch

from semhub.errors import SemhubError
from semhub.backbone.registry import ModelFamily


@dataclass
class Backbone:
    """A model, its tokenizer and the family that says where its parts live."""

    model: Any
    tokenizer: Any
    family: ModelFamily
    name: str
    fingerprint: dict[str, Any] = field(default_factory=dict)
    processor: Any = None
    stack: str = "main"

    def __post_init__(self) -> None:
        if self.stack == "main":
            self.stack = self.family.main_stack

    def part(self, name: str) -> Any:
        return self.family.module(self.model, name, self.stack)

    def using(self, stack: str) -> "Backbone":
        """The same model seen through another stack (e.g. Whisper's ``decoder``); shares the weights."""
        self.family.paths(stack)  # unknown stack -> clear error
        return replace(self, stack=stack)  # __post_init__ names "main" after the family's main stack

    def for_input(self, kind: str) -> "Backbone":
        """The view of this model that reads ``kind`` (``"image"``, ``"text"``): itself, or another
        stack of a dual encoder (CLIP's text tower for text)."""
        stack = self.family.stack_for(kind)
        return self if stack in ("main", self.stack) else self.using(stack)

    def config_value(self, path: str) -> Any:
        """A config attribute by dotted path (``"vision_config.patch_size"``), named in the registry."""
        obj = self.model.config
        for attr in path.split("."):
            obj = obj.get(attr) if isinstance(obj, dict) else getattr(obj, attr, None)
            if obj is None:
                raise SemhubError(f"registry entry {self.family.name!r}: config has no {path!r}")
        return obj

    @cached_property
    def excluded_token_ids(self) -> list[int]:
        """Token ids the logit lens leaves out (registry ``[lens] exclude``): Chameleon's image codes...

        Rules: ``"added"`` = the tokenizer's added and special tokens; ``"config:<attr>:<prefix>"`` =
        the ids of a config dict (token -> id) whose key starts with ``prefix``.
        """
        ids: set[int] = set()
        for rule in self.family.lens_exclude:
            if rule == "added":
                ids.update(int(i) for i in getattr(self.tokenizer, "added_tokens_decoder", {}))
                ids.update(int(i) for i in self.tokenizer.all_special_ids)
            elif rule.startswith("config:"):
                _, attr, prefix = rule.split(":", 2)
                table = self.config_value(attr)
                ids.update(int(i) for key, i in dict(table).items() if str(key).startswith(prefix))
            else:
                raise SemhubError(f"registry entry {self.family.name!r}: unknown [lens] exclude rule {rule!r}")
        return sorted(ids)

    def placeholder_id(self, modality: str) -> int | None:
        """The token id a processor expands into image or audio positions (registry ``[placeholders]``).

        The entry names config attributes, ``"audio_token_id|audio_token_index"``: the first set wins.
        """
        spec = self.family.placeholders.get(modality)
        if not spec:
            return None
        for attr in spec.split("|"):
            value = getattr(self.model.config, attr.strip(), None)
            if value is not None:
                return int(value)
        raise SemhubError(f"registry entry {self.family.name!r}: config has none of {spec!r}")

    @cached_property
    def blocks(self) -> list[torch.nn.Module]:
        return list(self.part("blocks"))

    @cached_property
    def quirks(self):
        """BOS and prefix-space behaviour: the registry's declaration, or detected for "auto"."""
        from semhub.backbone.tokenization import resolve_quirks

        return resolve_quirks(self.tokenizer, self.family.bos, self.family.prefix_space)

    @property
    def n_layers(self) -> int:
        """Number of blocks L; layer indices run 0..L (see ``semhub.readout.capture``)."""
        return len(self.blocks)

    @property
    def context_window(self) -> int | None:
        """The most token positions the model reads (its text config's ``max_position_embeddings``), or
        None when it declares none: longer inputs are refused, not run into memory the size of their square."""
        config = self.model.config
        config = getattr(config, "text_config", None) or config
        window = getattr(config, "max_position_embeddings", None)
        return window if isinstance(window, int) and not isinstance(window, bool) and window > 0 else None

    @property
    def input_table(self) -> torch.nn.Module | torch.Tensor:
        """The stack's token embedding, or its position embedding when it reads features: its weight
        (``input_weight``) sets the residual width, the dtype and where inputs go."""
        return self.part(self.family.input_part(self.stack))

    @property
    def input_weight(self) -> torch.Tensor:
        """The input table's weight; a stack whose position table is a bare parameter (DINOv2) names it."""
        table = self.input_table
        return table if isinstance(table, torch.Tensor) else table.weight

    @property
    def d_model(self) -> int:
        return int(self.input_weight.shape[-1])

    @property
    def base(self) -> torch.nn.Module:
        """The model without its LM head: running it never pays for the unembedding."""
        return self.part("base")

    @property
    def input_device(self) -> torch.device:
        """Where inputs go: the embedding's device, or, when accelerate offloaded its weights (they sit
        on "meta" until a forward), the device accelerate runs it on."""
        device = self.input_weight.device
        hook = getattr(self.input_table, "_hf_hook", None)
        if device.type == "meta" and getattr(hook, "execution_device", None) is not None:
            execution = hook.execution_device
            return torch.device(f"cuda:{execution}" if isinstance(execution, int) else execution)
        return device

    @property
    def dtype(self) -> torch.dtype:
        return self.input_weight.dtype

    @cached_property
    def forward_params(self) -> frozenset[str]:
        return frozenset(inspect.signature(self.base.forward).parameters)

    def forward_kwargs(self, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Inputs for ``base``: explicit position ids so left padding stays exact, no KV cache."""
        kwargs = {k: v.to(self.input_device) for k, v in inputs.items()}
        mask = kwargs.get("attention_mask")
        if (mask is not None and self.family.position_ids == "semhub" and "position_ids" in self.forward_params
                and "position_ids" not in kwargs):
            kwargs["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
        if "use_cache" in self.forward_params:
            kwargs["use_cache"] = False
        return kwargs

    def describe(self) -> dict[str, Any]:
        cfg = self.model.config
        return {
            "name": self.name,
            "family": self.family.name,
            "stack": self.stack,
            "architecture": type(self.model).__name__,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.input_device),
            "attn_implementation": getattr(cfg, "_attn_implementation", None),
            **self.fingerprint,
        }
