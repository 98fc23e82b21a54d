"""An example third-party semhub plugin: one spoke and one analysis, through the public API only.

- Spoke ``reverse``: views ``reverse_<lang>`` hold text fed with its words in reverse order.
  ``semhub analyze --views en,reverse_en`` then compares a sentence with the same bag of words
  without its syntax: how much of the hub's similarity is word identity alone?
- Analysis ``state-norms``: the mean L2 norm of each view's pooled states per layer (where the
  residual stream grows; a sanity check before reading cosines).

Install: ``pip install -e examples/semhub-plugin-example``; then ``semhub plugins`` lists it.
"""
from __future__ import annotations

from typing import Any

import semhub
from semhub import CurvesResult, Encoded, hookimpl, spoke_for_view


class ReverseSpoke:
    name = "reverse"
    modality = "text"

    def claims(self, view: str) -> bool:
        return view.startswith("reverse_")

    def source_view(self, view: str) -> str:
        """A derived view: ``reverse_en`` is computed from the data's ``en`` column."""
        return view.removeprefix("reverse_")

    def validate(self, value: Any, base_dir) -> str | None:
        return None if isinstance(value, str) and value.split() else "text is empty"

    def length_hint(self, value: Any) -> int:
        return len(value)

    def encode(self, values: list[str], backbone, base_dir) -> Encoded:
        text = spoke_for_view("en")  # reuse the text spoke through the public API
        return text.encode([" ".join(reversed(v.split())) for v in values], backbone, base_dir)


class StateNormsResult(CurvesResult):
    key = "state_norms"
    summary_title = "mean L2 norm of the pooled states"


class StateNormsAnalysis(semhub.Analysis):
    name = "state-norms"
    description = "mean L2 norm of each view's pooled states per layer"
    plot_name = "state_norms.png"
    needs_model = False  # pooled states only: also runs with --from-store

    def run(self, ctx: semhub.RunContext) -> StateNormsResult:
        series = {view: ctx.states(view).norm(dim=-1).mean(0).tolist() for view in ctx.views}
        record = {"x": ctx.layers, "series": series, "ylabel": "mean L2 norm",
                  "title": f"{ctx.model_name}: state norms"}
        return StateNormsResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})


@hookimpl
def semhub_register_spokes(register) -> None:
    register(ReverseSpoke())


@hookimpl
def semhub_register_analyses(register) -> None:
    register(StateNormsAnalysis())
