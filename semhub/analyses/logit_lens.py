"""The multilingual logit lens (Eq. 2) with dictionary probes.

For text in language X, at each dictionary word w (one token in context), read the lens at
the position *before* w and compare, per layer, log p(w's token) with the best log p of
w's translations into the model's dominant language (single-token translations, with the
tokenizer's prefix-space rule). Only those positions are projected, one vocabulary chunk
at a time (``semhub.lens.logit``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from semhub.backbone.tokenization import word_start_ids
from semhub.contract.analysis import Analysis, PaperSetting
from semhub.contract.options import Options, option
from semhub.contract.result import RecordsResult
from semhub.data.segmentation import is_chinese, segment
from semhub.errors import SemhubError

PROBE = "dictionary_probe"  # the position group (and meta key) of a batch's probe sites
NO_SPACES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def find_words(text: str, words: list[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping occurrences, longest words first; word boundaries except in CJK scripts."""
    taken = [False] * len(text)
    found = []
    for word in sorted(words, key=len, reverse=True):
        pattern = re.escape(word) if NO_SPACES.search(word) else rf"(?<!\w){re.escape(word)}(?!\w)"
        for m in re.finditer(pattern, text, flags=re.IGNORECASE):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = [True] * (m.end() - m.start())
            found.append((m.start(), m.end(), word))
    return sorted(found)


@dataclass
class Site:
    """One probe: the lens is read at ``pos`` of item ``row``; the next token is ``native``."""

    row: int
    pos: int
    native: int
    candidates: list[int]
    word: str


def token_at(positions: dict[tuple[int, int], list[int]], text: str, start: int, end: int,
             spaced: bool = True) -> list[int] | None:
    """The token positions whose span is exactly ``text[start:end]``, or (``spaced``) that span with the
    space before it ("▁cat" covering " cat")."""
    js = positions.get((start, end))
    if js is None and spaced and start > 0 and text[start - 1] == " ":
        js = positions.get((start - 1, end))
    return js


def whole_words(text: str, language: str, positions: dict[tuple[int, int], list[int]],
                translations: dict[str, list[str]]) -> list[tuple[int, str]] | None:
    """(token position, word) where a segmented word of the dictionary is exactly one token.

    As the paper's ``cut_off_text``: a Chinese word's span must equal one token's; two tokens sharing
    a word's span (byte pieces of one character) make the text's offsets unreliable and drop it
    (None). Elsewhere a token may also carry the space before its word ("▁cat").
    """
    chinese = is_chinese(language)
    found = []
    for start, end in segment(text, language):
        js = token_at(positions, text, start, end, spaced=not chinese)
        if js is None:
            continue
        if len(js) > 1:
            return None
        word = text[start:end]
        if not chinese and word not in translations and word.lower() in translations:
            word = word.lower()
        if word in translations:
            found.append((js[0], word))
    return found


def paper_gloss(model_name: str, text: str) -> str:
    """The gloss as the paper's code tokenizes it: it adds a leading space only when the model's path names
    Llama 3 ("llama-3", "llama3"), and scores the bare string on every other model."""
    name = str(model_name).lower()
    return " " + text if ("llama-3" in name or "llama3" in name) else text


def gloss_ids(backbone, text: str, translation_space: str = "tokenizer") -> list[int]:
    """A dominant-language gloss's token ids as the probe scores it (``probe_sites``'s ``translation_space``)."""
    tok = backbone.tokenizer
    if translation_space == "paper":
        text = paper_gloss(backbone.name, text)
    if translation_space in ("none", "paper"):
        return tok(text, add_special_tokens=False)["input_ids"]
    return word_start_ids(tok, text, backbone.quirks)


def single_token_ids(backbone, glosses: list[str], translation_space: str = "tokenizer") -> list[int]:
    """The token ids of the glosses that are one token."""
    ids = {tuple(gloss_ids(backbone, t, translation_space)) for t in glosses}
    return sorted({i[0] for i in ids if len(i) == 1})


