"""The code plugin's analysis, declared; ``semhub_code.lens`` computes it (imported by ``run``,
so listing analyses never imports torch)."""
from __future__ import annotations

import semhub


class CodeLensAnalysis(semhub.Analysis):
    """The paper's 3.1: do list commas read as " and" under the logit lens?"""

    name = "code-lens"
    min_views = 1  # a probe of one view
    description = "logit lens at list commas in code: ' and' / ' or' / ' not' / the next token, per layer"
    plot_name = "code_lens.png"

    input_kinds = ("text",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)

    def run(self, ctx):
        from semhub_code.lens import code_lens

        return code_lens(ctx)


class CodeRolesAnalysis(semhub.Analysis):
    """The paper's 3.2: at the "(" or "," before an argument, the parameter's name vs the argument's text."""

    name = "code-roles"
    min_views = 1  # a probe of one view
    description = "semantic-role lens: log p(' parameter name') - log p(' argument text') before each call argument"
    plot_name = "code_roles.png"
    input_kinds = ("text",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)

    def run(self, ctx):
        from semhub_code.roles import code_roles

        return code_roles(ctx)
