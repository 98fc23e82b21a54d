"""The pipeline: ``analyze``, ``steer`` and ``reproduce`` return a ``Run``; the CLI only parses and prints.

The same arguments give the same ``results.json`` from Python and from ``semhub analyze``,
because the CLI calls these functions with what it parsed.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from semhub.contract.analysis import declared, options_class
from semhub.contract.options import Options, check_seed
from semhub.contract.steering import reads_target_language
from semhub.errors import ParameterError, RunError, SemhubError, first_line
from semhub.plugins import catalog
from semhub.contract.spoke import allow_outside_paths as allowing, encoding, optional, outside_paths_allowed
from semhub.runs.context import RunContext, RunSettings, build_context, context_from_store
from semhub.specs.calibration import CalibrationSpec
from semhub.specs.data import DataSpec, Inputs
from semhub.specs.engine import EngineSpec
from semhub.specs.inputs import check_readout, model_for, require_text
from semhub.specs.model import ModelSpec
from semhub.specs.progress import Progress
from semhub.specs.store import StoreSpec
from semhub.runs.run import Run
from semhub.runs.rundir import environment

def analysis_options(analysis: Any, values: dict[str, Any]) -> Options:
    """The analysis's ``Options`` built from keyword values (errors name the parameter)."""
    return options_class(analysis).build(values)


def _producer(analysis: Any) -> str:
    return f"analysis {analysis.name!r} (plugin {catalog.owner('semhub_register_analyses', analysis.name)})"


def run_guarded(analysis: Any, ctx: RunContext) -> Any:
    """Run an analysis; a crash inside it becomes one line naming the analysis and its plugin.

    Nothing has been written yet, so a crash, an out-of-memory or Ctrl-C leaves no run directory.
    """
    import torch

    try:
        return analysis.run(ctx)
    except SemhubError:
        raise
    except SystemExit as exc:  # an analysis calling sys.exit must not end the run as if it had succeeded
        raise RunError(f"{_producer(analysis)} called sys.exit({exc.code!r}) instead of returning a result") from None
    except (torch.OutOfMemoryError, MemoryError) as exc:
        raise RunError(f"analysis {analysis.name!r} ran out of memory ({type(exc).__name__}); try a smaller "
                       f"batch_size (was {ctx.settings.batch_size}), dtype bfloat16 or device_map auto") from None
    except Exception as exc:
        if os.environ.get("SEMHUB_DEBUG"):
            raise
        raise RunError(f"{_producer(analysis)} failed: {type(exc).__name__}: {first_line(exc, default='')} "
                       "(SEMHUB_DEBUG=1 shows the traceback)") from None


def check_input_kinds(analysis: Any, views: list[str]) -> None:
    """An analysis that declares ``input_kinds`` needs at least one view its spoke reads as one of them."""
    kinds = tuple(declared(analysis, "input_kinds") or ())
    if kinds and not any(optional(catalog.spoke_for_view(v), "input_kind") in kinds for v in views):
        raise ParameterError("views", f"analysis {analysis.name!r} reads {' or '.join(kinds)} views; "
                                      f"none of {', '.join(views)} is one")