CONTROL_WINDOW = 5
"""A random word is drawn among the pool's tokens this many ranks either side of the translation's."""


def random_words(backbone, translations: dict[str, list[str]], translation_space: str, seed: int) -> dict[str, int]:
    """Per dictionary word, a frequency-matched random dominant-language word (one token): drawn, seeded by
    the word, among the single-token glosses of the whole dictionary within ``CONTROL_WINDOW`` ranks of its
    translation's token (token ids rank subwords by merge order, roughly by frequency), never one of its
    own translations. The control for "the translation wins": how often does any word of that frequency?"""
    import random

    own = {w: single_token_ids(backbone, g, translation_space) for w, g in translations.items()}
    pool = sorted({i for ids in own.values() for i in ids})
    out = {}
    for word, ids in own.items():
        if not ids:
            continue
        at = pool.index(ids[0])
        window = [t for t in pool[max(0, at - CONTROL_WINDOW): at + CONTROL_WINDOW + 1] if t not in ids]
        if window:
            out[word] = random.Random(f"{seed}:{word}").choice(window)
    return out


def probe_sites(texts, enc, translations: dict[str, list[str]], backbone, *, sites: str = "substring",
                language: str = "", translation_space: str = "tokenizer") -> list[Site]:
    """Where, in a batch, a dictionary word is exactly one token preceded by a content token.

    ``sites``: ``substring`` finds dictionary entries anywhere (word boundaries except in CJK);
    ``words`` probes only segmented whole words (``semhub.data.segmentation``), the paper's rule.
    ``translation_space``: ``tokenizer`` scores a translation's word-start form (the tokenizer's
    prefix-space rule: " cat" for byte-level BPE and Gemma); ``none`` the bare string; ``paper`` what the
    paper's code does for this model (``paper_gloss``: the bare string, " gloss" for Llama 3).
    """
    if enc.offsets is None:
        raise SemhubError("the logit-lens dictionary probe needs character offsets (a fast tokenizer)")
    cache: dict[str, list[int]] = {}

    def candidates(word: str) -> list[int]:
        if word not in cache:
            cache[word] = single_token_ids(backbone, translations[word], translation_space)
        return cache[word]

    out = []
    content = enc.groups["content"]
    for b, text in enumerate(texts):
        positions: dict[tuple[int, int], list[int]] = {}
        for j, (s, e) in enumerate(enc.offsets[b].tolist()):
            if content[b, j]:
                positions.setdefault((int(s), int(e)), []).append(j)
        if sites == "words":
            hits = whole_words(text, language, positions, translations) or []
        else:
            hits = []
            for start, end, word in find_words(text, list(translations)):
                js = token_at(positions, text, start, end)
                if js is not None:
                    hits.append((js[-1], word))
        for j, word in hits:
            if j == 0 or not content[b, j - 1]:
                continue
            cands = candidates(word)
            if cands:
                out.append(Site(b, j - 1, int(enc.inputs["input_ids"][b, j]), cands, word))
    return out


