"""Per-layer cross-view similarity (the paper's Eq. 1), retrieval@1 and bootstrap intervals
(the statistics live in ``semhub.analyses.stats``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from semhub.contract.analysis import Analysis, PaperSetting
from semhub.contract.result import RecordsResult, fmt
from semhub.errors import SemhubError

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch

    from semhub.analyses.calibration import Calibration


@dataclass
class SimilarityResult(RecordsResult):
    """Curves for each compared view pair; ``to_json()`` is the ``results.json`` entry."""

    key: ClassVar[str] = "similarity"

    def plot(self, folder):
        from semhub.plots import plot_similarity

        return plot_similarity(self, self.figure_path(folder))

    def record(self, a: str, b: str) -> dict[str, Any]:
        for rec in self.records:
            if (rec["a"], rec["b"]) == (a, b):
                return rec
        raise KeyError(f"no similarity record for {a}-{b}")

    def peak(self, a: str, b: str, metric: str = "retrieval_at_1") -> tuple[int, float]:
        """(layer, value) of the best layer for a pair."""
        import numpy as np

        rec = self.record(a, b)
        k = int(np.argmax(rec[metric]))
        return rec["layers"][k], rec[metric][k]

    summary_title = "retrieval@1 per view pair: raw peak, calibrated peak (permutation null) and the surface"

    def summary_rows(self) -> list[tuple[str, ...]]:
        """The terminal summary: each pair's best layer by retrieval@1, the calibrated aggregate with its
        p-value, the surface baselines (the embedding layer's and the bag-of-tokens' calibrated scores)
        and the hub gain (the calibrated aggregate above the larger baseline)."""
        rows = []
        for rec in self.records:
            layer, value = self.peak(rec["a"], rec["b"])
            cal = headline(rec, "retrieval_at_1")
            row = (f"{rec['a']}-{rec['b']}", str(rec["n"]), str(layer), fmt(value),
                   fmt(cal.get("score")), fmt(cal.get("p"), ".3g"),
                   fmt(baseline(rec, "embeddings")), fmt(baseline(rec, "lexical")), fmt(cal.get("hub_gain")))
            names = self.control_names
            if names:
                row += tuple(_control_cell(rec, name) for name in names)
            rows.append(row)
        return rows

    @property
    def control_names(self) -> list[str]:
        """The controls some record carries (``--controls``), in order."""
        return list(dict.fromkeys(name for rec in self.records for name in rec.get("controls", {})))

    @property
    def summary_columns(self) -> tuple[str, ...]:
        return (*BASE_COLUMNS, *(f"{name}: calibrated (p)" for name in self.control_names))


BASE_COLUMNS = ("pair", "n", "peak layer", "retrieval@1", "calibrated", "p", "embeddings", "lexical", "hub gain")


def _control_cell(rec: dict[str, Any], name: str, metric: str = "retrieval_at_1") -> str:
    cal = rec.get("controls", {}).get(name)
    if not cal:
        return "-"
    entry = cal["metrics"][metric].get(cal.get("aggregate", "max")) or {}
    return f"{fmt(entry.get('score'))} ({fmt(entry.get('p'), '.3g')})"


def headline(rec: dict[str, Any], metric: str) -> dict[str, Any]:
    """The calibrated aggregate a record leads with (its ``aggregate``: max or mean over layers), with the
    hub gain at the aggregate's layer; empty when the run was not calibrated."""
    cal = rec.get("calibration")
    if not cal or metric not in cal["metrics"]:
        return {}
    entry = dict(cal["metrics"][metric].get(cal.get("aggregate", "max")) or {})
    if entry.get("score") is not None:  # the aggregate's calibrated score above the surface
        entry["hub_gain"] = entry["score"] - surface_floor(rec.get("surface", {}), metric)
    return entry


def surface_floor(surface: dict[str, Any], metric: str) -> float:
    """The larger of the surface baselines' calibrated scores (0 where there is none)."""
    values = [baseline({"surface": surface}, name, metric) for name in ("embeddings", "lexical")]
    return max([v for v in values if v is not None], default=0.0)


def baseline(rec: dict[str, Any], name: str, metric: str = "retrieval_at_1") -> float | None:
    """A surface baseline's calibrated score (``embeddings``: the embedding layer; ``lexical``: bags of tokens)."""
    return (rec.get("surface", {}).get(name) or {}).get("score", {}).get(metric)


def hub_gains(curves: dict[str, Any], surface: dict[str, Any]) -> dict[str, list[float | None]]:
    """Per metric and layer: the calibrated score above the larger of the surface baselines' calibrated
    scores (None where a score is undefined)."""
    out = {}
    for metric, curve in curves.items():
        top = surface_floor(surface, metric)
        out[metric] = [None if v is None else v - top for v in curve["score"]]
    return out


