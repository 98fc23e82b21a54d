"""The ``semhub`` command line: a thin shell over the library (``semhub.analyze``, ``semhub.steer``,
``semhub.reproduce``): parse, call, print. Plugins add commands through ``semhub_register_commands``.

Every user mistake ends as one ``Error: ...`` line naming the flag, exit status 2, never a traceback.
Nothing here imports torch or transformers until a command runs (``--help`` stays fast).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import rich_click

from semhub.cli.help import HELP_CONFIG, SemhubGroup
from semhub.cli.params import flag, model_flags
from semhub.errors import ParameterError, SemhubError, Terminated


@click.group(cls=SemhubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@rich_click.rich_config(help_config=HELP_CONFIG)
@click.version_option(package_name="semhub")
def cli() -> None:
    """Measure whether a model routes languages and modalities through one shared space."""


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Write RUN_DIR/report.html: manifest, plots, per-layer tables and findings, in one offline file."""
    from semhub.runs.report import write_report

    click.echo(f"wrote {write_report(run_dir)}")


@cli.command()
@click.argument("name", required=False)
@click.option("--list", "list_all", is_flag=True, help="List the registered experiments.")
@model_flags("model", help={"model": "Run on another model (default: the experiment's)."})
@click.option("--limit", type=click.IntRange(min=2), default=None, help="Use only the first N rows or prompts.")
@model_flags("dtype", "device")
@click.option("--lens", "lens", default=None, help="For lens experiments: logit, tuned or a plugin's lens.")
@click.option("--lens-path", default=None, help="With --lens tuned: a tuned-lens folder or a published lens id.")
@model_flags("device_map", "offload_folder")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory.")
def reproduce(name, list_all, model, limit, dtype, device, lens, lens_path, device_map, offload_folder, out) -> None:
    """Run one of the paper's experiments end to end (experiments come from plugins)."""
    from semhub.plugins import catalog
    from semhub.plugins.catalog import default_model
    from semhub.runs.pipeline import experiment_call, reproduce as run_reproduce
    from semhub.places import check_out_dir
    from semhub.runs.rundir import default_run_dir

    table = catalog.experiments()
    if list_all or not name:
        if not list_all:
            raise SemhubError("name an experiment (see `semhub reproduce --list`)")
        for exp in table.values():
            click.echo(f"{exp.name:<26} {exp.description}\n{'':<26} semhub.{exp.command}(**{exp.arguments})")
        return
    function, arguments = experiment_call(name)
    out = out or default_run_dir(model or arguments.get("model") or default_model(arguments.get("modality", "text"))
                                 or "model", name)
    check_out_dir(out)
    if (lens or lens_path) and function.__name__ != "analyze":
        raise ParameterError("lens", f"{name} is a steering experiment; it reads no lens")
    overrides = {"model": model, "limit": limit, "dtype": dtype, "device": device, "device_map": device_map,
                 "offload_folder": offload_folder, "lens": lens, "lens_path": lens_path}
    shown = {**arguments, **{k: v for k, v in overrides.items() if v is not None}}
    click.echo(f"semhub.{function.__name__}(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")")
    from semhub.cli.params import RichProgress, print_summary

    with RichProgress(name) as progress:
        run = run_reproduce(name, progress=progress, **overrides)
    run.write(out)
    print_summary(run, out)


