"""The Jacobian lens (Gurnee et al., "Verbalizable Representations Form a Global Workspace in
Language Models", Transformer Circuits Thread, 2026): a lens that is not trained to mimic the output.

Per layer l one d x d matrix, the average first-order effect of the residual stream at l on the
last block's output:

    J_l = E_prompt[ mean over source positions t of  sum over t' >= t of  d h_L,t' / d h_l,t ]

and the lens reads ``W_U norm(J_l h_l)`` (the logit lens is J_l = I). The rows of ``W_U J_l`` are
token directions in the residual stream ("J-lens vectors"), usable for steering.

The estimator and the file follow the reference implementation (``anthropics/jacobian-lens``, as
TransformerLens 4.3 reimplements it), so lenses interoperate: per prompt, one forward of the prompt
replicated ``dim_batch`` times, then ceil(d / dim_batch) backward passes, each planting a one-hot
cotangent for ``dim_batch`` output dimensions at every valid target position at once (causal
attention makes the gradient at t the sum over t' >= t); rows are averaged over the valid source
positions (after the first ``skip_first``, the final one excluded) and prompts count equally. The
artifact is ``torch.save({"J": {l: fp16 [d, d]}, "n_prompts", "source_layers", "d_model",
"metadata"})`` (read with ``weights_only=True``; the reference's fit checkpoints, ``jacobian_sum``
and ``n_done``, load too). Its layer ``l`` is the output of block ``l``: semhub's layer ``l + 1``.
The embeddings (semhub layer 0) and the last layer have no matrix: read through the identity there.
Published lenses are fetched by name from ``neuronpedia/jacobian-lens`` (``jacobian_registry.json``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from semhub.errors import DataError, ParameterError, first_line
from semhub.lens.logit import Lens

SKIP_FIRST = 16  # the reference's default: the first positions attend mostly to the sink
REGISTRY = Path(__file__).with_name("jacobian_registry.json")


class JacobianLens(Lens):
    """A ``Lens`` whose ``prepare`` transports layer l's state through J_l (then the final norm)."""

    name = "jacobian"

    def __init__(self, backbone, jacobians: dict[int, torch.Tensor], *, n_prompts: int, path: str | None = None,
                 sha256: str = "", metadata: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(backbone, norm=True, **kwargs)
        d, L = backbone.d_model, backbone.n_layers
        bad = [layer for layer, m in jacobians.items() if not 1 <= layer < L or tuple(m.shape) != (d, d)]
        if bad:
            layer = bad[0]
            raise ParameterError("lens_path", f"a Jacobian lens matrix for layer {layer} of shape "
                                              f"{tuple(jacobians[layer].shape)} does not fit {backbone.name} "
                                              f"(layers 1..{L - 1}, width {d})")
        self.jacobians = {int(k): v.detach().float().cpu() for k, v in sorted(jacobians.items())}
        self.n_prompts, self.path, self.sha256 = int(n_prompts), path, sha256
        self.metadata = dict(metadata or {})

    def transport(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        """``J_layer h`` in float32 (the identity where the lens has no matrix: the embeddings, the last layer)."""
        matrix = self.jacobians.get(layer)
        h = hidden.float()
        return h if matrix is None else h @ matrix.to(h.device).T

    def prepare(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        with torch.inference_mode():
            return super().prepare(self.transport(hidden, layer), layer)

    def vectors(self, ids: Sequence[int], layer: int) -> torch.Tensor:
        """(len(ids), d) the J-lens vectors of ``ids`` at ``layer``: rows of ``W_U J_layer``, the residual
        directions whose transport raises each token's logit most (a steering source)."""
        w = self.weight[list(ids)].float()
        matrix = self.jacobians.get(layer)
        return w if matrix is None else w @ matrix

    def describe(self) -> dict[str, Any]:
        return {"lens": self.name, "norm": True, "path": self.path, "sha256": self.sha256, "n_prompts": self.n_prompts,
                "layers": sorted(self.jacobians), "identity_at": [0, self.n_layers]}


# --- fitting ---


def fit_jacobian(backbone, prompts: Sequence[str], *, layers: Sequence[int] | None = None, dim_batch: int = 8,
                 max_seq_len: int = 128, skip_first: int = SKIP_FIRST,
                 on_prompt: Callable[[int], None] | None = None) -> tuple[dict[int, torch.Tensor], int]:
    """``({layer: J_layer}, prompts used)``: the reference estimator on ``prompts`` (semhub layer indices,
    default 1..L-1). Prompts with no valid position (at most ``skip_first + 1`` tokens) are skipped."""
    from contextlib import ExitStack

    from semhub.backbone.convention import hook_layer

    L, d = backbone.n_layers, backbone.d_model
    layers = sorted(set(range(1, L) if layers is None else layers))
    if not layers or layers[0] < 1 or layers[-1] >= L:
        raise ParameterError("layers", f"Jacobian lens layers run from 1 to {L - 1} (the embeddings and the last "
                                       f"layer read through the identity), got {layers}")
    if dim_batch < 1:
        raise ParameterError("dim_batch", f"must be at least 1, got {dim_batch}")
    if skip_first < 0:
        raise ParameterError("skip_first", f"must be at least 0, got {skip_first}")
    sums = {layer: torch.zeros(d, d) for layer in layers}
    done = 0
    params = [p for p in backbone.model.parameters() if p.requires_grad]
    try:
        for p in params:  # the graph is rooted at the first source layer, not the weights
            p.requires_grad_(False)
        for prompt in prompts:
            ids = backbone.tokenizer(prompt, return_tensors="pt")["input_ids"][:, :max_seq_len]
            T = ids.shape[1]
            if T <= skip_first + 1:
                continue
            captured: dict[int, torch.Tensor] = {}

            def make(layer: int):
                def fn(hidden: torch.Tensor):
                    if layer == layers[0] and not hidden.requires_grad:
                        hidden = hidden.detach().requires_grad_(True)
                    captured[layer] = hidden
                    return hidden

                return fn

            with ExitStack() as stack, torch.enable_grad():
                for layer in sorted(set(layers) | {L}):
                    stack.callback(hook_layer(backbone, layer, make(layer)).remove)
                batch = ids.expand(dim_batch, -1).to(backbone.input_device)
                backbone.base(input_ids=batch, attention_mask=torch.ones_like(batch))
            for layer, matrix in per_prompt(captured, layers, L, d, dim_batch, list(range(skip_first, T - 1))).items():
                sums[layer] += matrix
            done += 1
            if on_prompt:
                on_prompt(done)
    finally:
        for p in params:
            p.requires_grad_(True)
    if not done:
        raise ParameterError("corpus", f"every prompt was too short (the Jacobian lens needs more than "
                                       f"{skip_first + 1} tokens; lower --skip-first or give longer texts)")
    return {layer: s / done for layer, s in sums.items()}, done


def per_prompt(captured: dict[int, torch.Tensor], layers: list[int], L: int, d: int, dim_batch: int,
               valid: list[int]) -> dict[int, torch.Tensor]:
    """One prompt's J rows for every source layer: one-hot cotangents for ``dim_batch`` output
    dimensions at every valid position, one backward pass per block of dimensions."""
    target = captured[L]
    sources = [captured[layer] for layer in layers]
    where = torch.tensor(valid, device=target.device)
    rows = torch.arange(dim_batch, device=target.device)
    out = {layer: torch.zeros(d, d) for layer in layers}
    cotangent = torch.zeros_like(target)
    passes = -(-d // dim_batch)
    for k in range(passes):
        start, n = k * dim_batch, min(dim_batch, d - k * dim_batch)
        cotangent.zero_()
        cotangent[rows[:n, None], where[None, :], start + rows[:n, None]] = 1.0
        grads = torch.autograd.grad(target, sources, grad_outputs=cotangent, retain_graph=k < passes - 1)
        for layer, grad in zip(layers, grads):
            out[layer][start : start + n] = grad[:n, where.to(grad.device)].float().mean(1).cpu()
    return out


# --- files ---


def save_jacobian_lens(path: str | Path, jacobians: dict[int, torch.Tensor], *, n_prompts: int, d_model: int,
                       metadata: dict[str, Any] | None = None, dtype: torch.dtype = torch.float16) -> Path:
    """Write the reference artifact (block-output layer keys: semhub layer l is key l - 1), atomically."""
    from semhub.files import atomic_file

    path = Path(path)
    payload: dict[str, Any] = {"J": {layer - 1: m.to(dtype).contiguous() for layer, m in sorted(jacobians.items())},
                               "n_prompts": int(n_prompts), "source_layers": [layer - 1 for layer in sorted(jacobians)],
                               "d_model": int(d_model)}
    if metadata:
        payload["metadata"] = metadata
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)
    return path


def lens_file(path: str | Path) -> Path:
    """The file a Jacobian lens is read from: a local file as is; else a published lens by name
    (``gemma-3-270m``, ``neuronpedia/jacobian-lens:gemma-3-270m``, or ``REPO:FILE.pt``), fetched into
    the hub cache at the registry's revision (``HF_HUB_OFFLINE=1``: the cache only)."""
    text = str(path)
    local = Path(text)
    if local.is_file():
        return local
    registry = json.loads(REGISTRY.read_text(encoding="utf-8"))
    repo, _, name = text.rpartition(":")
    repo = registry["repo_id"] if repo in ("", "hub") else repo  # a bare name, or hub:NAME
    filename = name if name.endswith(".pt") else registry["files"].get(name)
    if filename is None or text.startswith((".", "/", "~")) or local.exists():
        known = ", ".join(sorted(registry["files"])[:6])
        raise ParameterError("lens_path", f"{text} is not a Jacobian lens file nor a published lens "
                                          f"(names: {known}, ... in {REGISTRY.name}; or REPO:FILE.pt)")
    from huggingface_hub import hf_hub_download

    from semhub.cache import hub_offline

    revision = registry["revision"] if repo == registry["repo_id"] else None
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, revision=revision))
    except Exception as exc:  # noqa: BLE001 - offline, not found, refused: one line naming the lens
        why = ("not in the local hub cache and HF_HUB_OFFLINE=1" if hub_offline()
               else f"{type(exc).__name__}: {first_line(exc, default='')}")
        raise ParameterError("lens_path", f"no file {text} and no published lens {repo}/{filename}: {why}") from None


def read_jacobians(path: Path, raw: bytes | None = None) -> tuple[dict[int, torch.Tensor], int, dict[str, Any]]:
    """``({semhub layer: J}, n_prompts, metadata)`` of an artifact or a reference fit checkpoint (``raw``:
    the file's bytes when the caller has read them already)."""
    import io

    try:
        payload = torch.load(io.BytesIO(raw) if raw is not None else path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a refused pickle or a corrupt file: one line
        raise DataError(path, None, f"cannot read a Jacobian lens: {first_line(exc)}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("J", payload.get("jacobian_sum")), dict):
        raise DataError(path, None, "not a Jacobian lens: expected a 'J' (artifact) or 'jacobian_sum' "
                                    "(fit checkpoint) mapping of layers to matrices")
    if "J" in payload:
        matrices, n = payload["J"], int(payload.get("n_prompts", 0))
    else:
        n = int(payload.get("n_done", payload.get("n_prompts", 0)))
        if n <= 0:
            raise DataError(path, None, f"a fit checkpoint of {n} prompts cannot be averaged")
        matrices = {k: v.float() / n for k, v in payload["jacobian_sum"].items()}
    try:
        out = {int(k) + 1: torch.as_tensor(v).float() for k, v in matrices.items()}
    except (TypeError, ValueError) as exc:
        raise DataError(path, None, f"layer keys must be integers: {exc}") from None
    if not out or not all(bool(torch.isfinite(m).all()) for m in out.values()):
        raise DataError(path, None, "no matrices, or matrices holding NaN or infinite values")
    meta = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    return out, n, meta


def load_jacobian_lens(backbone, path: str | Path) -> JacobianLens:
    """The Jacobian lens of ``path`` (a file or a published name, see ``lens_file``) for ``backbone``."""
    file = lens_file(path)
    raw = file.read_bytes()  # read once: hashed and parsed (published lenses of big models run to gigabytes)
    jacobians, n, meta = read_jacobians(file, raw)
    digest = hashlib.sha256(raw).hexdigest()
    return JacobianLens(backbone, jacobians, n_prompts=n, path=str(file), sha256=digest, metadata=meta)


def default_corpus(limit: int, seed: int = 0) -> list[str]:
    """The prompts ``semhub fit-lens`` fits on without ``--corpus``: English prose that ships with
    Python (the standard library's docstrings, as the tuned lens trains on), ``limit`` of them."""
    from semhub.data.prose import docstring_paragraphs

    return docstring_paragraphs(limit, seed)


def fit_jacobian_lens(model: Any = None, *, backbone: Any = None, out: str | Path, corpus: Sequence[str] | None = None,
                      prompts: int = 32, layers: Sequence[int] | None = None, dim_batch: int = 8,
                      max_seq_len: int = 128, skip_first: int = SKIP_FIRST, judge: int = 16, seed: int = 0,
                      progress: Any = None, **keywords: Any) -> tuple[JacobianLens, dict[str, Any]]:
    """Fit a Jacobian lens for ``model`` (a ``ModelSpec``, a name with its fields as keywords, or a loaded
    ``backbone``) on ``prompts`` texts of ``corpus`` (default: standard-library docstring paragraphs), write
    the reference artifact to ``out`` and return (the lens, a report): the fit's time and, on ``judge``
    texts never fitted on, the exact KL to the final distribution and top-1 agreement of the logit lens
    and the Jacobian lens per layer."""
    import random
    import time

    from semhub.lens.quality import content_states, judge_lenses
    from semhub.places import check_out_file
    from semhub.readout.collect import encode_values
    from semhub.specs.model import ModelSpec
    from semhub.specs.progress import Progress

    model_spec = ModelSpec.of(model, keywords)
    if keywords:
        raise ParameterError(next(iter(keywords)), "no such fit_jacobian_lens option")
    for name, value, low in (("prompts", prompts, 1), ("dim_batch", dim_batch, 1), ("max_seq_len", max_seq_len, 2),
                             ("skip_first", skip_first, 0), ("judge", judge, 1)):
        if int(value) < low:
            raise ParameterError(name, f"must be at least {low}, got {value}")
    out = check_out_file(Path(out), suffix=".pt", suffixes=(".pt",))
    texts = [t for t in (corpus if corpus is not None else default_corpus(prompts + judge, seed)) if str(t).strip()]
    random.Random(seed).shuffle(texts)
    held, fit = texts[:judge], texts[judge : judge + prompts]
    if not fit:
        raise ParameterError("corpus", f"{len(texts)} texts: nothing left to fit on after {judge} judged ones")
    say = (progress or Progress()).note
    model_spec.check()
    bb = backbone if backbone is not None else model_spec.load()
    say(f"fitting the Jacobian lens of {bb.name} on {len(fit)} texts ({-(-bb.d_model // dim_batch)} backward "
        f"passes each)")
    started = time.perf_counter()
    jacobians, n = fit_jacobian(bb, fit, layers=layers, dim_batch=dim_batch, max_seq_len=max_seq_len,
                                skip_first=skip_first, on_prompt=lambda k: say(f"prompt {k}/{len(fit)}"))
    fit_s = time.perf_counter() - started
    meta = {"model_name": bb.name, "semhub_fit": True, "estimator": "jacobian", "corpus": "given texts" if corpus
            is not None else "python-stdlib-docstrings", "n_prompts": n, "dim_batch": dim_batch,
            "max_seq_len": max_seq_len, "skip_first_positions": skip_first, "target_layer": bb.n_layers - 1,
            "hook_convention": "blocks.{layer}.hook_out", "fit_seconds": round(fit_s, 1)}
    save_jacobian_lens(out, jacobians, n_prompts=n, d_model=bb.d_model, metadata=meta)
    lens = load_jacobian_lens(bb, out)
    report: dict[str, Any] = {"out": str(out), "fit_seconds": fit_s, "n_prompts": n, "layers": sorted(jacobians)}
    if held:
        L = bb.n_layers
        states = content_states(bb, encode_values(bb, held, "text", 8), range(L + 1), max_tokens=512)
        final = Lens(bb)
        kl, top1 = judge_lenses({"logit": final, "jacobian": lens}, states, list(range(L + 1)), final)
        report["held_out"] = [{"layer": layer, "kl_logit": kl["logit"][i], "kl_jacobian": kl["jacobian"][i],
                               "top1_logit": top1["logit"][i], "top1_jacobian": top1["jacobian"][i]}
                              for i, layer in enumerate(range(L + 1))]
    return lens, report


__all__ = ["JacobianLens", "fit_jacobian", "fit_jacobian_lens", "save_jacobian_lens", "load_jacobian_lens",
           "read_jacobians", "lens_file", "SKIP_FIRST"]
