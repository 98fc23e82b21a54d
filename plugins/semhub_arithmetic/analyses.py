"""The arithmetic plugin's analysis, declared; ``semhub_arithmetic.lens`` computes it (imported
by ``run``, so listing analyses never imports torch)."""
from __future__ import annotations

import semhub


class ArithmeticLensAnalysis(semhub.Analysis):
    """The paper's 2.2: is the answer more probable as a word than as a digit, per layer?"""

    name = "arithmetic-lens"
    description = "logit lens at '<result>=<a><op>': the answer digit vs its English word, per layer"
    plot_name = "arithmetic_lens.png"

    input_kinds = ("text",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)

    def run(self, ctx):
        from semhub_arithmetic.lens import arithmetic_lens

        return arithmetic_lens(ctx)
