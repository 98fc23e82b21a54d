"""The tuned lens (Belrose et al. 2023): one affine translator per layer before the final norm and
the unembedding, trained so each layer's read-out matches the model's final distribution.

Files use the tuned-lens library's layout, so lenses it trained (published for many models) load
as they are, and lenses semhub trains load in that library too: a folder with ``config.json``
(``d_model``, ``num_hidden_layers``, ``bias``...) and ``params.pt``, the state dict of its
``layer_translators`` (``"{i}.weight"``, ``"{i}.bias"`` for hidden-state index i = 0..L-1; the last
layer needs none). ``params.pt`` is read with ``torch.load(weights_only=True)``: never a pickle.
As in that library the translator is added residually: ``h + W_i h + b_i``.

semhub's layer index is the HF ``hidden_states`` index, so translator i reads semhub layer i.
``semhub-lens.json`` beside them records how semhub trained one (model, data, steps, losses).
"""
from __future__ import annotations

import hashlib
import os
import json
from pathlib import Path
from typing import Any

import torch

from semhub.errors import DataError, ParameterError, first_line
from semhub.lens.logit import Lens

CONFIG, PARAMS, MANIFEST = "config.json", "params.pt", "semhub-lens.json"
LENS_REPO, LENS_REPO_TYPE, LENS_SUBFOLDER = "AlignmentResearch/tuned-lens", "space", "lens"
"""Where the tuned-lens library publishes its lenses: ``lens/<model id>/`` of a hub space."""


