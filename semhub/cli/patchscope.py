"""``semhub patchscope``: a thin shell over ``semhub.patchscope``."""
from __future__ import annotations

from pathlib import Path

import click

from semhub.cli.help import SemhubCommand

from semhub.cli.params import RichProgress, model_flags, print_summary, split_specs
from semhub.specs.model import ModelSpec


@click.command(cls=SemhubCommand)
@click.option("--source", "sources", multiple=True, required=True,
              help="A source prompt (repeatable); its last token's state is decoded.")
@model_flags("model")
@click.option("--layers", default=None, help="Source layers, e.g. 4-10 or 2,6 [default: all].")
@click.option("--target-layer", type=click.IntRange(min=0), default=None,
              help="Layer of the inspection prompt the state is written at [default: the layer it was read at].")
@click.option("--target-prompt", default=None,
              help='The inspection prompt [default: the identity prompt "cat -> cat; 1135 -> 1135; hello -> hello; ? ->"].')
@click.option("--placeholder", default="?", show_default=True,
              help="The string of the inspection prompt whose last token receives the state.")
@click.option("--candidate", "candidates", multiple=True,
              help="A word whose probability as the next token is reported (repeatable).")
@click.option("--max-new-tokens", type=click.IntRange(min=0), default=8, show_default=True,
              help="Greedy continuation length (0: score only).")
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True, help="Top next tokens kept.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory (default runs/<time>-<model>-patchscope).")
def patchscope(sources, model, out, **settings) -> None:
    """Decode each source prompt's hidden states by patching them into an inspection prompt."""
    from semhub.plugins.catalog import default_model
    from semhub.patchscopes.run import patchscope as run_patchscope
    from semhub.places import check_out_dir
    from semhub.runs.rundir import default_run_dir

    (spec,) = split_specs({"model": model, **settings}, ModelSpec)
    settings = {k: v for k, v in settings.items() if k not in ModelSpec.names()}
    out = out or default_run_dir(spec.model or default_model("text") or "model", "patchscope")
    check_out_dir(out)  # before the model loads
    settings["candidates"] = list(settings["candidates"])
    with RichProgress("patchscope") as progress:
        run = run_patchscope(list(sources), model=spec, progress=progress, **settings)
    run.write(out)
    print_summary(run, out)
