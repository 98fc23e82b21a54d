"""Cross-prompt concept patching (Dumas, Wendler, Veselovsky, Monea, West, "Separating Tongue from
Thought", ACL 2025): is the concept a translation prompt carries separable from its output language?

A *source* prompt translates concept C from language A into X (``Deutsch: "Hund" - Français: "``);
a *target* prompt translates another concept D from A' into Y. A latent of the source is written
into the target's forward pass at layer l, and the target's next token is scored for four words:
C in Y (the concept moved, the target's language kept: **transfer**), C in X (the source's whole
answer), D in Y (the target's own answer: no effect) and D in X. Two sites, as in the paper:

- ``last`` (its Fig. 2): the source prompt's last-token state at layer l replaces the target's
  last-token state at layer l only (writing every later layer too would copy the source's output).
- ``word`` (its Fig. 3): the state at C's last token (the source prompt cut after the word) replaces
  the state at D's last token in the target, at layer l and every layer after it; the target's own
  last token then reads the concept through attention.

Variants beside the plain patch: ``mean``, the source latent averaged over C's translation prompts
from several input languages (A_i -> X; the paper finds this keeps or improves the concept), and
``control``, the latent of an unrelated concept E (neither C nor D) from the same kind of source
prompt: how often C in Y wins without C's latent (chance, for the transfer rate). The unpatched
target prompts give the model's own accuracy (how often D in Y wins).

Per layer: the mean probability of each word (item-bootstrap 95% intervals), the **transfer rate**
(the share of pairs where the model's most probable next token is C in Y: it now says C in D's
output language; Wilson intervals), and an exact one-sided McNemar test of the patch against the
control on the same pairs. The unpatched prompts' own top-1 rates say how well the model
translates at all. A word's probability is the sum over its first-token
variants (with and without a leading space); pairs where two of the four words share a first token
are dropped, since their probabilities cannot be told apart.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from semhub.contract.analysis import Analysis
from semhub.contract.options import Options, option
from semhub.contract.result import CurvesResult
from semhub.data.dictionary import check_dictionaries
from semhub.errors import ParameterError, SemhubError

if TYPE_CHECKING:
    import torch

SITES = ("last", "word")
WORDS = ("C in Y", "C in X", "D in Y", "D in X")  # the four scored answers, in this order everywhere


@dataclass(frozen=True)
class Direction:
    """A translation direction ``INPUT:OUTPUT`` (language codes of the dictionaries)."""

    source: str
    target: str

    @classmethod
    def parse(cls, text: str, name: str) -> "Direction":
        parts = [p.strip() for p in text.split(":")]
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise ParameterError(name, f"expected INPUT:OUTPUT, two different language codes (e.g. de:fr), got {text!r}")
        return cls(*parts)


@dataclass(frozen=True)
class PatchPair:
    """One experiment row: concept C's latent goes into D's prompt; E is the unrelated control concept."""

    c: dict[str, str]  # C's words per language (``en`` included)
    d: dict[str, str]
    e: dict[str, str]


def prompt_for(words: list[dict[str, str]], i: int, direction: Direction, shots: int, seed: int) -> str:
    """The few-shot translation prompt asking for word ``i`` (demonstrations: other words, drawn with
    ``seed``), in the latent-language analysis's format."""
    from semhub.analyses.latent_language import build_items

    rows = [(w["en"], w[direction.source], w[direction.target]) for w in words]
    others = [r for j, r in enumerate(rows) if j != i]
    demos = random.Random(f"{seed}:{i}:{direction}").sample(others, min(shots, len(others)))
    return build_items([*demos, rows[i]], direction.source, direction.target, "translation", shots, seed)[-1].prompt


def word_end(prompt: str, word: str) -> int:
    """The character index just after the query word (the last quoted word of a translation prompt)."""
    return prompt.rindex(f'"{word}"') + 1 + len(word)


def word_positions(batch, ends: list[int]) -> "torch.Tensor":
    """(B,) the index of the token holding each prompt's character ``ends[b] - 1`` (the word's last
    character), from the text spoke's character offsets."""
    import torch

    if batch.offsets is None:
        raise SemhubError("concept patching at --site word needs character offsets (a fast tokenizer); use --site last")
    spans = batch.offsets  # (B, T, 2)
    out = []
    for b, end in enumerate(ends):
        holds = (spans[b, :, 0] < end) & (spans[b, :, 1] >= end) & batch.groups["content"][b].bool()
        if not holds.any():
            raise SemhubError(f"concept patching: no token ends the query word of prompt {b + 1} of a batch")
        out.append(int(holds.nonzero()[-1]))
    return torch.tensor(out)


