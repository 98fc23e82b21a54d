"""Latent language (Wendler et al. 2024, "Do Llamas Work in English?"): on a prompt whose answer is a
word in language T, how much lens probability goes, per layer, to that word and how much to its
English translation, and how uncertain is the lens?

Prompts are built from the bilingual dictionaries joined on English (``en-fr`` and ``en-zh`` give
(en, fr, zh) triples), as few-shot lists:

- ``translation``: ``Français: "fleur" - 中文: "花"`` repeated for ``shots`` other words, then the
  query ``Français: "<word>" - 中文: "``;
- ``repetition``: the same with the source and target both T (``中文: "花" - 中文: "花"``);
- ``cloze``: definitions in T with a blank, answered: ``"___"是一种会喵喵叫的宠物。 答案: "猫"``, then the
  query's definition and ``答案: "``. They come from the data (``--data cloze``, built in for zh and fr):
  views ``en`` (the English word), T (the answer) and ``T_cloze`` (the definition, ``___`` for the word).

As in the paper, a word counts only where its target form and its English form start with different
tokens, and each form's probability is the sum over its first-token variants (with and without a
leading space). Read at the prompt's last token, through the run's lens (``--lens``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from semhub.contract.analysis import Analysis
from semhub.contract.options import Options, option
from semhub.contract.result import CurvesResult
from semhub.data.dictionary import check_dictionaries, words_in
from semhub.errors import ParameterError, SemhubError

ANSWER = {"en": "Answer", "zh": "答案", "fr": "Réponse", "de": "Antwort", "es": "Respuesta", "ja": "答え",
          "ru": "Ответ", "it": "Risposta", "pt": "Resposta", "ko": "답", "ar": "الجواب"}
NAMES = {"en": "English", "zh": "中文", "fr": "Français", "de": "Deutsch", "es": "Español", "ja": "日本語",
         "ru": "Русский", "it": "Italiano", "pt": "Português", "ko": "한국어", "ar": "العربية"}


@dataclass
class Item:
    """One query word: its forms in the source, target and English, and the prompt that asks for it."""

    english: str
    source: str
    target: str
    prompt: str


def triples(dictionaries, source: str, target: str) -> list[tuple[str, str, str]]:
    """(english, source word, target word) for English words both dictionaries translate (first translation)."""
    return [(row["en"], row[source], row[target]) for row in words_in(dictionaries, [source, target])]


def cloze_rows(dataset, target: str) -> list[tuple[str, str, str]]:
    """(english, definition, target word) from a dataset with views ``en``, ``target`` and ``target_cloze``."""
    views = ("en", target, f"{target}_cloze")
    missing = [v for v in views if v not in dataset.columns]
    if missing:
        raise ParameterError("data", f"cloze prompts need the views {', '.join(views)} (missing {', '.join(missing)}; "
                             f"the built-in ones: --data cloze)")
    rows = [(str(en).strip(), str(d).strip(), str(t).strip()) for en, t, d in zip(*(dataset.columns[v] for v in views))]
    bad = [r[0] for r in rows if "___" not in r[1]]
    if bad:
        raise ParameterError("data", f"{target}_cloze of {bad[0]!r} has no ___ where the word goes")
    return rows


def build_items(words: list[tuple[str, str, str]], source: str, target: str, task: str, shots: int,
                seed: int) -> list[Item]:
    """One few-shot prompt per word; the demonstrations are other words, drawn with ``seed``. For
    ``cloze`` each word's middle form is its definition."""
    rng = random.Random(seed)
    src_lang = target if task == "repetition" else source
    head_s, head_t = NAMES.get(src_lang, src_lang), NAMES.get(target, target)
    answer = ANSWER.get(target, "Answer")
    items = []
    for i, (en, s, t) in enumerate(words):
        others = [w for j, w in enumerate(words) if j != i]
        demos = rng.sample(others, min(shots, len(others)))
        if task == "cloze":
            lines = [f'{w[1]} {answer}: "{w[2]}"' for w in demos] + [f'{s} {answer}: "']
            items.append(Item(en, s, t, "\n".join(lines)))
            continue
        shown = (lambda w: w[2]) if task == "repetition" else (lambda w: w[1])
        lines = [f'{head_s}: "{shown(w)}" - {head_t}: "{w[2]}"' for w in demos]
        query = t if task == "repetition" else s
        items.append(Item(en, query, t, "\n".join(lines + [f'{head_s}: "{query}" - {head_t}: "'])))
    return items


def variants(tokenizer, word: str) -> list[int]:
    """First-token ids of ``word`` as written after a quote and after a space."""
    ids = set()
    for text in (word, " " + word):
        pieces = tokenizer(text, add_special_tokens=False)["input_ids"]
        if pieces:
            ids.add(int(pieces[0]))
    return sorted(ids)


