"""Steering vectors and where they came from.

A vector is (D,) (added at every chosen position) or (T, D) (ActAdd: one row per position,
aligned to the end of the prompt). It is read at a layer of the blueprint's convention and
saved as safetensors with its provenance (model, layer, sources) in the metadata.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from semhub.errors import SemhubError


@dataclass
class SteeringVector:
    vector: torch.Tensor  # (D,) or (T, D), float32
    layer: int
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The safetensors file: the vector, its read layer and provenance in the metadata."""
        from safetensors.torch import save

        meta = {"layer": str(self.layer), "provenance": json.dumps(self.provenance, ensure_ascii=False)}
        return save({"vector": self.vector.contiguous().float().cpu()}, metadata=meta)

    def save(self, path: str | Path) -> Path:
        Path(path).write_bytes(self.to_bytes())
        return Path(path)


def random_direction(vector: torch.Tensor, seed: int) -> torch.Tensor:
    """A Gaussian random direction with each row's norm equal to ``vector``'s (one row for (D,), one per
    position for (T, D)): the control a steering effect is read against, drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    draw = torch.randn(vector.shape, generator=gen)
    return draw * (vector.float().norm(dim=-1, keepdim=True) / draw.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def load_vector(path: str | Path) -> SteeringVector:
    """A vector saved by ``SteeringVector.save`` (or any safetensors file with a ``vector`` tensor)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise SemhubError(f"--vector: {path}: no such file")
    if not path.is_file():
        raise SemhubError(f"--vector: {path}: not a regular file (a folder or a device); give a .safetensors file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            if "vector" not in fh.keys():
                raise SemhubError(f"--vector: {path}: no tensor named 'vector' (has: {', '.join(fh.keys())})")
            meta = fh.metadata() or {}
            vector = fh.get_tensor("vector").float()
    except SemhubError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise SemhubError(f"--vector: {path}: not a readable safetensors file ({exc})") from None
    if vector.dim() not in (1, 2) or vector.numel() == 0:
        raise SemhubError(f"--vector: {path}: 'vector' has shape {list(vector.shape)}; expected (width,) or "
                          "(positions, width)")
    if not bool(torch.isfinite(vector).all()):
        raise SemhubError(f"--vector: {path}: 'vector' holds NaN or infinite values")
    try:
        provenance = json.loads(meta.get("provenance", "{}"))
        layer = meta.get("layer", "-1")
        if not isinstance(provenance, dict) or not str(layer).lstrip("-").isdigit() or len(str(layer)) > 6:
            raise ValueError
    except (ValueError, RecursionError):
        raise SemhubError(f"--vector: {path}: its metadata is not semhub's ('layer' an integer, 'provenance' a "
                          "JSON object)") from None
    return SteeringVector(vector, int(layer), provenance)


def _pooled(backbone, values: list[str], view: str, layer: int, pooling: str) -> torch.Tensor:
    from semhub.readout.capture import capture
    from semhub.readout.collect import encode_values

    return capture(backbone, encode_values(backbone, values, view), [layer], pooling=pooling)[:, 0]


def from_contrast(backbone, positive: list[str], negative: list[str], *, layer: int, pooling: str = "mean",
                  positive_view: str | None = None, negative_view: str | None = None) -> SteeringVector:
    """Mean pooled state of the positive set minus that of the negative set, at ``layer``.

    The views name the spoke that encodes each set (default: the model's dominant language, i.e. text)."""
    if not positive or not negative:
        raise SemhubError("contrast vector: both sets need at least one example")
    dominant = backbone.family.dominant_language
    vec = _pooled(backbone, positive, positive_view or dominant, layer, pooling).mean(0) - \
        _pooled(backbone, negative, negative_view or dominant, layer, pooling).mean(0)
    refuse_zero(vec, "contrast", "the two sets have the same mean state")
    return SteeringVector(vec, layer, {"method": "contrast", "model": backbone.name, "pooling": pooling,
                                       "n_positive": len(positive), "n_negative": len(negative),
                                       "positive_examples": positive[:3], "negative_examples": negative[:3]})


def refuse_zero(vec: torch.Tensor, parameter: str, why: str) -> None:
    """A zero vector would silently reproduce the baseline, a NaN one would poison every state: refuse both."""
    from semhub.errors import ParameterError

    if not bool(torch.isfinite(vec).all()):
        raise ParameterError(parameter, "the steering vector is not finite (NaN or inf: the model's states "
                                        "overflow at that layer; try --dtype float32)")
    if not bool(vec.abs().sum() > 0):
        raise ParameterError(parameter, f"the steering vector is zero ({why})")


def from_prompt_pair(backbone, positive: str, negative: str, *, layer: int, view: str | None = None) -> SteeringVector:
    """ActAdd: the per-position difference of two prompts' states, aligned to their ends.

    The shorter prompt is left-padded in the comparison; only the positions both prompts
    have (counted from the end, special tokens excluded) are kept, so the result is (T, D).
    """
    from semhub.backbone.convention import run_layers
    from semhub.readout.collect import encode_values

    rows = []
    for text in (positive, negative):
        enc = next(encode_values(backbone, [text], view or backbone.family.dominant_language))
        got: list[torch.Tensor] = []
        run_layers(backbone, [enc], [layer], lambda _l, h, b: got.append(h[0][b.groups["content"][0]].float().cpu()))
        rows.append(got[0])
    t = min(len(rows[0]), len(rows[1]))
    vec = rows[0][-t:] - rows[1][-t:]
    refuse_zero(vec, "pair", "the two prompts have the same states")
    return SteeringVector(vec, layer, {"method": "actadd", "model": backbone.name, "positive": positive,
                                       "negative": negative, "positions": t})


def from_unembedding(backbone, positive: str, negative: str) -> SteeringVector:
    """W_U[first token of positive] - W_U[first token of negative] (prefix-space rule applied)."""
    weight = backbone.part("unembedding").weight.detach()
    ids = [first_token(backbone, word, "unembed") for word in (positive, negative)]
    tok = backbone.tokenizer
    if ids[0] == ids[1]:
        from semhub.errors import ParameterError

        token = tok.convert_ids_to_tokens(ids[0])
        raise ParameterError("unembed", f"{positive!r} and {negative!r} both start with the token {token!r} "
                             f"(id {ids[0]}): the vector would be zero; pick words whose first tokens differ "
                             "(bare words: the prefix space is added)")
    vec = (weight[ids[0]] - weight[ids[1]]).float().cpu()
    return SteeringVector(vec, -1, {"method": "unembedding", "model": backbone.name, "positive": positive,
                                    "negative": negative, "tokens": tok.convert_ids_to_tokens(ids)})


def first_token(backbone, word: str, option: str) -> int:
    """The id of ``word``'s first token as it appears inside a sentence (the prefix-space rule)."""
    from semhub.lens.token_sets import word_token_ids

    found = word_token_ids(backbone, [word])
    if not found:
        raise SemhubError(f"--{option}: {word!r} has no token")
    return found[0]


def from_jacobian_lens(backbone, lens, word: str, layer: int) -> SteeringVector:
    """The J-lens vector of ``word`` at ``layer`` (Gurnee et al. 2026): row ``t`` of W_U J_layer for its
    first token t, the residual direction whose transport to the output raises t's logit most. Added
    as it is (the paper's minimal form ``h + coeff * v_t``)."""
    from semhub.backbone.convention import check_layers

    (layer,) = check_layers([layer], backbone.n_layers)
    token = first_token(backbone, word, "jlens")
    vec = lens.vectors([token], layer)[0].float().cpu()
    return SteeringVector(vec, layer, {"method": "jacobian-lens", "model": backbone.name, "word": word,
                                       "token": backbone.tokenizer.convert_ids_to_tokens(token),
                                       "lens": lens.describe()})
