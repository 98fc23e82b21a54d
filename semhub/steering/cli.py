"""`semhub steer`: build or load a steering vector, generate with it, score, write a run directory."""
from __future__ import annotations

import time
from pathlib import Path

import click

from semhub.cli import placement_options
from semhub.errors import SemhubError


def _floats(spec: str | None, option: str) -> list[float] | None:
    if spec is None:
        return None
    try:
        return [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise SemhubError(f"{option}: expected comma-separated numbers, got {spec!r}") from None


def _ints(spec: str | None, option: str) -> list[int] | None:
    values = _floats(spec, option)
    if values is not None and any(v != int(v) for v in values):
        raise SemhubError(f"{option}: expected integers, got {spec!r}")
    return None if values is None else [int(v) for v in values]


def _lines(path: Path, option: str) -> list[str]:
    from semhub.data.aligned import _read_text

    lines = [line.strip() for line in _read_text(path).splitlines() if line.strip()]
    if not lines:
        raise SemhubError(f"{option}: {path} has no non-empty line")
    return lines


@click.command()
@click.option("--preset", default=None, help="A registered experiment (see --list-presets).")
@click.option("--list-presets", is_flag=True, help="List steering presets and exit.")
@click.option("--model", default=None, help="Model name, local path, .gguf file or hub id (default gemma3-270m).")
@click.option("--vector", "vector_file", type=click.Path(path_type=Path), default=None, help="A saved vector (.safetensors).")
@click.option("--contrast", nargs=2, type=click.Path(path_type=Path), default=None, metavar="POS_FILE NEG_FILE",
              help="Mean difference of two text sets (one text per line).")
@click.option("--pair", nargs=2, default=None, metavar="POS NEG", help="ActAdd: two prompts, aligned to the end.")
@click.option("--unembed", nargs=2, default=None, metavar="POS NEG", help="W_U[POS] - W_U[NEG] (first tokens).")
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
@click.option("--device", default=None)
@click.option("--dtype", type=click.Choice(["auto", "float32", "float16", "bfloat16"]), default="auto")
@placement_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default runs/<time>-<model>-steer).")
def steer(preset, list_presets, model, vector_file, contrast, pair, unembed, read_layer, layers, coeffs, positions,
          mode, prompts, prompts_file, scorers, target_language, target_word, max_new_tokens, sample, temperature,
          top_p, seeds, batch_size, limit, device, dtype, device_map, offload_folder, out) -> None:
    """Add a direction to the residual stream while generating, and measure what changed."""
    from semhub import catalog
    from semhub.rundir import check_out_dir, default_run_dir, environment, staged_run_dir, write_json

    presets = catalog.steering_presets()
    if list_presets:
        for name, _build, description in presets.values():
            click.echo(f"{name:<22} {description}")
        return
    sources = [x for x in (preset, vector_file, contrast, pair, unembed) if x]
    if len(sources) != 1:
        raise SemhubError("give exactly one of --preset, --vector, --contrast, --pair, --unembed")
    if preset:
        catalog.lookup("steering preset", presets, preset)
    write_layers, coeff_list, seed_list = _ints(layers, "--layers"), _floats(coeffs, "--coeff"), _ints(seeds, "--seeds")
    prompt_list = list(prompts) + (_lines(prompts_file, "--prompts") if prompts_file else [])
    contrast_sets = [_lines(p, "--contrast") for p in contrast] if contrast else None
    for name in scorers:
        catalog.lookup("scorer", catalog.scorers(), name)
    from semhub.backbone.loading import parse_device_map

    device_map = parse_device_map(device_map)  # a malformed map fails before the model loads
    out = out or default_run_dir(model or "gemma3-270m", f"steer-{preset}" if preset else "steer")
    check_out_dir(out)

    import semhub
    from semhub.steering import from_contrast, from_prompt_pair, from_unembedding, load_vector
    from semhub.steering.run import SteerSpec, run_steering

    started = time.perf_counter()
    bb = semhub.load(model, device=device, dtype=dtype, device_map=device_map, offload_folder=offload_folder)
    if preset:
        vector, spec = presets[preset][1](bb)
    else:
        if read_layer is None and not (vector_file or unembed):
            raise SemhubError("--layer: needed to read a --contrast or --pair vector")
        if vector_file:
            vector = load_vector(vector_file)
        elif contrast_sets:
            vector = from_contrast(bb, contrast_sets[0], contrast_sets[1], layer=read_layer)
        elif pair:
            vector = from_prompt_pair(bb, pair[0], pair[1], layer=read_layer)
        else:
            vector = from_unembedding(bb, unembed[0], unembed[1])
        layer = read_layer if read_layer is not None else vector.layer
        if not write_layers and layer < 0:
            raise SemhubError("--layers: say where to add this vector (it has no read layer)")
        if not prompt_list:
            raise SemhubError("--prompt/--prompts: at least one prompt is needed")
        spec = SteerSpec(prompt_list, write_layers or [layer], coeff_list or [1.0], list(scorers) or ["language"],
                         description="custom")
    overrides = {"layers": write_layers, "coeffs": coeff_list, "positions": positions, "mode": mode,
                 "prompts": prompt_list or None, "scorers": list(scorers) or None, "target_language": target_language,
                 "target_word": target_word, "max_new_tokens": max_new_tokens, "do_sample": sample,
                 "temperature": temperature, "top_p": top_p, "seeds": seed_list, "batch_size": batch_size}
    for key, value in overrides.items():
        if value is not None:
            setattr(spec, key, value)
    if limit:
        spec.prompts = spec.prompts[:limit]

    result = run_steering(bb, vector, spec, on_setting=lambda l, c: click.echo(f"  layer {l} coeff {c:g} done", err=True))
    with staged_run_dir(out) as tmp:
        write_json(tmp / "results.json", {result.key: result.to_json()})
        write_json(tmp / "continuations.json", result.examples)
        vector.save(tmp / "vector.safetensors")
        result.plot(tmp / "steering.png")
        write_json(tmp / "manifest.json", {
            "model": bb.describe(), "preset": preset, "options": spec.__dict__,
            "placement": {"device": device, "dtype": dtype, "device_map": device_map,
                          "offload_folder": str(offload_folder) if offload_folder else None}, "vector": vector.provenance,
            "timings": {"total_s": round(time.perf_counter() - started, 3)}, "environment": environment(),
        })
        from semhub.report import write_report

        write_report(tmp)
    from semhub.cli import _print_summary

    _print_summary(result, out)
