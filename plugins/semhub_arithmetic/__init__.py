"""Arithmetic: digits vs number words. For now, the paper's arithmetic steering experiment.

Steering vector: the last-token state of "<a+1> plus <b> equals" minus that of
"<a> plus <b> equals", in words, averaged over pairs. Applied to digit prompts "a+b=",
it asks whether an English-word direction changes a digit computation: does the model
answer as if the first operand were one larger?
"""
from __future__ import annotations

import re

from semhub import hookimpl

WORDS = "zero one two three four five six seven eight nine ten".split()
DIGIT_PROMPT = re.compile(r"^\s*(\d+)\s*\+\s*(\d+)\s*=\s*$")


def first_number(text: str) -> int | None:
    match = re.match(r"\s*(-?\d+)", text)
    return int(match.group(1)) if match else None


class AnswerScorer:
    """1 if the continuation of "a+b=" starts with a + b + ``offset``; NaN for other prompts."""

    def __init__(self, name: str, offset: int, description: str):
        self.name, self.offset, self.description = name, offset, description

    def score(self, generation, backbone, **_):
        out = []
        for prompt, text in zip(generation.prompts, generation.continuations):
            match = DIGIT_PROMPT.match(prompt)
            if not match:
                out.append(float("nan"))
                continue
            expected = int(match.group(1)) + int(match.group(2)) + self.offset
            out.append(float(first_number(text) == expected))
        return out


def _arithmetic_preset(backbone):
    from semhub.steering.run import SteerSpec
    from semhub.steering.vectors import from_contrast

    layer = backbone.n_layers // 2
    plus_one = [f"{WORDS[a + 1]} plus {WORDS[b]} equals" for a in range(1, 8) for b in range(1, 3)]
    plain = [f"{WORDS[a]} plus {WORDS[b]} equals" for a in range(1, 8) for b in range(1, 3)]
    vector = from_contrast(backbone, plus_one, plain, layer=layer, pooling="last",
                           positive_view="text_words", negative_view="text_words")
    vector.provenance["data"] = "'<a+1> plus <b> equals' minus '<a> plus <b> equals', a in 1..7, b in 1..2"
    prompts = [f"{a}+{b}=" for a in range(1, 6) for b in range(1, 5)]
    spec = SteerSpec(prompts, [layer], [1.0, 2.0, 4.0], ["answer-plus-one", "answer-correct"], positions="last",
                     max_new_tokens=3, description="digit prompts a+b=, (word a+1 - word a) at the last token")
    return vector, spec


@hookimpl
def semhub_register_scorers(register) -> None:
    register(AnswerScorer("answer-correct", 0, "1 if 'a+b=' is continued with a+b"))
    register(AnswerScorer("answer-plus-one", 1, "1 if 'a+b=' is continued with a+b+1 (steered as if a were a+1)"))


@hookimpl
def semhub_register_steering_presets(register) -> None:
    register("arithmetic", _arithmetic_preset, "'four plus' minus 'three plus' (in words) applied to digit sums")
