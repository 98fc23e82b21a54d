"""Concept patching from an image into words on a vision-language LLM: Dumas et al.'s cross-prompt
patching ("Separating Tongue from Thought", ACL 2025; semhub's text version is ``--analysis
concept-patching``) with the concept *seen*.

The *source* is a picture of concept C under the family's image prompt, asked for its name in
language X (``What is this object? Answer with one word in English.``); its latent is the state at
the prompt's last token. The *target* is a text translation prompt for another concept D, from A'
into Y (``Español: "perro" - 中文: "``, the latent-language format). The source latent replaces the
target's last-token state at layer l (that layer only), and the target's next token is scored for C
in Y (**transfer**: the seen concept now said in the words' output language), C in X (the image
prompt's own answer), D in Y (the target's own answer) and D in X.

Variants: ``control``, an unrelated concept E's picture; ``words``, C's latent from the text prompt
A' -> X (the same concept read from its word, not seen: text concept patching's plain patch, for
comparison on the same pairs); ``mean``, the picture's and the words' latents averaged (does the
seen concept add to the read one?). Transfer rates get Wilson intervals and an exact one-sided
McNemar test against the control on the same pairs (``semhub.transfer_records``). Each target runs
its prefix once; every edit reruns only the last token (``semhub.patched_answer_probs``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import semhub
from semhub import Options, ParameterError, SemhubError, option

WORDS = semhub.PATCH_ANSWERS  # ("C in Y", "C in X", "D in Y", "D in X")
QUESTION = "What is this object? Answer with one word in {language}."


@dataclass
class ImagePatchingResult(semhub.TransferResult):
    """Per patch layer: the four answers' probabilities for each variant, and the transfer rates."""

    key: ClassVar[str] = "image_concept_patching"
    summary_title = "concept patching from an image: C's latent (seen) in D's translation prompt (transfer: C in Y on top)"


def image_latents(bb, view: str, paths: list[str], base_dir, question: str, batch_size: int):
    """(N, L+1, D) states at the image prompt's last token at every layer (the position the answer is
    read from), through semhub's capture."""
    spoke = semhub.spoke_for_view(view)
    return semhub.capture(bb, spoke.batches(paths, bb, base_dir, question, batch_size), list(range(bb.n_layers + 1)),
                          pooling="last", group="prompt_last")


