"""Regenerate the built-in image sample (``semhub make-images FOLDER``).

Photographs come from scikit-image's bundled data (public domain or CC0, each licence recorded
in ``CAPTIONS``); colour fields, two-colour images and four-object scenes with their masks are
drawn here. scikit-image is needed only to regenerate (``pip install semhub[image-data]``); the
files ship with semhub.
"""
from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import numpy as np
from PIL import Image

MAX_SIDE = 336  # LLaVA-1.5's input size: enough detail for every supported processor
COLOURS = {"red": (220, 20, 20), "green": (20, 170, 40), "blue": (25, 50, 210), "black": (0, 0, 0)}

# loader name -> (caption, nouns of the caption, dominant colour, object label, licence as scikit-image states it)
CAPTIONS: dict[str, tuple[str, str, str, str, str]] = {
    "astronaut": ("a smiling astronaut in an orange suit stands in front of a flag", "astronaut suit flag",
                  "orange", "astronaut", "public domain (NASA)"),
    "brick": ("a grey brick wall with mortar between the bricks", "brick wall mortar bricks",
              "grey", "wall", "CC0 (CC0Textures)"),
    "camera": ("a man with a camera on a tripod in a field", "man camera tripod field",
               "grey", "camera", "CC0 (photographer Lav Varshney)"),
    "cell": ("a round cell floating in saline under a microscope", "cell saline microscope",
             "grey", "cell", "CC0 (public domain dedication)"),
    "chelsea": ("a ginger cat with green eyes looks at the camera", "cat eyes camera",
                "orange", "cat", "CC0 (photographer Stefan van der Walt)"),
    "clock": ("a blurred wall clock with black hands", "clock wall hands",
              "white", "clock", "public domain (photographer Stefan van der Walt)"),
    "coffee": ("a cup of coffee on a saucer with a spoon on a wooden table", "cup coffee saucer spoon table",
               "brown", "cup", "CC0 (photographer Rachel Michetti)"),
    "coins": ("old greek coins lying on a grey background", "coins background",
              "grey", "coins", "no known copyright restrictions (Brooklyn Museum)"),
    "grass": ("a close view of green grass blades", "view grass blades",
              "green", "grass", "CC0 (DeviantArt, linolafett)"),
    "gravel": ("a ground covered with small grey stones", "ground stones",
               "grey", "gravel", "CC0 (CC0Textures)"),
    "horse": ("the black silhouette of a horse on a white background", "silhouette horse background",
              "black", "horse", "CC0 (openclipart, Andreas Preuss)"),
    "hubble_deep_field": ("thousands of distant galaxies in the dark sky", "galaxies sky",
                          "black", "galaxies", "public domain (NASA)"),
    "immunohistochemistry": ("stained tissue under a microscope in brown and blue", "tissue microscope",
                             "brown", "tissue", "no known copyright restrictions (CMMI)"),
    "retina": ("a photograph of the retina of a human eye", "photograph retina eye",
               "red", "eye", "CC0 (Wikimedia Commons, Mikael Haggstrom)"),
    "rocket": ("a rocket launches into the sky with fire and smoke", "rocket sky fire smoke",
               "white", "rocket", "public domain (SpaceX)"),
    "text": ("black letters and shapes printed on a white page", "letters shapes page",
             "white", "text", "public domain (Wikipedia)"),
}
# Four objects per scene (top-left, top-right, bottom-left, bottom-right): the segmentation sample.
SCENES = [("chelsea", "coffee", "rocket", "horse"), ("astronaut", "coins", "clock", "chelsea"),
          ("coffee", "horse", "chelsea", "rocket"), ("rocket", "chelsea", "coins", "coffee"),
          ("horse", "astronaut", "coffee", "coins"), ("clock", "rocket", "horse", "astronaut")]


def _photo(name: str) -> Image.Image:
    import skimage.data

    arr = np.asarray(getattr(skimage.data, name)())
    if arr.dtype == bool:
        arr = np.where(arr, 0, 255).astype(np.uint8)  # the horse: a black silhouette on white
    img = Image.fromarray(arr).convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return img


def _square(img: Image.Image, side: int) -> Image.Image:
    w, h = img.size
    s = min(w, h)
    return img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((side, side))


def build(folder: Path) -> None:
    folder = Path(folder)
    for sub in ("photos", "colours", "scenes"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (caption, nouns, colour, label, licence) in CAPTIONS.items():
        _photo(name).save(folder / "photos" / f"{name}.jpg", quality=85)
        rows.append({"id": name, "image": f"photos/{name}.jpg", "en": caption, "nouns": nouns,
                     "colour": colour, "label": label, "licence": licence, "source": f"skimage.data.{name}"})
    _write(folder / "images.jsonl", rows)
    _licences(folder / "LICENCES.md")

    rows = []
    for name, rgb in COLOURS.items():  # the paper's colour lens: 256 x 256 solid colours
        Image.new("RGB", (256, 256), rgb).save(folder / "colours" / f"{name}.png")
        rows.append({"id": name, "image": f"colours/{name}.png", "en": f"the colour {name}", "colour": name})
    _write(folder / "colours.jsonl", rows)

    rows = []
    for top, bottom in permutations(COLOURS, 2):  # the Chameleon edit: top half one colour, bottom another
        img = Image.new("RGB", (256, 256), COLOURS[top])
        img.paste(COLOURS[bottom], (0, 128, 256, 256))
        img.save(folder / "colours" / f"{top}-{bottom}.png")
        rows.append({"id": f"{top}-{bottom}", "image": f"colours/{top}-{bottom}.png",
                     "en": f"{top} above {bottom}", "top": top, "bottom": bottom})
    _write(folder / "halves.jsonl", rows)

    rows = []
    for k, names in enumerate(SCENES):  # 2 x 2 scenes; the mask holds the class index (1..4) per pixel
        img = Image.new("RGB", (256, 256))
        mask = np.zeros((256, 256), np.uint8)
        for q, name in enumerate(names):
            x, y = 128 * (q % 2), 128 * (q // 2)
            tile = _square(_photo(name), 128)
            img.paste(tile, (x, y))
            if name == "horse":  # only the silhouette is the horse
                mask[y:y + 128, x:x + 128] = np.where(np.asarray(tile.convert("L")) < 128, q + 1, 0)
            else:
                mask[y:y + 128, x:x + 128] = q + 1
        img.save(folder / "scenes" / f"scene{k}.jpg", quality=90)
        Image.fromarray(mask, "L").save(folder / "scenes" / f"scene{k}-mask.png")
        labels = [CAPTIONS[n][3] for n in names]
        rows.append({"id": f"scene{k}", "image": f"scenes/scene{k}.jpg", "mask": f"scenes/scene{k}-mask.png",
                     "classes": ",".join(labels), "en": f"{labels[0]}, {labels[1]}, {labels[2]} and {labels[3]}"})
    _write(folder / "scenes.jsonl", rows)


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _licences(path: Path) -> None:
    lines = ["# Licences of the built-in images", "",
             "Photographs: scikit-image's bundled data (`skimage.data.<name>`), downscaled to at most "
             f"{MAX_SIDE} px; the licence is the one scikit-image's docstring states. Captions, nouns and labels "
             "were written for semhub (Apache-2.0, like the code). Colour fields, two-colour images and scene "
             "masks are drawn by `make_images.py`; scenes are 2 x 2 collages of the photographs below.", "",
             "| file | source | licence |", "|---|---|---|"]
    lines += [f"| photos/{name}.jpg | skimage.data.{name} | {entry[4]} |" for name, entry in CAPTIONS.items()]
    path.write_text("\n".join(lines) + "\n")