def analyze(
    analysis: str = "similarity",
    *,
    model: ModelSpec | str | None = None,
    data: DataSpec | Any = None,
    store: StoreSpec | str | Path | None = None,
    engine: EngineSpec | str | None = None,
    calibration: CalibrationSpec | None = None,
    backbone: Any = None,
    model_b: ModelSpec | str | None = None,
    backbone_b: Any = None,
    layers_b: str | list[int] | None = None,
    stack_b: str | None = None,
    layers: str | list[int] | None = None,
    paper: bool = False,
    pooling: str | None = None,
    center: bool | None = None,
    final_norm: bool | None = None,
    lens_norm: bool | None = None,
    lens: str | None = None,
    lens_path: str | Path | None = None,
    readout: str | None = None,
    batch_size: int = 16,
    n_boot: int = 1000,
    seed: int = 0,
    options: dict[str, Any] | Options | None = None,
    progress: Progress | None = None,
    **keywords: Any,
) -> Run:
    """Run one analysis end to end and return the ``Run`` (``run.write(dir)`` writes its directory).

    The ingredients: ``model`` (a ``ModelSpec``, or a name with its fields as keywords: ``device``,
    ``dtype``, ``device_map``, ``offload_folder``, ``revision``, ``trust_remote_code``, ``stack``),
    ``data`` (a ``DataSpec``, or data with ``views``, ``modality``, ``limit``, ``template``, ``bos``,
    ``allow_outside_paths``), ``store`` (a ``StoreSpec``, or a folder with ``resume``, ``store_dtype``,
    ``shard_rows``, ``from_store``) and ``engine`` (an ``EngineSpec``, or ``"local"``/``"ray"`` with
    ``address``, ``workers``); ``calibration`` (a ``CalibrationSpec``, or ``permutations``, ``alpha``,
    ``aggregate``, ``perm_groups``): the permutation null every state metric is calibrated against. ``analysis`` is a registered name (``semhub plugins``); its own options are
    the remaining keywords (``max_positions=100``) or ``options={...}`` / an ``Options`` instance.
    ``backbone`` reuses a loaded model. ``model_b`` (or a loaded ``backbone_b``) reads every view after the
    first with a second model (placed as ``model``), at its ``layers_b`` of its ``stack_b``, for analyses
    that compare models (``alignment``). Errors name the parameter.

    ``paper=True`` takes the paper's code's choices for this analysis (its ``PaperSetting``: last
    token, raw vectors, layers 1..L, raw lens, float32, the similarity's "This represents" template,
    the lens without BOS and on whole-word sites); the settings it decides (``pooling``, ``center``,
    ``final_norm``, ``lens_norm``, ``dtype``, ``bos``, ``template``) default to None, "not given", and a
    given value that contradicts it is an error. ``readout`` is where a spoke reads its inputs (a name
    from its ``readouts``: ``semhub plugins`` lists them).
    """
    from semhub.data.templates import load_template
    from semhub.runs.paper import paper_options, paper_setting, resolve

    started = time.perf_counter()
    progress = progress or Progress()
    model_spec = ModelSpec.of(model, keywords)
    data_spec = DataSpec.of(data, keywords)
    store_spec = StoreSpec.of(store, keywords)
    engine_spec = EngineSpec.of(engine, keywords)
    analysis_obj = catalog.lookup("analysis", catalog.analyses(), analysis)
    # an analysis option spelled like a calibration field (a plugin's own `permutations`) keeps its keyword
    owned = {s.name for s in options_class(analysis_obj).specs()}
    calibration_spec = CalibrationSpec.of(calibration, {k: keywords.pop(k) for k in CalibrationSpec.names()
                                                        if k in keywords and k not in owned})
    if isinstance(options, Options):
        if keywords:
            raise ParameterError(next(iter(keywords)), "give analysis options either as options= or as keywords")
        opts = options
        chosen = {s.name: v for s, v in zip(opts.specs(), opts.to_dict().values()) if v != s.default}
    else:
        chosen = {**(options or {}), **keywords}
        opts = analysis_options(analysis_obj, chosen)
    with_paper = paper_options(analysis_obj, paper, chosen, opts)
    if with_paper is not None:
        opts = analysis_options(analysis_obj, with_paper)
    decided = resolve(analysis_obj, paper, {"pooling": pooling, "center": center, "final_norm": final_norm,
                                            "lens_norm": lens_norm, "lens": lens, "dtype": model_spec.dtype,
                                            "bos": data_spec.bos, "template": data_spec.template})
    model_spec = model_spec.replace(dtype=decided["dtype"])
    text_template = load_template(decided["template"])
    drop = paper and paper_setting(analysis_obj).drop_embeddings
    st = store_spec
    settings = RunSettings(modality=data_spec.modality, pooling=decided["pooling"], center=decided["center"],
                           final_norm=decided["final_norm"], lens_norm=decided["lens_norm"], lens=decided["lens"],
                           lens_path=None if lens_path is None else str(lens_path), bos=decided["bos"], readout=readout,
                           template=None if decided["template"] is None else str(decided["template"]),
                           batch_size=batch_size, limit=data_spec.limit, n_boot=n_boot, seed=seed,
                           shard_rows=st.shard_rows, store=str(st.store) if st.store is not None else None,
                           store_dtype=st.store_dtype, calibration=calibration_spec)
    settings.check()
    declared(analysis_obj, "check")(settings, opts)  # the analysis's own refusal, before the model loads
    if isinstance(layers, str):
        from semhub.readout.layers import parse_layer_spec

        parse_layer_spec(layers)  # syntax errors before the model loads
    model_spec.check()
    store_spec.check()
    engine_spec.check()
    if st.store is not None:  # the second model's store lives inside this one
        from semhub.runs.store import ActivationStore

        ActivationStore(st.store).check_place(st.resume)
    two_models = model_b is not None or backbone_b is not None
    spec_b = None
    if model_b is not None:
        spec_b = model_b if isinstance(model_b, ModelSpec) else model_spec.replace(model=model_b, stack=stack_b)
        with _naming(model="model_b", stack="stack_b"):
            spec_b.check()
    if two_models and not declared(analysis_obj, "cross_model"):
        crossing = [a.name for a in catalog.analyses().values() if declared(a, "cross_model")]
        raise ParameterError("model_b", f"analysis {analysis_obj.name!r} reads one model; to compare two models "
                                        f"run {', '.join(crossing) or 'an analysis that compares models'}")
    for name, value in (("layers_b", layers_b), ("stack_b", stack_b)):
        if value is not None and not two_models:
            raise ParameterError(name, "needs model_b (the second model this is about)")
    given = {"analysis": analysis_obj.name, "model": model_spec.model,
             "model_b": None if spec_b is None else spec_b.model, "layers_b": layers_b, "stack_b": stack_b,
             "data": data_spec.given()["data"], "views": data_spec.views, "layers": layers, "paper": paper,
             **{k: v for k, v in model_spec.given().items() if k != "model"},
             "resume": st.resume, "from_store": str(st.from_store) if st.from_store else None,
             "engine": engine_spec.engine, "workers": engine_spec.workers if engine_spec.engine == "ray" else None,
             "allow_outside_paths": data_spec.allow_outside_paths, **settings.to_dict(),
             "analysis_options": opts.to_dict(),
             "text_template": text_template.describe() if text_template is not None else None}
    with allowing(data_spec.allow_outside_paths or outside_paths_allowed()):
        if st.from_store is not None:
            return _analyze_stored(analysis_obj, Path(st.from_store), data_spec.views, settings, opts, given, progress,
                                   started, conflicting=[n for n, v in (("store", st.store), ("model", model_spec.model),
                                                                        ("data", data_spec.data), ("backbone", backbone),
                                                                        ("model_b", model_b),
                                                                        ("backbone_b", backbone_b)) if v is not None])
        needed = int(declared(analysis_obj, "min_views"))
        inputs = data_spec.resolve(minimum=needed, template=text_template, needs=f" (analysis {analysis_obj.name})")
        view_list = inputs.views
        check_input_kinds(analysis_obj, view_list)
        check_readout(settings.readout, view_list, list(inputs.dataset.columns))
        calibration_spec.groups(inputs.dataset)  # a missing --perm-groups column, before the model loads
        if calibration_spec.controls:
            inputs = _with_controls(analysis_obj, data_spec, inputs, two_models, text_template)
            view_list = inputs.views
        if two_models and len(view_list) < 2:
            raise ParameterError("views", "two models need two views: the first is read by model, the others "
                                          "by model_b")
        if isinstance(layers_b, str):
            from semhub.readout.layers import parse_layer_spec

            with _naming(layers="layers_b"):
                parse_layer_spec(layers_b)
        t0 = time.perf_counter()
        if backbone is None:
            model_spec = model_spec.replace(model=model_for(data_spec.modality, model_spec.model))
            backbone = model_spec.load()
        if spec_b is not None and backbone_b is None:
            with _naming(stack="stack_b", model="model_b"):
                backbone_b = spec_b.load()  # each model loaded once
        elif backbone_b is not None and stack_b is not None:
            with _naming(stack="stack_b"):
                backbone_b = backbone_b.using(stack_b)
        load_s = time.perf_counter() - t0
        views_a = view_list[:1] if two_models else view_list
        ctx = build_context(backbone, Inputs(inputs.dataset, views_a, inputs.template), settings=settings,
                            options=opts, layers=layers, drop_embeddings=drop, on_batch=progress.advance,
                            resume=st.resume)
        if two_models:
            from semhub.runs.context import partner_store

            settings_b = RunSettings(**{**settings.to_dict(), "store": str(partner_store(st.store)) if st.store else None})
            with _naming(layers="layers_b"):
                ctx.partner = build_context(backbone_b, Inputs(inputs.dataset, view_list[1:], inputs.template),
                                            settings=settings_b, options=opts, layers=layers_b,
                                            drop_embeddings=drop, on_batch=progress.advance, resume=st.resume)
        if engine_spec.engine == "ray":
            for side, spec in ((ctx, model_spec), (ctx.partner, spec_b)):
                if side is not None:
                    _use_ray(side, spec, engine_spec)
        work = declared(analysis_obj, "work")(ctx)
        progress.start(analysis_obj.name, work if work is not None else len(inputs.dataset) * len(view_list))
        t1 = time.perf_counter()
        try:
            with encoding(settings.input_settings()):
                result = run_guarded(analysis_obj, ctx)
        finally:
            ctx.close()
        timings = {"load_model_s": round(load_s, 3), "analysis_s": round(time.perf_counter() - t1, 3), **ctx.timings,
                   "total_s": round(time.perf_counter() - started, 3)}
        return _run(result, analysis_obj, backbone.describe(), ctx, given, timings)


