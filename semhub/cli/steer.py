"""`semhub steer`: parse the flags, call ``semhub.steer``, write the run directory, print the summary."""
from __future__ import annotations

from pathlib import Path

import click

from semhub.cli.help import SemhubCommand

from semhub.cli.params import RichProgress, model_flags, print_summary, split_specs
from semhub.specs.model import ModelSpec
from semhub.errors import ParameterError


def _items(spec: str | None, option: str, convert, what: str) -> list | None:
    """A comma list of ``what``: no empty item, none twice."""
    if spec is None:
        return None
    parts = [x.strip() for x in spec.split(",")]
    try:
        if any(not x for x in parts):
            raise ValueError
        values = [convert(x) for x in parts]
    except ValueError:
        raise ParameterError(option, f"expected comma-separated {what}, got {spec!r}") from None
    if len(set(values)) != len(values):
        raise ParameterError(option, f"{spec!r} names a value twice")
    return values


def _floats(spec: str | None, option: str) -> list[float] | None:
    return _items(spec, option, float, "numbers")


def _ints(spec: str | None, option: str) -> list[int] | None:
    return _items(spec, option, int, "integers")


def _lines(path: Path, option: str) -> list[str]:
    from semhub.files import read_text, text_lines

    lines = [line.strip() for line in text_lines(read_text(path)) if line.strip()]
    if not lines:
        raise ParameterError(option, f"{path} has no non-empty line")
    return lines


@click.command(cls=SemhubCommand)
@click.option("--preset", default=None, help="A registered experiment (see --list-presets).")
@click.option("--list-presets", is_flag=True, help="List steering presets and exit.")
@model_flags("model")
@click.option("--vector", "vector_file", type=click.Path(path_type=Path), default=None, help="A saved vector (.safetensors).")
@click.option("--contrast", nargs=2, type=click.Path(path_type=Path), default=None, metavar="POS_FILE NEG_FILE",
              help="Mean difference of two text sets (one text per line).")
@click.option("--pair", nargs=2, default=None, metavar="POS NEG", help="ActAdd: two prompts, aligned to the end.")
@click.option("--unembed", nargs=2, default=None, metavar="POS NEG", help="W_U[POS] - W_U[NEG] (first tokens).")
@click.option("--jlens", default=None, metavar="WORD",
              help="WORD's J-lens vector at --layer: row t of W_U J_layer (its first token t), from --lens-path.")
@click.option("--lens-path", default=None, help="With --jlens: a Jacobian lens file (`semhub fit-lens`) or a published "
                                               "name (neuronpedia/jacobian-lens:gemma-3-270m).")
@click.option("--layer", "read_layer", type=int, default=None, help="Layer the vector is read at (and written, by default).")
@click.option("--layers", default=None, help="Layers to write at, e.g. 6 or 3,6,9 (several: a sweep).")
@click.option("--coeff", "coeffs", default=None, help="Coefficients, e.g. 1 or 0.5,1,2 (0 is always run as the baseline).")
@click.option("--positions", type=click.Choice(["all", "prompt", "last"]), default=None)
@click.option("--mode", type=click.Choice(["add", "replace"]), default=None)
@click.option("--prompt", "prompts", multiple=True, help="A prompt (repeatable).")
@click.option("--prompts", "prompts_file", type=click.Path(path_type=Path), default=None, help="One prompt per line.")
@click.option("--scorer", "scorers", multiple=True, help="Scorer name (repeatable; see `semhub plugins`).")
@click.option("--target-language", default=None, help="For the language and sentiment scorers, e.g. es.")
@click.option("--target-word", default=None, help="Also measure the log-prob shift of this word at the last prompt token.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=None)
@click.option("--sample/--greedy", default=None, help="Sampling (seeded) or greedy decoding (default).")
@click.option("--temperature", type=float, default=None)
@click.option("--top-p", type=float, default=None)
@click.option("--seeds", default=None, help="Comma list of sampling seeds, e.g. 0,1,2.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N prompts.")
@click.option("--random-control/--no-random-control", default=None,
              help="Also steer each setting with a random direction of the same norm, reported beside each "
                   "score [default: on].")
@model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default runs/<time>-<model>-steer).")
def steer(preset, list_presets, model, vector_file, contrast, pair, unembed, jlens, lens_path, read_layer, layers, coeffs, positions,
          mode, prompts, prompts_file, scorers, target_language, target_word, max_new_tokens, sample, temperature,
          top_p, seeds, batch_size, limit, random_control, out, **placement) -> None:
    """Add a direction to the residual stream while generating, and measure what changed."""
    from semhub.plugins import catalog
    from semhub.plugins.catalog import default_model
    from semhub.runs.pipeline import steer as run_steer
    from semhub.places import check_out_dir
    from semhub.runs.rundir import default_run_dir

    if list_presets:
        for name, p in catalog.steering_presets().items():
            click.echo(f"{name:<22} {p.description}")
        return
    prompt_list = list(prompts) + (_lines(prompts_file, "prompts") if prompts_file else [])
    contrast_sets = tuple(_lines(p, "contrast") for p in contrast) if contrast else None
    overrides = {"layers": _ints(layers, "layers"), "coeffs": _floats(coeffs, "coeffs"), "positions": positions,
                 "mode": mode, "prompts": prompt_list or None, "scorers": list(scorers) or None,
                 "target_language": target_language, "target_word": target_word, "max_new_tokens": max_new_tokens,
                 "do_sample": sample, "temperature": temperature, "top_p": top_p, "seeds": _ints(seeds, "seeds"),
                 "batch_size": batch_size, "random_control": random_control}
    (model,) = split_specs({"model": model, **placement}, ModelSpec)
    out = out or default_run_dir(model.model or default_model("text") or "model", f"steer-{preset}" if preset else "steer")
    check_out_dir(out)  # before the model loads
    with RichProgress("steer") as progress:
        run = run_steer(preset, model=model, vector=vector_file, contrast=contrast_sets, pair=pair, unembed=unembed,
                        jlens=jlens, lens_path=lens_path, layer=read_layer, limit=limit, progress=progress, **overrides)
    run.write(out)
    print_summary(run, out)
