"""Bilingual dictionaries for the multilingual logit lens: a TSV with a header naming the languages.

    en<TAB>zh
    cat<TAB>猫
    house<TAB>房子

A word may appear on several lines (several translations). Errors name the file and line.

A CC-CEDICT file (``cedict_ts.u8``: ``傳統 传统 [chuan2 tong3] /tradition/traditional/``) is read
as the paper reads it: simplified headword -> the first gloss of each entry, entries whose first
gloss mentions "surname" dropped, parenthesised text removed; several entries may share a headword.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from semhub.data.aligned import VIEW_NAME
from semhub.files import read_text, text_lines
from semhub.errors import DataError, ParameterError
from semhub.plugins import catalog


@dataclass(frozen=True)
class Dictionary:
    path: Path
    languages: tuple[str, str]
    pairs: tuple[tuple[str, str], ...]

    def translations(self, source: str, target: str) -> dict[str, list[str]]:
        """``{word in source: [its translations in target]}``, in file order."""
        if {source, target} != set(self.languages):
            raise KeyError(f"{self.path} translates {self.languages[0]}<->{self.languages[1]}, not {source}->{target}")
        flip = self.languages[0] != source
        out: dict[str, list[str]] = defaultdict(list)
        for a, b in self.pairs:
            src, tgt = (b, a) if flip else (a, b)
            if tgt not in out[src]:
                out[src].append(tgt)
        return dict(out)


CEDICT_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
PARENTHESISED = re.compile(r"\(.*?\)")


def is_cedict(lines: list[str]) -> bool:
    """CC-CEDICT: '#' comment lines, then 'TRAD SIMP [pinyin] /gloss/.../' entries."""
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    return bool(CEDICT_ENTRY.match(first))


def read_cedict(path: Path, lines: list[str]) -> Dictionary:
    pairs = []
    for line_no, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        entry = CEDICT_ENTRY.match(line)
        if entry is None:
            raise DataError(path, line_no, "expected a CC-CEDICT entry 'TRAD SIMP [pinyin] /gloss/.../'")
        first = entry.group(3).split("/")[0]
        if "surname" in first:
            continue
        gloss = PARENTHESISED.sub("()", first).replace("(", "").replace(")", "").strip()
        if gloss:
            pairs.append((entry.group(2), gloss))
    if not pairs:
        raise DataError(path, None, "no entries")
    return Dictionary(path, ("zh", "en"), tuple(pairs))


def load_dictionary(path: str | Path) -> Dictionary:
    path = Path(path)
    lines = text_lines(read_text(path))
    if not lines:
        raise DataError(path, None, "file is empty")
    if is_cedict(lines):
        return read_cedict(path, lines)
    header = [h.strip() for h in lines[0].split("\t")]
    if len(header) != 2 or not all(VIEW_NAME.match(h) for h in header) or header[0] == header[1]:
        raise DataError(path, 1, "expected a header naming two languages, e.g. 'en<TAB>zh'")
    pairs = []
    for line_no, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 2 or not all(fields):
            raise DataError(path, line_no, "expected two non-empty tab-separated words")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise DataError(path, None, "no entries")
    return Dictionary(path, (header[0], header[1]), tuple(pairs))


@catalog.table
def dictionaries() -> list[Dictionary]:
    """Every registered dictionary (``semhub_register_dictionaries``: paths), parsed here."""
    out = []
    for plugin_name, _plugin, value in catalog.sources("semhub_register_dictionaries"):
        found = load_dictionary(value)
        out.append(found)
        catalog.OWNERS[("semhub_register_dictionaries", "-".join(found.languages))] = plugin_name
    return out


def words_in(dictionaries: list[Dictionary], languages: list[str]) -> list[dict[str, str]]:
    """``{"en": word, lang: its first translation, ...}`` for every English word that the en-LANG
    dictionaries translate into all of ``languages`` (English itself needs none), sorted by the English word."""
    tables = []
    for lang in dict.fromkeys(languages):
        if lang == "en":
            continue
        found = [d for d in dictionaries if set(d.languages) == {"en", lang}]
        if not found:
            raise ParameterError("dictionary", f"no en-{lang} dictionary (have: "
                                 f"{', '.join('-'.join(d.languages) for d in dictionaries)})")
        table: dict[str, str] = {}
        for d in found:
            for en, words in d.translations("en", lang).items():
                table.setdefault(en, words[0])
        tables.append((lang, table))
    english = sorted(set(tables[0][1]).intersection(*(t for _, t in tables[1:]))) if tables else []
    return [{"en": en, **{lang: table[en] for lang, table in tables}} for en in english]


def check_dictionaries(paths: list[Path]) -> None:
    """Read every given dictionary once before the model loads: a bad one fails naming its file:line."""
    for path in paths:
        load_dictionary(path)