def dictionary_probe(backbone, dataset, view: str, translations, layers: list[int], *, norm: bool,
                     batch_size: int, on_batch=None, sites: str = "substring",
                     translation_space: str = "tokenizer", lens=None, seed: int = 0) -> dict[str, Any]:
    """Per-layer log-probs of the native next token, of its best dominant-language translation and of a
    frequency-matched random dominant-language word (``random_words``; NaN where none could be drawn),
    one row per probe site; ``rows``: each site's data row."""
    import numpy as np
    import torch

    from semhub.lens.sites import read_lens
    from semhub.readout.collect import view_batches

    native_rows, dominant_rows, random_rows, words, site_rows = [], [], [], [], []
    controls = random_words(backbone, translations, translation_space, seed)

    def batches():
        for rows, enc in view_batches(backbone, dataset, view, batch_size):
            sites_ = probe_sites([dataset.columns[view][i] for i in rows], enc, translations, backbone,
                                 sites=sites, language=view, translation_space=translation_space)
            mask = torch.zeros_like(enc.groups["content"], dtype=torch.bool)
            for site in sites_:
                mask[site.row, site.pos] = True
            enc.groups[PROBE], enc.meta[PROBE] = mask, sites_
            yield rows, enc

    def candidate_ids(enc) -> list[int]:
        return sorted({i for s in enc.meta[PROBE] for i in s.candidates}
                      | {controls[s.word] for s in enc.meta[PROBE] if s.word in controls})

    for reading in read_lens(backbone, batches(), layers, sites=PROBE, ids=candidate_ids, next_token=True,
                             norm=norm, lens=lens, on_batch=on_batch):
        found = [s for s in reading.batch.meta[PROBE] if s.row == reading.item]  # ascending positions, as read
        if not found:
            continue
        cand = torch.stack([torch.isin(reading.ids, torch.tensor(s.candidates)) for s in found])  # (P, K)
        native_rows.append(reading.next_logprob.T.numpy())
        dominant_rows.append(reading.logprobs.masked_fill(~cand[None], -torch.inf).max(2).values.T.numpy())
        ids = reading.ids.tolist()
        random_rows.append(np.stack([reading.logprobs[:, p, ids.index(controls[s.word])].numpy()
                                     if s.word in controls else np.full(len(layers), np.nan)
                                     for p, s in enumerate(found)]))
        words.extend(s.word for s in found)
        site_rows.extend([reading.row] * len(found))
    if not native_rows:
        raise SemhubError(f"view {view!r}: no dictionary word found as a single token; nothing to probe")
    return {"native": np.concatenate(native_rows), "dominant": np.concatenate(dominant_rows),
            "random": np.concatenate(random_rows), "words": words, "rows": np.asarray(site_rows)}


@dataclass
class LogitLensResult(RecordsResult):
    key: ClassVar[str] = "logit_lens"

    def plot(self, folder):
        from semhub.plots import plot_logit_lens

        return plot_logit_lens(self, self.figure_path(folder))

    @property
    def summary_title(self) -> str:
        """Names the lens the run read through (``--lens jacobian``: "jacobian lens: ...")."""
        lens = next((r["lens"].get("lens") for r in self.records if isinstance(r.get("lens"), dict)), None) or "logit"
        return f"{lens} lens: dominant-language translation vs the next token"

    summary_columns = ("probe", "positions", "peak layer (>= L/3)", "translation wins there",
                       "random word wins there", "log p next / translation there", "wins at last layer")

    def summary_rows(self) -> list[tuple[str, ...]]:
        """Per view: where, from a third of the depth up, the translation most often beats the next token.

        Below that the lens mostly reads token frequency, so early "wins" say little.
        """
        from semhub.analyses.stats import upper_peak

        rows = []
        for rec in self.records:
            wins = rec["dominant_wins"]
            k = upper_peak(wins, rec["layers"])
            random = rec.get("random_wins")
            rows.append((f"{rec['view']} -> {rec['dominant']}", str(rec["n_positions"]), str(rec["layers"][k]),
                         f"{wins[k]:.2f}", "-" if random is None else f"{random[k]:.2f}",
                         f"{rec['native_logprob'][k]:.1f} / {rec['dominant_logprob'][k]:.1f}", f"{wins[-1]:.2f}"))
        return rows


