"""The arithmetic logit lens: at "24=21+", is the answer "3" (digit) or " three" (word) more probable?

Read at the last token per layer; the digit is scored without a space, the word with the
tokenizer's prefix-space rule, as in the paper. Items are grouped by answer so each group
is one token-set scoring pass.
"""
from __future__ import annotations

from typing import ClassVar

import semhub
from semhub import LogitLensResult
from semhub_arithmetic.numbers import spell


def digit_id(backbone, digits: str) -> int:
    """The digit's own token: SentencePiece may put a lone "▁" first (Llama-2), which is skipped."""
    ids = backbone.tokenizer(digits, add_special_tokens=False)["input_ids"]
    if len(ids) > 1 and not backbone.tokenizer.decode(ids[:1]).strip():
        ids = ids[1:]
    return ids[0]


class ArithmeticLensResult(LogitLensResult):
    """The logit lens's record shape and figure, with the answer digit vs its word as the two curves."""

    key: ClassVar[str] = "arithmetic_lens"
    summary_title = "arithmetic logit lens: the answer as a word vs as a digit"
    summary_columns = ("items", "peak layer (>= L/3)", "word wins there", "log p digit / word there", "word wins at output")

    def summary_rows(self):
        from semhub import upper_peak

        rec = self.records[0]
        wins, layers = rec["dominant_wins"], rec["layers"]
        k = upper_peak(wins, layers)
        return [(str(rec["n_positions"]), str(layers[k]), f"{wins[k]:.2f}",
                 f"{rec['native_logprob'][k]:.1f} / {rec['dominant_logprob'][k]:.1f}", f"{wins[-1]:.2f}")]


def arithmetic_lens(ctx) -> ArithmeticLensResult:
    """Per item, at the last token of '<result>=<a><op>': log p of the answer digit and of its word."""
    import numpy as np

    from semhub import mean_ci

    ds, bb = ctx.dataset, ctx.backbone
    for column in ("arithmetic_answer", "answer"):
        if column not in ds.columns:
            raise semhub.SemhubError(f"{ds.path}: the arithmetic lens needs the column {column!r} "
                                     "(use the built-in 'arithmetic' data or `semhub make-arithmetic`)")
    lang = bb.family.dominant_language
    groups: dict[str, list[int]] = {}
    for i, answer in enumerate(ds.columns["answer"]):
        groups.setdefault(answer, []).append(i)
    digit = np.empty((len(ds), len(ctx.layers)))
    word = np.empty_like(digit)
    for answer, rows in sorted(groups.items()):
        sets = {"digit": [digit_id(bb, answer)], "word": semhub.word_token_ids(bb, [spell(int(answer), lang)])}
        prompts = [ds.columns["arithmetic_answer"][i] for i in rows]
        scores = semhub.score_token_sets(bb, prompts, sets, view="arithmetic_answer", layers=ctx.layers,
                                         lens=ctx.lens,
                                         batch_size=ctx.settings.batch_size)
        digit[rows], word[rows] = scores.scores["digit"], scores.scores["word"]
        if ctx.on_batch:
            ctx.on_batch(len(rows))

    n_boot, seed = ctx.settings.n_boot, ctx.settings.seed
    digit_mean, digit_ci = mean_ci(digit, n_boot, seed)
    word_mean, word_ci = mean_ci(word, n_boot, seed)
    record = {"view": "digit", "dominant": lang, "native_label": "answer digit", "dominant_label": "answer word",
              "n_positions": len(ds), "layers": list(ctx.layers),
              "native_logprob": digit_mean, "dominant_logprob": word_mean,
              "dominant_wins": (word > digit).mean(0).tolist(),
              "ci95": {"native_logprob": digit_ci, "dominant_logprob": word_ci},
              "lens_norm": ctx.settings.lens_norm, "lens": ctx.lens.describe()}
    return ArithmeticLensResult([record], {"model": bb.name})


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class ArithmeticLensAnalysis(semhub.Analysis):
    """The paper's 2.2: is the answer more probable as a word than as a digit, per layer?"""

    name = "arithmetic-lens"
    min_views = 1  # a probe of one view
    description = "logit lens at '<result>=<a><op>': the answer digit vs its English word, per layer"
    plot_name = "arithmetic_lens.png"

    input_kinds = ("text",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)

    def run(self, ctx):
        return arithmetic_lens(ctx)
