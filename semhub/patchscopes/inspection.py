"""The inspection prompt of a patchscope: its text and where the patched state goes.

Torch-free, so option declarations (``semhub analyze --help``) can show the default prompt.
"""
from __future__ import annotations

from dataclasses import dataclass

from semhub.errors import ParameterError

IDENTITY_PROMPT = "cat -> cat; 1135 -> 1135; hello -> hello; ? ->"
"""The paper's few-shot identity prompt: the model continues by repeating what stands at ``?``."""


@dataclass
class InspectionPrompt:
    """Where patched states are decoded.

    Attributes:
        text: the inspection prompt (default: the few-shot identity prompt).
        placeholder: the string whose last token receives the patched state (its last occurrence in
            ``text``); it must end on a token boundary.
    """

    text: str = IDENTITY_PROMPT
    placeholder: str = "?"

    def locate(self, backbone) -> tuple[list[int], int]:
        """The prompt's token ids and the placeholder's position, counted from the end (negative), so it
        survives left padding."""
        if not self.text.strip():
            raise ParameterError("target_prompt", "is empty")
        at = self.text.rfind(self.placeholder) if self.placeholder else -1
        if at < 0:
            raise ParameterError("placeholder", f"{self.placeholder!r} does not occur in the inspection prompt "
                                 f"{self.text!r}")
        tok = backbone.tokenizer
        ids = tok(self.text)["input_ids"]
        head = tok(self.text[: at + len(self.placeholder)])["input_ids"]
        if ids[: len(head)] != head:
            raise ParameterError("placeholder", f"{self.placeholder!r} does not end on a token boundary of "
                                 f"{self.text!r} for this tokenizer")
        return ids, len(head) - 1 - len(ids)
