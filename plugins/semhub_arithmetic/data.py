"""Deterministic arithmetic datasets: digits, number words in five languages, answer prompts.

Rows follow the paper: for each operator and each answer ("target") 1..9, every other
operand that keeps the result within 0..max_result. Each row holds the views
``arithmetic`` ("21+3"), ``en``/``es``/``zh``/``fr``/``de`` ("twenty-one plus three"...),
``arithmetic_answer`` ("24=21+", the logit-lens format; the answer is ``target``) and the
label column ``answer`` ("3"). Rows are shuffled with a fixed seed so ``--limit N`` takes a
fair mix.
"""
from __future__ import annotations

import random
from pathlib import Path

from semhub_arithmetic.numbers import LANGUAGES, expression_words

APPLY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def rows(ops: tuple[str, ...] = ("+", "*"), targets: range = range(1, 10), max_result: int = 99,
         seed: int = 0) -> list[dict[str, str]]:
    out = []
    for op in ops:
        if op not in APPLY:
            raise ValueError(f"operator {op!r} not supported (use {', '.join(APPLY)})")
        for target in targets:
            for other in range(1, max_result + 1):
                result = APPLY[op](other, target)
                if not 0 <= result <= max_result:
                    continue
                row = {"id": f"{other}{op}{target}", "arithmetic": f"{other}{op}{target}"}
                row.update({lang: expression_words(other, op, target, lang) for lang in LANGUAGES})
                row["arithmetic_answer"] = f"{result}={other}{op}"
                row["answer"] = str(target)
                out.append(row)
    random.Random(seed).shuffle(out)
    return out


def write(path: str | Path, data: list[dict[str, str]]) -> Path:
    from semhub import write_aligned

    return write_aligned(path, data)