REGISTERED_AS = {"semhub_register_spokes": "spokes", "semhub_register_analyses": "analyses",
                 "semhub_register_datasets": "datasets", "semhub_register_scorers": "scorers",
                 "semhub_register_lenses": "lenses", "semhub_register_models": "models",
                 "semhub_register_steering_presets": "steering_presets", "semhub_register_experiments": "experiments",
                 "semhub_register_model_families": "model_families", "semhub_register_dictionaries": "dictionaries",
                 "semhub_register_commands": "commands"}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List loaded plugins, the hooks they implement, and plugins that failed to load."""
    from semhub.backbone.registry import families
    from semhub.contract.spoke import optional
    from semhub.data.dictionary import dictionaries as registered_dictionaries
    from semhub.plugins import catalog
    from semhub.plugins.manager import failures, plugin_summaries

    families  # noqa: B018 (imported for its table: load_all builds the model families too)
    catalog.load_all()  # every table built: registration failures are known (and their plugins dropped)
    rows = plugin_summaries()
    owned = catalog.registered()
    for row in rows:  # what each plugin registered, by kind: a tool can check a registration
        row["registered"] = {REGISTERED_AS.get(hook, hook): names for hook, names in owned.get(row["name"], {}).items()}
    broken = [f.to_dict() for f in failures]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failed": broken}, indent=1))
        return
    for row in rows:
        click.echo(f"{row['name']:<24} {row['module']:<30} {', '.join(row['hooks'])}")
    for f in broken:
        stage = f"in {f['hook']}" if f["hook"] else "to load"
        at = f" ({f['where']})" if f["where"] else ""
        click.echo(f"{f['name']:<24} FAILED {stage} {f['module']}{at}: {f['error']}")
    spokes = ", ".join(f"{s.name} ({s.modality})" for s in catalog.spokes().values()) or "none"
    click.echo(f"\nspokes: {spokes}")
    click.echo(f"analyses: {', '.join(catalog.analyses()) or 'none'}")
    click.echo(f"datasets: {', '.join(catalog.datasets()) or 'none'}")
    click.echo(f"scorers: {', '.join(catalog.scorers()) or 'none'}")
    click.echo(f"steering presets: {', '.join(catalog.steering_presets()) or 'none'}")
    click.echo(f"experiments: {', '.join(catalog.experiments()) or 'none'}")
    click.echo(f"dictionaries: {', '.join('-'.join(d.languages) for d in registered_dictionaries()) or 'none'}")
    click.echo(f"named models: {', '.join(catalog.models()) or 'none'}")
    for spoke in catalog.spokes().values():  # what --readout means for each spoke that takes one
        for name, meaning in (optional(spoke, "readouts") or {}).items():
            click.echo(f"readout ({spoke.name}): {name:<28} {meaning}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(as_json: bool) -> None:
    """List registry families (module paths, dominant language) and named offline models."""
    from semhub.plugins import catalog

    from semhub.backbone.registry import families

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
        table.add_row(fam.name, ", ".join(fam.architectures), m["blocks"], m["final_norm"], m.get("unembedding", "-"),
                      fam.dominant_language, ", ".join(fam.examples[:2]))
    console = Console()
    console.print(table)
    for named in catalog.models().values():
        console.print(f"[bold]{named.name}[/bold]: {named.description}")


def _attach_commands() -> None:
    from semhub.cli.analyze import analyze
    from semhub.cli.lens import fit_lens, train_lens
    from semhub.cli.patchscope import patchscope
    from semhub.cli.profile import compare, profile
    from semhub.cli.steer import steer
    from semhub.plugins import catalog

    cli.add_command(analyze)
    cli.add_command(steer)
    cli.add_command(profile)
    cli.add_command(compare)
    cli.add_command(train_lens)
    cli.add_command(fit_lens)
    cli.add_command(patchscope)
    catalog.call_isolated("semhub_register_commands", observe=lambda: set(cli.commands), cli=cli)
    if _drop_commands not in catalog.ON_DROP:
        catalog.ON_DROP.append(_drop_commands)


def _drop_commands(owned: list[tuple[str, str]]) -> None:
    """A plugin dropped after its commands were added (another of its hooks failed): remove them too."""
    for hook, name in owned:
        if hook == "semhub_register_commands":
            cli.commands.pop(name, None)


def one_line(text: str) -> str:
    """``text`` with every character a terminal would not print as one (a newline inside a file name or
    an option value, a NUL, a lone surrogate) written as its escape, so an error stays one line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in text)


def _error(message: str, status: int) -> None:
    click.echo(f"Error: {one_line(message)}", err=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors (naming the flag) with exit status 2 for every user mistake."""
    try:
        _attach_commands()
        cli.main(args=argv, prog_name="semhub", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        _error(exc.format_message(), 2)
    except ParameterError as exc:
        _error(f"{flag(exc.parameter)}: {exc.problem}", 2)
    except SemhubError as exc:
        _error(str(exc), getattr(exc, "exit_code", 2))
    except (click.Abort, KeyboardInterrupt) as exc:  # click turns KeyboardInterrupt into Abort, from it
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            click.echo("Terminated.", err=True)
            sys.exit(143)
        click.echo("Aborted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
