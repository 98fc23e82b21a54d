"""``semhub.profile``: a model's hub card from one call, built from the same pipeline calls a user
would make by hand (``semhub.analyze`` / ``semhub.steer``), so every number on the card equals the
separate run with the keywords recorded in ``card.calls``.

Plan: for every spoke whose input kind the model reads (the registry's ``modalities``), on the
spoke's built-in data or ``data[modality]``: ``similarity`` capturing into an activation store,
then ``alignment`` from that store (states captured once per spoke, shared by both); then the
dictionary logit lens and language trends, and the language steering preset, where the model
reads text and has an unembedding. Each part's run directory is kept under ``<work>/runs/<part>``
as it finishes, so ``resume=True`` recomputes only what is missing (and resumes a store a killed
capture left behind).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from semhub.analyses.spans import longest_run
from semhub.cards.card import Card, Curve, LensProfile, SpokeProfile, SteeringProfile
from semhub.errors import DataError, ParameterError, SemhubError
from semhub.files import read_json_object
from semhub.specs.model import ModelSpec
from semhub.specs.progress import Progress

QUICK = {"limit": 40, "n_boot": 200, "views": 3, "permutations": 40, "prompts": 8, "trend_positions": 100}
FULL = {"limit": None, "n_boot": 1000, "views": None, "permutations": 200, "prompts": None, "trend_positions": None}


def depth(layers: list[int], n_layers: int) -> list[float]:
    return [round(layer / n_layers, 4) for layer in layers]


def item_values(rec: dict[str, Any], key: str) -> list[float | None] | None:
    """What ``compare`` pairs for one curve of a results.json record: ``rec["items"][key]["values"]``
    (per item, per block of items or per data row, at the curve's peak), or None where the run kept none."""
    return ((rec.get("items") or {}).get(key) or {}).get("values")


def spoke_curves(similarity: dict[str, Any], alignment: list[dict[str, Any]], n_layers: int) -> dict[str, Curve]:
    """One view pair's curves from its similarity record and its alignment records (results.json)."""
    layers = similarity["layers"]
    d = depth(layers, n_layers)
    cal = (similarity.get("calibration") or {}).get("metrics", {})

    def extra(metric: str) -> dict[str, Any]:
        return {"calibrated": cal.get(metric), "items": item_values(similarity, metric)}

    out = {
        "retrieval@1": Curve("retrieval@1", layers, d, similarity["retrieval_at_1"],
                             similarity["ci95"].get("retrieval_at_1"), [similarity["chance"]] * len(layers),
                             **extra("retrieval_at_1")),
        "Eq. 1": Curve("Eq. 1", layers, d, similarity["eq1"], similarity["ci95"].get("eq1"), [0.0] * len(layers),
                       **extra("eq1")),
    }
    rec = next(r for r in alignment if not r.get("pool") and r["a"] == similarity["a"] and r["b"] == similarity["b"])
    nulls = (rec.get("calibration") or {}).get("metrics", {})
    for name, values in rec["series"].items():
        if "(null mean)" in name or name.startswith(("retrieval@1", "CKNNA")):
            continue
        null = nulls.get(name)
        out[name] = Curve(name, rec["x"], depth(rec["x"], n_layers), values,
                          chance=null["null_mean"] if null else None, calibrated=null,
                          items=item_values(rec, name))  # jackknife pseudo-values
    return out


def lens_profile(rec: dict[str, Any], n_layers: int) -> LensProfile:
    layers = rec["layers"]
    d = depth(layers, n_layers)
    curves = {"dominant wins": Curve("dominant wins", layers, d, rec["dominant_wins"], chance=[0.5] * len(layers),
                                     items=item_values(rec, "dominant_wins")),
              "log p next": Curve("log p next", layers, d, rec["native_logprob"], rec["ci95"].get("native_logprob"),
                                  items=item_values(rec, "native_logprob")),
              "log p translation": Curve("log p translation", layers, d, rec["dominant_logprob"],
                                         rec["ci95"].get("dominant_logprob"), items=item_values(rec, "dominant_logprob"))}
    n = int(rec.get("n_positions") or 0)
    floor = rec.get("random_wins") or [0.5] * len(layers)  # a random word of the same frequency, where recorded
    holds = [layer != 0 and w is not None and wilson_low(w, n) > max(0.5, f or 0.0)
             for layer, w, f in zip(layers, rec["dominant_wins"], floor)]
    return LensProfile(f"lens: {rec['view']} -> {rec['dominant']}", rec["view"], rec["dominant"], curves,
                       longest_run(layers, holds))


def wilson_low(share: float, n: int) -> float:
    """The lower bound of the 95% Wilson interval of a share of ``n`` (0 without positions)."""
    from semhub.analyses.stats import wilson_interval

    return wilson_interval(share, n)[0] if n > 0 else 0.0


def trends_profile(rec: dict[str, Any], n_layers: int) -> LensProfile:
    """Language trends of one view: the lens's mass per language per layer; ``wins_range`` is where the
    dominant language holds the most mass."""
    layers = rec["layers"]
    d = depth(layers, n_layers)
    curves = {f"{lang} mass": Curve(f"{lang} mass", layers, d, values, items=item_values(rec, lang))
              for lang, values in rec["mass"].items()}
    dominant = rec["dominant"]
    top = [layer for i, layer in enumerate(layers)
           if max(rec["mass"], key=lambda lang: rec["mass"][lang][i]) == dominant]
    return LensProfile(f"language trends: {rec['view']}", rec["view"], dominant, curves,
                       [top[0], top[-1]] if top else None)


def steering_profile(preset: str, result: dict[str, Any]) -> SteeringProfile:
    settings = result["settings"]
    base = next((s for s in settings if s["coeff"] == 0), None)
    steered = [s for s in settings if s["coeff"] != 0]
    best = max(steered, key=lambda s: -1 if s["scores"].get("language") is None else s["scores"]["language"])
    target = (result.get("spec") or {}).get("target_language", "")
    return SteeringProfile(preset, target, {
        "layer": best["layer"], "coeff": best["coeff"], "flip_rate": best["scores"].get("language"),
        "perplexity": best["scores"].get("perplexity"),
        "random_flip_rate": (best.get("random_direction") or {}).get("language"),
        "baseline_flip_rate": base["scores"].get("language") if base else None,
        "baseline_perplexity": base["scores"].get("perplexity") if base else None}, settings)


class Parts:
    """The work folder: each part's finished run directory, reused on resume."""

    def __init__(self, work: Path, resume: bool, progress):
        self.work, self.resume, self.progress = work, resume, progress
        self.calls: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, float] = {}
        self.total = 0  # parts planned, for "[3/9] code-similarity"

    def store(self, name: str) -> Path:
        return self.work / "stores" / name

    def claim(self, identity: dict[str, Any]) -> None:
        """Record what this work folder profiles (model with its content digest, sizes, data); on resume,
        refuse a folder made for anything else, so a card never mixes two models' parts."""
        from semhub.runs.rundir import dumps

        path = self.work / "profile.json"
        if self.resume and path.exists():
            try:
                before = read_json_object(path, "a profile's record")
            except DataError as exc:
                raise SemhubError(f"{exc}; remove {self.work} to start the profile afresh") from None
            differ = sorted(k for k in set(before) | set(identity) if before.get(k) != identity.get(k))
            if differ:
                raise ParameterError("resume", f"{self.work} holds a profile of another {', '.join(differ)}; "
                                               "refusing to mix them in one card")
        path.write_text(dumps(identity), encoding="utf-8")

    def run(self, name: str, function, optional: bool = False, record: dict[str, Any] | None = None,
            **call: Any) -> dict[str, Any] | None:
        """``function(**call)`` written to ``runs/<name>``, or, on resume, that run's results. An
        ``optional`` part that cannot run on this model (a lens without a dictionary for its dominant
        language) returns None, its reason kept in ``calls[name]["skipped"]`` and on disk. ``calls[name]``
        is ``record`` or the call itself, without what only the profile needs (the loaded backbone, its
        store): the keywords that give the same numbers alone."""
        self.calls[name] = dict(record if record is not None else
                                {k: v for k, v in call.items() if k not in ("backbone", "store", "resume")})
        folder = self.work / "runs" / name
        step = f"[{len(self.calls)}/{self.total}] {name}"
        if self.resume and (folder / "results.json").exists():
            try:
                done = read_json_object(folder / "results.json", "a run's results")
            except DataError:
                done = None  # cut or damaged: run the part again
            if done is not None:
                self.progress.note(f"{step}: done before, reused")
                return done
        if self.resume and optional and (folder / "skipped.txt").exists():
            self.calls[name]["skipped"] = (folder / "skipped.txt").read_text().strip()
            self.progress.note(f"{step}: skipped before, {self.calls[name]['skipped']}")
            return None
        if folder.exists():
            import shutil

            shutil.rmtree(folder)  # an unfinished part from a killed profile
        self.progress.note(f"{step}: running")
        start = time.perf_counter()
        try:
            run = function(**call, progress=self.progress)
        except SemhubError as exc:
            if not optional:
                raise
            self.calls[name]["skipped"] = str(exc)
            folder.mkdir(parents=True)
            (folder / "skipped.txt").write_text(f"{exc}\n")
            return None
        run.write(folder)
        self.timings[name] = round(time.perf_counter() - start, 1)
        return json.loads(run.results_text)


