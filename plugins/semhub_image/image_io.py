"""Reading images: any format Pillow opens (JPEG, PNG, WebP, GIF, TIFF...), any mode, EXIF
orientation applied, always RGB. Problems are one line naming the file."""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from semhub import first_line

MAX_PIXELS = 64_000_000  # larger files are refused (Pillow's decompression-bomb guard, made an error)


def read_image(path: Path) -> Image.Image:
    """An RGB image; transparency is composited on white (what a viewer shows)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ValueError(f"{path.name} is {img.width}x{img.height}, over the {MAX_PIXELS:,}-pixel limit")
                img = ImageOps.exif_transpose(img)  # phone photos: pixels stored sideways, EXIF says how to turn
                img.load()
                return _rgb(img)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"cannot read image {path.name}: {first_line(exc, default='not an image')}") from None
    except (OSError, SyntaxError) as exc:  # truncated or corrupt data
        raise ValueError(f"cannot read image {path.name}: {first_line(exc)}") from None


def _rgb(img: Image.Image) -> Image.Image:
    if img.width == 0 or img.height == 0:
        raise ValueError("image has no pixels")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float greyscale: scale to 8 bits
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype("uint8")).convert("RGB")
    return img.convert("RGB")


def read_mask(path: Path, size: tuple[int, int]) -> "np.ndarray":  # noqa: F821
    """A class-index mask (one integer per pixel) of the same size as its image."""
    import numpy as np

    try:
        with Image.open(path) as img:
            mask = np.asarray(img.convert("L") if img.mode not in ("L", "P", "I", "I;16") else img)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read mask {path.name}: {first_line(exc, default='not an image')}") from None
    if mask.shape[::-1] != tuple(size):
        raise ValueError(f"mask {path.name} is {mask.shape[1]}x{mask.shape[0]}, its image {size[0]}x{size[1]}")
    return mask.astype(np.int64)
