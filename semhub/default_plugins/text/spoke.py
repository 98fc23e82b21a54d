"""The text spoke: any language's text through the backbone's own tokenizer (see the package docstring)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from semhub import Encoded, input_settings

LANGUAGE_VIEW = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


class TextSpoke:
    name = "text"
    modality = "text"
    default_model = "gemma3-270m"  # the embedded default (semhub.default_plugins.embedded_models)
    default_dataset = "multilingual"  # the built-in sample (semhub.default_plugins.multilingual_sample)

    def __init__(self, padding_side: str = "right"):
        self.padding_side = padding_side

    def claims(self, view: str) -> bool:
        return bool(LANGUAGE_VIEW.match(view)) or view == "text" or view.startswith("text_")

    def validate(self, value: Any, base_dir: Path) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "text is empty"
        return None

    def length_hint(self, value: Any) -> int:
        return len(value.encode("utf-8"))

    def encode(self, values: list[Any], backbone: Any, base_dir: Path) -> Encoded:
        tok = backbone.tokenizer
        enc = tok(
            list(values),
            padding=True,
            padding_side=self.padding_side,
            return_tensors="pt",
            return_special_tokens_mask=True,
            return_offsets_mapping=bool(getattr(tok, "is_fast", False)),
            add_special_tokens=input_settings().bos,
        )
        offsets = enc.pop("offset_mapping", None)
        attention = enc["attention_mask"].bool()
        special = enc.pop("special_tokens_mask").bool()
        content = attention & ~special
        empty = ~content.any(dim=1)
        if bool(empty.any()):  # e.g. text made only of special-token strings: fall back to all real tokens
            content[empty] = attention[empty]
        inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        return Encoded(inputs=inputs, groups={"content": content, "all": attention}, offsets=offsets)
