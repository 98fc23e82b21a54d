"""``semhub analyze``: parse the flags (the run's settings and the chosen analysis's own options),
call ``semhub.analyze``, write the run directory, print the summary."""
from __future__ import annotations

from pathlib import Path

import click

from semhub.cli.params import RichProgress, option_help_rows, parse_analysis_flags, placement_options, print_summary


def _analysis_named(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--analysis" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--analysis="):
            return arg.split("=", 1)[1]
    return "similarity"


class AnalyzeCommand(click.Command):
    """Takes the chosen analysis's own options as extra flags, and lists them in ``--help``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["semhub_args"] = list(args)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        from semhub.plugins import catalog

        table = catalog.analyses()
        name = _analysis_named(ctx.meta.get("semhub_args", []))
        with formatter.section("Analyses (--analysis)"):
            formatter.write_dl([(n, a.description) for n, a in sorted(table.items())])
        analysis = table.get(name)
        if analysis is not None:
            rows = option_help_rows(analysis)
            with formatter.section(f"Options of --analysis {name} (also -o NAME=VALUE)"):
                if rows:
                    formatter.write_dl(rows)
                else:
                    formatter.write_text("none")


@click.command(cls=AnalyzeCommand, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--model", default=None, help="Registered name (default: the modality's model), local dir, .gguf file, or HF hub id.")
@click.option("--model-b", default=None,
              help="A second model (same forms as --model) that reads every view after the first: alignment "
                   "then compares every layer of --model with every layer of --model-b.")
@click.option("--layers-b", default=None, help="--model-b's layers to capture (default: all).")
@click.option("--stack-b", default=None, help="--model-b's block stack, as --stack (Whisper: decoder, encoder).")
@click.option("--data", default=None,
              help="Aligned JSONL/TSV file or built-in dataset name (default: the --modality's built-in data).")
@click.option("--views", default=None, help="Comma list; the first view is compared with each other one.")
@click.option("--modality", default="text", show_default=True, help="Which spoke's views to compare when --views is not given.")
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
@click.option("--bos/--no-bos", default=None,
              help="Encode text with the tokenizer's BOS (--no-bos: add_special_tokens=False) [default: bos].")
@click.option("--readout", default=None,
              help="Where a spoke reads its inputs, in its own terms (`semhub plugins` lists them), e.g. on "
                   "Whisper's decoder transcribe:view:prompt [default: each spoke's; Whisper: translate:auto:greedy].")
@click.option("--template", default=None,
              help="Text template: 'paper' (the similarity's suffixes) or a TOML file of per-language prefix/suffix.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--limit", type=click.IntRange(min=2), default=None, help="Use only the first N rows.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0, max=100_000),  # = context.MAX_BOOTSTRAP
              default=1000, show_default=True, help="Bootstrap resamples for 95% CIs.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps...")
@click.option("--dtype", type=click.Choice(["auto", "float32", "float16", "bfloat16"]), default=None,
              help="Weights' precision [default: auto, the checkpoint's; --paper: float32].")
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
@click.pass_context
def analyze(ctx: click.Context, option_pairs, views, out, **kwargs) -> None:
    """Capture per-layer states for aligned views and run an analysis; write a run directory."""
    from semhub.contract.analysis import options_class
    from semhub.data.aligned import parse_views
    from semhub.plugins import catalog
    from semhub.plugins.catalog import default_model
    from semhub.runs.pipeline import analyze as run_analysis
    from semhub.places import check_out_dir
    from semhub.runs.rundir import default_run_dir

    analysis = catalog.lookup("analysis", catalog.analyses(), kwargs["analysis"])
    own = parse_analysis_flags(list(ctx.args), option_pairs, options_class(analysis).specs())
    name = kwargs["model"] or ("store" if kwargs["from_store"] else default_model(kwargs["modality"])) or "model"
    out = out or default_run_dir(name, analysis.name)
    check_out_dir(out)  # before any work
    with RichProgress(analysis.name) as progress:
        run = run_analysis(views=parse_views(views), progress=progress, options=own, **kwargs)
    run.write(out)
    print_summary(run, out)
