"""Word segmentation for probe sites: which spans of a text are words.

Chinese has no spaces, so a dictionary entry found as a substring is often a character inside a
longer word (手 in 爱不释手, 桥 in 剑桥): a wrong-sense probe. The paper segments Chinese with jieba
(precise mode) and probes a word only where the whole word is one token; ``segment`` gives those
spans (jieba for ``zh*`` views, runs of letters and digits elsewhere, where spaces already mark words).
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache

WORD = re.compile(r"\w+")


def is_chinese(language: str) -> bool:
    return language.lower().split("-")[0].split("_")[0] in ("zh", "cmn", "yue", "wuu")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary load prints to stderr otherwise
    return jieba


def segment(text: str, language: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the words of ``text``, in order.

    Chinese: jieba's precise mode; every segment (punctuation and spaces too) is one span, and the
    spans tile the text, as the paper's ``jieba_segment`` computes them. Elsewhere: runs of word
    characters (``\\w+``).
    """
    if is_chinese(language):
        spans, start = [], 0
        for piece in _jieba().cut(text, cut_all=False):
            spans.append((start, start + len(piece)))
            start += len(piece)
        return spans
    return [m.span() for m in WORD.finditer(text)]
