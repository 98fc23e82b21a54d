"""``semhub train-lens``: a thin shell over ``semhub.train_lens``."""
from __future__ import annotations

from pathlib import Path

import click

from semhub.cli.help import SemhubCommand

from semhub.cli.params import FiniteFloat, RichProgress, data_flags, model_flags, split_specs
from semhub.contract.options import SEED_MAX
from semhub.specs.data import DataSpec
from semhub.specs.model import ModelSpec
from semhub.lens.training import MAX_STEPS, MAX_TAIL


@click.command("train-lens", cls=SemhubCommand)
@model_flags("model")
@data_flags("data", "views", help={
    "data": "Text to train on: a dataset name, or a JSONL/TSV/TXT file (its text views; a .txt is one text per line) "
            "[default: the built-in sentences in 8 languages and 1,500 Python docstring paragraphs].",
    "views": "Which text views of --data (comma list; default: every language view)."})
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Lens folder [default: the model's folder in the cache, which --lens tuned finds by itself].")
@click.option("--max-tokens", type=click.IntRange(min=100), default=30000, show_default=True,
              help="Training positions (each costs (layers + 1) x width floats).")
@click.option("--steps", type=click.IntRange(min=0, max=MAX_STEPS), default=300, show_default=True,
              help="Adam steps on the KL objective after the least-squares start (0: least squares only).")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--step-positions", "--batch", "step_positions", type=click.IntRange(min=1), default=256,
              show_default=True, help="Positions per optimisation step (--batch: its former name).")
@click.option("--top-k", type=click.IntRange(min=1), default=16, show_default=True,
              help="Each position's final top tokens scored exactly in the KL (their union per step).")
@click.option("--tail", type=click.IntRange(min=1, max=MAX_TAIL), default=2048, show_default=True,
              help="Sampled other tokens per step, standing for the rest of the vocabulary.")
@click.option("--held-out", type=FiniteFloat(0, 0.9, min_open=True), default=0.1, show_default=True,
              help="Share of the texts never trained on, on which both lenses are judged.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code")
def train_lens(out, held_out, **settings) -> None:
    """Train a tuned lens (one affine translator per layer) and write it in the tuned-lens layout."""
    from rich.console import Console
    from rich.table import Table

    from semhub.lens.training import train_lens as run

    model, data = split_specs(settings, ModelSpec, DataSpec)
    with RichProgress("train-lens") as progress:
        trained = run(model, data=data, out=out, held_out=held_out, progress=progress, **settings)
    table = Table(title="held-out text: KL to the final distribution (nats) and top-1 agreement")
    for column in ("layer", "KL logit lens", "KL tuned lens", "tuned (training objective)", "top-1 logit", "top-1 tuned"):
        table.add_column(column, justify="right")
    for row in trained.manifest["held_out"]:
        table.add_row(str(row["layer"]), f"{row['kl_logit']:.2f}", f"{row['kl_tuned']:.2f}",
                      f"{row['kl_tuned_sampled']:.2f}", f"{row['top1_logit']:.2f}", f"{row['top1_tuned']:.2f}")
    Console().print(table)
    click.echo(f"tuned lens written to {trained.folder} ({trained.manifest['timings']['total_s']:.0f} s); "
               f"use it with --lens tuned" + ("" if out is None else f" --lens-path {trained.folder}"))


@click.command("fit-lens", cls=SemhubCommand)
@model_flags("model")
@click.option("--kind", type=click.Choice(["jacobian"]), default="jacobian", show_default=True,
              help="The lens to fit (the tuned lens is trained by `semhub train-lens`).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The lens file to write (.pt).")
@click.option("--corpus", type=click.Path(path_type=Path), default=None,
              help="A text file, one prompt per line [default: Python standard-library docstring paragraphs].")
@click.option("--prompts", type=click.IntRange(min=1), default=32, show_default=True,
              help="Prompts fitted on (each costs one forward and ceil(width / --dim-batch) backward passes).")
@click.option("--judge", type=click.IntRange(min=1), default=16, show_default=True,
              help="Further prompts, never fitted on, on which the lens is judged against the logit lens.")
@click.option("--dim-batch", type=click.IntRange(min=1), default=8, show_default=True,
              help="Output dimensions per backward pass (the prompt is replicated this many times).")
@click.option("--max-seq-len", type=click.IntRange(min=2), default=128, show_default=True)
@click.option("--skip-first", type=click.IntRange(min=0), default=16, show_default=True,
              help="Leading positions left out of the average (as the reference implementation).")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code")
def fit_lens(kind, out, corpus, prompts, judge, dim_batch, max_seq_len, skip_first, seed, **settings) -> None:
    """Fit a Jacobian lens (one averaged Jacobian per layer) and write it in the reference artifact format."""
    from rich.console import Console
    from rich.table import Table

    from semhub.files import read_text, text_lines
    from semhub.lens.jacobian import fit_jacobian_lens

    (model,) = split_specs(settings, ModelSpec)
    texts = None if corpus is None else [t for t in text_lines(read_text(corpus)) if t.strip()]
    with RichProgress("fit-lens") as progress:
        lens, report = fit_jacobian_lens(model, out=out, corpus=texts, prompts=prompts, judge=judge,
                                         dim_batch=dim_batch, max_seq_len=max_seq_len, skip_first=skip_first,
                                         seed=seed, progress=progress)
    table = Table(title="held-out text: KL to the final distribution (nats) and top-1 agreement")
    for column in ("layer", "KL logit lens", "KL Jacobian lens", "top-1 logit", "top-1 Jacobian"):
        table.add_column(column, justify="right")
    for row in report.get("held_out", []):
        table.add_row(str(row["layer"]), f"{row['kl_logit']:.2f}", f"{row['kl_jacobian']:.2f}",
                      f"{row['top1_logit']:.2f}", f"{row['top1_jacobian']:.2f}")
    Console().print(table)
    click.echo(f"Jacobian lens written to {report['out']} ({report['n_prompts']} prompts, "
               f"{report['fit_seconds']:.0f} s); use it with --lens jacobian --lens-path {report['out']}")
