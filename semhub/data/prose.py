"""English prose that ships with every Python: the standard library's docstrings, read with ``ast``
(nothing is imported or run). With the built-in multilingual sentences it is the default text a
tuned lens trains on (``semhub train-lens``), so training needs no download."""
from __future__ import annotations

import ast
import functools
import os
import random
import sysconfig
from pathlib import Path

SKIP = {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "tkinter", "turtledemo", "__pycache__"}


def docstring_paragraphs(limit: int | None = None, seed: int = 0, root: str | Path | None = None) -> list[str]:
    """Paragraphs (80-600 characters, doctest lines left out) of the docstrings under ``root``
    (default: the standard library), shuffled with ``seed``, at most ``limit``."""
    paragraphs = list(_paragraphs(str(Path(root or sysconfig.get_paths()["stdlib"]).resolve())))
    random.Random(seed).shuffle(paragraphs)
    return paragraphs if limit is None else paragraphs[:limit]


@functools.lru_cache(maxsize=4)
def _paragraphs(root: str) -> tuple[str, ...]:
    """Every paragraph under ``root`` in walk order: parsing the standard library takes ~10 s, so a
    process that trains several lenses parses it once."""
    paragraphs: list[str] = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP)
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            try:
                tree = ast.parse((Path(dirpath) / name).read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    for part in (ast.get_docstring(node) or "").split("\n\n"):
                        text = " ".join(part.split())
                        if 80 <= len(text) <= 600 and not text.startswith((">>>", "..", "$")):
                            paragraphs.append(text)
    return tuple(paragraphs)
