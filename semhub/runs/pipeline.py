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
from semhub.contract.options import Options
from semhub.errors import ParameterError, RunError, SemhubError, first_line
from semhub.plugins import catalog
from semhub.runs.context import RunContext, RunSettings, check_rows, context_from_store, make_context
from semhub.specs.inputs import require_text
from semhub.runs.run import Run
from semhub.runs.rundir import environment

class Progress:
    """Receives progress; the CLI draws a bar, the library default ignores it."""

    def start(self, label: str, total: int | None) -> None:
        """A phase begins with ``total`` units (None: unknown)."""

    def advance(self, n: int) -> None:
        """``n`` more units are done."""

    def note(self, text: str) -> None:
        """A line worth showing (a steering setting finished)."""


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
    if kinds and not any(getattr(catalog.spoke_for_view(v), "input_kind", "text") in kinds for v in views):
        raise ParameterError("views", f"analysis {analysis.name!r} reads {' or '.join(kinds)} views; "
                                      f"none of {', '.join(views)} is one")


def analyze(
    analysis: str = "similarity",
    *,
    model: str | None = None,
    backbone: Any = None,
    model_b: str | None = None,
    backbone_b: Any = None,
    layers_b: str | list[int] | None = None,
    stack_b: str | None = None,
    data: Any = None,
    views: list[str] | None = None,
    modality: str = "text",
    pooling: str | None = None,
    center: bool | None = None,
    layers: str | list[int] | None = None,
    final_norm: bool | None = None,
    paper: bool = False,
    lens_norm: bool | None = None,
    lens: str | None = None,
    lens_path: str | Path | None = None,
    bos: bool | None = None,
    readout: str | None = None,
    template: str | Path | Any = None,
    batch_size: int = 16,
    limit: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    device: str | None = None,
    dtype: str | None = None,
    device_map: Any = None,
    offload_folder: str | Path | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    stack: str | None = None,
    store: str | Path | None = None,
    resume: bool = False,
    store_dtype: str = "float32",
    shard_rows: int = 1024,
    from_store: str | Path | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int = 2,
    allow_outside_paths: bool = False,
    options: dict[str, Any] | Options | None = None,
    progress: Progress | None = None,
    **analysis_kwargs: Any,
) -> Run:
    """Run one analysis end to end and return the ``Run`` (``run.write(dir)`` writes its directory).

    ``analysis`` is a registered name (``semhub plugins``). The analysis's own options are given as
    keywords (``max_positions=100``) or as ``options={...}`` / an ``Options`` instance. ``backbone``
    reuses a loaded model instead of ``model``. ``model_b`` (or a loaded ``backbone_b``) reads every view
    after the first with a second model, at its ``layers_b`` (default: all) of its ``stack_b``, for analyses that compare
    models (``alignment``); the first view is read by ``model``. Errors name the parameter.

    ``paper=True`` takes the paper's code's choices for this analysis (its ``PaperSetting``: last
    token, raw vectors, layers 1..L, raw lens, float32, the similarity's "This represents" template,
    the lens without BOS and on whole-word sites); the settings it decides (``pooling``, ``center``,
    ``final_norm``, ``lens_norm``, ``dtype``, ``bos``, ``template``) default to None, "not given", and a
    given value that contradicts it is an error. ``bos=False`` encodes text without BOS; ``readout`` is
    where a spoke reads its inputs (a name from its ``readouts``: ``semhub plugins`` lists them);
    ``template`` is a text template (``"paper"`` or a TOML file: ``semhub.data.templates``).
    """
    from semhub.contract.spoke import allow_outside_paths as allowing
    from semhub.data.templates import load_template
    from semhub.contract.spoke import encoding
    from semhub.runs.paper import paper_options, paper_setting, resolve

    started = time.perf_counter()
    progress = progress or Progress()
    analysis_obj = catalog.lookup("analysis", catalog.analyses(), analysis)
    if isinstance(options, Options):
        if analysis_kwargs:
            raise ParameterError(next(iter(analysis_kwargs)), "give analysis options either as options= or as keywords")
        opts = options
        chosen = {s.name: v for s, v in zip(opts.specs(), opts.to_dict().values()) if v != s.default}
    else:
        chosen = {**(options or {}), **analysis_kwargs}
        opts = analysis_options(analysis_obj, chosen)
    with_paper = paper_options(analysis_obj, paper, chosen, opts)
    if with_paper is not None:
        opts = analysis_options(analysis_obj, with_paper)
    decided = resolve(analysis_obj, paper, {"pooling": pooling, "center": center, "final_norm": final_norm,
                                            "lens_norm": lens_norm, "lens": lens, "dtype": dtype, "bos": bos,
                                            "template": template})
    dtype, text_template = decided["dtype"], load_template(decided["template"])
    drop = paper and paper_setting(analysis_obj).drop_embeddings
    settings = RunSettings(modality=modality, pooling=decided["pooling"], center=decided["center"],
                           final_norm=decided["final_norm"], lens_norm=decided["lens_norm"], lens=decided["lens"],
                           lens_path=None if lens_path is None else str(lens_path), bos=decided["bos"], readout=readout,
                           template=None if decided["template"] is None else str(decided["template"]),
                           batch_size=batch_size, limit=limit, n_boot=n_boot, seed=seed,
                           shard_rows=shard_rows, store=str(store) if store is not None else None,
                           store_dtype=store_dtype)
    settings.check()
    declared(analysis_obj, "check")(settings, opts)  # the analysis's own refusal of these settings, before the model loads
    if isinstance(layers, str):
        from semhub.readout.layers import parse_layer_spec

        parse_layer_spec(layers)  # syntax errors before the model loads
    from semhub.backbone.loading import parse_device_map

    device_map = parse_device_map(device_map)
    if resume and store is None:
        raise ParameterError("resume", "needs store (the activation store to continue)")
    if engine not in ("local", "ray"):
        raise ParameterError("engine", f"{engine!r} (choose from local, ray)")
    if address is not None and engine != "ray":
        raise ParameterError("address", "needs engine ray (the cluster the Ray engine joins)")
    if store is not None:  # the second model's store lives inside this one
        from semhub.runs.store import ActivationStore

        ActivationStore(store).check_place(resume)
    two_models = model_b is not None or backbone_b is not None
    if model_b is not None and not str(model_b).strip():
        raise ParameterError("model_b", "is empty: give a registered name, a local folder or a hub id")
    if two_models and not declared(analysis_obj, "cross_model"):
        crossing = [a.name for a in catalog.analyses().values() if declared(a, "cross_model")]
        raise ParameterError("model_b", f"analysis {analysis_obj.name!r} reads one model; to compare two models "
                                        f"run {', '.join(crossing) or 'an analysis that compares models'}")
    for name, value in (("layers_b", layers_b), ("stack_b", stack_b)):
        if value is not None and not two_models:
            raise ParameterError(name, "needs model_b (the second model this is about)")
    given = {"analysis": analysis_obj.name, "model": model, "model_b": model_b, "layers_b": layers_b, "stack_b": stack_b, "data": None if data is None else str(getattr(data, "path", data)),
             "views": views, "layers": layers, "paper": paper, "device": device, "dtype": dtype,
             "device_map": device_map, "offload_folder": str(offload_folder) if offload_folder else None,
             "revision": revision, "trust_remote_code": trust_remote_code, "stack": stack, "resume": resume,
             "from_store": str(from_store) if from_store else None, "engine": engine,
             "workers": workers if engine == "ray" else None, "allow_outside_paths": allow_outside_paths,
             **settings.to_dict(), "analysis_options": opts.to_dict(),
             "text_template": text_template.describe() if text_template is not None else None}
    with allowing(allow_outside_paths):
        if from_store is not None:
            return _analyze_stored(analysis_obj, Path(from_store), views, settings, opts, given, progress, started,
                                   conflicting=[n for n, v in (("store", store), ("model", model), ("data", data),
                                                               ("backbone", backbone), ("model_b", model_b),
                                                               ("backbone_b", backbone_b)) if v is not None])
        from semhub.data.aligned import AlignedDataset
        from semhub.readout.collect import derive_views, validate_views
        from semhub.specs.inputs import check_readout, dataset, default_views, model_for

        ds = data.head(limit) if isinstance(data, AlignedDataset) else dataset(data, limit, views, modality)
        needed = int(declared(analysis_obj, "min_views"))
        view_list = list(views) if views else default_views(ds, modality, minimum=needed)
        if len(view_list) < needed:
            raise ParameterError("views", f"{','.join(view_list)!r} needs at least {'two' if needed == 2 else needed} views to compare "
                                          f"(analysis {analysis_obj.name})")
        ds = derive_views(ds, view_list)
        validate_views(ds, view_list)  # bad data fails before the model loads
        check_rows(ds)
        check_input_kinds(analysis_obj, view_list)
        check_readout(settings.readout, view_list, list(ds.columns))
        if two_models and len(view_list) < 2:
            raise ParameterError("views", "two models need two views: the first is read by model, the others "
                                          "by model_b")
        if isinstance(layers_b, str):
            from semhub.readout.layers import parse_layer_spec

            with _naming(layers="layers_b"):
                parse_layer_spec(layers_b)
        t0 = time.perf_counter()
        placement = {"device": device, "dtype": dtype, "device_map": device_map, "offload_folder": offload_folder,
                     "revision": revision, "trust_remote_code": trust_remote_code}
        if backbone is None:
            model = model_for(modality, model)
            backbone = _load(model, placement, stack)
        if two_models and backbone_b is None:
            with _naming(stack="stack_b", model="model_b"):
                backbone_b = _load(model_b, placement, stack_b)  # each model loaded once
        elif backbone_b is not None and stack_b is not None:
            with _naming(stack="stack_b"):
                backbone_b = backbone_b.using(stack_b)
        load_s = time.perf_counter() - t0
        views_a = view_list[:1] if two_models else view_list
        ctx = make_context(backbone, ds, views_a, settings=settings, options=opts, layers=layers,
                           drop_embeddings=drop,
                           on_batch=progress.advance, resume=resume)
        if two_models:
            from semhub.runs.context import partner_store

            settings_b = RunSettings(**{**settings.to_dict(), "store": str(partner_store(store)) if store else None})
            with _naming(layers="layers_b"):
                ctx.partner = make_context(backbone_b, ds, view_list[1:], settings=settings_b, options=opts,
                                           layers=layers_b, drop_embeddings=drop,
                                           on_batch=progress.advance, resume=resume)
        if engine == "ray":
            for side, name, side_stack in ((ctx, model, stack), (ctx.partner, model_b, stack_b)):
                if side is not None:
                    _use_ray(side, {**placement, "model": name, "stack": side_stack}, workers, address, device)
        work = declared(analysis_obj, "work")(ctx)
        progress.start(analysis_obj.name, work if work is not None else len(ds) * len(view_list))
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