def check_data(data: dict[str, str]) -> None:
    """Each given dataset names a loaded spoke and reads cleanly: checked before the model loads."""
    from semhub.plugins import catalog
    from semhub.specs.inputs import dataset

    for modality, name in data.items():
        if catalog.spoke_of(modality) is None:
            known = ", ".join(sorted({s.modality for s in catalog.spokes().values()}))
            raise ParameterError("data", f"{modality}={name}: no spoke reads {modality!r} (loaded: {known})")
        dataset(name, None, None, modality)


def check_spokes(spokes: list[str] | None, data: dict[str, str]) -> None:
    """Each chosen spoke is a loaded one, and no dataset is given for a spoke left out."""
    from semhub.plugins import catalog

    if spokes is None:
        return
    known = {s.modality for s in catalog.spokes().values()}
    unknown = [m for m in spokes if m not in known]
    if not spokes:
        raise ParameterError("spokes", "names no spoke (give e.g. text,code)")
    if unknown:
        raise ParameterError("spokes", f"{', '.join(unknown)}: no such spoke (loaded: {', '.join(sorted(known))})")
    left_out = sorted(set(data) - set(spokes))
    if left_out:
        raise ParameterError("data", f"data given for {', '.join(left_out)}, which --spokes leaves out")


def plan_spokes(backbone, data: dict[str, str], sizes: dict[str, Any],
                spokes: list[str] | None = None) -> list[tuple[str, str | None, list[str]]]:
    """(modality, data, views) for every spoke the model reads (of ``spokes``, when given), its views as
    ``semhub analyze`` picks them."""
    from semhub.contract.spoke import optional
    from semhub.plugins import catalog
    from semhub.specs.inputs import dataset, default_views

    plan, seen = [], set()
    for spoke in catalog.spokes().values():
        kind = optional(spoke, "input_kind")
        if spoke.modality in seen or kind not in backbone.family.modalities:
            continue
        if spokes is not None and spoke.modality not in spokes:
            continue
        seen.add(spoke.modality)
        name = data.get(spoke.modality)
        try:
            ds = dataset(name, None, None, spoke.modality)
            views = default_views(ds, spoke.modality, backbone.family.dominant_language)
        except SemhubError:
            if name is not None:
                raise  # the user's data is never dropped silently
            continue  # a spoke with no built-in data (and none given) is not on the card
        plan.append((spoke.modality, name, views[:sizes["views"]] if sizes["views"] else views))
    unknown = sorted(set(data) - seen)
    if unknown:
        raise ParameterError("data", f"no spoke the model reads has modality {', '.join(unknown)}")
    if spokes is not None and not plan:
        raise ParameterError("spokes", f"the model reads none of {', '.join(spokes)} (it reads "
                                       f"{', '.join(sorted(backbone.family.modalities))})")
    return plan