def run_image_patching(ctx) -> ImagePatchingResult:
    import numpy as np

    o, bb, ds = ctx.options, ctx.backbone, ctx.dataset
    if bb.placeholder_id("image") is None:
        raise SemhubError(f"--model: {bb.name} ({bb.family.name}) is not a vision-language LLM; image concept patching "
                          "needs one that reads a picture and words in one stream (LLaVA, Chameleon, Gemma 3, Qwen2-VL...)")
    view = next((v for v in ctx.views if semhub.spoke_for_view(v).modality == "image"), "image")
    tgt, x = semhub.TranslationDirection.parse(o.target, "target"), o.language
    need = [view, x, tgt.source, tgt.target]
    missing = [c for c in dict.fromkeys(need) if c not in ds.columns]
    if missing:
        raise ParameterError("data", f"{ds.path} has no column {', '.join(missing)} (image concept patching needs each "
                                     f"concept's picture, {view}, and its word in X = {x} and in the target's languages)")
    langs = list(dict.fromkeys([x, tgt.source, tgt.target]))
    words = [{lang: str(ds.columns[lang][i]) for lang in langs} for i in range(len(ds))]
    for i, w in enumerate(words):  # the latent-language prompt's rows carry an English slot (shown nowhere here)
        w.setdefault("en", str(ds.columns["en"][i]) if "en" in ds.columns else w[x])
    tok = bb.tokenizer
    forms = {(i, lang): [t for t in semhub.first_token_variants(tok, w[lang]) if t != tok.unk_token_id]
             for i, w in enumerate(words) for lang in (x, tgt.target)}  # a word the tokenizer cannot spell is no answer

    def answers(c: int, d: int) -> list[list[int]]:
        return [forms[(c, tgt.target)], forms[(c, x)], forms[(d, tgt.target)], forms[(d, x)]]

    seed, size = ctx.settings.seed, ctx.settings.batch_size
    pairs = semhub.draw_concept_pairs(len(words), answers, o.pairs, seed)
    if len(pairs) < 2:
        raise SemhubError(f"image concept patching: {len(pairs)} usable pairs (the four answers must begin with "
                          "different tokens); give more concepts")
    question = o.question.replace("{language}", semhub.LANGUAGE_NAMES.get(x, x))
    seen = sorted({i for c, _d, e in pairs for i in (c, e)})
    states = image_latents(bb, view, [ds.columns[view][i] for i in seen], ds.base_dir, question, size)
    at = {row: k for k, row in enumerate(seen)}
    cs = [c for c, _d, _e in pairs]
    read = semhub.TranslationDirection(tgt.source, x)
    text = semhub.source_states(bb, [semhub.translation_prompt(words, c, read, o.shots, seed) for c in cs],
                                list(range(bb.n_layers + 1)), batch_size=size)
    sources = {"patch": states[[at[c] for c in cs]], "control": states[[at[e] for _c, _d, e in pairs]], "words": text}
    sources["mean"] = (sources["patch"] + text) / 2
    targets = [semhub.translation_prompt(words, d, tgt, o.shots, seed) for _c, d, _e in pairs]
    layers = list(ctx.layers)
    edits = {None: (None, [])}
    edits.update({(name, layer): (s, [layer]) for name, s in sources.items() for layer in layers})
    got = semhub.patched_answer_probs(bb, targets, [answers(c, d) for c, d, _e in pairs], edits, "last",
                                      [0] * len(pairs), size)
    baseline, baseline_top = got[None]
    probs = {name: np.stack([got[(name, layer)][0] for layer in layers], 1) for name in sources}
    wins = {name: np.stack([got[(name, layer)][1][:, 0] for layer in layers], 1) for name in sources}
    desc = {"source": f"{view} (asked in {x}: X = {x})", "target": o.target, "n": len(pairs), "variants": list(sources),
            "question": question, "example_target": targets[0],
            "unpatched": {w: float(v) for w, v in zip(WORDS, baseline.mean(0))},
            "unpatched_top1": {w: float(v) for w, v in zip(WORDS, baseline_top.mean(0))}}
    labels = {"patch": "C's picture", "control": "E's picture (control)", "words": f"C's words ({tgt.source} -> {x})",
              "mean": "C's picture and words, averaged"}
    titles = {**{name: f"{bb.name}: {labels[name]} into D's prompt" for name in sources},
              "transfer": f"{bb.name}: transfer (C in Y on top)"}
    records = semhub.transfer_records(probs, wins, layers, desc, n_boot=ctx.settings.n_boot, seed=seed, titles=titles,
                                      xlabel="patch layer l (the last token)")
    records[-1]["pairs"] = [{"C": words[c][x], "D": words[d][x], "E": words[e][x]} for c, d, e in pairs]
    return ImagePatchingResult(records, {"model": bb.name, "variants": list(sources)})


class ImagePatchingOptions(Options):
    target: str = option("es:zh", help="The target prompts' translation direction A':Y (language columns of the data): "
                                       "concept D's prompt that receives the picture's latent.")
    language: str = option("en", help="X: the language the image prompt asks the picture's name in (a column of the "
                                      "data; C in X is scored).")
    question: str = option(QUESTION, help="The image prompt's question ({language}: X's name).")
    pairs: int = option(40, min=2, help="Concept pairs (C, D) drawn at most; each costs one token per layer and variant.")
    shots: int = option(4, min=0, help="Demonstrations before each target's query word.")

    def check(self) -> None:
        tgt = semhub.TranslationDirection.parse(self.target, "target")
        if tgt.target == self.language:
            raise ParameterError("target", f"the target prompts must answer in another language than the picture's "
                                           f"question ({self.language} twice): C in X and C in Y would be one word")


class ImageConceptPatching(semhub.Analysis):
    """Dumas et al.'s concept patching with the concept seen: a picture's latent in a word's translation prompt."""

    name = "image-concept-patching"
    description = ("a picture's latent (vision-language LLM) written into another concept's translation prompt at "
                   "each layer: p(C in Y), p(C in X), p(D in Y), against an unrelated picture and C's own words")
    plot_name = "image_concept_patching.png"
    input_kinds = ("image",)
    min_views = 1
    Options = ImagePatchingOptions

    def work(self, ctx) -> None:
        return None

    def run(self, ctx):
        return run_image_patching(ctx)
