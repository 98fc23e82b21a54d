"""How well each lens reads each layer, on the run's text: the exact KL from the model's final
distribution (nats, over the whole vocabulary) and the top-1 agreement with it, per layer, for the
logit lens and the run's lens (``--lens``; with ``--lens logit``, also the model's trained tuned lens
when ``semhub train-lens`` left one). The tuned lens paper's Figure 3, for any model."""
from __future__ import annotations

from typing import ClassVar

from semhub.contract.analysis import Analysis
from semhub.contract.options import Options, option
from semhub.contract.result import CurvesResult
from semhub.errors import SemhubError


class LensQualityResult(CurvesResult):
    key: ClassVar[str] = "lens_quality"
    summary_title = "lens quality on the run's text: KL to the final distribution (nats), top-1 agreement"
    summary_columns = ("lens", "positions", "KL at L/3", "KL at L/2", "KL at 2L/3", "top-1 at L/2")

    def summary_rows(self):
        rows = []
        for rec in self.records:
            if rec["metric"] != "kl":
                continue
            top1 = next(r for r in self.records if r["metric"] == "top1")
            layers = rec["x"]
            at = [min(range(len(layers)), key=lambda i: abs(layers[i] - f * layers[-1])) for f in (1 / 3, 1 / 2, 2 / 3)]
            for name, values in rec["series"].items():
                rows.append((name, str(rec["n"]), *(f"{values[i]:.2f}" for i in at), f"{top1['series'][name][at[1]]:.2f}"))
        return rows

    def plot(self, folder):
        from semhub.plots import plot_curves

        return plot_curves(self, self.figure_path(folder))


def lenses_to_judge(ctx) -> dict[str, object]:
    """{label: lens}: the logit lens, the run's lens, and the model's trained tuned lens if there is one."""
    from semhub.lens.kinds import build_lens, default_lens_folder

    standard = ctx.settings.lens == "logit" and ctx.settings.lens_norm
    out = {"logit": ctx.lens if standard else build_lens(ctx.backbone, "logit", norm=True)}
    if not standard:
        desc = ctx.lens.describe()
        out[desc["lens"] if desc["lens"] != "logit" else "logit (raw)"] = ctx.lens
    if "tuned" not in out and (default_lens_folder(ctx.backbone) / "params.pt").is_file():
        out["tuned"] = build_lens(ctx.backbone, "tuned")  # beside any other lens: the trained reference
    return out


def run_lens_quality(ctx) -> LensQualityResult:
    import numpy as np

    from semhub.lens.quality import judge_lenses, sampled_content_states
    from semhub.readout.collect import view_batches

    bb, L = ctx.backbone, ctx.backbone.n_layers
    layers = [layer for layer in ctx.layers if layer < L]
    if not layers:
        raise SemhubError("--layers: lens quality reads layers below the last one (the last is the model's output)")
    batches = (enc for view in ctx.views for _, enc in view_batches(bb, ctx.dataset, view, ctx.settings.batch_size))
    states, available = sampled_content_states(bb, batches, sorted(set(layers) | {L}),
                                               max_tokens=ctx.options.max_positions, seed=ctx.settings.seed)
    n = int(states[L].shape[0])
    drawn = {"positions_available": available, "positions_seed": ctx.settings.seed}
    judged = lenses_to_judge(ctx)
    kl, top1 = judge_lenses(judged, states, layers, judged["logit"], on_lens=ctx.on_batch)
    described = {name: lens.describe() for name, lens in judged.items()}
    records = [
        {"metric": "kl", "x": layers, "n": n, **drawn, "series": kl, "lenses": described,
         "title": f"{bb.name}: KL(final || lens)", "xlabel": "layer", "ylabel": "nats (mean over positions)"},
        {"metric": "top1", "x": layers, "n": n, **drawn, "series": top1, "lenses": described,
         "title": f"{bb.name}: top-1 agreement with the output", "xlabel": "layer", "ylabel": "share of positions"},
    ]
    if "logit" in kl and len(kl) > 1:
        other = next(name for name in kl if name != "logit")
        records[0]["ratio_to_logit"] = (np.asarray(kl[other]) / np.maximum(np.asarray(kl["logit"]), 1e-12)).tolist()
    return LensQualityResult(records, {"model": bb.name})


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class LensQualityOptions(Options):
    max_positions: int = option(1000, min=10, help="Positions judged, drawn uniformly (seeded by --seed) across "
                                "all texts (each costs two full-vocabulary projections per layer and lens).")


class LensQualityAnalysis(Analysis):
    """The exact KL to the final distribution and top-1 agreement per layer, for each lens."""

    name = "lens-quality"
    description = "per layer, KL(final || lens) and top-1 agreement of the logit lens and the tuned lens"
    plot_name = "lens_quality.png"
    input_kinds = ("text",)
    min_views = 1
    Options = LensQualityOptions

    def work(self, ctx) -> int:
        return 3

    def run(self, ctx):
        return run_lens_quality(ctx)