def similarity(
    states: dict[str, torch.Tensor],
    layers: list[int],
    views: list[str],
    *,
    center: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    calibration: Calibration | None = None,
    lexical: dict[str, tuple[Any, Any]] | None = None,
    controls: dict[str, Calibration] | None = None,
    control_of: dict[str, str] | None = None,
) -> SimilarityResult:
    """Compare ``views[0]`` with each other view, at every captured layer.

    ``calibration`` adds each metric's permutation null (per layer, and the max and mean over layers);
    ``lexical`` (other view -> the two sides' token ids, ``surface.token_ids``) adds the bag-of-tokens
    baseline and the token overlap; the embedding layer (layer 0, when captured) is the other baseline.
    ``controls`` (name -> ``Calibration``: other shuffles) adds each metric calibrated under them, and
    ``control_of`` (view -> the view it controls: ``zh_latn`` -> ``zh``) marks the control pairs."""
    from semhub.analyses import surface as sf
    from semhub.analyses.stats import NULL_METRICS, item_statistics, mean_ci, summarise

    first = views[0]
    records = []
    perms = None if calibration is None else calibration.perms
    for other in views[1:]:
        stats = item_statistics(states[first], states[other], center=center, perms=perms)
        point, ci = summarise(stats, n_boot=n_boot, seed=seed)
        n = int(states[first].shape[0])
        rec = {"a": first, "b": other, "n": n, "layers": list(layers), **point, "ci95": ci, "chance": 1.0 / n}
        if calibration is not None:
            rec["calibration"] = calibration.record({m: stats[f"null_{m}"] for m in NULL_METRICS})
            curves = rec["calibration"]["metrics"]
            surface: dict[str, Any] = {}
            if 0 in layers:
                at = layers.index(0)
                surface["embeddings"] = {"layer": 0, "score": {m: c["score"][at] for m, c in curves.items()},
                                         "p": {m: c["p"][at] for m, c in curves.items()}}
            if lexical and other in lexical:
                ids_a, ids_b = lexical[other]
                bag_a, bag_b = sf.bags(ids_a, ids_b)
                lex = item_statistics(bag_a, bag_b, center=center, perms=perms)
                lex_cal = calibration.record({m: lex[f"null_{m}"] for m in NULL_METRICS})["metrics"]
                overlap, overlap_ci = mean_ci(sf.token_overlap(ids_a, ids_b)[:, None], n_boot, seed)
                surface["lexical"] = {"raw": {m: c["observed"][0] for m, c in lex_cal.items()},
                                      "score": {m: c["score"][0] for m, c in lex_cal.items()},
                                      "p": {m: c["p"][0] for m, c in lex_cal.items()},
                                      "token_overlap": overlap[0], "token_overlap_ci95": (overlap_ci or [None])[0]}
            rec["surface"] = surface
            rec["hub_gain"] = hub_gains(curves, surface)
            per_item = {"retrieval_at_1": stats["hit"], "eq1": stats["matched"] - stats["mismatched"]}
            rec["items"] = {}  # at each metric's calibrated peak: what a paired test between models reads
            for metric, values in per_item.items():
                top = curves[metric].get("max")
                if top is not None:
                    rec["items"][metric] = {"layer": layers[top["index"]], "values": values[top["index"]].tolist()}
        for name, other_cal in (controls or {}).items():
            shuffled = item_statistics(states[first], states[other], center=center, perms=other_cal.perms)
            rec.setdefault("controls", {})[name] = other_cal.record({m: shuffled[f"null_{m}"] for m in NULL_METRICS})
        if control_of and other in control_of:
            rec["control_of"] = control_of[other]
        records.append(rec)
    return SimilarityResult(records, dict(options or {}, center=center, n_boot=n_boot, seed=seed))


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class SimilarityAnalysis(Analysis):
    """Eq. 1, matched/mismatched cosine and retrieval@1 for the first view against each other one."""

    name = "similarity"
    description = "per-layer cross-view similarity (Eq. 1) and retrieval@1 with bootstrap CIs"
    plot_name = "similarity.png"
    needs_model = False  # reads only pooled states: runs from an activation store (--from-store)
    paper = PaperSetting(template="paper")  # multilingual/similarity.py appends "This represents" / "这代表了"
    controls = ("romanised", "length")

    def run(self, ctx):
        from semhub.readout.collect import reader

        stacks = {view: reader(ctx.backbone, view).stack for view in ctx.views} if ctx.backbone else {}
        if len(set(stacks.values())) > 1:
            towers = ", ".join(f"{v}: {s}" for v, s in stacks.items())
            raise SemhubError(f"--views: {ctx.model_name} reads these views on different towers ({towers}), whose "
                              "layers do not correspond; for dual encoders use --analysis joint-alignment")
        from semhub.analyses.surface import control_views, controls, lexical_pairs

        states = {view: ctx.states_by_layer(view) for view in ctx.views}
        s = ctx.settings
        calibration = ctx.calibration
        return similarity(states, ctx.layers, ctx.views, center=s.center, n_boot=s.n_boot, seed=s.seed,
                          options={"model": ctx.model_name, "pooling": s.pooling}, calibration=calibration,
                          lexical=lexical_pairs(ctx) if calibration is not None else None,
                          controls=controls(ctx), control_of=control_views(ctx.views))
