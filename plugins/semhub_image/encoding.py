"""Images -> model inputs, position groups and each image's patch grid, for each kind of image backbone.

Two kinds, told apart by the registry entry, never by a model name:
- **vision-language LLMs** (LLaVA, LLaVA-NeXT, Chameleon, Gemma 3, Qwen2-VL) declare an image
  placeholder: the family's prompt holds the processor's image token, the processor expands it,
  and ``content`` = the positions holding the placeholder id (found from the ids), ``prompt_last``
  = the last prompt token (Chameleon's separator);
- **pixel-only vision towers** (CLIP's image encoder) take ``pixel_values`` alone: ``content`` =
  the patch tokens, ``cls`` = the prefix tokens before them.

Every item also gets ``grid`` (its raster image positions, row-major) and ``meta["grid"]`` =
(rows, cols) per item: the registry's ``[vision] layout`` says how positions lie on the patch grid.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image

from semhub import Encoded, SemhubError


def image_processor(backbone) -> Any:
    proc = backbone.processor
    return getattr(proc, "image_processor", proc)


def _pixels_dtype(backbone, inputs: dict[str, torch.Tensor]) -> None:
    for key in ("pixel_values", "pixel_values_videos"):
        if key in inputs and inputs[key].is_floating_point():
            inputs[key] = inputs[key].to(backbone.dtype)


def _rows_mask(content: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """The first ``counts[b]`` positions of ``content`` in each row."""
    rank = content.long().cumsum(1)
    return content & (rank <= torch.tensor(counts)[:, None])


def _grids(backbone, batch: dict[str, Any], content: torch.Tensor) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """(grid mask, (rows, cols) per item) from the registry's layout."""
    vision = backbone.family.vision
    layout = vision.get("layout", "square")
    counts = content.sum(1).tolist()
    if layout == "square":
        sides = [math.isqrt(c) for c in counts]
        if any(s * s != c for s, c in zip(sides, counts)):
            raise SemhubError(f"{backbone.name}: {counts} image positions are not a square grid (registry layout)")
        return content, [(s, s) for s in sides]
    if layout == "anyres":  # the base view comes first
        side = int(backbone.config_value(vision["image_size"])) // int(backbone.config_value(vision["patch_size"]))
        return _rows_mask(content, [side * side] * len(counts)), [(side, side)] * len(counts)
    if layout == "thw":
        merge = int(getattr(image_processor(backbone), "merge_size", 1))
        thw = batch["image_grid_thw"].tolist()
        grids = [(h // merge, w // merge) for _t, h, w in thw]
        if [r * c for r, c in grids] != counts:
            raise SemhubError(f"{backbone.name}: image_grid_thw {thw} does not match the image positions {counts}")
        return content, grids
    raise SemhubError(f"registry entry {backbone.family.name!r}: unknown [vision] layout {layout!r}")


def _process(backbone, images: list[Image.Image], texts: list[str]) -> dict[str, Any]:
    token = getattr(backbone.processor, "image_token", None) or getattr(backbone.processor, "boi_token", None)
    if not token:
        raise SemhubError(f"{backbone.name}: its processor names no image token")
    template = backbone.family.prompts.get("image", "{image}{question}")
    prompts = [template.replace("{image}", token).replace("{question}", text) for text in texts]
    batch = backbone.processor(text=prompts, images=[[im] for im in images], return_tensors="pt", padding=True)
    return {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}


def _text_span(with_text: torch.Tensor, without: torch.Tensor, attention: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Where the per-item texts sit: from the first id that differs from the text-free prompt, as many
    positions as the text added (both batches right-padded, the text in one place)."""
    mask = torch.zeros_like(with_text, dtype=torch.bool)
    for b in range(len(with_text)):
        n_with, n_without = int(attention[0][b].sum()), int(attention[1][b].sum())
        a, c = with_text[b, :n_with], without[b, :n_without]
        width = min(len(a), len(c))
        differ = (a[:width] != c[:width]).nonzero()
        start = int(differ[0]) if len(differ) else width
        mask[b, start:start + n_with - n_without] = True
    return mask


def encode_with_prompt(images: list[Image.Image], backbone, placeholder: int, question: str = "",
                       texts: list[str] | None = None) -> Encoded:
    """Vision-language LLMs: the processor expands the image token; positions come back from the ids.

    ``texts`` (one per image, e.g. its caption) fill the ``{question}`` slot instead of ``question``
    and get their own group ``text``.
    """
    inputs = _process(backbone, images, texts if texts is not None else [question] * len(images))
    _pixels_dtype(backbone, inputs)
    ids = inputs["input_ids"]
    attention = inputs["attention_mask"].bool()
    content = (ids == placeholder) & attention
    if not bool(content.any(dim=1).all()):
        raise SemhubError(f"{backbone.name}: the processor put no image placeholder (id {placeholder}) in the prompt")
    positions = torch.arange(ids.shape[1])
    last = torch.where(attention, positions, -1).max(dim=1).values
    grid, shapes = _grids(backbone, inputs, content)
    groups = {"content": content, "grid": grid, "prompt_last": positions[None, :] == last[:, None], "all": attention}
    if texts is not None:
        bare = _process(backbone, images, [""] * len(images))
        groups["text"] = _text_span(ids, bare["input_ids"], (inputs["attention_mask"], bare["attention_mask"]))
    return Encoded(inputs, groups, meta={"grid": shapes})


def encode_pixels(images: list[Image.Image], backbone) -> Encoded:
    """Pixel-only vision towers (ViT): prefix tokens, then (H / patch) x (W / patch) patches, row-major."""
    vision = backbone.family.vision
    pixels = image_processor(backbone)(images=images, return_tensors="pt")["pixel_values"]
    inputs = {"pixel_values": pixels}
    _pixels_dtype(backbone, inputs)
    patch = int(backbone.config_value(vision["patch_size"]))
    prefix = int(vision.get("prefix_tokens", 0))
    rows, cols = pixels.shape[-2] // patch, pixels.shape[-1] // patch
    n, T = len(images), prefix + rows * cols
    positions = torch.arange(T).expand(n, T)
    content = positions >= prefix
    groups = {"content": content, "grid": content, "all": torch.ones(n, T, dtype=torch.bool)}
    if prefix:
        groups["cls"] = positions < prefix
    return Encoded(inputs, groups, meta={"grid": [(rows, cols)] * n})


def encode_images(images: list[Image.Image], backbone, question: str = "", texts: list[str] | None = None) -> Encoded:
    """Dispatch on what the backbone is: a vision-language LLM (declares an image placeholder) or a ViT.

    ``question`` fills the ``{question}`` slot of the family's image prompt, or ``texts`` per image (LLMs only).
    """
    if backbone.processor is None or "image" not in backbone.family.modalities:
        raise SemhubError(f"--model: {backbone.name} ({backbone.family.name}) reads no images; use a vision "
                          "model (see `semhub models`), e.g. --model llava-hf/llava-1.5-7b-hf")
    placeholder = backbone.placeholder_id("image")
    if placeholder is not None:
        return encode_with_prompt(images, backbone, placeholder, question, texts)
    if backbone.family.vision.get("layout") == "vit":
        return encode_pixels(images, backbone)
    raise SemhubError(f"registry entry {backbone.family.name!r}: no image placeholder and no [vision] layout 'vit'")