@contextmanager
def _naming(**instead: str) -> Iterator[None]:
    """Errors about a parameter name its stand-in (``layers="layers_b"``): model B is loaded and checked
    by model A's code, and its errors must name model B's flags."""
    try:
        yield
    except ParameterError as exc:
        if exc.parameter not in instead:
            raise
        raise ParameterError(instead[exc.parameter], exc.problem) from None


def _use_ray(ctx: RunContext, model: ModelSpec, engine: EngineSpec) -> None:
    """Capture ``ctx``'s views on Ray workers that each load ``model`` (a ``ModelSpec``)."""
    from semhub.runs.ray_engine import RayEngine

    load_kwargs = {"model": model.model, "stack": model.stack, "device": model.device, "dtype": model.dtype or "auto",
                   "device_map": model.device_map, "offload_folder": model.offload_folder,
                   "revision": model.revision, "trust_remote_code": model.trust_remote_code}
    ctx.use_engine(RayEngine(load_kwargs, ctx.dataset, ctx.capture_spec(), workers=engine.workers,
                             address=engine.address, gpus_per_worker=1 if str(model.device or "").startswith("cuda") else 0))


def _run(result: Any, analysis_obj: Any, model: dict, ctx: RunContext, given: dict, timings: dict) -> Run:
    ds = ctx.dataset
    partner = ctx.partner
    manifest = {
        "model": model,
        **({"model_b": partner.backbone.describe() if partner.backbone is not None
            else partner.store.manifest()["model"], "views_b": partner.views, "layers_b": partner.layers}
           if partner is not None else {}),
        "data": {"path": str(ds.path), "sha256": ds.sha256, "rows": len(ds)},
        "options": {**given, "views": ctx.views + (partner.views if partner is not None else []), "layers": ctx.layers,
                    "data": str(ds.path)},
        "seed": ctx.settings.seed,
        "timings": timings,
        "environment": environment(),
    }
    return Run.build(result, manifest, producer=_producer(analysis_obj),
                     figure_name=declared(analysis_obj, "plot_name") or None)


