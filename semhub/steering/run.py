"""A steering experiment end to end: build the vector, generate per (layer, coefficient), score.

Every setting is one batched generation over all prompts; coefficient 0 is always run
as the unsteered baseline. Results are JSON-serialisable and plot as a heatmap (sweep)
or bars (one layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from semhub.contract.result import RecordsResult
from semhub.errors import ParameterError, PluginError, SemhubError
from semhub.steering.apply import steer
from semhub.steering.generate import generate
from semhub.steering.vectors import SteeringVector, random_direction


@dataclass
class SteerSpec:
    """Everything a steering run needs besides the model (presets fill it in)."""

    prompts: list[str]
    layers: list[int]
    coeffs: list[float]
    scorers: list[str] = field(default_factory=list)  # empty: the scorers registered with ``default = True``
    positions: str = "all"
    mode: str = "add"
    target_language: str | None = None
    target_word: str | None = None
    max_new_tokens: int = 24
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seeds: list[int] = field(default_factory=lambda: [0])
    batch_size: int = 40
    random_control: bool = True  # each steered setting again with a random direction of the same norm
    description: str = ""


def _nanmean(values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else None


def target_logprob(backbone, prompts: list[str], word: str) -> np.ndarray:
    """log p(first token of ``word``) at the last prompt position, under whatever steering is active."""
    from semhub.lens.token_sets import score_token_sets, word_token_ids

    ids = word_token_ids(backbone, [word])
    if not ids:
        raise SemhubError(f"--target-word: {word!r} has no token")
    L = backbone.n_layers
    return score_token_sets(backbone, prompts, {"t": ids}, view=backbone.family.dominant_language, layers=[L]).scores["t"][:, 0]


def checked_scores(scorer, gen, backbone, target_language: str | None) -> list[float]:
    """A scorer's values, checked: one number per continuation, or one line naming the scorer's plugin."""
    from semhub.plugins import catalog

    values = scorer.score(gen, backbone, target_language=target_language)
    n = len(gen.continuations)
    plugin = catalog.owner("semhub_register_scorers", scorer.name)
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise PluginError(f"scorer {scorer.name!r} (plugin {plugin}) returned {type(values).__name__}, "
                          "not a list of numbers") from None
    if len(values) != n:
        raise PluginError(f"scorer {scorer.name!r} (plugin {plugin}) returned {len(values)} value(s) "
                          f"for {n} continuations")
    return values


def run_steering(backbone, vector: SteeringVector, spec: SteerSpec,
                 on_setting: Callable[[int, float], None] | None = None) -> "SteeringResult":
    from semhub.plugins import catalog

    table = catalog.scorers()
    names = spec.scorers or [name for name, s in table.items() if getattr(s, "default", False)]
    if not names:
        raise ParameterError("scorers", "none given and no scorer is registered as a default")
    spec.scorers = list(names)
    scorers = [catalog.lookup("scorer", table, name) for name in names]
    base_target = target_logprob(backbone, spec.prompts, spec.target_word) if spec.target_word else None
    control = random_direction(vector.vector, seed=spec.seeds[0]) if spec.random_control else None

    def scored(vec, layer: int, coeff: float) -> tuple[dict[str, list[float]], list[str]]:
        """Every scorer's values over every seed's continuations, steering with ``vec`` at (layer, coeff)."""
        scores: dict[str, list[float]] = {s.name: [] for s in scorers}
        conts: list[str] = []
        for seed in spec.seeds:
            with steer(backbone, vec, layers=layer, coeff=coeff, positions=spec.positions, mode=spec.mode):
                gen = generate(backbone, spec.prompts, max_new_tokens=spec.max_new_tokens,
                               do_sample=spec.do_sample, temperature=spec.temperature, top_p=spec.top_p,
                               seed=seed, batch_size=spec.batch_size)
            for s in scorers:
                scores[s.name] += checked_scores(s, gen, backbone, spec.target_language)
            conts += gen.continuations
        return scores, conts

    settings, examples = [], []
    coeffs = sorted(set([0.0, *spec.coeffs]))
    for layer in spec.layers:
        for coeff in coeffs:
            with steer(backbone, vector, layers=layer, coeff=coeff, positions=spec.positions, mode=spec.mode):
                # one forward, no sampling: the same for every seed
                shift = (target_logprob(backbone, spec.prompts, spec.target_word) - base_target
                         if spec.target_word else None)
            scores, conts = scored(vector, layer, coeff)
            record = {"layer": layer, "coeff": coeff, "n": len(conts),
                      "scores": {name: _nanmean(vals) for name, vals in scores.items()},
                      "per_seed": {name: [_nanmean(vals[i::len(spec.seeds)]) for i in range(len(spec.seeds))]
                                   for name, vals in scores.items()} if len(spec.seeds) > 1 else None}
            if shift is not None:
                record["target_logprob_shift"] = float(np.mean(shift))
            if control is not None and coeff != 0:  # the same norm, layer and coefficient, a random direction
                random_scores, _ = scored(control, layer, coeff)
                record["random_direction"] = {name: _nanmean(vals) for name, vals in random_scores.items()}
            settings.append(record)
            examples.append({"layer": layer, "coeff": coeff,
                             "continuations": [{"prompt": p, "continuation": c} for p, c in zip(spec.prompts, conts)]})
            if on_setting:
                on_setting(layer, coeff)
    return SteeringResult(settings, {"model": backbone.name, "vector": vector.provenance, "spec": spec.__dict__},
                          examples=examples)


@dataclass
class SteeringResult(RecordsResult):
    examples: list[dict[str, Any]] = field(default_factory=list)
    key: ClassVar[str] = "steering"

    def plot(self, folder):
        from semhub.plots import plot_steering

        return plot_steering(self, self.figure_path(folder))
    summary_title = "steering: mean score per setting"

    @property
    def scorer_names(self) -> list[str]:
        return list(self.records[0]["scores"]) if self.records else []

    @property
    def controlled(self) -> bool:
        """Whether steered settings carry the random-direction control."""
        return any("random_direction" in rec for rec in self.records)

    @property
    def summary_columns(self) -> tuple[str, ...]:
        extra = ("target log p shift",) if "target_logprob_shift" in self.records[0] else ()
        control = tuple(f"{name} (random dir.)" for name in self.scorer_names) if self.controlled else ()
        return ("layer", "coeff", *self.scorer_names, *control, *extra)

    def summary_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for rec in self.records:
            cells = ["-" if v is None else f"{v:.3f}" for v in rec["scores"].values()]
            if self.controlled:  # the unsteered row is its own control
                control = rec.get("random_direction") or (rec["scores"] if rec["coeff"] == 0 else {})
                cells += ["-" if control.get(n) is None else f"{control[n]:.3f}" for n in self.scorer_names]
            if "target_logprob_shift" in rec:
                cells.append(f"{rec['target_logprob_shift']:+.2f}")
            rows.append((str(rec["layer"]), f"{rec['coeff']:g}", *cells))
        return rows

    def score(self, name: str, layer: int, coeff: float) -> float | None:
        for rec in self.records:
            if rec["layer"] == layer and rec["coeff"] == coeff:
                return rec["scores"][name]
        raise KeyError((layer, coeff))

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.records, "vector": self.options.get("vector"), "spec": self.options.get("spec")}
