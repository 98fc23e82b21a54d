"""``semhub.train_lens``: train a model's tuned lens end to end and write it (tuned-lens layout, plus
``semhub-lens.json``: the model, the text, the settings, the losses, and the exact held-out KL and
top-1 agreement of the logit lens and the tuned lens per layer)."""
from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from semhub.contract.options import check_seed
from semhub.errors import ParameterError
from semhub.specs.data import DataSpec
from semhub.specs.model import ModelSpec
from semhub.specs.progress import Progress

MAX_STEPS = 1_000_000  # Adam steps: beyond this a typo, not a schedule
MAX_TAIL = 1_000_000  # sampled tokens per step: more than any vocabulary

DEFAULT_PROSE = 1500  # standard-library docstring paragraphs added to the built-in sentences


@dataclass
class TrainedLens:
    """What ``semhub.train_lens`` returns.

    Attributes:
        folder: where the lens was written (load it with ``--lens tuned --lens-path FOLDER``).
        manifest: the ``semhub-lens.json`` contents.
        lens: the loaded ``semhub.TunedLens``.
    """

    folder: Path
    manifest: dict[str, Any]
    lens: Any


def training_texts(data: Any = None, views: list[str] | None = None, prose: int = DEFAULT_PROSE,
                   seed: int = 0) -> tuple[list[str], list[str]]:
    """(texts, where they came from): the text views of ``data`` (a dataset name, a JSONL/TSV/TXT file, or
    a list of strings), else the built-in multilingual sentences and ``prose`` standard-library paragraphs."""
    from semhub.data.prose import docstring_paragraphs
    from semhub.specs.inputs import dataset, modality_of

    if isinstance(data, (list, tuple)):
        texts, sources = [str(t) for t in data if str(t).strip()], ["given texts"]
    else:
        ds = dataset(data if data is not None else "multilingual")
        chosen = views or [v for v in ds.views if modality_of(v) == "text"]  # languages, not code or media
        if not chosen:
            raise ParameterError("data", f"{ds.path} has no text view to train on (views: {', '.join(ds.views)})")
        ds.require(chosen)
        texts = [v for view in chosen for v in ds.columns[view] if isinstance(v, str) and v.strip()]
        sources = [f"{ds.path} ({', '.join(chosen)})"]
        if data is None and prose:
            texts += docstring_paragraphs(prose, seed)
            sources.append(f"{prose} Python standard-library docstring paragraphs")
    if len(texts) < 10:
        raise ParameterError("data", f"{len(texts)} texts: a lens needs at least 10 to train and judge on")
    random.Random(seed).shuffle(texts)
    return texts, sources