def _with_controls(analysis_obj: Any, data_spec: DataSpec, inputs: Inputs, two_models: bool, template: Any) -> Inputs:
    """``--controls``: refused for an analysis that declares none; the romanised views added for one that
    takes them (``Analysis.controls``), resolved and validated like the views asked for."""
    from semhub.specs.inputs import romanised_controls

    offered = tuple(declared(analysis_obj, "controls") or ())
    if not offered:
        having = [a.name for a in catalog.analyses().values() if declared(a, "controls")]
        raise ParameterError("controls", f"analysis {analysis_obj.name!r} has no controls (these do: "
                                         f"{', '.join(having) or 'none'})")
    extra = romanised_controls(inputs.dataset, inputs.views) if "romanised" in offered and not two_models else []
    if not extra:
        return inputs
    return data_spec.replace(views=[*inputs.views, *extra]).resolve(
        minimum=int(declared(analysis_obj, "min_views")), template=template)


def _analyze_stored(analysis_obj: Any, store: Path, views, settings: RunSettings, opts: Options, given: dict,
                    progress: Progress, started: float, conflicting: list[str]) -> Run:
    """An analysis over a finished activation store: no model is loaded."""
    if conflicting:
        raise ParameterError("from_store", f"the store fixes the model and data; drop {', '.join(conflicting)}")
    if declared(analysis_obj, "needs_model"):
        state_only = [a.name for a in catalog.analyses().values() if not declared(a, "needs_model")]
        raise ParameterError("from_store", f"analysis {analysis_obj.name!r} needs the model; from a store run "
                             f"{', '.join(state_only)}")
    ctx = context_from_store(store, views, settings=settings, options=opts)
    settings.calibration.groups(ctx.dataset)
    progress.start(analysis_obj.name, None)
    t1 = time.perf_counter()
    result = run_guarded(analysis_obj, ctx)
    timings = {"analysis_s": round(time.perf_counter() - t1, 3), "total_s": round(time.perf_counter() - started, 3)}
    return _run(result, analysis_obj, ctx.store.manifest()["model"], ctx, {**given, **ctx.settings.to_dict()}, timings)