def _load(model: str, placement: dict[str, Any], stack: str | None) -> Any:
    from semhub.backbone.loading import load_backbone

    return load_backbone(model, stack=stack, **placement)


def _use_ray(ctx: RunContext, load_kwargs: dict[str, Any], workers: int, address: str | None,
             device: str | None) -> None:
    """Capture ``ctx``'s views on Ray workers that each load the model named in ``load_kwargs``."""
    from semhub.runs.ray_engine import RayEngine

    ctx.use_engine(RayEngine(load_kwargs, ctx.dataset, ctx.capture_spec(), workers=workers, address=address,
                             gpus_per_worker=1 if str(device or "").startswith("cuda") else 0))


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
    progress.start(analysis_obj.name, None)
    t1 = time.perf_counter()
    result = run_guarded(analysis_obj, ctx)
    timings = {"analysis_s": round(time.perf_counter() - t1, 3), "total_s": round(time.perf_counter() - started, 3)}
    return _run(result, analysis_obj, ctx.store.manifest()["model"], ctx, {**given, **ctx.settings.to_dict()}, timings)


STEER_OVERRIDES = ("layers", "coeffs", "positions", "mode", "prompts", "scorers", "target_language", "target_word",
                   "max_new_tokens", "do_sample", "temperature", "top_p", "seeds", "batch_size")


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
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
            bad("seeds", f"{seed!r}: a seed is an integer from 0 to 2**32 - 1")
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
    model: str | None = None,
    backbone: Any = None,
    vector: Any = None,
    contrast: tuple[list[str], list[str]] | None = None,
    pair: tuple[str, str] | None = None,
    unembed: tuple[str, str] | None = None,
    layer: int | None = None,
    limit: int | None = None,
    device: str | None = None,
    dtype: str = "auto",
    device_map: Any = None,
    offload_folder: str | Path | None = None,
    progress: Progress | None = None,
    **spec_overrides: Any,
) -> Run:
    """Build or load a steering vector, generate with it at every (layer, coefficient), score, return the Run.

    Exactly one source: ``preset`` (a registered name), ``vector`` (a ``SteeringVector`` or a saved
    ``.safetensors`` path), ``contrast`` (two lists of texts), ``pair`` (two prompts, ActAdd) or
    ``unembed`` (two words: W_U[pos] - W_U[neg]). ``spec_overrides`` are ``SteerSpec`` fields
    (``layers``, ``coeffs``, ``prompts``, ``scorers``, ``max_new_tokens``...).
    """
    from semhub.steering.run import SteerSpec, run_steering
    from semhub.steering.vectors import (SteeringVector, from_contrast, from_prompt_pair, from_unembedding, load_vector,
                                        refuse_zero)

    started = time.perf_counter()
    progress = progress or Progress()
    unknown = [k for k in spec_overrides if k not in STEER_OVERRIDES]
    if unknown:
        raise ParameterError(unknown[0], f"no such steering option (choose from {', '.join(STEER_OVERRIDES)})")
    sources = [name for name, v in (("preset", preset), ("vector", vector), ("contrast", contrast), ("pair", pair),
                                    ("unembed", unembed)) if v]
    if len(sources) != 1:
        raise ParameterError("preset", "give exactly one of preset, vector, contrast, pair, unembed")
    presets = catalog.steering_presets()
    if preset:
        catalog.lookup("steering preset", presets, preset)
    table = catalog.scorers()
    named = spec_overrides.get("scorers") or ([] if preset else [n for n, s in table.items() if getattr(s, "default", False)])
    for name in named:
        scorer = catalog.lookup("scorer", table, name)
        if callable(getattr(scorer, "check", None)) and (not preset or spec_overrides.get("target_language")):
            scorer.check(target_language=spec_overrides.get("target_language"))  # before the model loads
    check_steer_values(spec_overrides, pair=pair, unembed=unembed, contrast=contrast)
    from semhub.backbone.loading import load_backbone, parse_device_map

    device_map = parse_device_map(device_map)  # a malformed map fails before the model loads
    if isinstance(vector, (str, Path)):
        vector = load_vector(vector)
    if not preset and layer is None and not (vector is not None or unembed):
        raise ParameterError("layer", "needed to read a contrast or pair vector")
    prompts = spec_overrides.get("prompts")
    if not preset and not prompts:
        raise ParameterError("prompts", "at least one prompt is needed")
    t0 = time.perf_counter()
    bb = backbone or load_backbone(model, device=device, dtype=dtype, device_map=device_map,
                                   offload_folder=offload_folder)
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
        "placement": {"device": device, "dtype": dtype, "device_map": device_map,
                      "offload_folder": str(offload_folder) if offload_folder else None}, "vector": vec.provenance,
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