# A transfer-rate series' column title in the summary; ``control`` always comes last.
TRANSFER_LABELS = {"patch": "transfer", "words": "transfer (words)", "mean": "transfer (mean)"}


@dataclass
class TransferResult(CurvesResult):
    """The result of any concept patching whose records come from ``transfer_records``: one summary
    row per patch layer (the three scored probabilities of the ``patch`` variant, a transfer rate per
    variant run, the control's, and the McNemar p against the control). Text, speech and image
    patching subclass it with their key and title only, so their tables cannot drift apart."""

    def _variants(self) -> list[str]:
        return [v for v in self.records[-1]["series"] if v != "control"]

    @property
    def summary_columns(self) -> tuple[str, ...]:
        labels = [TRANSFER_LABELS.get(v, f"transfer ({v})") for v in self._variants()]
        return ("layer", *(f"p({w})" for w in WORDS[:3]), *labels, "control", "p vs control")

    def summary_rows(self) -> list[tuple[str, ...]]:
        probs, rates = self.records[0], self.records[-1]
        series = rates["series"]
        return [(str(layer), *(f"{probs['series'][w][k]:.3f}" for w in WORDS[:3]),
                 *(f"{series[v][k]:.2f}" for v in [*self._variants(), "control"]), f"{rates['p_vs_control'][k]:.2g}")
                for k, layer in enumerate(rates["x"])]


@dataclass
class ConceptPatchingResult(TransferResult):
    """Curves per patch layer: the four words' probabilities for each variant, and transfer rates."""

    key: ClassVar[str] = "concept_patching"
    summary_title = "concept patching: C's latent written into D's translation prompt (transfer: C in Y is the top token)"


def run_concept_patching(ctx) -> ConceptPatchingResult:
    import numpy as np
    import torch

    from semhub.analyses.latent_language import dictionaries_option, variants
    from semhub.data.dictionary import words_in
    from semhub.patchscopes.states import source_states

    o, bb = ctx.options, ctx.backbone
    src, tgt = Direction.parse(o.source, "source"), Direction.parse(o.target, "target")
    dicts = dictionaries_option(o.dictionary)
    means = mean_languages(o, dicts)
    langs = [src.source, src.target, tgt.source, tgt.target, *means]
    words = words_in(dicts, langs)
    forms = {(w["en"], lang): variants(bb.tokenizer, w[lang]) for w in words for lang in (src.target, tgt.target)}
    pairs = draw_pairs(words, forms, src, tgt, o.pairs, ctx.settings.seed)
    if len(pairs) < 2:
        raise SemhubError(f"concept patching: {len(pairs)} usable concept pairs for {o.source} into {o.target} (the four "
                          "answers must start with different tokens); give bigger dictionaries (--dictionary)")
    index = {w["en"]: i for i, w in enumerate(words)}
    seed, shots, L = ctx.settings.seed, o.shots, bb.n_layers
    layers = list(ctx.layers)
    every = list(range(L + 1))

    def latents(concepts: list[dict[str, str]], direction: Direction) -> torch.Tensor:
        """(n, L+1, D) each concept's source latent at every layer."""
        prompts = [prompt_for(words, index[c["en"]], direction, shots, seed) for c in concepts]
        if o.site == "word":
            prompts = [p[: word_end(p, c[direction.source])] for p, c in zip(prompts, concepts)]
        return source_states(bb, prompts, every, batch_size=ctx.settings.batch_size)

    sources = {"patch": latents([p.c for p in pairs], src), "control": latents([p.e for p in pairs], src)}
    if means:  # the source's own input language, when among them, is the plain patch's latent: read once
        sources["mean"] = torch.stack([sources["patch"] if a == src.source else
                                       latents([p.c for p in pairs], Direction(a, src.target)) for a in means]).mean(0)
    targets = [prompt_for(words, index[p.d["en"]], tgt, shots, seed) for p in pairs]
    answer = [[forms[(w["en"], lang)] for w, lang in ((p.c, tgt.target), (p.c, src.target), (p.d, tgt.target),
                                                        (p.d, src.target))] for p in pairs]
    ends = [word_end(t, p.d[tgt.source]) for t, p in zip(targets, pairs)]
    edits = {None: (None, [])}
    for name, states in sources.items():
        for layer in layers:
            edits[(name, layer)] = (states, [layer] if o.site == "last" else list(range(layer, L + 1)))
    got = answer_probs(bb, targets, answer, edits, o.site, ends, ctx.settings.batch_size)
    baseline, baseline_top = got[None]
    probs = {name: np.stack([got[(name, layer)][0] for layer in layers], 1) for name in sources}
    wins = {name: np.stack([got[(name, layer)][1][:, 0] for layer in layers], 1) for name in sources}  # C in Y top-1
    desc = {"source": o.source, "target": o.target, "site": o.site, "n": len(pairs), "shots": shots, "mean_over": means,
            "variants": list(sources), "example_source": prompt_for(words, index[pairs[0].c["en"]], src, shots, seed),
            "example_target": targets[0],
            "unpatched": {w: float(v) for w, v in zip(WORDS, baseline.mean(0))},
            "unpatched_top1": {w: float(v) for w, v in zip(WORDS, baseline_top.mean(0))}}
    where = "last token, layer l" if o.site == "last" else "word, layers l..L"
    labels = {"patch": "C's latent", "control": "E's latent (control)", "mean": "C's latent, mean over languages"}
    titles = {**{name: f"{bb.name}: {labels[name]}" for name in sources}, "transfer": f"{bb.name}: transfer (C in Y on top)"}
    records = transfer_records(probs, wins, layers, desc, n_boot=ctx.settings.n_boot, seed=seed, titles=titles,
                               xlabel=f"patch layer l ({where})")
    records[-1]["pairs"] = [{"C": p.c, "D": p.d, "E": p.e} for p in pairs]
    return ConceptPatchingResult(records, {"model": bb.name, "variants": list(sources)})


