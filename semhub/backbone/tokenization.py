"""Tokenizer quirks that analyses must respect, decided from behaviour, never from a model name.

Two questions matter for scoring words (the logit lens) and for pooling (BOS exclusion):
does the tokenizer prepend BOS, and does a word's in-sentence form need an explicit
leading space (byte-level BPE: " cat" -> "Ġcat"; Gemma: " cat" -> "▁cat") or does the
tokenizer add the "▁" itself (Llama-2 SentencePiece)? A registry entry may declare them;
"auto" means detect.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREFIX_POLICIES = ("explicit", "sentencepiece")
PROBE_WORD = "house"


@dataclass(frozen=True)
class TokenizerQuirks:
    adds_bos: bool
    prefix_space: str  # "explicit": prepend " " to get the word-initial form; "sentencepiece": the tokenizer does


def detect_quirks(tokenizer: Any) -> TokenizerQuirks:
    ids = tokenizer("a b")["input_ids"]
    bos = tokenizer.bos_token_id
    adds_bos = bos is not None and len(ids) > 0 and ids[0] == bos
    bare = tokenizer(PROBE_WORD, add_special_tokens=False)["input_ids"]
    spaced = tokenizer(" " + PROBE_WORD, add_special_tokens=False)["input_ids"]
    return TokenizerQuirks(adds_bos, "sentencepiece" if bare == spaced else "explicit")


def resolve_quirks(tokenizer: Any, bos: str = "auto", prefix_space: str = "auto") -> TokenizerQuirks:
    """Registry declarations where given, detection for "auto"."""
    detected = detect_quirks(tokenizer) if "auto" in (bos, prefix_space) else None
    adds_bos = detected.adds_bos if bos == "auto" else bos == "always"
    policy = detected.prefix_space if prefix_space == "auto" else prefix_space
    return TokenizerQuirks(adds_bos, policy)


def word_start_ids(tokenizer: Any, word: str, quirks: TokenizerQuirks) -> list[int]:
    """Token ids of ``word`` as it appears after a space inside a sentence."""
    text = " " + word if quirks.prefix_space == "explicit" else word
    return tokenizer(text, add_special_tokens=False)["input_ids"]
