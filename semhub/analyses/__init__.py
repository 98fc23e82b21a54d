"""Built-in analyses, registered through the same hook a plugin would use.

An analysis receives a ``RunContext`` (backbone, dataset, views, options, and lazy
state capture) and returns a result with ``key``, ``to_json()`` and ``plot(path)``.
"""
from __future__ import annotations

from semhub.analyses.similarity import SimilarityResult, similarity
from semhub.hookspecs import hookimpl


class SimilarityAnalysis:
    """Eq. 1, matched/mismatched cosine and retrieval@1 for the first view against each other one."""

    name = "similarity"
    description = "per-layer cross-view similarity (Eq. 1) and retrieval@1 with bootstrap CIs"
    plot_name = "similarity.png"
    needs_model = False  # reads only pooled states: runs from an activation store (--from-store)

    def run(self, ctx) -> SimilarityResult:
        from semhub.collect import reader
        from semhub.errors import SemhubError

        stacks = {view: reader(ctx.backbone, view).stack for view in ctx.views} if ctx.backbone else {}
        if len(set(stacks.values())) > 1:
            towers = ", ".join(f"{v}: {s}" for v, s in stacks.items())
            raise SemhubError(f"--views: {ctx.model_name} reads these views on different towers ({towers}), whose "
                              "layers do not correspond; for dual encoders use --analysis joint-alignment")
        states = {view: ctx.states_by_layer(view) for view in ctx.views}
        return similarity(
            states,
            ctx.layers,
            ctx.views,
            center=ctx.options["center"],
            n_boot=ctx.options.get("n_boot", 1000),
            seed=ctx.options["seed"],
            options={"model": ctx.model_name, "pooling": ctx.options["pooling"]},
        )


@hookimpl
def semhub_register_analyses(register) -> None:
    from semhub.analyses.language_trends import LanguageTrendsAnalysis
    from semhub.analyses.logit_lens import LogitLensAnalysis

    register(SimilarityAnalysis())
    register(LogitLensAnalysis())
    register(LanguageTrendsAnalysis())


__all__ = ["SimilarityAnalysis", "SimilarityResult", "similarity"]
