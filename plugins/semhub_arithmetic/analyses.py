"""The arithmetic plugin's analysis, declared; ``semhub_arithmetic.lens`` computes it (imported
by ``run``, so listing analyses never imports torch)."""
from __future__ import annotations

import semhub


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
        from semhub_arithmetic.lens import arithmetic_lens

        return arithmetic_lens(ctx)


class ArithmeticPCAOptions(semhub.Options):
    ops: str = semhub.option("+", help="Prompts whose operator is among these (the paper: additions only).")

    def check(self) -> None:
        if not self.ops or set(self.ops) - set("+-*"):
            raise semhub.ParameterError("ops", f"{self.ops!r}: give operators among +, - and *")


class ArithmeticPCAAnalysis(semhub.Analysis):
    """The paper's 2.3: trajectories of '<result>=<a>+' states in the plane of the digit and word unembeddings."""

    name = "arithmetic-pca"
    min_views = 1  # a probe of one view
    description = "2-D PCA of the 20 digit/word unembeddings; every layer's last-token state of '<result>=<a>+' projected"
    plot_name = "arithmetic_pca.png"
    input_kinds = ("text",)
    Options = ArithmeticPCAOptions
    paper = semhub.PaperSetting(drop_embeddings=False)  # the only experiment of the paper that keeps hs[0]

    def work(self, ctx) -> int:
        return sum(1 for p in ctx.dataset.columns.get("arithmetic_answer", []) if p and p[-1] in ctx.options.ops)

    def run(self, ctx):
        from semhub_arithmetic.pca import arithmetic_pca

        return arithmetic_pca(ctx, ctx.options.ops)
