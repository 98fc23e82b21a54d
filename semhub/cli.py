"""The ``semhub`` command line: analyze, plugins, models (plugins add more commands).

Every user mistake ends as one ``Error: ...`` line and exit status 2, never a traceback.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from semhub import catalog
from semhub.errors import SemhubError
from semhub.plugins import failures, load_plugins, plugin_summaries


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="semhub")
def cli() -> None:
    """Measure whether a model routes languages and modalities through one shared space."""


def placement_options(command):
    """--device-map and --offload-folder, alike on every command that loads a model."""
    command = click.option("--offload-folder", type=click.Path(path_type=Path), default=None,
                           help="With --device-map: where weights placed on \"disk\" (or that fit nowhere else) "
                                "are kept.")(command)
    return click.option("--device-map", default=None,
                        help="Spread the model over devices (accelerate): auto, balanced, sequential, a device, or "
                             "a JSON object (inline or a .json file) of module -> device.")(command)


@cli.command()
@click.option("--model", default=None, help="Registered name (default gemma3-270m), local dir, .gguf file, or HF hub id.")
@click.option("--data", default=None,
              help="Aligned JSONL/TSV file or built-in dataset name (default: the --modality's built-in data).")
@click.option("--views", default=None, help="Comma list; the first view is compared with each other one.")
@click.option("--modality", default="text", show_default=True, help="Which spoke's views to compare when --views is not given.")
@click.option("--analysis", default="similarity", show_default=True, help="Analysis to run (see `semhub plugins`).")
@click.option("--pooling", type=click.Choice(["mean", "last"]), default="mean", show_default=True,
              help="Mean over content tokens (BOS and padding excluded) or the last content token.")
@click.option("--center/--no-center", default=True, show_default=True, help="Subtract each view's mean state per layer.")
@click.option("--layers", default=None, help="Layers to capture, e.g. 0-18 or 1,6,12 (default: all, 0 = embeddings).")
@click.option("--final-norm/--no-final-norm", default=False, show_default=True,
              help="Apply the final norm at the last layer, as HF hidden_states[L] does.")
@click.option("--paper", is_flag=True, help="The paper's setting: last token, no centring, layers 1..L, post-norm last layer.")
@click.option("--lens-norm/--no-lens-norm", default=True, show_default=True,
              help="Logit lens: apply the final norm before the unembedding (--no-lens-norm: the paper's code).")
@click.option("--dictionary", type=click.Path(path_type=Path), default=None,
              help="Logit lens: a bilingual TSV dictionary (header: the two languages) instead of the built-in ones.")
@click.option("--trend-corpus", "trend_corpora", multiple=True, metavar="LANG=FILE",
              help="Language trends: a text file per language for the token->language table (repeatable; "
                   "default: the dataset's text views).")
@click.option("--max-positions", type=click.IntRange(min=1), default=200, show_default=True,
              help="Language trends: content positions per view (each costs a full-vocabulary projection per layer).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--limit", type=click.IntRange(min=2), default=None, help="Use only the first N rows.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=1000, show_default=True, help="Bootstrap resamples for 95% CIs.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps...")
@click.option("--dtype", type=click.Choice(["auto", "float32", "float16", "bfloat16"]), default="auto", show_default=True)
@placement_options
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit).")
@click.option("--trust-remote-code", is_flag=True, help="Allow model code from the hub (off by default).")
@click.option("--stack", default=None, help="Which block stack to read in an encoder-decoder (Whisper: encoder, decoder).")
@click.option("--store", type=click.Path(path_type=Path), default=None,
              help="Stream pooled states into this activation store (safetensors shards): bounded memory for any N.")
@click.option("--resume", is_flag=True, help="Continue the --store a killed run left behind (identical results).")
@click.option("--store-dtype", type=click.Choice(["float32", "float16", "bfloat16"]), default="float32",
              show_default=True, help="Precision of stored states (half the disk with float16).")
@click.option("--shard-rows", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Dataset rows per store shard (the unit of resumption).")
@click.option("--from-store", type=click.Path(path_type=Path), default=None,
              help="Run a state analysis (similarity...) on a finished store, without loading the model.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Capture states here, or shard them over Ray workers that each hold the model.")
@click.option("--address", default=None, help="--engine ray: the cluster to join (default: start a local one).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="--engine ray: actors.")
@click.option("--allow-outside-paths", is_flag=True,
              help="Let media paths in the data point outside the data file's folder (off: a dataset cannot read any file).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default runs/<time>-<model>-<analysis>).")
def analyze(allow_outside_paths: bool, **options) -> None:
    """Capture per-layer states for aligned views and run an analysis; write a run directory."""
    from semhub.spokes import allow_outside_paths as allowing

    with allowing(allow_outside_paths):
        _analyze(**options)


def _analyze(model, data, views, modality, analysis, pooling, center, layers, final_norm, paper, lens_norm, dictionary,
             trend_corpora, max_positions, batch_size, limit, n_boot, device, dtype, device_map, offload_folder, revision,
             trust_remote_code, stack, seed, out, store, resume, store_dtype, shard_rows, from_store,
             engine, address, workers) -> None:
    from semhub import api
    from semhub.backbone.loading import parse_device_map
    from semhub.collect import validate_views
    from semhub.data import parse_views
    from semhub.rundir import check_out_dir, default_run_dir

    started = time.perf_counter()
    analysis_obj = catalog.lookup("analysis", catalog.analyses(), analysis)
    if paper:
        paper_opts = api.PAPER_SETTING
        pooling, center = paper_opts["pooling"], paper_opts["center"]
        final_norm, lens_norm = paper_opts["final_norm"], paper_opts["lens_norm"]
    if dictionary is not None:
        from semhub.data.dictionary import load_dictionary

        load_dictionary(dictionary)  # malformed dictionaries fail before the model loads
    if trend_corpora:
        from semhub.analyses.language_trends import read_corpus

        for spec in trend_corpora:
            read_corpus(spec)
    if layers is not None:
        api.parse_layer_spec(layers)  # syntax errors before the model loads
    device_map = parse_device_map(device_map)
    if resume and store is None:
        raise SemhubError("--resume: needs --store DIR (the store to continue)")
    if from_store is not None:
        if store is not None or model is not None or data is not None:
            raise SemhubError("--from-store: the store fixes the model and data; drop --store, --model and --data")
        _analyze_stored(analysis_obj, from_store, parse_views(views), center, n_boot, seed, out, started)
        return
    view_list = parse_views(views)
    ds = api.dataset(data, limit, view_list, modality)
    view_list = view_list or api.default_views(ds, modality)
    validate_views(ds, view_list)
    model = api.model_for(modality, model)
    out = out or default_run_dir(model or "gemma3-270m", analysis)
    check_out_dir(out)

    t0 = time.perf_counter()
    backbone = api.load(model, device=device, dtype=dtype, device_map=device_map, offload_folder=offload_folder,
                        revision=revision, trust_remote_code=trust_remote_code, stack=stack)
    load_s = time.perf_counter() - t0

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn(f"[bold]{analysis}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("capture", total=None)
        ctx = api.make_context(
            backbone, ds, view_list, modality=modality, pooling=pooling, center=center, layers=layers,
            batch_size=batch_size, seed=seed, final_norm=final_norm, n_boot=n_boot,
            drop_embeddings=paper and api.PAPER_SETTING["drop_embeddings"],
            on_batch=lambda n: progress.advance(task, n),
            extra={"lens_norm": lens_norm, "dictionary": str(dictionary) if dictionary else None,
                   "trend_corpora": list(trend_corpora), "max_positions": max_positions},
            store=store, resume=resume, store_dtype=store_dtype, shard_rows=shard_rows,
        )
        if engine == "ray":
            from semhub.ray_engine import RayEngine

            load_kwargs = {"model": model, "device": device, "dtype": dtype, "device_map": device_map,
                           "offload_folder": offload_folder, "revision": revision,
                           "trust_remote_code": trust_remote_code, "stack": stack}
            ctx.use_engine(RayEngine(load_kwargs, ctx.dataset, ctx.capture_spec(), workers=workers, address=address,
                                     gpus_per_worker=1 if str(device or "").startswith("cuda") else 0))
        work = getattr(analysis_obj, "work", None)
        progress.update(task, total=work(ctx) if work else len(ds) * len(view_list))
        t1 = time.perf_counter()
        try:
            result = run_guarded(analysis_obj, ctx)
        finally:
            ctx.engine.close()
        run_s = time.perf_counter() - t1

    options = dict(ctx.options, views=view_list, layers=ctx.layers, analysis=analysis, paper=paper,
                   data=str(ds.path), device=device, dtype=dtype, device_map=device_map,
                   offload_folder=str(offload_folder) if offload_folder else None,
                   trust_remote_code=trust_remote_code, engine=engine, workers=workers if engine == "ray" else None)
    timings = {"load_model_s": round(load_s, 3), "analysis_s": round(run_s, 3), **ctx.timings,
               "total_s": round(time.perf_counter() - started, 3)}
    _write_run(out, result, analysis_obj, backbone.describe(), ctx, options, seed, timings)


def _write_run(out: Path, result, analysis_obj, model: dict, ctx, options: dict, seed: int, timings: dict) -> None:
    """results.json, the plot, manifest.json and report.html, appearing together or not at all."""
    from semhub.report import write_report
    from semhub.rundir import environment, staged_run_dir, write_json

    ds = ctx.dataset
    with staged_run_dir(out) as tmp:
        write_json(tmp / "results.json", {result.key: result.to_json()})
        result.plot(tmp / analysis_obj.plot_name)
        write_json(tmp / "manifest.json", {
            "model": model,
            "data": {"path": str(ds.path), "sha256": ds.sha256, "rows": len(ds)},
            "options": options,
            "seed": seed,
            "timings": timings,
            "environment": environment(),
        })
        write_report(tmp)  # inside the staged folder: the run appears complete, report included, or not at all
    _print_summary(result, out)


def _analyze_stored(analysis_obj, store: Path, views, center: bool, n_boot: int, seed: int, out, started) -> None:
    """An analysis over a finished activation store: no model is loaded."""
    from semhub import api
    from semhub.rundir import check_out_dir, default_run_dir

    if getattr(analysis_obj, "needs_model", True):
        state_only = [a.name for a in catalog.analyses().values() if not getattr(a, "needs_model", True)]
        raise SemhubError(f"--from-store: analysis {analysis_obj.name!r} needs the model; from a store run "
                          f"{', '.join(state_only)}")
    ctx = api.context_from_store(store, views, center=center, n_boot=n_boot, seed=seed)
    out = out or default_run_dir(ctx.model_name, analysis_obj.name)
    check_out_dir(out)
    t1 = time.perf_counter()
    result = run_guarded(analysis_obj, ctx)
    options = dict(ctx.options, views=ctx.views, layers=ctx.layers, analysis=analysis_obj.name, from_store=str(store))
    spec = ctx.store.manifest()
    timings = {"analysis_s": round(time.perf_counter() - t1, 3), "total_s": round(time.perf_counter() - started, 3)}
    _write_run(out, result, analysis_obj, spec["model"], ctx, options, seed, timings)


def run_guarded(analysis_obj, ctx):
    """Run an analysis; a crash inside it becomes one line naming the analysis and its plugin.

    Nothing has been written yet (the run directory is staged afterwards), so a crash, an
    out-of-memory or Ctrl-C leaves no run directory, and the same command can simply be rerun.
    """
    import os

    import torch

    from semhub.errors import RunError

    try:
        return analysis_obj.run(ctx)
    except SemhubError:
        raise
    except (torch.OutOfMemoryError, MemoryError) as exc:
        size = ctx.options.get("batch_size")
        raise RunError(f"analysis {analysis_obj.name!r} ran out of memory ({type(exc).__name__}); "
                       f"try a smaller --batch-size (was {size}), --dtype bfloat16 or --device-map auto") from None
    except Exception as exc:
        if os.environ.get("SEMHUB_DEBUG"):
            raise
        plugin = catalog.owner("semhub_register_analyses", analysis_obj.name)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RunError(f"analysis {analysis_obj.name!r} (plugin {plugin}) failed: {type(exc).__name__}: {first} "
                       "(SEMHUB_DEBUG=1 shows the traceback)") from None


def _print_summary(result, out: Path) -> None:
    """The result's own summary table (``summary_columns`` / ``summary_rows``), if it has one."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    columns = getattr(result, "summary_columns", None)
    if columns:
        table = Table(title=getattr(result, "summary_title", result.key))
        for col in columns:
            table.add_column(col, justify="right")
        for row in result.summary_rows():
            table.add_row(*row)
        console.print(table)
    console.print(f"run written to [bold]{out}[/bold]")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Write RUN_DIR/report.html: manifest, plots, per-layer tables and findings, in one offline file."""
    from semhub.report import write_report

    click.echo(f"wrote {write_report(run_dir)}")


@cli.command()
@click.argument("name", required=False)
@click.option("--list", "list_all", is_flag=True, help="List the registered experiments.")
@click.option("--model", default=None, help="Run on another model (default: the embedded one).")
@click.option("--limit", type=click.IntRange(min=2), default=None, help="Use only the first N rows or prompts.")
@click.option("--dtype", type=click.Choice(["auto", "float32", "float16", "bfloat16"]), default=None)
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps...")
@placement_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory.")
def reproduce(name, list_all, model, limit, dtype, device, device_map, offload_folder, out) -> None:
    """Run one of the paper's experiments end to end (presets come from plugins)."""
    table = catalog.experiments()
    if list_all or not name:
        if not list_all:
            raise SemhubError("name an experiment (see `semhub reproduce --list`)")
        for exp_name, argv, description in table.values():
            click.echo(f"{exp_name:<26} {description}\n{'':<26} semhub {' '.join(argv)}")
        return
    _, argv, _ = catalog.lookup("experiment", table, name)
    argv = list(argv)
    if model:
        argv += ["--model", model]
    if limit:
        argv += ["--limit", str(limit)]
    for option, value in (("--dtype", dtype), ("--device", device), ("--device-map", device_map),
                          ("--offload-folder", offload_folder)):
        if value:
            argv += [option, str(value)]
    from semhub.rundir import default_run_dir

    argv += ["--out", str(out or default_run_dir(model or "gemma3-270m", name))]
    click.echo("semhub " + " ".join(argv), err=True)
    cli.main(args=argv, prog_name="semhub", standalone_mode=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List loaded plugins, the hooks they implement, and plugins that failed to load."""
    rows = plugin_summaries()
    broken = [f.__dict__ for f in failures]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failed": broken}, indent=1))
        return
    for row in rows:
        click.echo(f"{row['name']:<24} {row['module']:<30} {', '.join(row['hooks'])}")
    for f in broken:
        where = f"in {f['hook']}" if f["hook"] else "to load"
        click.echo(f"{f['name']:<24} FAILED {where} {f['module']}: {f['error']}")
    spokes = ", ".join(f"{s.name} ({s.modality})" for s in catalog.spokes().values()) or "none"
    click.echo(f"\nspokes: {spokes}")
    click.echo(f"analyses: {', '.join(catalog.analyses()) or 'none'}")
    click.echo(f"datasets: {', '.join(catalog.datasets()) or 'none'}")
    click.echo(f"scorers: {', '.join(catalog.scorers()) or 'none'}")
    click.echo(f"steering presets: {', '.join(catalog.steering_presets()) or 'none'}")
    click.echo(f"experiments: {', '.join(catalog.experiments()) or 'none'}")
    click.echo(f"dictionaries: {', '.join('-'.join(d.languages) for d in catalog.dictionaries()) or 'none'}")
    click.echo(f"named models: {', '.join(catalog.models()) or 'none'}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(as_json: bool) -> None:
    """List registry families (module paths, dominant language) and named offline models."""
    from semhub.registry import families

    fams = families()
    if as_json:
        click.echo(json.dumps({n: {k: v for k, v in f.__dict__.items() if k != "tiny"} for n, f in fams.items()}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="model families (registry)")
    for col in ("family", "architectures", "blocks", "final norm", "unembedding", "lang", "examples"):
        table.add_column(col)
    for fam in fams.values():
        m = fam.modules
        table.add_row(fam.name, ", ".join(fam.architectures), m["blocks"], m["final_norm"], m["unembedding"],
                      fam.dominant_language, ", ".join(fam.examples[:2]))
    console = Console()
    console.print(table)
    for named in catalog.models().values():
        console.print(f"[bold]{named.name}[/bold]: {named.description}")


def _attach_plugin_commands() -> None:
    from semhub.steering.cli import steer

    cli.add_command(steer)
    load_plugins()
    catalog.call_isolated("semhub_register_commands", cli=cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors with exit status 2 for every user mistake."""
    try:
        _attach_plugin_commands()
        cli.main(args=argv, prog_name="semhub", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(2)
    except SemhubError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except (click.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