def mean_languages(o: "ConceptPatchingOptions", dictionaries) -> list[str]:
    """The input languages of the mean-over-languages variant: ``--mean-over``, else every dictionary
    language; neither output language (an X -> X prompt is repetition, not translation)."""
    src, tgt = Direction.parse(o.source, "source"), Direction.parse(o.target, "target")
    pool = o.mean_over or sorted({lang for d in dictionaries for lang in d.languages})
    return [lang for lang in dict.fromkeys(pool) if lang not in (src.target, tgt.target)]


def draw_pairs(words: list[dict[str, str]], forms: dict, src: Direction, tgt: Direction, n: int,
               seed: int) -> list[PatchPair]:
    """Up to ``n`` (C, D, E) triples of the dictionary words (``draw_concept_pairs``), their answers C and
    D in X and Y told apart by their first tokens ``forms[(en word, language)]``."""
    def answers(c: int, d: int) -> list[list[int]]:
        return [forms[(w["en"], lang)] for w in (words[c], words[d]) for lang in (src.target, tgt.target)]

    return [PatchPair(words[c], words[d], words[e]) for c, d, e in draw_concept_pairs(len(words), answers, n, seed)]


def draw_concept_pairs(n_items: int, answers: Callable[[int, int], list[list[int]]], n: int,
                       seed: int) -> list[tuple[int, int, int]]:
    """Up to ``n`` (C, D, E) triples of distinct item indices whose scored answers (``answers(c, d)``:
    the first-token ids of each) are disjoint, so their probabilities can be told apart; the control
    E is drawn among the rest. Text and speech concept patching both draw their pairs here."""
    rng = random.Random(seed)
    order = list(range(n_items))
    rng.shuffle(order)
    pairs: list[tuple[int, int, int]] = []
    for c in order:
        if len(pairs) >= n:
            break
        for d in rng.sample(order, len(order)):
            sets = [set(a) for a in answers(c, d)]
            if d == c or not all(sets) or sum(map(len, sets)) != len(set().union(*sets)):
                continue
            pairs.append((c, d, rng.choice([k for k in order if k not in (c, d)])))
            break
    return pairs


