"""Text templates: a per-language prefix and suffix added to every text of a view before encoding.

The paper's similarity appends "This represents" to English sentences ending in "." (no space) and
"这代表了" to Chinese ones ending in "。", so that the last token summarises the sentence. With
last-token pooling that moves the similarity a lot (up to 0.49 in matched cosine on Gemma 3 at
layer 1), so it is a setting of its own: ``template="paper"`` (``--template paper``), or a TOML
file of your own, one table per language view::

    [en]
    suffix = " This represents"
    after = [".", ".\\""]      # only texts ending so (default: every text)

    [de]
    prefix = "Satz: "

A template changes only views it names and whose spoke reads text; the added tokens are content
(the last token is the suffix's last one).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from semhub.data.aligned import AlignedDataset
from semhub.files import read_text
from semhub.errors import DataError, ParameterError


@dataclass(frozen=True)
class Affix:
    """What a template adds to one language's texts.

    Attributes:
        prefix: put before the text ("" none).
        suffix: put after the text, as is (write the space yourself if you want one).
        after: add prefix and suffix only to texts ending with one of these strings (empty: every text).
    """

    prefix: str = ""
    suffix: str = ""
    after: tuple[str, ...] = ()

    def apply(self, text: str) -> str:
        if self.after and not text.endswith(self.after):
            return text
        return f"{self.prefix}{text}{self.suffix}"


@dataclass(frozen=True)
class Template:
    """A named set of per-language affixes (``languages[view]``); views it does not name are unchanged.
    ``strict``: a run none of whose views it names is refused (a user's file: surely a mistake); the
    built-in ``paper`` template is not strict (the paper augments English and Chinese only)."""

    name: str
    languages: Mapping[str, Affix] = field(default_factory=dict)
    strict: bool = True

    def apply(self, dataset: AlignedDataset, views: list[str]) -> AlignedDataset:
        """A copy of ``dataset`` whose text ``views`` carry their affixes (same rows, ids and lines)."""
        from semhub.contract.spoke import optional
        from semhub.plugins import catalog

        columns = dict(dataset.columns)
        for view in views:
            affix = self.languages.get(view)
            if affix is None or view not in columns:
                continue
            if optional(catalog.spoke_for_view(view), "input_kind") != "text":
                continue
            columns[view] = [affix.apply(v) if isinstance(v, str) else v for v in columns[view]]
        return AlignedDataset(dataset.path, dataset.ids, columns, dataset.lines, dataset.sha256)

    def check_views(self, views: list[str]) -> None:
        """A strict template naming none of the run's views would be silently a no-op: refused, naming both
        (``DataSpec.resolve`` asks before the model loads)."""
        if self.strict and self.languages and not set(self.languages) & set(views):
            raise ParameterError("template", f"{self.name} has affixes for {', '.join(sorted(self.languages))}, none of "
                                             f"the run's views ({', '.join(views)})")

    def describe(self) -> dict:
        """For manifests and stores: the name and every affix, so a different template is a different run."""
        return {"name": self.name, "languages": {k: {"prefix": a.prefix, "suffix": a.suffix, "after": list(a.after)}
                                                 for k, a in sorted(self.languages.items())}}


PAPER = Template("paper", {
    # multilingual/similarity.py, augment_data: the suffix only after a sentence-final full stop
    "en": Affix(suffix="This represents", after=(".", '."')),
    "zh": Affix(suffix="这代表了", after=("。",)),
}, strict=False)
BUILTIN = {"paper": PAPER}
KEYS = {"prefix", "suffix", "after"}
MAX_AFFIX = 10_000  # characters: an affix is a few words; a long one would be blamed on the data's rows


def load_template(spec: str | Path | Template | None) -> Template | None:
    """A built-in template's name (``paper``), a TOML file, or a ``Template``; errors name the file."""
    if spec is None or isinstance(spec, Template):
        return spec
    if str(spec) in BUILTIN:
        return BUILTIN[str(spec)]
    path = Path(spec)
    if not path.is_file():
        raise ParameterError("template", f"{spec!r} is neither a built-in template ({', '.join(BUILTIN)}) nor a file")
    try:
        table = tomllib.loads(read_text(path))  # bounded, strict UTF-8, errors naming the file
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise DataError(path, int(found.group(1)) if found else None, f"invalid TOML: {exc}") from None
    except RecursionError:
        raise DataError(path, None, "TOML nested too deeply to be a template") from None
    languages = {}
    for view, entry in table.items():
        if not isinstance(entry, dict):
            raise DataError(path, None, f"[{view}] must be a table with prefix, suffix or after")
        unknown = set(entry) - KEYS
        if unknown:
            raise DataError(path, None, f"[{view}]: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(KEYS))})")
        after = entry.get("after", [])
        after = [after] if isinstance(after, str) else after
        if not all(isinstance(entry.get(k, ""), str) for k in ("prefix", "suffix")) or \
                not isinstance(after, list) or not all(isinstance(a, str) and a for a in after):
            raise DataError(path, None, f"[{view}]: prefix and suffix are strings, after a list of non-empty strings")
        if any(len(entry.get(k, "")) > MAX_AFFIX for k in ("prefix", "suffix")):
            raise DataError(path, None, f"[{view}]: a prefix or suffix of over {MAX_AFFIX:,} characters is not a template")
        languages[view] = Affix(entry.get("prefix", ""), entry.get("suffix", ""), tuple(after))
    if not languages:
        raise DataError(path, None, "no language table ([en], [zh]...)")
    return Template(path.stem, languages)
