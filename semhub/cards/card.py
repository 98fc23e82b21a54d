"""A model's hub card: what ``semhub profile`` measures, as one versioned JSON document.

Schema ``semhub-card/2`` (documented in docs/cards.md; ``/1`` cards are still read): ``model`` (the
backbone's description), ``n_layers``, ``spokes`` (per view pair: the per-layer curves of every state
metric, with 95% intervals where the analysis gives them, each calibrated against its permutation null,
the surface baselines, and headline numbers led by the calibrated peak), ``lenses`` (per probed view:
the contiguous layers where the dominant language's wins hold, the embeddings left out), ``steering`` (the language preset: flip rate at the
best coefficient and its perplexity cost), ``calls`` (the exact ``semhub.analyze`` / ``semhub.steer``
keywords of every part, so each number can be reproduced alone) and ``timings``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from semhub.analyses.spans import run_around

SCHEMA = "semhub-card/2"
READS = ("semhub-card/1", SCHEMA)
"""The schemas ``Card.from_json`` reads (a /1 card has no calibration: its calibrated fields are None)."""
SPAN = 0.9  # a metric's "span": the layers, contiguous around the peak, within 90% of the peak value


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


@dataclass
class Headline:
    """A curve in three numbers.

    Attributes:
        peak: the largest finite value (None for an all-undefined curve).
        layer: the layer where it peaks.
        depth: that layer's relative depth, layer / L (0 = embeddings, 1 = last block).
        ci95: the 95% interval at the peak, where the analysis gives one (bootstrap), else None.
        span: [first, last] layer of the contiguous run around the peak within 90% of it (positive peaks).
        calibrated: the calibrated max over layers (the permutation null's, shared by every layer), what
            headlines lead with; None for a curve without a null.
        p: its add-one permutation p-value.
        significant: [first, last] layer of the contiguous run around the calibrated peak where each
            layer's own calibrated score is above 0 (p <= alpha), or None.
        over_embeddings: the calibrated max minus the embedding layer's calibrated score (layer 0): what
            the network adds to a static lookup of its tokens.
        null_max: what shuffled rows reach: the (1 - alpha) quantile of the null's max over layers (tau,
            the raw value the calibrated max is measured from), or None.
    """

    peak: float | None
    layer: int | None
    depth: float | None
    ci95: list[float] | None = None
    span: list[int] | None = None
    calibrated: float | None = None
    p: float | None = None
    significant: list[int] | None = None
    over_embeddings: float | None = None
    null_max: float | None = None


@dataclass
class Curve:
    """One metric across layers.

    Attributes:
        metric: its name as the analysis reports it (``retrieval@1``, ``debiased CKA``...).
        layers: the layer indices (``semhub.capture`` convention).
        depth: each layer / L.
        values: the metric per layer (None where undefined).
        ci95: per layer [lo, hi] (bootstrap), or None.
        chance: the value a model with no alignment gets (a shuffled-rows null or 1 / N), or None.
        calibrated: the metric's calibration (``semhub.analyses.calibration.calibrate_curve``): per layer
            ``score``, ``p``, ``tau``, ``null_mean``; ``max`` and ``mean`` over layers; or None.
        items: what ``compare``'s paired permutation test pairs: the per-item values at the calibrated
            peak layer (retrieval@1, Eq. 1), for set-level metrics (CKA, mutual k-NN, RSA...) the
            jackknife pseudo-values of blocks of items there, for lens and language-trend curves each
            data row's mean over its positions read at the curve's peak (None for a row without one);
            None where the run kept none (cards written before 2026-12-07).
    """

    metric: str
    layers: list[int]
    depth: list[float]
    values: list[float | None]
    ci95: list[list[float]] | None = None
    chance: list[float | None] | None = None
    calibrated: dict[str, Any] | None = None
    items: list[float] | None = None

    def headline(self) -> Headline:
        finite = [i for i, v in enumerate(self.values) if _finite(v)]
        if not finite:
            return Headline(None, None, None)
        k = max(finite, key=lambda i: self.values[i])
        peak = float(self.values[k])
        span = None
        if peak > 0:
            lo, hi = run_around([_finite(v) and v >= SPAN * peak for v in self.values], k)
            span = [self.layers[lo], self.layers[hi]]
        head = Headline(peak, self.layers[k], self.depth[k], self.ci95[k] if self.ci95 else None, span)
        cal = self.calibrated or {}
        top = cal.get("max") or {}
        if "score" in top:
            head.calibrated, head.p, head.null_max = top["score"], top["p"], top.get("tau")
            scores = cal.get("score") or []
            run = run_around([_finite(v) and v > 0 for v in scores], top.get("index", k))
            if run is not None:
                head.significant = [self.layers[run[0]], self.layers[run[1]]]
            if 0 in self.layers and _finite(scores[self.layers.index(0)] if scores else None):
                head.over_embeddings = top["score"] - scores[self.layers.index(0)]
        return head


@dataclass
class SpokeProfile:
    """A view pair of one spoke: ``a`` vs ``b`` on its data, every state metric per layer.

    Attributes:
        name: ``"<modality>: a vs b"``, the row of the hub map.
        modality: the spoke's modality.
        a, b: the two views.
        data: the dataset (name or path); n: its rows.
        curves: metric -> ``Curve``.
        surface: the similarity's surface baselines (``embeddings``, ``lexical``: calibrated scores), or None.
    """

    name: str
    modality: str
    a: str
    b: str
    data: str
    n: int
    curves: dict[str, Curve] = field(default_factory=dict)
    surface: dict[str, Any] | None = None


@dataclass
class LensProfile:
    """The dictionary logit lens on one view: how often the dominant language's translation beats the
    next token in the view's own language, per layer.

    Attributes:
        name: ``"lens: view -> dominant"``.
        view, dominant: the probed view and the model's dominant language.
        curves: ``dominant wins`` (share of positions), ``log p next`` and ``log p translation``.
        wins_range: [first, last] of the longest run of layers after the embeddings where the translation
            wins at more than half the positions, and more often than a frequency-matched random word, with
            95% confidence (the Wilson interval's lower bound above both), or None.
    """

    name: str
    view: str
    dominant: str
    curves: dict[str, Curve] = field(default_factory=dict)
    wins_range: list[int] | None = None


@dataclass
class SteeringProfile:
    """The causal test: the language steering preset.

    Attributes:
        preset: its name; target: the language it steers towards.
        best: the setting with the highest flip rate: layer, coeff, flip_rate (share of continuations
            in the target language), perplexity, random_flip_rate (a random direction of the same norm at
            that layer and coefficient: the control), baseline_flip_rate and baseline_perplexity (coefficient 0).
        settings: every (layer, coeff) with its scores.
    """

    preset: str
    target: str
    best: dict[str, Any]
    settings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Card:
    """The hub card; ``semhub.profile`` returns one, ``Card.read(path)`` loads a ``card.json``."""

    model: dict[str, Any]
    n_layers: int
    spokes: list[SpokeProfile] = field(default_factory=list)
    lenses: list[LensProfile] = field(default_factory=list)
    steering: SteeringProfile | None = None
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    quick: bool = False
    schema: str = SCHEMA

    @property
    def label(self) -> str:
        """How the card is named in comparisons: the model, and its revision or dtype when they are set."""
        m = self.model
        extra = [str(m[k]) for k in ("revision", "dtype") if m.get(k) and m.get(k) not in ("main", "float32")]
        return " ".join([str(m.get("name", "model")), *extra])

    def curve(self, section: str, name: str, metric: str) -> Curve:
        """One curve: ``section`` is ``"spoke"`` or ``"lens"``, ``name`` the entry's name."""
        items = self.spokes if section == "spoke" else self.lenses
        return next(i for i in items if i.name == name).curves[metric]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for group in ("spokes", "lenses"):
            for item, obj in zip(out[group], getattr(self, group)):
                for name, curve in obj.curves.items():
                    item["curves"][name]["headline"] = asdict(curve.headline())
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Card":
        """A card from its JSON, checked against the schema first (``check_card``): a field of the wrong type
        or length is a ``ValueError`` naming where, never a traceback deep in a comparison."""
        check_card(data)
        data = {**data, "schema": SCHEMA}  # a /1 card reads as /2 without calibration

        def curves(raw: dict[str, Any]) -> dict[str, Curve]:
            return {k: Curve(**{f: v for f, v in c.items() if f != "headline"}) for k, c in raw.items()}

        spokes = [SpokeProfile(**{**s, "curves": curves(s["curves"])}) for s in data["spokes"]]
        lenses = [LensProfile(**{**s, "curves": curves(s["curves"])}) for s in data["lenses"]]
        steering = SteeringProfile(**data["steering"]) if data.get("steering") else None
        rest = {k: data[k] for k in ("calls", "timings", "quick", "schema") if k in data}
        return cls(data["model"], int(data["n_layers"]), spokes, lenses, steering, **rest)

    @classmethod
    def read(cls, path: str | Path) -> "Card":
        """A ``card.json``, or a profile run directory holding one."""
        from semhub.errors import SemhubError

        from semhub.files import read_json_object

        path = Path(path)
        path = path / "card.json" if path.is_dir() else path
        if not path.exists():
            raise SemhubError(f"{path}: no such card (a semhub profile run directory holds card.json)")
        data = read_json_object(path, "a card")
        try:
            return cls.from_json(data)
        except ValueError as exc:
            raise SemhubError(f"{path}: not a {' or '.join(READS)} card: {exc}") from None

    def to_pandas(self):
        """Every curve as rows: section, name, metric, layer, depth, value, ci_lo, ci_hi (needs pandas)."""
        import pandas as pd

        rows = []
        for section, items in (("spoke", self.spokes), ("lens", self.lenses)):
            for item in items:
                for metric, c in item.curves.items():
                    for i, layer in enumerate(c.layers):
                        lo, hi = (c.ci95[i] if c.ci95 else (None, None))
                        rows.append({"section": section, "name": item.name, "metric": metric, "layer": layer,
                                     "depth": c.depth[i], "value": c.values[i], "ci_lo": lo, "ci_hi": hi})
        return pd.DataFrame(rows)

    def plot(self, folder: str | Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
        """Static figures for papers (hub map, one panel per spoke and lens) in each format."""
        from semhub.cards.figures import static_figures

        return static_figures(self, Path(folder), formats)

    def html(self) -> str:
        from semhub.cards.page import card_page

        return card_page(self)

    def write(self, out: str | Path, formats: tuple[str, ...] = (), parts: str | Path | None = None) -> Path:
        """``card.json``, ``card.html``, static figures in ``formats`` and, from ``parts`` (the profile's
        work folder), every part's run directory under ``runs/``: a new folder, complete or absent."""
        import shutil

        from semhub.runs.rundir import dumps, staged_run_dir

        out = Path(out)
        with staged_run_dir(out) as tmp:
            (tmp / "card.json").write_text(dumps(self.to_json()))
            (tmp / "card.html").write_text(self.html())
            if formats:
                self.plot(tmp / "figures", formats)
            if parts is not None and (Path(parts) / "runs").is_dir():
                shutil.copytree(Path(parts) / "runs", tmp / "runs")
        return out

    def _repr_html_(self) -> str:
        from semhub.cards.page import card_fragment

        return card_fragment(self)


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _check_curve(where: str, c: Any) -> None:
    if not isinstance(c, dict) or not isinstance(c.get("metric"), str):
        raise ValueError(f"{where}: expected a curve (an object with a metric name)")
    unknown = set(c) - {"metric", "layers", "depth", "values", "ci95", "chance", "headline", "calibrated", "items"}
    if unknown:
        raise ValueError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    layers = c.get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in layers):
        raise ValueError(f"{where}.layers: expected a list of layer indices")
    n = len(layers)
    for name, optional in (("depth", False), ("values", False), ("chance", True)):
        seq = c.get(name)
        if seq is None and optional:
            continue
        if not isinstance(seq, list) or len(seq) != n or not all(_number(v) for v in seq):
            got = f"{len(seq)} entries" if isinstance(seq, list) else type(seq).__name__
            raise ValueError(f"{where}.{name}: expected {n} numbers (one per layer), got {got}")
    ci = c.get("ci95")
    if ci is not None and (not isinstance(ci, list) or len(ci) != n or not all(
            isinstance(p, list) and len(p) == 2 and all(_number(v) for v in p) for p in ci)):
        raise ValueError(f"{where}.ci95: expected {n} [low, high] pairs of numbers")
    cal = c.get("calibrated")
    if cal is not None:
        if not isinstance(cal, dict):
            raise ValueError(f"{where}.calibrated: expected an object")
        for name in ("score", "p"):
            seq = cal.get(name)
            if not isinstance(seq, list) or len(seq) != n or not all(_number(v) for v in seq):
                raise ValueError(f"{where}.calibrated.{name}: expected {n} numbers (one per layer)")
        top = cal.get("max")
        if top is not None and not (isinstance(top, dict) and all(_number(top.get(k)) for k in ("score", "p"))
                                    and isinstance(top.get("index", 0), int) and 0 <= top.get("index", 0) < n):
            raise ValueError(f"{where}.calibrated.max: expected score, p and a layer index")
    items = c.get("items")
    if items is not None and (not isinstance(items, list) or not all(_number(v) for v in items)):
        raise ValueError(f"{where}.items: expected a list of numbers")


def _known(where: str, obj: dict, fields: set[str]) -> None:
    unknown = set(obj) - fields
    if unknown:
        raise ValueError(f"{where + ': ' if where else ''}unknown field {sorted(unknown)[0]!r}")


def check_card(data: Any) -> None:
    """The ``semhub-card/2`` schema (or ``/1``), checked field by field: ``ValueError`` naming the first field that is not
    as the schema says (its type, or a length that does not match its layers)."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("schema") not in READS:
        raise ValueError(f"schema {data.get('schema')!r} is not {' or '.join(map(repr, READS))}")
    _known("", data, {"model", "n_layers", "spokes", "lenses", "steering", "calls", "timings", "quick", "schema"})
    if not isinstance(data.get("model"), dict) or not isinstance(data["model"].get("name"), str):
        raise ValueError("model: expected an object with a name")
    if not isinstance(data.get("n_layers"), int) or isinstance(data["n_layers"], bool) or data["n_layers"] < 0:
        raise ValueError("n_layers: expected a count")
    for group, fields in (("spokes", ("name", "modality", "a", "b", "data")), ("lenses", ("name", "view", "dominant"))):
        items = data.get(group)
        if not isinstance(items, list):
            raise ValueError(f"{group}: expected a list")
        for i, item in enumerate(items):
            where = f"{group}[{i}]"
            if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
                raise ValueError(f"{where}: expected an object with {', '.join(fields)} as strings")
            _known(where, item, {*fields, "curves", "n", "surface"} if group == "spokes"
                   else {*fields, "curves", "wins_range"})
            if group == "spokes" and (not isinstance(item.get("n"), int) or isinstance(item.get("n"), bool)):
                raise ValueError(f"{where}.n: expected a count")
            if not isinstance(item.get("curves"), dict):
                raise ValueError(f"{where}.curves: expected an object of curves")
            for name, c in item["curves"].items():
                _check_curve(f"{where}.curves[{name!r}]", c)
    steering = data.get("steering")
    if steering is not None and not (isinstance(steering, dict) and isinstance(steering.get("preset"), str)
                                     and isinstance(steering.get("target"), str)
                                     and isinstance(steering.get("best"), dict)
                                     and isinstance(steering.get("settings", []), list)):
        raise ValueError("steering: expected an object with preset, target, best and settings")
    if steering is not None:
        _known("steering", steering, {"preset", "target", "best", "settings"})
    for name, kind in (("calls", dict), ("timings", dict), ("quick", bool)):
        if name in data and not isinstance(data[name], kind):
            raise ValueError(f"{name}: expected {'true or false' if kind is bool else 'an object'}")