class LatentLanguageResult(CurvesResult):
    key: ClassVar[str] = "latent_language"
    summary_title = "latent language: lens probability of the answer in the target language vs in English"
    summary_columns = ("layer", "words", "p(target)", "p(English)", "entropy (nats)")

    def summary_rows(self):
        rec = self.records[0]
        layers = rec["x"]
        names = list(rec["series"])
        entropy = self.records[1]["series"]["entropy"]
        L = len(layers)
        return [(str(layers[k]), str(rec["n"]), f"{rec['series'][names[0]][k]:.3f}", f"{rec['series'][names[1]][k]:.3f}",
                 f"{entropy[k]:.2f}") for k in sorted({0, L // 4, L // 2, (2 * L) // 3, (5 * L) // 6, L - 1})]

    def plot(self, folder):
        from semhub.plots import plot_curves

        return plot_curves(self, self.figure_path(folder))


def dictionaries_option(paths) -> list:
    """``--dictionary`` files, else every registered dictionary."""
    from semhub.data.dictionary import dictionaries as registered
    from semhub.data.dictionary import load_dictionary

    return [load_dictionary(p) for p in paths] if paths else registered()


def distinct_first_tokens(tokenizer, words: list[tuple], i: int, j: int) -> tuple[list[tuple], dict[str, list[int]]]:
    """The word tuples whose forms ``i`` and ``j`` both tokenize and start with different tokens (so
    their probabilities are told apart), and each form's first-token variants."""
    forms = {w[k]: variants(tokenizer, w[k]) for w in words for k in (i, j)}
    kept = [w for w in words if forms[w[i]] and forms[w[j]] and not set(forms[w[i]]) & set(forms[w[j]])]
    return kept, forms


def run_latent_language(ctx) -> LatentLanguageResult:
    import numpy as np

    from semhub.lens.sites import last_site, read_lens
    from semhub.readout.collect import encode_values

    o, bb = ctx.options, ctx.backbone
    words = (cloze_rows(ctx.dataset, o.target) if o.task == "cloze"
             else triples(dictionaries_option(o.dictionary), o.source, o.target))
    kept, forms = distinct_first_tokens(bb.tokenizer, words, 2, 0)
    if len(kept) < 2:
        what = f"{o.target} cloze" if o.task == "cloze" else f"{o.source}->{o.target}"
        raise SemhubError(f"latent language: {len(kept)} {what} words whose {o.target} and English "
                          "forms start with different tokens; give bigger dictionaries (--dictionary) or more cloze rows")
    rng = random.Random(ctx.settings.seed)
    if o.max_words and len(kept) > o.max_words:
        kept = rng.sample(kept, o.max_words)
    items = build_items(kept, o.source, o.target, o.task, o.shots, ctx.settings.seed)
    target_sets = [forms[it.target] for it in items]
    english_sets = [forms[it.english] for it in items]
    ids = sorted({i for s in target_sets + english_sets for i in s})
    col = {t: k for k, t in enumerate(ids)}
    batches = encode_values(bb, [it.prompt for it in items], "text", ctx.settings.batch_size)
    p_target = np.zeros((len(items), len(ctx.layers)))
    p_english = np.zeros_like(p_target)
    entropy = np.zeros_like(p_target)
    for reading in read_lens(bb, batches, ctx.layers, sites=last_site(), ids=ids, entropy=True, lens=ctx.lens,
                             on_batch=ctx.on_batch):
        probs = reading.logprobs[:, 0].exp()  # (layers, K)
        i = reading.row
        p_target[i] = probs[:, [col[t] for t in target_sets[i]]].sum(1).numpy()
        p_english[i] = probs[:, [col[t] for t in english_sets[i]]].sum(1).numpy()
        entropy[i] = reading.entropy[:, 0].numpy()
    desc = {"task": o.task, "source": o.source, "target": o.target, "n": len(items), "lens": ctx.lens.describe(),
            "example_prompt": items[0].prompt, "words": [[it.english, it.source, it.target] for it in items]}
    label = o.target  # the code, not NAMES: CJK names have no glyphs in matplotlib's default font
    records = [
        {"x": list(ctx.layers), **desc, "title": f"{bb.name}: {o.task} " + (o.target if o.task == "cloze" else f"{o.source}->{o.target}"), "xlabel": "layer",
         "ylabel": "lens probability (mean over words)",
         "series": {f"target ({label})": p_target.mean(0).tolist(), "English": p_english.mean(0).tolist()},
         "english_wins": (p_english > p_target).mean(0).tolist()},
        {"x": list(ctx.layers), "n": len(items), "title": f"{bb.name}: lens entropy", "xlabel": "layer",
         "ylabel": "nats", "series": {"entropy": entropy.mean(0).tolist()}},
    ]
    return LatentLanguageResult(records, {"model": bb.name})


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class LatentLanguageOptions(Options):
    task: str = option("translation", choices=("translation", "repetition", "cloze"),
                       help="Few-shot prompts: translate SOURCE words into TARGET, repeat TARGET words, or fill "
                            "TARGET definitions' blank (cloze: --data cloze, or views en, TARGET, TARGET_cloze).")
    source: str = option("fr", help="The source language of translation prompts (a dictionary language).")
    target: str = option("zh", help="The language the answer is written in (a dictionary language).")
    shots: int = option(4, min=0, help="Demonstrations before each query word.")
    max_words: int = option(0, min=0, help="Query words drawn at most (0: every usable word).")
    dictionary: list[Path] = option([], help="Bilingual TSV dictionaries en-X (repeatable; default: the built-in ones).")

    def check(self) -> None:
        check_dictionaries(self.dictionary)
        if self.task == "cloze" and self.target == "en":
            raise ParameterError("target", "cloze answers in English have no English translation to compare")
        if self.task == "translation" and self.source == self.target:
            raise ParameterError("source", f"translation needs two languages, got {self.source} twice")


class LatentLanguageAnalysis(Analysis):
    """Wendler et al.'s latent-language read-out: p(answer in TARGET) vs p(answer in English) per layer."""

    name = "latent-language"
    description = "few-shot translation prompts from the dictionaries: p(target word) vs p(English word) and entropy per layer"
    plot_name = "latent_language.png"
    input_kinds = ("text",)
    min_views = 1
    Options = LatentLanguageOptions

    def work(self, ctx) -> int | None:
        return None

    def run(self, ctx):
        return run_latent_language(ctx)
