"""``semhub analyze``: parse the flags (the run's settings and the chosen analysis's own options),
call ``semhub.analyze``, write the run directory, print the summary."""
from __future__ import annotations

from pathlib import Path

import click

from semhub.cli.help import SemhubCommand, write_table
from semhub.cli.params import (RichProgress, data_flags, model_flags, option_help_rows, parse_analysis_flags, print_summary,
                               spec_flags, split_specs)
from semhub.specs.data import DataSpec
from semhub.specs.calibration import CalibrationSpec
from semhub.specs.engine import EngineSpec
from semhub.specs.model import ModelSpec
from semhub.specs.store import StoreSpec


def _analysis_named(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--analysis" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--analysis="):
            return arg.split("=", 1)[1]
    return "similarity"


class AnalyzeCommand(SemhubCommand):
    """Takes the chosen analysis's own options as extra flags, and lists them in ``--help`` in a section
    of their own, after the list of analyses."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["semhub_args"] = list(args)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        from semhub.plugins import catalog

        table = catalog.analyses()
        name = _analysis_named(ctx.meta.get("semhub_args", []))
        write_table(formatter, "Analyses (--analysis NAME)", [(n, a.description) for n, a in sorted(table.items())])
        analysis = table.get(name)
        if analysis is not None:
            write_table(formatter, f"Options of --analysis {name} (also -o NAME=VALUE)", option_help_rows(analysis))


@click.command(cls=AnalyzeCommand, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@model_flags("model")
@click.option("--model-b", default=None,
              help="A second model (same forms as --model) that reads every view after the first: alignment "
                   "then compares every layer of --model with every layer of --model-b.")
@click.option("--layers-b", default=None, help="--model-b's layers to capture (default: all).")
@click.option("--stack-b", default=None, help="--model-b's block stack, as --stack (Whisper: decoder, encoder).")
@data_flags("data", "views", "modality")
@click.option("--analysis", default="similarity", show_default=True, help="Analysis to run (listed below).")
@click.option("-o", "--option", "option_pairs", multiple=True, metavar="NAME=VALUE",
              help="Set one of the analysis's own options (repeatable); the same as its --flag.")
@click.option("--pooling", type=click.Choice(["mean", "last"]), default=None,
              help="Mean over content tokens (BOS and padding excluded) or the last content token [default: mean].")
@click.option("--center/--no-center", default=None, help="Subtract each view's mean state per layer [default: center].")
@click.option("--layers", default=None, help="Layers to capture, e.g. 0-18 or 1,6,12 (default: all, 0 = embeddings).")
@click.option("--final-norm/--no-final-norm", default=None,
              help="Apply the final norm at the last layer, as HF hidden_states[L] does [default: no].")
@click.option("--paper", is_flag=True,
              help="The paper's code's setting for this analysis: last token, no centring, layers 1..L, post-norm "
                   "last layer, raw lens, float32; the similarity's 'This represents' suffix (--template paper); "
                   "the dictionary lens without BOS on whole-word sites. A flag it sets, given otherwise, is an error.")
@click.option("--lens-norm/--no-lens-norm", default=None,
              help="Logit lens: apply the final norm before the unembedding (--no-lens-norm: the paper's code) "
                   "[default: norm].")
@click.option("--lens", default=None,
              help="The lens every lens analysis reads through: logit (default), tuned (trained translators: "
                   "`semhub train-lens`), or a plugin's (`semhub plugins`).")
@click.option("--lens-path", type=click.Path(path_type=Path), default=None,
              help="The lens's parameters: a tuned-lens folder (config.json + params.pt, the tuned-lens "
                   "library's layout) [default: the model's `semhub train-lens` folder].")
@data_flags("bos")
@click.option("--readout", default=None,
              help="Where a spoke reads its inputs, in its own terms (`semhub plugins` lists them), e.g. on "
                   "Whisper's decoder transcribe:view:prompt [default: each spoke's; Whisper: translate:auto:prompt].")
@data_flags("template")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@data_flags("limit")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0, max=100_000),  # = runs.context.MAX_BOOTSTRAP
              default=1000, show_default=True, help="Bootstrap resamples for 95% CIs.")
@model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code", "stack")
@spec_flags(StoreSpec)
@spec_flags(EngineSpec)
@spec_flags(CalibrationSpec)
@data_flags("allow_outside_paths")
@click.option("--seed", type=int, default=0, show_default=True)  # checked by semhub.check_seed, naming --seed
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default runs/<time>-<model>-<analysis>).")
@click.pass_context
def analyze(ctx: click.Context, option_pairs, out, **kwargs) -> None:
    """Capture per-layer states for aligned views and run an analysis; write a run directory."""
    from semhub.contract.analysis import options_class
    from semhub.plugins import catalog
    from semhub.plugins.catalog import default_model
    from semhub.runs.pipeline import analyze as run_analysis
    from semhub.places import check_out_dir
    from semhub.runs.rundir import default_run_dir

    model, data, store, engine, calibration = split_specs(kwargs, ModelSpec, DataSpec, StoreSpec, EngineSpec,
                                                          CalibrationSpec)
    analysis = catalog.lookup("analysis", catalog.analyses(), kwargs["analysis"])
    own = parse_analysis_flags(list(ctx.args), option_pairs, options_class(analysis).specs())
    for spec in options_class(analysis).specs():  # the analysis's own option of a calibration flag's name wins
        if spec.name in CalibrationSpec.names() and \
                ctx.get_parameter_source(spec.name) is click.core.ParameterSource.COMMANDLINE:
            own.setdefault(spec.name, getattr(calibration, spec.name))
            calibration = calibration.replace(**{spec.name: CalibrationSpec().to_dict()[spec.name]})
    name = model.model or ("store" if store.from_store else default_model(data.modality)) or "model"
    out = out or default_run_dir(name, analysis.name)
    check_out_dir(out)  # before any work
    with RichProgress(analysis.name) as progress:
        run = run_analysis(model=model, data=data, store=store, engine=engine, calibration=calibration,
                           progress=progress, options=own, **kwargs)
    run.write(out)
    print_summary(run, out)