def profile(model: ModelSpec | str | None = None, *, backbone: Any = None, data: dict[str, str] | None = None,
            quick: bool = False, work: str | Path | None = None, resume: bool = False, steering: bool = True,
            spokes: list[str] | None = None, progress: Progress | None = None, **keywords: Any) -> Card:
    """The hub card of ``model`` (default: the text spoke's default model); see the module docstring.

    ``spokes`` limits the spoke rows to these modalities (``["text", "code"]``; the lens and steering parts
    still run); ``data`` maps a modality to a dataset (``{"code": "mine.jsonl"}``); ``quick`` is a smaller card
    (40 rows, three views per spoke, eight steering prompts); ``work`` keeps every part's run
    directory and store (a temporary folder by default); ``resume`` reuses what ``work`` holds.
    ``model`` is a ``ModelSpec``, or a name with its fields as keywords (``device``, ``dtype``, ``revision``...).
    """
    import tempfile

    from semhub.places import check_folder
    from semhub.specs.inputs import model_for
    from semhub.runs.pipeline import analyze, steer

    model_spec = ModelSpec.of(model, keywords)
    if keywords:
        raise ParameterError(next(iter(keywords)), "no such profile option")
    progress = progress or Progress()
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    if work is not None:
        check_folder(work, "work")
        if resume and not Path(work).exists():
            raise ParameterError("resume", f"{work} holds no earlier profile to continue")
    check_spokes(spokes, dict(data or {}))
    check_data(data or {})
    model_spec.check()
    if backbone is None:
        backbone = model_spec.replace(model=model_for("text", model_spec.model)).load()
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="semhub-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    parts = Parts(work, resume, progress)
    chosen = {"spokes": list(spokes)} if spokes is not None else {}
    parts.claim({"model": backbone.describe(), "quick": quick, "steering": steering, "data": dict(data or {}), **chosen})
    n_layers = backbone.n_layers
    plan = plan_spokes(backbone, dict(data or {}), sizes, spokes)
    card = Card(backbone.describe(), n_layers, quick=quick)
    reads_text = "text" in backbone.family.modalities and "unembedding" in backbone.family.paths(backbone.stack)
    parts.total = 2 * len(plan) + (2 + int(steering) if reads_text else 0)
    common = {"limit": sizes["limit"], "n_boot": sizes["n_boot"]}
    for modality, name, views in plan:
        store = parts.store(modality)
        sim = parts.run(f"{modality}-similarity", analyze, analysis="similarity", backbone=backbone, modality=modality,
                        data=name, views=views, store=store, resume=(store / "store.json").exists(), **common)
        alone = {"analysis": "alignment", "modality": modality, "data": name, "views": views,
                 "permutations": sizes["permutations"], **common}
        align = parts.run(f"{modality}-alignment", analyze, record=alone, analysis="alignment", from_store=store,
                          permutations=sizes["permutations"], n_boot=sizes["n_boot"])
        for rec in sim["similarity"]:
            card.spokes.append(SpokeProfile(f"{modality}: {rec['a']} vs {rec['b']}", modality, rec["a"], rec["b"],
                                            name or "built-in", rec["n"],
                                            spoke_curves(rec, align["alignment"], n_layers), rec.get("surface")))
    if reads_text:
        langs = [v for v in ("en", "zh", "es", "fr", "de") if v != backbone.family.dominant_language]
        langs = [backbone.family.dominant_language, *langs][: (sizes["views"] or 5)]
        lens = parts.run("logit-lens", analyze, optional=True, analysis="logit-lens", backbone=backbone,
                         data="multilingual", views=langs, **common)
        if lens is not None:
            card.lenses = [lens_profile(rec, n_layers) for rec in lens["logit_lens"]]
        trend_views = [v for v in ("zh", "es") if v != backbone.family.dominant_language][: (sizes["views"] or 3) - 1]
        positions = {"max_positions": sizes["trend_positions"]} if sizes["trend_positions"] else {}
        trends = parts.run("language-trends", analyze, optional=True, analysis="language-trends", backbone=backbone,
                           data="multilingual", views=trend_views, **common, **positions)
        if trends is not None:
            card.lenses += [trends_profile(rec, n_layers) for rec in trends["language_trends"]]
        if steering:
            result = parts.run("language-steering", steer, optional=True, preset="language", backbone=backbone,
                               limit=sizes["prompts"])
            if result is not None:
                card.steering = steering_profile("language", result["steering"])
    card.calls, card.timings = parts.calls, {**parts.timings, "total_s": round(time.perf_counter() - started, 1)}
    return card