STEER_OVERRIDES = ("layers", "coeffs", "positions", "mode", "prompts", "scorers", "target_language", "target_word",
                   "max_new_tokens", "do_sample", "temperature", "top_p", "seeds", "batch_size", "random_control")


def check_steer_values(values: dict[str, Any], *, pair=None, unembed=None, contrast=None) -> None:
    """Steering values that no model could make sense of, refused before it loads (naming the parameter)."""
    import math

    def bad(name: str, problem: str) -> None:
        raise ParameterError(name, problem)

    for c in values.get("coeffs") or []:
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
            bad("coeffs", f"{c!r} is not a finite number")
    t, p = values.get("temperature"), values.get("top_p")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0):
        bad("temperature", f"{t!r}: expected a number above 0")
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1):
        bad("top_p", f"{p!r}: expected a number in (0, 1]")
    n = values.get("max_new_tokens")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000):
        bad("max_new_tokens", f"{n!r}: expected a count from 1 to 100000")
    for seed in values.get("seeds") or []:
        check_seed(seed, "seeds")
    word = values.get("target_word")
    if word is not None and (not isinstance(word, str) or not word.strip()):
        bad("target_word", "is empty")
    for name, texts in (("pair", pair), ("unembed", unembed)):
        if texts is not None and (len(texts) != 2 or any(not isinstance(x, str) or not x.strip() for x in texts)):
            bad(name, "needs two non-empty texts")
    if contrast is not None and any(not side for side in contrast):
        bad("contrast", "needs two non-empty sets of texts")