def transfer_records(probs: dict[str, Any], wins: dict[str, Any], layers: list[int], desc: dict[str, Any], *,
                     n_boot: int, seed: int, titles: dict[str, str], xlabel: str) -> list[dict[str, Any]]:
    """A concept-patching result's records: per variant (``probs[name]``: pairs x layers x the four
    ``WORDS``) the mean probabilities with bootstrap bands, then the transfer rates (``wins[name]``:
    pairs x layers, C in Y on top) with Wilson intervals and the exact one-sided McNemar test of
    ``patch`` against ``control`` on the same pairs."""
    from scipy.stats import binomtest

    from semhub.analyses.stats import mean_ci, wilson_interval

    n = len(next(iter(wins.values())))
    p_vs_control = []
    for k in range(len(layers)):
        a = int((wins["patch"][:, k] & ~wins["control"][:, k]).sum())
        b = int((~wins["patch"][:, k] & wins["control"][:, k]).sum())
        p_vs_control.append(float(binomtest(a, a + b, 0.5, alternative="greater").pvalue) if a + b else 1.0)
    records = []
    for name in probs:
        series, ci = {}, {}
        for j, w in enumerate(WORDS):
            series[w], ci[w] = mean_ci(probs[name][:, :, j], n_boot, seed)
        records.append({"x": layers, "variant": name, **desc, "series": series, "ci": ci, "xlabel": xlabel,
                        "ylabel": "next-token probability (mean over pairs)", "title": titles[name]})
    rates = {name: w.mean(0).tolist() for name, w in wins.items()}
    records.append({"x": layers, **desc, "title": titles["transfer"], "xlabel": xlabel, "ylabel": "share of pairs",
                    "series": rates, "ci": {name: [list(wilson_interval(r, n)) for r in rate] for name, rate in rates.items()},
                    "p_vs_control": p_vs_control})
    return records


def answer_probs(bb, prompts: list[str], answer: list[list[list[int]]], edits: dict, site: str, ends: list[int],
                 batch_size: int) -> dict:
    """``{key: (probabilities (N, 4), top-1 (N, 4) bool)}``: the target prompts' next-token probability
    of each row's four answers, and whether each is the model's most probable next token, under each edit of ``edits`` (``key -> (states (N, L+1, D), layers written)``; ``None`` states: unpatched).

    Each batch runs its shared prefix once (everything before the patched token); each edit reruns
    only the tokens from the patched one to the last (one token at the last site), from a copy of
    the prefix's cache: the edits are exact and cost a few tokens each, not the whole prompt."""
    from contextlib import nullcontext

    import numpy as np

    from semhub.readout.capture import last_index
    from semhub.readout.collect import encode_values
    from semhub.steering.apply import patch_layers

    ids = sorted({t for row in answer for word in row for t in word})
    col = {t: k for k, t in enumerate(ids)}
    out = {key: (np.zeros((len(prompts), 4)), np.zeros((len(prompts), 4), dtype=bool)) for key in edits}
    rows: list[tuple[list[int], int]] = []  # per prompt: its token ids up to the read token, the patched index
    for start, batch in zip(range(0, len(prompts), batch_size), encode_values(bb, prompts, "text", batch_size)):
        last = last_index(batch.groups["content"])  # each row's last content token: where the answer is read
        where = last if site == "last" else word_positions(batch, ends[start : start + len(batch)])
        for b in range(len(batch)):
            real = batch.inputs["input_ids"][b][batch.groups["all"][b].bool()]
            rows.append((real[: int(last[b]) + 1].tolist(), int(where[b])))
    by_suffix: dict[int, list[int]] = {}
    for r, (tokens, at) in enumerate(rows):
        by_suffix.setdefault(len(tokens) - at, []).append(r)
    for group in by_suffix.values():
        for s in range(0, len(group), batch_size):
            chunk = group[s : s + batch_size]
            run = SuffixRun(bb, [rows[r][0] for r in chunk], [rows[r][1] for r in chunk])
            for key, (states, layers) in edits.items():
                values = {} if states is None else {layer: states[chunk, layer] for layer in layers}
                with patch_layers(bb, values, position=0) if values else nullcontext():
                    logp = run.next_token_logprobs()
                p, top = logp[:, ids].exp().numpy(), logp.argmax(-1).tolist()
                for i, r in enumerate(chunk):
                    out[key][0][r] = [float(p[i, [col[t] for t in word]].sum()) for word in answer[r]]
                    out[key][1][r] = [top[i] in word for word in answer[r]]
    return out


