"""Build the ``clipart`` dataset (``semhub make-clipart FOLDER``): a few hundred public-domain drawings
of distinct everyday objects, each with an English caption, for alignment between a vision model and
a language model (k-NN metrics need hundreds of items; the 16 photographs are too few).

Source: the Open Clip Art Library as Debian ships it (``openclipart-png`` for the pixels,
``openclipart-svg`` for each drawing's own metadata), every file under the Creative Commons
public-domain dedication. Selection is mechanical and reproducible: drawings of concrete-object
categories whose author-given title is one to three English dictionary words (``wamerican``'s
word list), one drawing per title. The caption is written from the title and the author's
keywords: ``"a drawing of a ladybug (insect, animal)"``. Pixels are flattened onto white and
fitted into 224 x 224 (DINOv2's crop), saved as JPEG.

Needs, only to rebuild: ``apt-get install openclipart-png openclipart-svg wamerican``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

SOURCE = Path("/usr/share/openclipart")
WORDS = Path("/usr/share/dict/words")
CATEGORIES = ("animals", "food", "plants", "transportation", "tools", "buildings", "office", "electronics",
              "recreation", "containers", "people", "science", "education")  # not "computer": mostly buttons
SIDE = 224
# Titles that name a style or a set, not an object.
GENERIC = {"people", "card", "theme", "icon", "icons", "set", "clipart", "clip", "art", "symbol", "sign",
           "logo", "simple", "cartoon", "drawing", "colour", "color", "black", "white", "and", "the", "b", "w",
           "hash", "nice", "style", "shape", "shapes", "experiences", "media", "remix", "svg", "vector"}


def english(words: Path = WORDS) -> set[str]:
    return {w.strip().lower() for w in words.read_text(errors="ignore").splitlines() if w.strip().isalpha()}


def metadata(svg: Path) -> tuple[str, list[str]]:
    """The drawing's own title and keywords (dc:title and dc:subject of its RDF block)."""
    text = svg.read_text(errors="ignore")[:40000]
    title = re.search(r"<dc:title>([^<]+)</dc:title>", text)
    subject = re.search(r"<dc:subject>(.*?)</dc:subject>", text, re.S)
    keywords = re.findall(r"<rdf:li>([^<]+)</rdf:li>", subject.group(1)) if subject else []
    return (title.group(1).strip() if title else ""), [k.strip().lower() for k in keywords if k.strip()]


def clean_title(title: str, vocabulary: set[str]) -> str | None:
    """``"Crawfish (B and W)"`` -> ``"crawfish"``; None unless 1-3 English words that name something."""
    title = re.sub(r"\(.*?\)", " ", title.lower()).replace("-", " ")
    words = title.split()
    if not 1 <= len(words) <= 3 or not all(w.isalpha() and w in vocabulary for w in words):
        return None
    if all(w in GENERIC for w in words):
        return None
    return " ".join(words)


def caption(title: str, keywords: list[str], vocabulary: set[str]) -> str:
    article = "an" if title[0] in "aeiou" and not title.startswith(("one", "uni", "use", "eu")) else "a"
    extra = [k for k in dict.fromkeys(keywords) if k.isalpha() and k in vocabulary and k not in title.split()
             and k not in GENERIC][:3]
    return f"a drawing of {article} {title}" + (f" ({', '.join(extra)})" if extra else "")


def thumbnail(png: Path, out: Path) -> None:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # a few drawings are rendered very large; these are trusted package files
    with Image.open(png) as im:
        im = im.convert("RGBA")
        im.thumbnail((SIDE, SIDE))
        canvas = Image.new("RGB", (SIDE, SIDE), "white")
        canvas.paste(im, ((SIDE - im.width) // 2, (SIDE - im.height) // 2), im)
        canvas.save(out, quality=85)


def build(folder: Path, source: Path = SOURCE, words: Path = WORDS, limit: int = 400) -> int:
    """Write ``folder/clipart.jsonl`` and ``folder/clipart/*.jpg``; returns the number of items."""
    from semhub import SemhubError

    if not (source / "svg").is_dir() or not (source / "png").is_dir() or not words.is_file():
        raise SemhubError(f"make-clipart needs {source}/svg, {source}/png and {words}: "
                          "apt-get install openclipart-png openclipart-svg wamerican")
    vocabulary = english(words)
    folder = Path(folder)
    (folder / "clipart").mkdir(parents=True, exist_ok=True)
    by_category: dict[str, list[tuple[str, Path, Path, list[str]]]] = {}
    seen: set[str] = set()
    for svg in sorted((source / "svg").rglob("*.svg")):
        rel = svg.relative_to(source / "svg")
        png = (source / "png" / rel).with_suffix(".png")
        if rel.parts[0] not in CATEGORIES or not png.is_file():
            continue
        raw, keywords = metadata(svg)
        title = clean_title(raw, vocabulary)
        if title is None or title in seen:
            continue
        seen.add(title)
        by_category.setdefault(rel.parts[0], []).append((title, rel, png, keywords))
    picked = []  # round-robin over categories, so no category crowds out the rest
    queues = [list(v) for _, v in sorted(by_category.items())]
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    rows = []
    for title, rel, png, keywords in picked:
        name = f"{len(rows):03d}-{title.replace(' ', '-')}.jpg"
        thumbnail(png, folder / "clipart" / name)
        rows.append({"id": title, "image": f"clipart/{name}", "en": caption(title, keywords, vocabulary),
                     "category": rel.parts[0], "source": f"openclipart {rel.with_suffix('.png')}",
                     "licence": "public domain (Open Clip Art Library, CC public-domain dedication)"})
    (folder / "clipart.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)
