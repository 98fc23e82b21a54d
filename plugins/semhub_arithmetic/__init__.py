"""The arithmetic spoke: digits vs number words, the built-in arithmetic data, its logit lens
and the paper's arithmetic steering experiment.

Views ``arithmetic`` ("3+2") and ``arithmetic_<tag>`` (e.g. ``arithmetic_answer``, "5=3+")
are expressions fed through the backbone's tokenizer; number words are plain text views
(``en`` "three plus two", ``es``, ``zh``, ``fr``, ``de``).

Steering vector: the last-token state of "<a+1> plus <b> equals" minus that of
"<a> plus <b> equals", in words, averaged over pairs. Applied to digit prompts "a+b=",
it asks whether an English-word direction changes a digit computation: does the model
answer as if the first operand were one larger?
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from semhub import hookimpl, spoke_for_view

DATA = Path(__file__).with_name("arithmetic.jsonl")
EXPRESSION = re.compile(r"^[\d\s+\-*x×=().]+$")


class ArithmeticSpoke:
    name = "arithmetic"
    modality = "arithmetic"
    default_dataset = "arithmetic"

    def claims(self, view: str) -> bool:
        return view == "arithmetic"

    def validate(self, value: Any, base_dir: Path) -> str | None:
        if not isinstance(value, str) or not EXPRESSION.match(value):
            return f"not an arithmetic expression: {value!r}"
        return None

    def length_hint(self, value: Any) -> int:
        return len(value)

    def encode(self, values, backbone, base_dir):
        # expressions are tokenised exactly like text; the content group is every non-special token
        return spoke_for_view("text_arithmetic").encode(values, backbone, base_dir)

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
    from semhub import SteerSpec, from_contrast

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
def semhub_register_spokes(register) -> None:
    register(ArithmeticSpoke())


@hookimpl
def semhub_register_datasets(register) -> None:
    register("arithmetic", DATA, "1,123 sums and products (the paper's tuples) in digits and en/es/zh/fr/de words")


@hookimpl
def semhub_register_analyses(register) -> None:
    from semhub_arithmetic.lens import ArithmeticLensAnalysis
    from semhub_arithmetic.pca import ArithmeticPCAAnalysis

    register(ArithmeticLensAnalysis())
    register(ArithmeticPCAAnalysis())


@hookimpl
def semhub_register_commands(cli) -> None:
    import click

    @cli.command("make-arithmetic")
    @click.option("--ops", default="+,*", show_default=True, help="Operators among +, -, *.")
    @click.option("--max-answer", type=click.IntRange(1, 9), default=9, show_default=True)
    @click.option("--max-result", type=click.IntRange(1, 99), default=99, show_default=True)
    @click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
    @click.option("--out", type=click.Path(path_type=Path), required=True)
    def make_arithmetic(ops, max_answer, max_result, seed, out):
        """Write an aligned arithmetic dataset (digits, number words, answer prompts) as JSONL."""
        from semhub import SemhubError, check_out_file
        from semhub_arithmetic.data import rows, write

        out = check_out_file(out)
        chosen = [o.strip() for o in ops.split(",") if o.strip()]
        if not chosen:
            raise SemhubError(f"--ops: no operator in {ops!r} (choose among +, -, *)")
        if len(set(chosen)) != len(chosen):
            raise SemhubError(f"--ops: {ops!r} names an operator twice (rows would repeat their ids)")
        try:
            data = rows(tuple(chosen), range(1, max_answer + 1), max_result, seed)
        except ValueError as exc:
            raise SemhubError(f"--ops: {exc}") from None
        if len(data) < 2:  # an analysis compares rows: fewer than two is no dataset
            raise SemhubError(f"--max-result: {max_result} with --max-answer {max_answer} and --ops {ops} leaves "
                              f"{len(data)} expression(s); a dataset needs at least two")
        write(out, data)
        click.echo(f"{len(data)} rows written to {out}")


@hookimpl
def semhub_register_scorers(register) -> None:
    register(AnswerScorer("answer-correct", 0, "1 if 'a+b=' is continued with a+b"))
    register(AnswerScorer("answer-plus-one", 1, "1 if 'a+b=' is continued with a+b+1 (steered as if a were a+1)"))


@hookimpl
def semhub_register_steering_presets(register) -> None:
    register("arithmetic", _arithmetic_preset, "'four plus' minus 'three plus' (in words) applied to digit sums")


@hookimpl
def semhub_register_experiments(register) -> None:
    register("arithmetic-similarity", "analyze", {'modality': 'arithmetic'},
             "'3+2' vs 'three plus two': Eq. 1 and retrieval@1 across layers (paper 2.1)")
    register("arithmetic-logit-lens", "analyze", {'modality': 'arithmetic', 'analysis': 'arithmetic-lens'},
             "at '5=3+', the answer as a word vs as a digit under the lens (paper 2.2)")
    register("arithmetic-pca", "analyze", {'modality': 'arithmetic', 'analysis': 'arithmetic-pca',
                                           'views': ['arithmetic_answer'], 'paper': True},
             "'24=21+' states per layer in the PCA plane of the digit and number-word unembeddings (paper 2.3)")
    register("arithmetic-steering", "steer", {'preset': 'arithmetic', 'layers': [3, 6, 9, 12]},
             "'four plus' minus 'three plus' (words) applied to digit sums (paper 2.4)")