def check_context(backbone: Any, prompts: list[str], max_new_tokens: int) -> None:
    """The longest prompt plus ``max_new_tokens`` must fit the model's context window."""
    window = backbone.context_window
    if window is None or not prompts:
        return
    longest = max(len(backbone.tokenizer(p)["input_ids"]) for p in prompts)
    if longest > window:
        raise ParameterError("prompts", f"a prompt of {longest:,} tokens exceeds the model's context of {window:,}")
    if longest + max_new_tokens > window:
        raise ParameterError("max_new_tokens", f"{max_new_tokens} new tokens after a {longest}-token prompt exceed "
                                               f"the model's context of {window} tokens")


def steer(
    preset: str | None = None,
    *,
    model: ModelSpec | str | None = None,
    backbone: Any = None,
    vector: Any = None,
    contrast: tuple[list[str], list[str]] | None = None,
    pair: tuple[str, str] | None = None,
    unembed: tuple[str, str] | None = None,
    jlens: str | None = None,
    lens_path: str | Path | None = None,
    layer: int | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    **keywords: Any,
) -> Run:
    """Build or load a steering vector, generate with it at every (layer, coefficient), score, return the Run.

    Exactly one source: ``preset`` (a registered name), ``vector`` (a ``SteeringVector`` or a saved
    ``.safetensors`` path), ``contrast`` (two lists of texts), ``pair`` (two prompts, ActAdd) or
    ``unembed`` (two words: W_U[pos] - W_U[neg]) or ``jlens`` (a word: its J-lens vector at ``layer`` under the
    Jacobian lens of ``lens_path``, a file or a published name). ``model`` is a ``ModelSpec`` or a name with its fields
    as keywords (``device``, ``dtype``, ``device_map``...); the other keywords are ``SteerSpec`` fields
    (``layers``, ``coeffs``, ``prompts``, ``scorers``, ``max_new_tokens``...).
    """
    from semhub.steering.run import SteerSpec, run_steering
    from semhub.steering.vectors import (SteeringVector, from_contrast, from_jacobian_lens, from_prompt_pair,
                                        from_unembedding, load_vector, refuse_zero)

    started = time.perf_counter()
    progress = progress or Progress()
    model_spec = ModelSpec.of(model, keywords)
    model_spec = model_spec.replace(dtype=model_spec.dtype or "auto")
    spec_overrides = keywords
    unknown = [k for k in spec_overrides if k not in STEER_OVERRIDES]
    if unknown:
        raise ParameterError(unknown[0], f"no such steering option (choose from {', '.join(STEER_OVERRIDES)})")
    sources = [name for name, v in (("preset", preset), ("vector", vector), ("contrast", contrast), ("pair", pair),
                                    ("unembed", unembed), ("jlens", jlens)) if v]
    if len(sources) != 1:
        raise ParameterError("preset", "give exactly one of preset, vector, contrast, pair, unembed, jlens")
    if jlens is not None:
        from semhub.lens.kinds import check_lens

        if not isinstance(jlens, str) or not jlens.strip():
            raise ParameterError("jlens", "needs a word")
        if layer is None:
            raise ParameterError("layer", "the J-lens vector is read at a layer (its J_l): give --layer")
        check_lens("jacobian", path=lens_path)  # a published lens is fetched here, before the model loads
    elif lens_path is not None:
        raise ParameterError("lens_path", "only a --jlens vector reads a lens")
    presets = catalog.steering_presets()
    if preset:
        catalog.lookup("steering preset", presets, preset)
    table = catalog.scorers()
    named = spec_overrides.get("scorers") or ([] if preset else [n for n, s in table.items() if getattr(s, "default", False)])
    for name in named:
        scorer = catalog.lookup("scorer", table, name)
        if callable(getattr(scorer, "check", None)) and (not preset or spec_overrides.get("target_language")):
            scorer.check(target_language=spec_overrides.get("target_language"))  # before the model loads
    if spec_overrides.get("target_language") and named and not any(reads_target_language(table[n]) for n in named):
        readers = ", ".join(n for n, s in table.items() if reads_target_language(s)) or "none loaded"
        raise ParameterError("target_language", f"none of the scorers ({', '.join(named)}) reads it ({readers} do)")
    check_steer_values(spec_overrides, pair=pair, unembed=unembed, contrast=contrast)
    model_spec.check()  # a malformed device map fails before the model loads
    if isinstance(vector, (str, Path)):
        vector = load_vector(vector)
    if not preset and layer is None and not (vector is not None or unembed):
        raise ParameterError("layer", "needed to read a contrast or pair vector")
    prompts = spec_overrides.get("prompts")
    if not preset and not prompts:
        raise ParameterError("prompts", "at least one prompt is needed")
    t0 = time.perf_counter()
    bb = backbone or model_spec.load()
    require_text(bb)
    load_s = time.perf_counter() - t0
    if preset:
        vec, spec = presets[preset].build(bb)
    else:
        if isinstance(vector, SteeringVector):
            vec = vector
        elif contrast:
            vec = from_contrast(bb, list(contrast[0]), list(contrast[1]), layer=layer)
        elif pair:
            vec = from_prompt_pair(bb, pair[0], pair[1], layer=layer)
        elif jlens:
            from semhub.lens.kinds import build_lens

            vec = from_jacobian_lens(bb, build_lens(bb, "jacobian", path=lens_path), jlens, layer)
        else:
            vec = from_unembedding(bb, unembed[0], unembed[1])
        read_at = layer if layer is not None else vec.layer
        if not spec_overrides.get("layers") and read_at < 0:
            raise ParameterError("layers", "say where to add this vector (it has no read layer)")
        spec = SteerSpec(list(prompts), list(spec_overrides.get("layers") or [read_at]),
                         list(spec_overrides.get("coeffs") or [1.0]), description="custom")
    refuse_zero(vec.vector, sources[0], "steering would reproduce the baseline")
    for key, value in spec_overrides.items():
        if value is not None:
            setattr(spec, key, list(value) if isinstance(value, tuple) else value)
    if limit:
        spec.prompts = spec.prompts[:limit]
    check_context(bb, spec.prompts, spec.max_new_tokens)
    progress.start("steer", None)
    result = run_steering(bb, vec, spec, on_setting=lambda l, c: progress.note(f"layer {l} coeff {c:g} done"))
    from semhub.runs.rundir import dumps

    manifest = {
        "model": bb.describe(), "preset": preset, "options": {**spec.__dict__, "limit": limit, "layer": layer,
                                                              "source": sources[0]},
        "placement": model_spec.placement(), "vector": vec.provenance,
        "timings": {"load_model_s": round(load_s, 3), "total_s": round(time.perf_counter() - started, 3)},
        "environment": environment(),
    }
    return Run.build(result, manifest, producer="steering", figure_name="steering.png",
                     files={"continuations.json": dumps(result.examples).encode("utf-8"),
                            "vector.safetensors": vec.to_bytes()})


def reproduce(name: str, **overrides: Any) -> Run:
    """A registered paper experiment (``semhub reproduce --list``), with ``overrides`` winning."""
    function, arguments = experiment_call(name)
    return function(**{**arguments, **{k: v for k, v in overrides.items() if v is not None}})


def experiment_call(name: str) -> tuple[Callable[..., Run], dict[str, Any]]:
    """The function and keywords ``reproduce(name)`` would call (shown by ``semhub reproduce``)."""
    experiment = catalog.lookup("experiment", catalog.experiments(), name)
    return (steer if experiment.command == "steer" else analyze), dict(experiment.arguments)
