"""Which class covers each image patch: the class mask goes through the model's own image
preprocessing (resize and crop, no rescale or normalisation), then is averaged per grid cell."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from semhub import SemhubError


def patch_labels(backbone, base_dir: Path, image_path: str, mask_path: str, grid: tuple[int, int]) -> np.ndarray:
    """(rows * cols,) class index per patch, row-major; 0 where no class covers more than half of it."""
    from semhub_image.image_io import read_image, read_mask

    def resolve(p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else base_dir / path

    size = read_image(resolve(image_path)).size
    try:
        mask = read_mask(resolve(mask_path), size)
    except ValueError as exc:
        raise SemhubError(str(exc)) from None
    rows, cols = grid
    labels = np.zeros(rows * cols, dtype=np.int64)
    best = np.full(rows * cols, 0.5)
    for k in np.unique(mask):
        if k == 0:
            continue
        cover = _cell_cover(backbone, (mask == k).astype(np.uint8) * 255, rows, cols).reshape(-1)
        win = cover > best
        labels[win], best[win] = int(k), cover[win]
    return labels


def _cell_cover(backbone, binary: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The fraction of each grid cell the class covers, after the processor's geometry."""
    from semhub_image.encoding import image_processor

    layout = backbone.family.vision.get("layout", "square")
    img = Image.fromarray(binary).convert("RGB")
    if layout == "thw":  # Qwen2-VL resizes without cropping: the whole mask maps onto the grid
        plane = torch.from_numpy(binary.astype(np.float32) / 255)[None, None]
    else:
        pixels = image_processor(backbone)(images=[img], do_rescale=False, do_normalize=False,
                                           return_tensors="pt")["pixel_values"]
        if pixels.dim() == 5:  # any-resolution tiles: the first is the whole image at base size
            pixels = pixels[:, 0]
        if pixels.dim() != 4:
            raise SemhubError(f"{backbone.name}: cannot map its pixel layout {tuple(pixels.shape)} onto patches")
        plane = pixels[:, :1].float() / 255
    return torch.nn.functional.adaptive_avg_pool2d(plane, (rows, cols))[0, 0].numpy()
