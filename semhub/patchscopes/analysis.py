"""Patchscopes over dictionary words: what does a word's state at layer l say when decoded elsewhere?

For every word of a bilingual dictionary (source language S, e.g. ``zh``, with its English
translation), the state at the word's last token is read at each layer and patched into the
inspection prompt (the few-shot identity prompt by default) at the same layer (or at a fixed
``--target-layer``). The model's next token there is scored: the probability of the English word
(its first-token variants, with and without a leading space), of the S word, and whether either is
the top token. Identity decoding of the S word says the state still holds its surface form; the
English word winning says the state is read as its English meaning: the hub question asked
directly. Greedy continuations of a few words are kept as examples.

As in the latent-language analysis, a word counts only where its S form and its English form start
with different tokens.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from semhub.contract.analysis import Analysis
from semhub.contract.options import Options, option
from semhub.contract.result import CurvesResult
from semhub.data.dictionary import check_dictionaries
from semhub.errors import ParameterError, SemhubError
from semhub.patchscopes.inspection import IDENTITY_PROMPT


@dataclass
class PatchscopeResult(CurvesResult):
    """Curves per source layer; ``examples``: for a few words, the greedy continuation at every layer."""

    examples: list[dict[str, Any]] = field(default_factory=list)
    key: ClassVar[str] = "patchscope"
    summary_title = "patchscope: the word's state decoded by the inspection prompt"
    summary_columns = ("layer", "p(English)", "p(source)", "top-1 English", "top-1 source", "example")

    def summary_rows(self):
        probs, top1 = self.records[0]["series"], self.records[1]["series"]
        layers = self.records[0]["x"]
        shown = self.examples[0] if self.examples else None
        rows = []
        for k, layer in enumerate(layers):
            example = "" if shown is None else f"{shown['source']} -> {shown['continuations'][k]!r}"
            rows.append((str(layer), f"{probs['English'][k]:.3f}", f"{probs['source'][k]:.3f}",
                         f"{top1['English'][k]:.2f}", f"{top1['source'][k]:.2f}", example))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {"curves": self.records, "examples": self.examples}

    def plot(self, folder):
        from semhub.plots import plot_curves

        return plot_curves(self, self.figure_path(folder))


def run_patchscope(ctx) -> PatchscopeResult:
    import numpy as np

    from semhub.analyses.latent_language import (
        dictionaries_option,
        distinct_first_tokens,
        triples,
    )
    from semhub.patchscopes.states import (
        InspectionPrompt,
        inspect_states,
        source_states,
    )

    o, bb = ctx.options, ctx.backbone
    words = [(en, s) for en, s, _ in triples(dictionaries_option(o.dictionary), o.source, "en")]
    kept, forms = distinct_first_tokens(bb.tokenizer, words, 0, 1)
    if not kept:
        raise SemhubError(f"patchscope: no {o.source} word whose form and English translation start with different "
                          "tokens; give bigger dictionaries (--dictionary)")
    if o.max_words and len(kept) > o.max_words:
        kept = random.Random(ctx.settings.seed).sample(kept, o.max_words)
    prompt = InspectionPrompt(o.target_prompt, o.placeholder)
    prompt.locate(bb)  # a bad prompt fails before any work
    ids = sorted({i for en, s in kept for i in forms[en] + forms[s]})
    col = {t: k for k, t in enumerate(ids)}
    cols_en = [[col[t] for t in forms[en]] for en, _ in kept]
    cols_src = [[col[t] for t in forms[s]] for _, s in kept]
    states = source_states(bb, [o.source_template.replace("{word}", s) for _, s in kept], ctx.layers,
                           batch_size=ctx.settings.batch_size)
    n_ex = min(o.examples, len(kept))
    layers = list(ctx.layers)
    p_en, p_src = np.zeros((len(kept), len(layers))), np.zeros((len(kept), len(layers)))
    top_en, top_src = np.zeros_like(p_en), np.zeros_like(p_en)
    continuations: list[list[str]] = [[] for _ in range(n_ex)]
    for k, layer in enumerate(layers):
        target = layer if o.target_layer < 0 else o.target_layer
        readout = inspect_states(bb, states[:, k], layer=target, prompt=prompt, ids=ids, top_k=1,
                                 batch_size=ctx.settings.batch_size)
        probs = readout.logprobs.exp().numpy()
        best = readout.top_ids[:, 0].tolist()
        for i, (en, s) in enumerate(kept):
            p_en[i, k], p_src[i, k] = probs[i, cols_en[i]].sum(), probs[i, cols_src[i]].sum()
            top_en[i, k], top_src[i, k] = best[i] in forms[en], best[i] in forms[s]
        if n_ex and o.max_new_tokens:
            shown = inspect_states(bb, states[:n_ex, k], layer=target, prompt=prompt, max_new_tokens=o.max_new_tokens,
                                   top_k=1, batch_size=ctx.settings.batch_size)
            for i, text in enumerate(shown.continuations):
                continuations[i].append(text)
        if ctx.on_batch:
            ctx.on_batch(1)
    desc = {"source": o.source, "n": len(kept), "target_layer": o.target_layer, "target_prompt": o.target_prompt,
            "placeholder": o.placeholder, "source_template": o.source_template, "words": [list(w) for w in kept]}
    records = [
        {"x": layers, **desc, "title": f"{bb.name}: {o.source} word states decoded by the inspection prompt",
         "xlabel": "source layer", "ylabel": "next-token probability (mean over words)",
         "series": {"English": p_en.mean(0).tolist(), "source": p_src.mean(0).tolist()}},
        {"x": layers, "n": len(kept), "title": f"{bb.name}: top-1 next token", "xlabel": "source layer",
         "ylabel": "share of words", "series": {"English": top_en.mean(0).tolist(), "source": top_src.mean(0).tolist()}},
    ]
    examples = [{"english": kept[i][0], "source": kept[i][1], "layers": layers, "continuations": continuations[i]}
                for i in range(n_ex) if continuations[i]]
    return PatchscopeResult(records, {"model": bb.name}, examples=examples)


@dataclass
class PromptPatchscopeResult(CurvesResult):
    """``semhub patchscope``: given source prompts, per source layer, what the inspection prompt says.

    ``readings`` hold, per prompt and layer, the continuation, the top next tokens and the
    probability of each candidate word; ``records`` are the candidates' curves (mean over prompts).
    """

    readings: list[dict[str, Any]] = field(default_factory=list)
    key: ClassVar[str] = "patchscope_prompts"
    summary_title = "patchscope: each source prompt's last-token state decoded by the inspection prompt"

    @property
    def summary_columns(self) -> tuple[str, ...]:
        return ("prompt", "layer", "says", "top next tokens", *(f"p({c})" for c in self.options.get("candidates", [])))

    def summary_rows(self):
        rows = []
        for r in self.readings:
            top = " ".join(f"{t.strip() or repr(t)}:{p:.2f}" for t, p in r["top"][:3])
            rows.append((r["prompt"][:24], f"{r['layer']}->{r['target_layer']}", r["continuation"].strip()[:16], top,
                         *(f"{p:.3f}" for p in r["candidates"].values())))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {"readings": self.readings, "curves": self.records, **self.options}

    def plot(self, folder):
        return super().plot(folder) if self.records else None


def patch_prompts(backbone, sources: list[str], layers: list[int], *, target_layer: int | None = None,
                  prompt=None, candidates: list[str] = (), max_new_tokens: int = 8, top_k: int = 5,
                  batch_size: int = 16, on_layer=None) -> PromptPatchscopeResult:
    """Each source prompt's last-token state at each of ``layers``, patched into ``prompt`` at the same
    layer (or ``target_layer``): the greedy continuation, the top next tokens and the candidates' probability."""
    import numpy as np

    from semhub.analyses.latent_language import variants
    from semhub.patchscopes.inspection import InspectionPrompt
    from semhub.patchscopes.states import inspect_states, source_states

    prompt = prompt or InspectionPrompt()
    prompt.locate(backbone)
    forms = {}
    for word in candidates:
        forms[word] = variants(backbone.tokenizer, word)
        if not forms[word]:
            raise ParameterError("candidates", f"{word!r} has no token")
    ids = sorted({i for v in forms.values() for i in v})
    col = {t: k for k, t in enumerate(ids)}
    states = source_states(backbone, sources, layers, batch_size=batch_size)
    readings = []
    curves = {w: [] for w in candidates}
    tok = backbone.tokenizer
    for k, layer in enumerate(layers):
        target = layer if target_layer is None else target_layer
        out = inspect_states(backbone, states[:, k], layer=target, prompt=prompt, ids=ids, top_k=top_k,
                             max_new_tokens=max_new_tokens, batch_size=batch_size)
        probs = out.logprobs.exp()
        for i, source in enumerate(sources):
            readings.append({
                "prompt": source, "layer": layer, "target_layer": target,
                "continuation": out.continuations[i] if out.continuations else "",
                "top": [[tok.decode([int(t)]), float(p)] for t, p in zip(out.top_ids[i], out.top_logprobs[i].exp())],
                "entropy": float(out.entropy[i]),
                "candidates": {w: float(probs[i, [col[t] for t in forms[w]]].sum()) for w in candidates}})
        for w in candidates:
            curves[w].append(float(np.mean([r["candidates"][w] for r in readings[-len(sources):]])))
        if on_layer:
            on_layer(layer)
    records = ([{"x": list(layers), "title": f"{backbone.name}: candidates after the patched inspection prompt",
                 "xlabel": "source layer", "ylabel": "next-token probability (mean over prompts)", "series": curves}]
               if candidates else [])
    options = {"model": backbone.name, "target_prompt": prompt.text, "placeholder": prompt.placeholder,
               "candidates": list(candidates), "target_layer": target_layer}
    return PromptPatchscopeResult(records, options, readings=readings)


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class PatchscopeOptions(Options):
    source: str = option("zh", help="The language of the words whose states are decoded (a dictionary language).")
    target_layer: int = option(-1, min=-1, help="Layer of the inspection prompt the state is written at "
                               "(-1: the layer it was read at).")
    target_prompt: str = option(IDENTITY_PROMPT, help="The inspection prompt (default: the few-shot identity prompt).")
    placeholder: str = option("?", help="The string of --target-prompt whose last token receives the state.")
    source_template: str = option("{word}", help="The source prompt around each word; the state is read at its "
                                  "last token.")
    max_words: int = option(64, min=0, help="Words drawn at most (0: every usable word; each costs one "
                            "inspection-prompt forward per layer).")
    examples: int = option(3, min=0, help="Words whose greedy continuation is recorded at every layer.")
    max_new_tokens: int = option(4, min=0, help="Tokens generated per example.")
    dictionary: list[Path] = option([], help="Bilingual TSV dictionaries en-X (repeatable; default: the built-in ones).")

    def check(self) -> None:
        check_dictionaries(self.dictionary)
        if self.source == "en":
            raise ParameterError("source", "decode a language other than English (the reference)")
        if "{word}" not in self.source_template:
            raise ParameterError("source_template", f"{self.source_template!r} has no {{word}}")
        if not self.placeholder or self.placeholder not in self.target_prompt:
            raise ParameterError("placeholder", f"{self.placeholder!r} does not occur in --target-prompt")


class PatchscopeAnalysis(Analysis):
    """Ghandeharioun et al.'s patchscope over dictionary words: the word's state decoded by an inspection prompt."""

    name = "patchscope"
    description = ("each dictionary word's state per layer patched into the identity prompt: p(English word) vs "
                   "p(source word) as the next token")
    plot_name = "patchscope.png"
    input_kinds = ("text",)
    min_views = 1
    Options = PatchscopeOptions

    def work(self, ctx) -> int:
        return len(ctx.layers)

    def run(self, ctx):
        return run_patchscope(ctx)