def train_lens(
    model: ModelSpec | str | None = None,
    *,
    backbone: Any = None,
    data: DataSpec | Any = None,
    out: str | Path | None = None,
    max_tokens: int = 30000,
    held_out: float = 0.1,
    judge_tokens: int = 500,
    steps: int = 300,
    lr: float = 1e-3,
    step_positions: int = 256,
    top_k: int = 16,
    tail: int = 2048,
    seed: int = 0,
    batch_size: int = 16,
    progress: Progress | None = None,
    **keywords: Any,
) -> TrainedLens:
    """Train and write a tuned lens for ``model`` (a ``ModelSpec``, or a name with its fields as keywords:
    ``device``, ``dtype``...; or a loaded ``backbone``); errors name the parameter.

    ``data`` (a ``DataSpec``, or data with ``views`` as a keyword) is the text trained on (default: the
    built-in sentences and docstring paragraphs). ``batch_size`` inputs go through the model per forward;
    ``step_positions`` positions make one optimisation step. Progress is reported to ``progress.note``.

    ``held_out`` of the texts are never trained on: the manifest reports, on at most ``judge_tokens``
    of their positions, the exact full-vocabulary KL to the final distribution and the top-1 agreement
    of the logit lens and the tuned lens per layer, and the training objective (the sampled KL) beside
    the exact one.
    """
    import torch

    from semhub.lens.kinds import default_lens_folder
    from semhub.lens.logit import Lens
    from semhub.readout.collect import encode_values
    from semhub.lens.quality import content_states, judge_lenses
    from semhub.lens.fit import TrainConfig, final_targets, sampled_kl, train
    from semhub.lens.tuned import TunedLens, lens_key, load_tuned_lens, save_tuned_lens

    model_spec = ModelSpec.of(model, keywords)
    data_spec = DataSpec.of(data, keywords)
    if keywords:
        raise ParameterError(next(iter(keywords)), "no such train_lens option")
    say = (progress or Progress()).note
    for name, value, low in (("max_tokens", max_tokens, 100), ("judge_tokens", judge_tokens, 10),
                             ("step_positions", step_positions, 1),
                             ("top_k", top_k, 1), ("tail", tail, 1), ("batch_size", batch_size, 1)):
        if int(value) < low:
            raise ParameterError(name, f"must be at least {low}, got {value}")
    if tail > MAX_TAIL:  # sampled afresh every step: a bigger tail only allocates
        raise ParameterError("tail", f"must be at most {MAX_TAIL}, got {tail}")
    if not 0 < held_out <= 0.9:
        raise ParameterError("held_out", f"a fraction above 0 and at most 0.9, got {held_out}")
    if not 0 <= steps <= MAX_STEPS:
        raise ParameterError("steps", f"must be from 0 to {MAX_STEPS}, got {steps}")
    if not math.isfinite(lr) or lr <= 0:
        raise ParameterError("lr", f"a finite number above 0, got {lr}")
    check_seed(seed)
    model_spec.check()
    config = TrainConfig(steps=steps, lr=lr, batch=step_positions, top_k=top_k, tail=tail, seed=seed)
    if out is not None:
        from semhub.places import check_folder

        check_folder(out, "out")
    texts, sources = training_texts(data_spec.data, data_spec.views, seed=seed)
    n_judge = max(1, int(len(texts) * held_out))
    judge, fit = texts[:n_judge], texts[n_judge:]
    started = time.perf_counter()
    if backbone is None:
        backbone = model_spec.load()
    from semhub.specs.inputs import require_text

    require_text(backbone)
    folder = Path(out) if out is not None else default_lens_folder(backbone)
    L = backbone.n_layers
    say(f"reading {len(fit)} texts ({max_tokens} positions at most) at {L + 1} layers")
    t0 = time.perf_counter()
    states = content_states(backbone, encode_values(backbone, fit, "text", batch_size), range(L + 1),
                            max_tokens=max_tokens)
    held = content_states(backbone, encode_values(backbone, judge, "text", batch_size), range(L + 1),
                          max_tokens=judge_tokens)
    read_s = time.perf_counter() - t0
    if states[L].shape[0] < 100 or held[L].shape[0] < 10:
        raise ParameterError("data", f"{states[L].shape[0]} training and {held[L].shape[0]} held-out positions: too few")
    logit = Lens(backbone)
    say(f"training on {states[L].shape[0]} positions: least squares, then {steps} KL steps")
    weight, bias, report = train(logit, states, config,
                                 progress=lambda step, loss: say(f"step {step}/{steps}: sampled KL {loss:.3f}")
                                 if step % 50 == 1 or step == steps else None)
    tuned_tmp = TunedLens(backbone, weight, bias)
    say("judging both lenses on the held-out texts (exact KL over the whole vocabulary)")
    gen = torch.Generator().manual_seed(seed + 1)
    kl, top1 = judge_lenses({"logit": logit, "tuned": tuned_tmp}, held, list(range(L)), logit)
    target = final_targets(logit, held[L], top_k)  # once for every layer
    table = [{"layer": layer, "kl_logit": round(kl["logit"][layer], 4), "kl_tuned": round(kl["tuned"][layer], 4),
              "top1_logit": round(top1["logit"][layer], 4), "top1_tuned": round(top1["tuned"][layer], 4),
              "kl_tuned_sampled": round(sampled_kl(tuned_tmp, held[layer], layer, target, tail=tail, generator=gen), 4)}
             for layer in range(L)]
    digest = hashlib.sha256("\n".join(fit).encode("utf-8")).hexdigest()
    manifest = {
        "format": "semhub-lens/1", "lens": "tuned", "model": backbone.describe(), "model_key": lens_key(backbone),
        "data": {"sources": sources, "texts": len(fit), "held_out_texts": len(judge), "sha256": digest,
                 "positions": report.positions, "held_out_positions": int(held[L].shape[0])},
        "config": asdict(config), "losses": report.losses, "final_loss": report.losses[-1] if report.losses else None,
        "held_out": table,
        "timings": {"read_s": round(read_s, 1), "least_squares_s": report.least_squares_s, "kl_s": report.kl_s,
                    "total_s": round(time.perf_counter() - started, 1)},
    }
    save_tuned_lens(folder, weight, bias, base_model=backbone.name, manifest=manifest)
    return TrainedLens(folder, manifest, load_tuned_lens(backbone, folder))