def run_logit_lens(ctx) -> LogitLensResult:
    import numpy as np

    from semhub.analyses.stats import mean_ci, row_values
    from semhub.data.dictionary import dictionaries as registered
    from semhub.data.dictionary import load_dictionary

    dominant = ctx.backbone.family.dominant_language
    user = ctx.options.dictionary
    dictionaries = [load_dictionary(user)] if user else registered()
    records = []
    for view in ctx.views:
        if view == dominant:
            continue
        found = [d for d in dictionaries if set(d.languages) == {view, dominant}]
        if not found:
            continue
        translations = found[0].translations(view, dominant)
        probe = dictionary_probe(ctx.backbone, ctx.dataset, view, translations, ctx.layers,
                                 norm=ctx.settings.lens_norm, batch_size=ctx.settings.batch_size,
                                 on_batch=ctx.on_batch, sites=ctx.options.sites,
                                 translation_space=ctx.options.translation_space, lens=ctx.lens,
                                 seed=ctx.settings.seed)
        native, dom, rand = probe["native"], probe["dominant"], probe["random"]
        wins = (dom > native).astype(float)  # per site and layer: the translation beats the next token
        drawn = ~np.isnan(rand).any(1)  # the sites a random word could be drawn for
        n_boot, seed = ctx.settings.n_boot, ctx.settings.seed
        native_mean, native_ci = mean_ci(native, n_boot, seed)
        dom_mean, dom_ci = mean_ci(dom, n_boot, seed)
        records.append({
            "view": view, "dominant": dominant, "dictionary": str(found[0].path),
            "n_positions": int(len(native)), "distinct_words": len(set(probe["words"])),
            "layers": list(ctx.layers), "native_logprob": native_mean, "dominant_logprob": dom_mean,
            "dominant_wins": wins.mean(0).tolist(),
            # the control: a random dominant-language word of the translation's frequency, at the same sites
            "random_wins": (rand[drawn] > native[drawn]).mean(0).tolist() if drawn.any() else None,
            "random_logprob": rand[drawn].mean(0).tolist() if drawn.any() else None,
            "random_positions": int(drawn.sum()),
            "ci95": {"native_logprob": native_ci, "dominant_logprob": dom_ci},
            "items": row_values({"dominant_wins": wins, "native_logprob": native,
                                 "dominant_logprob": dom}, probe["rows"], len(ctx.dataset), list(ctx.layers)),
            "lens_norm": ctx.settings.lens_norm, "lens": ctx.lens.describe(), "bos": ctx.settings.bos,
            "sites": ctx.options.sites,
            "translation_space": ctx.options.translation_space,
        })
    if not records:
        raise SemhubError(f"--analysis logit-lens: no view among {', '.join(ctx.views)} has a dictionary "
                          f"with the dominant language {dominant!r} (pass --dictionary FILE)")
    return LogitLensResult(records, {"model": ctx.backbone.name})


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class LogitLensOptions(Options):
    dictionary: Path | None = option(None, help="A bilingual TSV dictionary (header: the two languages) or a "
                                     "CC-CEDICT file (cedict_ts.u8) instead of the built-in ones.")
    sites: str = option("substring", choices=("substring", "words"),
                        help="Probe sites: dictionary entries found as substrings (word boundaries except in CJK), "
                             "or whole segmented words that are one token (jieba for Chinese; --paper's rule).")
    translation_space: str = option("tokenizer", choices=("tokenizer", "none", "paper"),
                                    help="Score a translation's word-start form by the tokenizer's prefix-space "
                                         "rule, the bare string, or as the paper's code does for the model at hand "
                                         "(paper: bare, ' gloss' for Llama 3; --paper's choice).")

    def check(self) -> None:
        if self.dictionary is not None:
            from semhub.data.dictionary import load_dictionary

            load_dictionary(self.dictionary)  # a malformed dictionary fails before the model loads


class LogitLensAnalysis(Analysis):
    """Dictionary probes for every non-dominant view that has a dictionary."""

    name = "logit-lens"
    min_views = 1  # a probe of one view
    description = "multilingual logit lens: next word in X vs its dominant-language translation, per layer"
    plot_name = "logit_lens.png"
    input_kinds = ("text",)
    Options = LogitLensOptions
    # multilingual/logit_lens.py: no BOS (add_special_tokens=False), jieba words that are one token, the gloss
    # tokenized bare (with a leading space on Llama 3 only)
    paper = PaperSetting(bos=False, options={"sites": "words", "translation_space": "paper"})

    def work(self, ctx) -> int:
        """Rows to process, for the progress bar: every view but the dominant one."""
        return len(ctx.dataset) * sum(v != ctx.backbone.family.dominant_language for v in ctx.views)

    def run(self, ctx):
        return run_logit_lens(ctx)
