"""Built-in steering scorers: language of the continuation, lexicon sentiment, the model's own
perplexity of the continuation, and relevance to the prompt.

Each scorer has ``name``, ``description`` and ``score(generation, backbone, **options)``
returning one float per continuation (NaN where undefined, e.g. an empty continuation).
"""
from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path

from semhub import ParameterError, SemhubError, hookimpl

LEXICONS = Path(__file__).with_name("lexicons")
# py3langid knows ~100 languages; restricting to common ones avoids rare look-alikes (e.g. "an" for es)
LANGUAGES = ("en", "zh", "es", "fr", "de", "ja", "ru", "ar", "it", "pt", "nl", "ko", "pl", "tr", "hi", "sv")


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def identify(text: str) -> str | None:
    """The language of a text (py3langid, model shipped in the package), None for no letters."""
    if not re.search(r"\w", text):
        return None
    return _identifier().classify(text)[0]


class LanguageScorer:
    name = "language"
    description = "1 if the continuation is identified as --target-language (py3langid), else 0"
    reads_target_language = True

    def check(self, *, target_language: str | None = None, **_):
        if not target_language:
            raise ParameterError("target_language", "scorer 'language' needs it (e.g. es)")
        if target_language not in LANGUAGES:
            raise ParameterError("target_language", f"{target_language!r}: the language scorer identifies "
                                                    f"{', '.join(LANGUAGES)}")

    def score(self, generation, backbone, *, target_language: str | None = None, **_):
        self.check(target_language=target_language)
        out = []
        for text in generation.continuations:
            lang = identify(text)
            out.append(float("nan") if lang is None else float(lang == target_language))
        return out


@cache
def lexicon(lang: str) -> tuple[frozenset[str], frozenset[str]]:
    path = LEXICONS / f"sentiment-{lang}.txt"
    if not path.exists():
        have = ", ".join(sorted(p.stem.removeprefix("sentiment-") for p in LEXICONS.glob("*.txt")))
        raise SemhubError(f"scorer 'sentiment': no lexicon for {lang!r} (have: {have})")
    pos, neg = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("+"):
            pos.add(line[1:].strip())
        elif line.startswith("-"):
            neg.add(line[1:].strip())
    return frozenset(pos), frozenset(neg)


def lexicon_sentiment(text: str, lang: str) -> float:
    """(positive - negative) / (positive + negative) hits, 0 when neither; CJK by substring."""
    pos, neg = lexicon(lang)
    if lang in ("zh", "ja"):  # no spaces between words: count substrings
        p = sum(text.count(w) for w in pos)
        n = sum(text.count(w) for w in neg)
    else:
        words = re.findall(r"\w+", text.lower())
        p = sum(w in pos for w in words)
        n = sum(w in neg for w in words)
    return 0.0 if p + n == 0 else (p - n) / (p + n)


class SentimentScorer:
    name = "sentiment"
    description = "lexicon sentiment in [-1, 1] for --target-language (lexicons: en zh es fr de ja ru ar)"
    reads_target_language = True

    def check(self, *, target_language: str | None = None, **_):
        if target_language is not None:
            try:
                lexicon(target_language)
            except SemhubError as exc:
                raise ParameterError("target_language", str(exc)) from None

    def score(self, generation, backbone, *, target_language: str | None = None, **_):
        lang = target_language or backbone.family.dominant_language
        return [lexicon_sentiment(text, lang) for text in generation.continuations]


class PerplexityScorer:
    default = True  # needs no option: scored when a run names no scorer
    name = "perplexity"
    description = "the model's own perplexity of each continuation given its prompt (token ids, no re-tokenising)"

    def score(self, generation, backbone, **_):
        tok, out = backbone.tokenizer, []
        for prompt, ids in zip(generation.prompts, generation.token_ids):
            if not ids:
                out.append(float("nan"))
                continue
            prompt_ids = tok(prompt, return_tensors="pt")["input_ids"][0].tolist()
            import torch

            full = torch.tensor([prompt_ids + ids], device=backbone.input_device)
            with torch.inference_mode():
                logits = backbone.model(input_ids=full).logits[0, len(prompt_ids) - 1 : -1].float()
            nll = torch.nn.functional.cross_entropy(logits, full[0, len(prompt_ids):])
            out.append(math.exp(float(nll)))
        return out


class RelevanceScorer:
    default = True  # needs no option: scored when a run names no scorer
    name = "relevance"
    description = "cosine of prompt and continuation states (mean-pooled, two thirds up the model, centred)"

    def score(self, generation, backbone, **_):
        import semhub

        layer = (2 * backbone.n_layers) // 3
        texts = list(generation.prompts) + [c if c.strip() else "." for c in generation.continuations]
        states = semhub.capture(backbone, semhub.encode_values(backbone, texts, "text_relevance"), [layer])[:, 0]
        states = states - states.mean(0)  # raw cosine is ~0.99 for any pair on small models
        n = len(generation.prompts)
        import torch

        sims = torch.nn.functional.cosine_similarity(states[:n], states[n:], dim=-1).tolist()
        return [float("nan") if not c.strip() else s for s, c in zip(sims, generation.continuations)]


@hookimpl
def semhub_register_scorers(register) -> None:
    for scorer in (LanguageScorer(), SentimentScorer(), PerplexityScorer(), RelevanceScorer()):
        register(scorer)
