"""Romanised views: ``zh_latn``, ``ja_latn``, ``ru_latn``... hold the ``zh``, ``ja``, ``ru`` text in Latin
letters, a control for script: cross-lingual similarity follows script more than structure (RomanLens,
2025), so a hub that holds for native script and for its romanisation is more than shared characters.

The romanisers are the maintained ones each script's readers use:

- Chinese: pypinyin's Hanyu Pinyin (its phrase dictionary resolves polyphones: 银行 yinhang), toneless,
  one word per jieba segment (the segmenter the dictionary lens already uses), full-width punctuation
  made ASCII: "women zai yinhang gongzuo."
- Japanese: cutlet (MeCab through fugashi, UniDic Lite): Hepburn romaji with particles read as spoken
  (は -> wa); loanwords are spelled as romaji (テーブル -> teeburu), never replaced by their English
  source word, which would turn a script control into a translation.
- Every other script: uroman (Hermjakob et al. 2018, ISI's universal romaniser, the MMS models'
  romaniser), given the language code.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from semhub.data.aligned import romanised_source
from semhub.default_plugins.text.spoke import TextSpoke



@lru_cache(maxsize=1)
def _cutlet():
    import cutlet

    katsu = cutlet.Cutlet("hepburn")
    katsu.use_foreign_spelling = False
    return katsu


@lru_cache(maxsize=1)
def _uroman():
    import uroman

    return uroman.Uroman()


PUNCTUATION = str.maketrans("，。！？；：、（）「」『』《》“”‘’", ",.!?;:,()\"\"\"\"<>\"\"''")


def _chinese(text: str) -> str:
    from pypinyin import lazy_pinyin

    from semhub.data.segmentation import segment

    out = ""
    for start, end in segment(text, "zh"):  # jieba's words, as the dictionary lens segments them
        word = "".join(lazy_pinyin(text[start:end])).translate(PUNCTUATION)
        if not word.strip():
            continue
        joined = not out or not (word[0].isalnum() or word[0] in "\"(<")
        out += word if joined else " " + word
    return out.strip()


def romanise(language: str, text: str) -> str:
    """``text`` of ``language`` (an ISO 639 code) in Latin letters."""
    if language == "zh":
        return _chinese(text)
    if language == "ja":
        return _cutlet().romaji(text)
    return _uroman().romanize_string(text, lcode=language if len(language) == 3 else None)


class RomanisedSpoke(TextSpoke):
    """``<lang>_latn``: the ``<lang>`` column romanised, read as text."""

    name = "romanised"
    modality = "text"
    default_model = None
    default_dataset = None

    def claims(self, view: str) -> bool:
        return romanised_source(view) is not None

    def source_view(self, view: str) -> str | None:
        return romanised_source(view)

    def derive(self, view: str, values: list[Any]) -> list[str]:
        language = self.source_view(view)
        return [romanise(language, v) if isinstance(v, str) else v for v in values]