class TunedLens(Lens):
    """A ``Lens`` whose ``prepare`` first applies layer i's translator (the final norm always follows)."""

    name = "tuned"

    def __init__(self, backbone, weight: torch.Tensor, bias: torch.Tensor | None, *, path: str | None = None,
                 sha256: str = "", **kwargs: Any):
        super().__init__(backbone, norm=True, **kwargs)
        L, d = backbone.n_layers, backbone.d_model
        if tuple(weight.shape) != (L, d, d):
            raise ParameterError("lens_path", f"translators of shape {tuple(weight.shape)} do not fit "
                                              f"{backbone.name} ({L} layers, width {d})")
        self.translator_weight = weight.float()
        self.translator_bias = None if bias is None else bias.float()
        self.path, self.sha256 = path, sha256

    def translate(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        """``h + W_layer h + b_layer`` in float32 (identity at the last layer, which needs no translator)."""
        h = hidden.float()
        if layer >= self.n_layers:
            return h
        w = self.translator_weight[layer].to(h.device)
        out = h + h @ w.T
        if self.translator_bias is not None:
            out = out + self.translator_bias[layer].to(h.device)
        return out

    def prepare(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        with torch.inference_mode():
            return super().prepare(self.translate(hidden, layer), layer)  # then the final norm, as the logit lens

    def describe(self) -> dict[str, Any]:
        return {"lens": self.name, "norm": True, "path": self.path, "params_sha256": self.sha256}


def read_config(folder: Path) -> dict[str, Any]:
    """The tuned-lens ``config.json`` of ``folder`` (errors name the file)."""
    from semhub.files import read_json_object

    path = folder / CONFIG
    if not path.is_file():
        raise ParameterError("lens_path", f"{folder} has no {CONFIG} (a tuned lens folder holds {CONFIG} and {PARAMS})")
    config = read_json_object(path, "a tuned lens's JSON config")
    if not isinstance(config.get("d_model"), int) \
            or not isinstance(config.get("num_hidden_layers"), int):
        raise DataError(path, None, "expected an object with integer d_model and num_hidden_layers")
    if not (folder / PARAMS).is_file():
        raise ParameterError("lens_path", f"{folder} has no {PARAMS}")
    return config


def lens_folder(path: str | Path) -> Path:
    """The folder a tuned lens is read from. A local folder is used as is; anything else (or
    ``hub:ID``) names a published lens by the tuned-lens library's resource id (``gpt2-large``,
    ``meta-llama/Llama-2-7b-hf``): its two files are fetched into the hub cache from ``lens/<id>/`` of
    the AlignmentResearch/tuned-lens space (``TUNED_LENS_REPO_ID`` and ``TUNED_LENS_REPO_TYPE``
    override it, as in that library), and ``HF_HUB_OFFLINE=1`` reads that cache only."""
    import os

    text = str(path)
    local = Path(text)
    if not text.startswith("hub:") and local.is_dir():
        return local
    resource = text.removeprefix("hub:").strip("/")
    repo = os.environ.get("TUNED_LENS_REPO_ID") or LENS_REPO
    repo_type = os.environ.get("TUNED_LENS_REPO_TYPE") or LENS_REPO_TYPE
    if not resource or text.startswith((".", "/", "~")) or local.exists():
        raise ParameterError("lens_path", f"{text} is not a folder (a tuned lens is {CONFIG} + {PARAMS}, or a "
                                          f"published lens id of {repo})")
    from huggingface_hub import hf_hub_download

    from semhub.cache import hub_offline

    where = f"{repo} ({repo_type}) {LENS_SUBFOLDER}/{resource}"
    files = []
    for name in (CONFIG, PARAMS):
        try:
            files.append(Path(hf_hub_download(repo_id=repo, repo_type=repo_type, filename=name,
                                              subfolder=f"{LENS_SUBFOLDER}/{resource}")))
        except Exception as exc:  # noqa: BLE001 - offline, not found, refused: one line naming the lens
            why = ("not in the local hub cache and HF_HUB_OFFLINE=1" if hub_offline()
                   else f"{type(exc).__name__}: {first_line(exc, default='')}")
            raise ParameterError("lens_path", f"no folder {text} and no published lens {where}: {why}") from None
    return files[0].parent


def lens_key(backbone: Any) -> str:
    """A model's identity for its default tuned-lens folder: its description minus where it runs."""
    ident = {k: v for k, v in backbone.describe().items() if k not in ("device", "attn_implementation", "dtype")}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


FORCE_ENV = "SEMHUB_FORCE_LENS"


def check_lens_model(folder: Path, backbone) -> None:
    """A lens semhub trained records the model it was made for (``model_key``: its description, content
    digest included); one made for another model is refused, even of the same width, unless
    ``SEMHUB_FORCE_LENS=1``. Lenses without the record (published ones) are checked by shape only."""
    from semhub.files import read_json_object

    if not (folder / MANIFEST).is_file() or os.environ.get(FORCE_ENV) == "1":
        return
    made_for = read_json_object(folder / MANIFEST, "a tuned lens's manifest")
    key = made_for.get("model_key")
    if key is not None and key != lens_key(backbone):
        model = made_for.get("model", {}).get("name", "another model") if isinstance(made_for.get("model"), dict) \
            else "another model"
        raise ParameterError("lens_path", f"{folder} was trained for {model} (key {key}), not {backbone.name} "
                                          f"(key {lens_key(backbone)}); {FORCE_ENV}=1 applies it anyway")


def load_tuned_lens(backbone, folder: str | Path) -> TunedLens:
    """The tuned lens of ``folder`` (a local folder or a published lens id, see ``lens_folder``) for ``backbone``:
    of its shape, made for it (``check_lens_model``), with finite translators."""
    folder = lens_folder(folder)
    config = read_config(folder)
    if (config["d_model"], config["num_hidden_layers"]) != (backbone.d_model, backbone.n_layers):
        raise ParameterError("lens_path", f"{folder} is a lens for {config['num_hidden_layers']} layers of width "
                                          f"{config['d_model']}; {backbone.name} has {backbone.n_layers} of "
                                          f"{backbone.d_model}")
    raw = (folder / PARAMS).read_bytes()
    try:
        state = torch.load(folder / PARAMS, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a refused pickle or a corrupt file: one line
        raise DataError(folder / PARAMS, None, f"cannot read the translators: {first_line(exc)}") from None
    L = backbone.n_layers
    try:
        weight = torch.stack([state[f"{i}.weight"] for i in range(L)])
        bias = torch.stack([state[f"{i}.bias"] for i in range(L)]) if "0.bias" in state else None
    except (KeyError, TypeError, RuntimeError) as exc:
        raise DataError(folder / PARAMS, None, f"expected translators 0..{L - 1} ('i.weight', 'i.bias'): {exc}") from None
    if not bool(torch.isfinite(weight).all()) or (bias is not None and not bool(torch.isfinite(bias).all())):
        raise DataError(folder / PARAMS, None, "the translators hold NaN or infinite values")
    check_lens_model(folder, backbone)
    return TunedLens(backbone, weight, bias, path=str(folder), sha256=hashlib.sha256(raw).hexdigest())


def save_tuned_lens(folder: str | Path, weight: torch.Tensor, bias: torch.Tensor, *, base_model: str,
                    manifest: dict[str, Any] | None = None) -> Path:
    """Write translators in the tuned-lens layout (plus semhub's manifest), atomically per file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    L, d, _ = weight.shape
    state = {}
    for i in range(L):
        state[f"{i}.weight"] = weight[i].detach().float().contiguous().clone()
        state[f"{i}.bias"] = bias[i].detach().float().contiguous().clone()
    config = {"base_model_name_or_path": base_model, "d_model": int(d), "num_hidden_layers": int(L), "bias": True,
              "base_model_revision": None, "unembed_hash": None, "lens_type": "linear_tuned_lens"}
    from semhub.files import atomic_file, atomic_write

    with atomic_file(folder / PARAMS) as tmp:
        torch.save(state, tmp)
    atomic_write(folder / CONFIG, json.dumps(config, indent=1) + "\n")
    atomic_write(folder / MANIFEST, json.dumps(manifest or {}, indent=1, ensure_ascii=False) + "\n")
    return folder
