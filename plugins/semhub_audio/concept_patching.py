"""Concept patching across spoken words on Whisper: Dumas et al.'s cross-prompt patching ("Separating
Tongue from Thought", ACL 2025; semhub's text version is ``--analysis concept-patching``) with the
concept *heard*.

A *source* clip says concept C in language A; Whisper's decoder reads it under the translate prompt
(``<|A|><|translate|>``: the answer is C in English, X). A *target* clip says another concept D in
language A'; the decoder reads it under the transcribe prompt (``<|A'|><|transcribe|>``: the answer is
D in A', Y). The decoder state at the source prompt's last token, at layer l, replaces the target's at
layer l (that position only), and the target's next token is scored for C in Y (**transfer**: the
heard concept now said in the target's language, which no clip of the target row says), C in X (the
source's own answer), D in Y (the target's own answer) and D in X.

Variants: ``mean``, C's latent averaged over clips of C in several languages (does the concept survive
losing its language?), and ``control``, the latent of an unrelated concept E's clip. The transfer rate
(C in Y is the most probable next token) gets Wilson intervals and an exact one-sided McNemar test
against the control on the same pairs. Every target clip's encoder output is computed once; each edit
reruns only the four-token decoder prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import semhub
from semhub import Options, ParameterError, SemhubError, option

WORDS = semhub.PATCH_ANSWERS  # ("C in Y", "C in X", "D in Y", "D in X"): the order transfer_records reads


def first_tokens(tokenizer, word: str) -> list[int]:
    """The first tokens Whisper may begin writing ``word`` with: each case form's (as written, lower case,
    capitalised) first-token variants with and without a leading space (``semhub.first_token_variants``,
    the text concept patching's), the unknown token left out. A word's probability is the sum over them."""
    ids = {i for form in {word, word.lower(), word.capitalize()} for i in semhub.first_token_variants(tokenizer, form)}
    ids.discard(tokenizer.unk_token_id)
    return sorted(ids)


@dataclass(frozen=True)
class Pair:
    """Concept C's latent goes into D's clip; E is the unrelated control (row indices of the data)."""

    c: int
    d: int
    e: int


@dataclass
class SpeechPatchingResult(semhub.TransferResult):
    """Per patch layer: the four answers' probabilities for each variant, and the transfer rates."""

    key: ClassVar[str] = "speech_concept_patching"
    summary_title = "concept patching across spoken words: C's latent (heard) in D's clip (transfer: C in Y on top)"


def encoded(bb, paths: list[str], base_dir, readout: str):
    """The audio spoke's batch for clips read under ``readout`` (a ``TASK:LANG:prompt`` read-out)."""
    with semhub.encoding(semhub.InputSettings(readout=readout)):
        return semhub.spoke_for_view("audio").encode(paths, bb, base_dir)


def prompt_states(bb, batch, layers: list[int]):
    """(N, len(layers), D) decoder states at the prompt's last token (the read-out's one position),
    through semhub's capture: "layer l" is the state ``patch_hooks`` writes."""
    return semhub.capture(bb, [batch], layers, pooling="last")


def encoder_states(bb, batch):
    """The clips' encoder output, computed once for every edit of their decoder prompt."""
    import torch

    with torch.inference_mode():
        return bb.model.model.encoder(batch.inputs["input_features"].to(bb.input_device)).last_hidden_state


def next_token(bb, hidden, ids, patch: tuple[Any, int] | None = None):
    """(N, vocabulary) log-probabilities after the decoder prompt, with ``patch`` = (states (N, D), layer)
    written at its last token."""
    import torch
    from contextlib import nullcontext

    edit = semhub.patch_hooks(bb, patch[0], layer=patch[1], position=ids.shape[1] - 1) if patch else nullcontext()
    with edit, torch.inference_mode():
        logits = bb.model(encoder_outputs=(hidden,), decoder_input_ids=ids).logits[:, -1]
    return torch.log_softmax(logits.float(), -1).cpu()


def run_speech_patching(ctx) -> SpeechPatchingResult:
    import numpy as np
    import torch

    o, bb, ds = ctx.options, ctx.backbone, ctx.dataset
    if bb.family.input_part(bb.stack) == "position_embedding" or not getattr(bb.model.config, "is_encoder_decoder", False):
        raise SemhubError(f"speech concept patching reads Whisper's decoder; {bb.name} ({bb.stack}) has none here")
    means = [lang for lang in (o.mean_over or [c.removeprefix("audio_") for c in ds.columns if c.startswith("audio_")])
             if lang != o.target]
    need = [f"audio_{o.source}", f"audio_{o.target}", "en", o.target, *(f"audio_{lang}" for lang in means)]
    missing = [c for c in dict.fromkeys(need) if c not in ds.columns]
    if missing:
        raise ParameterError("data", f"{ds.path} has no column {', '.join(missing)} (speech concept patching needs "
                                     "each concept's clip per language, audio_<lang>, and its words, en and the target's)")
    tok = bb.tokenizer
    words = {lang: [str(v) for v in ds.columns[lang]] for lang in ("en", o.target)}
    firsts = {(lang, i): first_tokens(tok, w) for lang, col in words.items() for i, w in enumerate(col)}

    def answers(c: int, d: int):
        return [firsts[(o.target, c)], firsts[("en", c)], firsts[(o.target, d)], firsts[("en", d)]]

    pairs = [Pair(*t) for t in semhub.draw_concept_pairs(len(words["en"]), answers, o.pairs, ctx.settings.seed)]
    if len(pairs) < 2:
        raise SemhubError(f"speech concept patching: {len(pairs)} usable pairs (the four answers must begin with "
                          "different tokens); give more concepts")
    layers = list(ctx.layers)
    n_layers_all = list(range(bb.n_layers + 1))

    def latents(lang: str):
        batch = encoded(bb, ds.columns[f"audio_{lang}"], ds.base_dir, f"translate:{lang}:prompt")
        return prompt_states(bb, batch, n_layers_all)  # (rows, L+1, D)

    source = latents(o.source)
    rows = {"patch": [p.c for p in pairs], "control": [p.e for p in pairs]}
    sources = {name: source[idx] for name, idx in rows.items()}
    if means:  # the source language's own latents are read once
        sources["mean"] = torch.stack([source if lang == o.source else latents(lang) for lang in means]).mean(0)[rows["patch"]]
    target_rows = [p.d for p in pairs]
    batch = encoded(bb, [ds.columns[f"audio_{o.target}"][d] for d in target_rows], ds.base_dir,
                    f"transcribe:{o.target}:prompt")
    hidden, ids = encoder_states(bb, batch), batch.inputs["decoder_input_ids"].to(bb.input_device)
    sets = [answers(p.c, p.d) for p in pairs]

    def score(logp):
        probs = np.array([[float(logp[i, s].exp().sum()) for s in row] for i, row in enumerate(sets)])
        top = logp.argmax(-1).tolist()
        return probs, np.array([[top[i] in s for s in row] for i, row in enumerate(sets)])

    base_probs, base_top = score(next_token(bb, hidden, ids))
    probs, wins = {}, {}
    for name, states in sources.items():
        got = [score(next_token(bb, hidden, ids, (states[:, layer].to(bb.dtype), layer))) for layer in layers]
        probs[name] = np.stack([g[0] for g in got], 1)  # (pairs, layers, 4)
        wins[name] = np.stack([g[1][:, 0] for g in got], 1)  # C in Y on top
    desc = {"source": f"audio_{o.source} (translate: X = en)", "target": f"audio_{o.target} (transcribe: Y = {o.target})",
            "n": len(pairs), "mean_over": means, "variants": list(sources),
            "unpatched": dict(zip(WORDS, base_probs.mean(0).tolist())),
            "unpatched_top1": dict(zip(WORDS, base_top.mean(0).tolist()))}
    titles = {**{name: f"{bb.name}: {name} latent into the target clip" for name in sources},
              "transfer": f"{bb.name}: transfer (C in Y on top)"}
    records = semhub.transfer_records(probs, wins, layers, desc, n_boot=ctx.settings.n_boot, seed=ctx.settings.seed,
                                      titles=titles, xlabel="patch layer l (the prompt's last token)")
    records[-1]["pairs"] = [{"C": words["en"][p.c], "D": words["en"][p.d], "E": words["en"][p.e]} for p in pairs]
    return SpeechPatchingResult(records, {"model": bb.name, "variants": list(sources)})


class SpeechPatchingOptions(Options):
    source: str = option("es", help="Language of the clips whose latent is read (under Whisper's translate prompt: "
                                    "C's answer is English, X).")
    target: str = option("de", help="Language of the clips that receive it (under the transcribe prompt: D's answer "
                                    "is in this language, Y).")
    mean_over: list[str] = option([], help="Languages whose clips of C are averaged for the 'mean' variant (repeatable; "
                                           "default: every audio_<lang> column but the target's).")
    pairs: int = option(20, min=2, help="Concept pairs (C, D) drawn at most.")

    def check(self) -> None:
        if self.source == self.target:
            raise ParameterError("target", f"the target clips must be in another language than the source ({self.source})")


class SpeechConceptPatching(semhub.Analysis):
    """Dumas et al.'s concept patching with the concept heard: a spoken word's decoder latent in another clip."""

    name = "speech-concept-patching"
    description = ("a spoken word's Whisper decoder latent written into another word's clip at each layer: "
                   "p(C in Y), p(C in X), p(D in Y), with a mean-over-languages variant and an unrelated-concept control")
    plot_name = "speech_concept_patching.png"
    input_kinds = ("audio",)
    min_views = 1
    Options = SpeechPatchingOptions

    def work(self, ctx) -> None:
        return None

    def run(self, ctx):
        return run_speech_patching(ctx)
