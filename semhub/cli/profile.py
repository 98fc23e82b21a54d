"""``semhub profile`` (a model's hub card) and ``semhub compare`` (cards side by side): thin shells
over ``semhub.profile`` and ``semhub.compare``."""
from __future__ import annotations

from pathlib import Path

import click

from semhub.cli.help import SemhubCommand

from semhub.cli.params import model_flags, split_specs
from semhub.specs.model import ModelSpec


@click.command(cls=SemhubCommand)
@model_flags("model")
@click.option("--data", "data_pairs", multiple=True, metavar="MODALITY=DATA",
              help="A spoke's data instead of its built-in set (repeatable), e.g. code=mine.jsonl.")
@click.option("--quick", is_flag=True, help="A smaller card in about a minute (40 rows, 3 views, 8 prompts).")
@click.option("--no-steering", is_flag=True, help="Leave out the causal test (the language steering preset).")
@click.option("--spokes", default=None, metavar="MODALITY,...",
              help="Only these spokes' rows, e.g. text,code (default: every spoke the model reads).")
@click.option("--work", type=click.Path(path_type=Path), default=None,
              help="Keep each part's run and store here (default: <out>.work, removed when the card is written).")
@click.option("--resume", is_flag=True, help="Continue a killed profile from its --work folder: only what is missing.")
@click.option("--figure-format", default="", help="Also write static figures: a comma list of png, pdf, svg.")
@model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code", "stack")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default runs/<time>-<model>-profile).")
def profile(data_pairs, quick, no_steering, spokes, work, resume, figure_format, out, **load) -> None:
    """A model's hub card: every spoke it reads, the state metrics, the lens and the steering test."""
    import shutil

    from semhub.cards.figures import check_formats
    from semhub.cards.profile import profile as run_profile
    from semhub.cli.params import RichProgress
    from semhub.errors import ParameterError
    from semhub.places import check_folder, check_out_dir
    from semhub.plugins.catalog import default_model
    from semhub.runs.rundir import default_run_dir

    data = {}
    for pair in data_pairs:
        modality, eq, value = pair.partition("=")
        if not eq or not modality or not value:
            raise ParameterError("data", f"{pair!r} is not MODALITY=DATA")
        data[modality] = value
    formats = tuple(f.strip() for f in figure_format.split(",") if f.strip())
    check_formats(formats)
    (model,) = split_specs(load, ModelSpec)
    out = out or default_run_dir(model.model or default_model("text") or "model", "profile")
    check_out_dir(out)
    work = check_folder(work or out.with_name(out.name + ".work"), "work")
    with RichProgress("profile") as progress:
        chosen = None if spokes is None else [m.strip() for m in spokes.split(",") if m.strip()]
        card = run_profile(model, data=data, quick=quick, steering=not no_steering, spokes=chosen, work=work,
                           resume=resume, progress=progress)
        card.write(out, formats, parts=work)
    shutil.rmtree(work, ignore_errors=True)
    click.echo(f"card written to {out} ({out / 'card.html'}); {card.timings['total_s']:.0f} s")


@click.command(cls=SemhubCommand)
@click.argument("cards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for compare.json and compare.html.")
def compare(cards, out) -> None:
    """Overlay hub cards (card.json files or profile run directories) of models, revisions or dtypes."""
    from semhub.cards.compare import compare as run_compare
    from semhub.places import check_out_dir

    check_out_dir(out)
    comparison = run_compare(*cards)
    comparison.write(out)
    flagged = sum(1 for r in comparison.rows if r["differs"])
    tested = sum(1 for r in comparison.rows if r["differs"] is not None)
    click.echo(f"{len(comparison.rows)} shared curves, {tested} with a paired permutation test, {flagged} of them "
               f"different (p <= 0.05, Bonferroni over the card pairs); written to {out / 'compare.html'}")
