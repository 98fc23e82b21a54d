"""A third-party spoke: views named ``reverse_<lang>`` hold text that is fed reversed word by word.

Comparing ``en`` with ``reverse_en`` gives a bag-of-words baseline: same tokens, no syntax.
Install with ``pip install -e examples/semhub-plugin-template`` and check ``semhub plugins``.
"""
from __future__ import annotations

from semhub import Encoded, hookimpl, spoke_for_view


class ReverseSpoke:
    name = "reverse"
    modality = "text"

    def claims(self, view: str) -> bool:
        return view.startswith("reverse_")

    def validate(self, value, base_dir):
        return None if isinstance(value, str) and value.split() else "text is empty"

    def length_hint(self, value) -> int:
        return len(value)

    def encode(self, values, backbone, base_dir) -> Encoded:
        text = spoke_for_view("en")  # reuse the text spoke through the public API
        return text.encode([" ".join(reversed(v.split())) for v in values], backbone, base_dir)


@hookimpl
def semhub_register_spokes(register):
    register(ReverseSpoke())
