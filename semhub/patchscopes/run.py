"""``semhub.patchscope``: decode the states of given prompts through an inspection prompt, as a ``Run``."""
from __future__ import annotations

import time
from typing import Any

from semhub.errors import ParameterError
from semhub.runs.pipeline import check_context
from semhub.runs.run import Run
from semhub.runs.rundir import environment
from semhub.specs.model import ModelSpec
from semhub.specs.progress import Progress


def patchscope(
    sources: list[str],
    *,
    model: ModelSpec | str | None = None,
    backbone: Any = None,
    layers: str | list[int] | None = None,
    target_layer: int | None = None,
    target_prompt: str | None = None,
    placeholder: str = "?",
    candidates: list[str] | None = None,
    max_new_tokens: int = 8,
    top_k: int = 5,
    batch_size: int = 16,
    progress: Progress | None = None,
    **keywords: Any,
) -> Run:
    """Read each source prompt's last-token state at ``layers`` (default: all), patch it into the
    inspection prompt (``target_prompt``, default the few-shot identity prompt; the state goes at the
    last token of ``placeholder``) at the same layer or at ``target_layer``, and return what the model
    says there: its greedy continuation (``max_new_tokens``), top next tokens and the probability of
    each of ``candidates``. ``model`` is a ``ModelSpec`` or a name with its fields as keywords (``device``,
    ``dtype``, ``device_map``...). Errors name the parameter, before the model loads where they can."""
    from semhub.patchscopes.analysis import patch_prompts
    from semhub.patchscopes.inspection import IDENTITY_PROMPT, InspectionPrompt
    from semhub.readout.layers import parse_layer_spec, parse_layers
    from semhub.specs.inputs import require_text

    started = time.perf_counter()
    progress = progress or Progress()
    model_spec = ModelSpec.of(model, keywords)
    model_spec = model_spec.replace(dtype=model_spec.dtype or "auto")
    if keywords:
        raise ParameterError(next(iter(keywords)), "no such patchscope option")
    if not sources or any(not isinstance(s, str) or not s.strip() for s in sources):
        raise ParameterError("sources", "give at least one non-empty source prompt")
    prompt = InspectionPrompt(IDENTITY_PROMPT if target_prompt is None else target_prompt, placeholder)
    if not prompt.text.strip() or not placeholder or placeholder not in prompt.text:
        raise ParameterError("placeholder", f"{placeholder!r} does not occur in the inspection prompt {prompt.text!r}")
    if isinstance(layers, str):
        parse_layer_spec(layers)  # syntax before the model loads
    if target_layer is not None and (isinstance(target_layer, bool) or target_layer < 0):
        raise ParameterError("target_layer", f"expected a layer index >= 0, got {target_layer!r}")
    if max_new_tokens < 0 or top_k < 1 or batch_size < 1:
        bad = "max_new_tokens" if max_new_tokens < 0 else "top_k" if top_k < 1 else "batch_size"
        raise ParameterError(bad, "out of range")
    if any(not isinstance(c, str) or not c.strip() for c in candidates or []):
        raise ParameterError("candidates", "candidate words must be non-empty strings")
    model_spec.check()
    t0 = time.perf_counter()
    bb = backbone or model_spec.load()
    require_text(bb)
    load_s = time.perf_counter() - t0
    try:  # the inspection prompt and its continuation must fit the context window (sources are checked as read)
        check_context(bb, [prompt.text], max_new_tokens)
    except ParameterError as exc:
        raise ParameterError("target_prompt" if exc.parameter == "prompts" else exc.parameter, exc.problem) from None
    chosen = parse_layers(layers, bb.n_layers)
    if target_layer is not None and target_layer > bb.n_layers:
        raise ParameterError("target_layer", f"{target_layer} out of range 0..{bb.n_layers} for this model")
    progress.start("patchscope", len(chosen))
    result = patch_prompts(bb, list(sources), chosen, target_layer=target_layer, prompt=prompt,
                           candidates=list(candidates or []), max_new_tokens=max_new_tokens, top_k=top_k,
                           batch_size=batch_size, on_layer=lambda _l: progress.advance(1))
    manifest = {
        "model": bb.describe(),
        "options": {"sources": list(sources), "layers": chosen, "target_layer": target_layer,
                    "target_prompt": prompt.text, "placeholder": placeholder, "candidates": list(candidates or []),
                    "max_new_tokens": max_new_tokens, "top_k": top_k, "batch_size": batch_size},
        "placement": model_spec.placement(),
        "timings": {"load_model_s": round(load_s, 3), "total_s": round(time.perf_counter() - started, 3)},
        "environment": environment(),
    }
    return Run.build(result, manifest, producer="patchscope", figure_name="patchscope.png")