class SuffixRun:
    """A batch of token rows split at ``at[b]``: the prefixes run once (left-padded, with their
    positions), the suffixes (all the same length) as often as asked, each time from a copy of the
    prefixes' cache. Hooks installed around ``next_token_logprobs`` see only the suffix tokens."""

    def __init__(self, bb, rows: list[list[int]], at: list[int]):
        import torch

        self.bb = bb
        pad = bb.tokenizer.pad_token_id if bb.tokenizer.pad_token_id is not None else 0
        width = max(at)
        dev = bb.input_device
        prefix = torch.full((len(rows), width), pad, dtype=torch.long)
        self.mask = torch.zeros(len(rows), width, dtype=torch.long)
        for b, (tokens, k) in enumerate(zip(rows, at)):
            if k:
                prefix[b, width - k :] = torch.tensor(tokens[:k])
                self.mask[b, width - k :] = 1
        self.suffix = torch.tensor([tokens[k:] for tokens, k in zip(rows, at)]).to(dev)
        self.start = torch.tensor(at).unsqueeze(1)  # each row's first suffix position
        self.cache = None
        if width:
            with torch.inference_mode():
                out = bb.model(input_ids=prefix.to(dev), attention_mask=self.mask.to(dev),
                               position_ids=(self.mask.cumsum(1) - 1).clamp(min=0).to(dev), use_cache=True,
                               logits_to_keep=1)
            self.cache = out.cache if getattr(out, "cache", None) is not None else out.past_key_values

    def next_token_logprobs(self) -> "torch.Tensor":
        """(B, vocabulary) float log-probabilities after each row's last suffix token (on the CPU)."""
        import copy

        import torch

        S = self.suffix.shape[1]
        dev = self.bb.input_device
        mask = torch.cat([self.mask, torch.ones(len(self.suffix), S, dtype=torch.long)], 1).to(dev)
        positions = (self.start + torch.arange(S)).to(dev)
        with torch.inference_mode():
            out = self.bb.model(input_ids=self.suffix, attention_mask=mask, position_ids=positions,
                                cache=copy.deepcopy(self.cache) if self.cache is not None else None,
                                use_cache=self.cache is not None, logits_to_keep=1)
        return torch.log_softmax(out.logits[:, -1].float(), -1).cpu()


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


class ConceptPatchingOptions(Options):
    source: str = option("de:fr", help="The source prompts' translation direction INPUT:OUTPUT (A:X): concept C's latent "
                                       "is read there.")
    target: str = option("es:zh", help="The target prompts' direction (A':Y): concept D's prompt that receives C's latent.")
    site: str = option("word", choices=SITES, help="last: the last token at layer l only (Dumas et al. Fig. 2); word: the "
                                                   "query word's last token at layer l and every layer after (Fig. 3).")
    mean_over: list[str] = option([], help="Input languages whose C->X prompts' latents are averaged for the 'mean' variant "
                                           "(repeatable; default: every dictionary language but X and Y).")
    pairs: int = option(48, min=2, help="Concept pairs (C, D) drawn at most; each costs one forward per layer and variant.")
    shots: int = option(4, min=0, help="Demonstrations before each query word.")
    dictionary: list[Path] = option([], help="Bilingual TSV dictionaries en-X (repeatable; default: the built-in ones).")

    def check(self) -> None:
        check_dictionaries(self.dictionary)
        src, tgt = Direction.parse(self.source, "source"), Direction.parse(self.target, "target")
        if src.target == tgt.target:
            raise ParameterError("target", f"the target prompts must answer in another language than the source "
                                           f"prompts ({src.target} twice): C in X and C in Y would be one word")


class ConceptPatchingAnalysis(Analysis):
    """Dumas et al.'s cross-prompt patching: does C's latent carry C into D's prompt, in D's output language?"""

    name = "concept-patching"
    description = ("concept C's latent from a translation prompt written into concept D's at each layer: p(C in Y), "
                   "p(C in X), p(D in Y), with a mean-over-languages variant and an unrelated-concept control")
    plot_name = "concept_patching.png"
    input_kinds = ("text",)
    min_views = 1
    Options = ConceptPatchingOptions

    def work(self, ctx) -> None:
        return None

    def run(self, ctx):
        return run_concept_patching(ctx)
