"""The semantics spoke: COGS-style logical forms aligned with English sentences.

Views: ``semantics`` (the LF), and the paper's baselines ``semantics_swapped`` (agent and
theme exchanged: the same words with another meaning) and ``semantics_shuffled``
(conjuncts reordered: the same meaning). If the hub encodes meaning rather than words,
a sentence is closer to its LF than to the swapped LF (``semhub reproduce semantics-similarity``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from semhub import hookimpl, spoke_for_view

DATA = Path(__file__).with_name("semantics.jsonl")


class SemanticsSpoke:
    name = "semantics"
    modality = "semantics"
    default_dataset = "semantics"

    def claims(self, view: str) -> bool:
        return view == "semantics"

    def validate(self, value: Any, base_dir: Path) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "logical form is empty"
        depth = 0
        for ch in value:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                break
        return None if depth == 0 else "unbalanced parentheses in the logical form"

    def length_hint(self, value: Any) -> int:
        return len(value)

    def encode(self, values, backbone, base_dir):
        return spoke_for_view("text_semantics").encode(values, backbone, base_dir)


def write_data(path: Path = DATA, n: int = 200, seed: int = 0) -> Path:
    from semhub_semantics.grammar import generate

    with open(path, "w", encoding="utf-8") as fh:
        for row in generate(n, seed):
            fh.write(json.dumps({"id": row.pop("id"), **row}, ensure_ascii=False) + "\n")
    return path


@hookimpl
def semhub_register_spokes(register) -> None:
    register(SemanticsSpoke())


@hookimpl
def semhub_register_datasets(register) -> None:
    register("semantics", DATA, "200 English sentences with COGS-style logical forms and swap/shuffle baselines")


@hookimpl
def semhub_register_experiments(register) -> None:
    register("semantics-similarity",
             "analyze", {'data': 'semantics', 'views': ['en', 'semantics', 'semantics_swapped', 'semantics_shuffled']},
             "sentence vs its logical form, vs the agent/theme-swapped LF, vs the shuffled LF (paper 4.1)")
