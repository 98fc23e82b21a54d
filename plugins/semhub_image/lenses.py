"""The paper's vision lenses and the colour edit (section 5): the computations behind the
declarations in ``semhub_image.analyses``, runnable on any vision family in the registry.

Every lens here reads the image positions of the prompt the family declares; token ids come
from ``semhub.word_token_ids`` (the in-sentence form, " red"), and families that exclude ids
from the lens (Chameleon's image codes) have them excluded automatically by ``semhub.Lens``.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

import semhub
from semhub import CurvesResult, SemhubError

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch


class ColourLensResult(CurvesResult):
    key = "colour_lens"
    summary_title = "logit lens at image positions: % of positions whose top-1 token is the colour"


class CaptionLensResult(CurvesResult):
    key = "caption_lens"
    summary_title = "logit lens at image positions: caption nouns (sum of mean p)"


class SegmentationLensResult(CurvesResult):
    key = "segmentation_lens"
    summary_title = "logit lens per patch: its class name (geometric-mean p)"


class ColourEditResult(CurvesResult):
    key = "colour_edit"
    summary_title = "colour edit through the hub: % of answers naming the new colour"


def image_view(ctx) -> str:
    views = [v for v in ctx.views if semhub.spoke_for_view(v).modality == "image"]
    if not views:
        raise SemhubError("--views: this analysis needs an image view (e.g. image)")
    return views[0]


def column(ctx, name: str, what: str) -> list[Any]:
    if name not in ctx.dataset.columns:
        raise SemhubError(f"{ctx.dataset.path}: no {name!r} column ({what})")
    return list(ctx.dataset.columns[name])


def needs_vision_llm(bb) -> None:
    if bb.placeholder_id("image") is None:
        raise SemhubError(f"--model: {bb.name} ({bb.family.name}) is not a vision-language LLM; this lens needs "
                          "LLaVA, Chameleon, Gemma 3, Qwen2-VL... (CLIP: --analysis joint-alignment)")


def position_logprobs(ctx, ids: list[int], *, question: str = "", group: str = "content",
                      top1: bool = False) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None, Any]]:
    """Per image: (row, log p (layers, P, K) of ``ids`` at the group's P positions, top-1 ids (layers, P), encoded).

    One forward per batch; the lens normaliser is streamed over the vocabulary (``semhub.Lens``).
    """
    bb, view = ctx.backbone, image_view(ctx)
    needs_vision_llm(bb)
    batches = semhub.spoke_for_view(view).batches(list(ctx.dataset.columns[view]), bb, ctx.dataset.base_dir, question,
                                                  ctx.settings.batch_size)
    for r in semhub.read_lens(bb, batches, ctx.layers, sites=group, ids=ids, top_k=1 if top1 else 0,
                              lens=ctx.lens, on_batch=ctx.on_batch):
        yield r.row, r.logprobs, (r.top_ids[..., 0] if top1 else None), (r.batch, r.item)


def colour_lens(analysis, ctx) -> CurvesResult:
    """Paper 5.2: how often the colour word is the lens's top-1 at a solid colour's image positions."""
    import numpy as np

    bb = ctx.backbone
    colours = column(ctx, "colour", "the colour name of each image")
    names = sorted(set(colours) | {analysis.baseline})
    ids = {c: semhub.word_token_ids(bb, [c])[0] for c in names}
    order = list(ids.values())
    hits = {"colour": [], "white": []}
    for row, _lp, top, _enc in position_logprobs(ctx, order, question=analysis.question, top1=True):
        hits["colour"].append((top == ids[colours[row]]).float().mean(1).numpy())
        hits["white"].append((top == ids[analysis.baseline]).float().mean(1).numpy())
    record = {"x": ctx.layers, "ylabel": "% of image positions where it is top-1",
              "title": f"{bb.name}: colour words at the image positions",
              "series": {"corresponding colour": (100 * np.mean(hits["colour"], 0)).tolist(),
                         f"'{analysis.baseline}'": (100 * np.mean(hits["white"], 0)).tolist()}}
    return ColourLensResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})


STOPWORDS = frozenset("""a an the and or of in on at to with from by for is are was were be been it its this that
these those there here some any each two three one his her their our your my as into onto over under near while""".split())


def content_words(caption: str) -> list[str]:
    """Lowercase words of three letters or more that are not function words."""
    return [w for w in re.findall(r"[a-z]+", caption.lower()) if len(w) > 2 and w not in STOPWORDS]


def least_overlap(captions: list[str]) -> list[int]:
    """For each caption, the caption with the smallest overlap of lowercase word sets (ties: the first)."""
    sets = [set(c.lower().split()) for c in captions]
    out = []
    for i, own in enumerate(sets):
        others = [(len(own & s), j) for j, s in enumerate(sets) if j != i]
        out.append(min(others)[1])
    return out


def caption_lens(analysis, ctx) -> CurvesResult:
    """Paper 5.3: the caption's nouns at the image positions vs the least-overlapping caption's."""
    import numpy as np

    bb = ctx.backbone
    captions = column(ctx, bb.family.dominant_language, "the captions")
    if "nouns" in ctx.dataset.columns:
        nouns = [n.split() for n in ctx.dataset.columns["nouns"]]
    else:  # no tagger offline: the caption's content words stand in for its nouns
        nouns = [content_words(c) for c in captions]
    empty = [i for i, ws in enumerate(nouns) if not ws]
    if empty:
        raise SemhubError(f"{ctx.dataset.path}:{ctx.dataset.lines[empty[0]]}: no keywords in this caption")
    other = least_overlap(captions)
    vocab = sorted({w for ws in nouns for w in ws})
    first = {w: semhub.word_token_ids(bb, [w])[0] for w in vocab}
    order = sorted(set(first.values()))
    col = {i: k for k, i in enumerate(order)}
    matching, irrelevant = [], []
    for row, lp, _top, _enc in position_logprobs(ctx, order, question=analysis.question):
        mean_p = lp.exp().mean(1)  # (layers, K): the mean over image positions of p(keyword)

        def score(words: list[str]) -> np.ndarray:
            return mean_p[:, [col[first[w]] for w in words]].sum(1).numpy()

        matching.append(score(nouns[row]))
        # rescaled to the matching caption's noun count, as the paper does
        irrelevant.append(score(nouns[other[row]]) / len(nouns[other[row]]) * len(nouns[row]))
    record = {"x": ctx.layers, "ylabel": "sum of mean p over nouns", "baseline_rows": other,
              "title": f"{bb.name}: caption nouns at the image positions",
              "series": {"matching caption": np.mean(matching, 0).tolist(),
                         "irrelevant caption": np.mean(irrelevant, 0).tolist()}}
    return CaptionLensResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})


def segmentation_lens(analysis, ctx) -> CurvesResult:
    """Paper 5.4: each patch covered (> 50 %) by a class: the probability of its name."""
    import numpy as np
    import torch

    from semhub_image.patches import patch_labels

    bb = ctx.backbone
    classes = [c.split(",") for c in column(ctx, "classes", "comma-separated class names of mask indices 1, 2...")]
    masks = column(ctx, "mask", "a per-pixel class-index image for each image")
    names = sorted({c for cs in classes for c in cs})
    if len(names) < 2:
        raise SemhubError(f"{ctx.dataset.path}: the random-label baseline needs at least two class names")
    first = {c: semhub.word_token_ids(bb, [c])[0] for c in names}
    order = sorted(set(first.values()))
    col = {i: k for k, i in enumerate(order)}
    rng = np.random.default_rng(ctx.settings.seed)
    matching, random = [], []
    view = image_view(ctx)
    for row, lp, _top, (enc, b) in position_logprobs(ctx, order, question=analysis.question, group="grid"):
        labels = patch_labels(bb, ctx.dataset.base_dir, ctx.dataset.columns[view][row], masks[row],
                              enc.meta["grid"][b])  # (P,) class index per patch, 0 = none
        own, rand = [], []
        for k, name in enumerate(classes[row], start=1):
            where = torch.from_numpy(labels == k)
            if not bool(where.any()):
                continue
            fake = names[int(rng.choice([j for j, n in enumerate(names) if n != name]))]
            own.append(lp[:, where, col[first[name]]].mean(1).exp())
            rand.append(lp[:, where, col[first[fake]]].mean(1).exp())
        if own:
            matching.append(torch.stack(own).mean(0).numpy())
            random.append(torch.stack(rand).mean(0).numpy())
    if not matching:
        raise SemhubError(f"{ctx.dataset.path}: no class covers more than half of any patch")
    record = {"x": ctx.layers, "ylabel": "geometric-mean p of the class name", "n": len(matching),
              "title": f"{bb.name}: class names at their patches",
              "series": {"matching label": np.mean(matching, 0).tolist(),
                         "random label": np.mean(random, 0).tolist()}}
    return SegmentationLensResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})


def two_colours(text: str, vocabulary: set[str]) -> set[str] | None:
    """The paper's parse: exactly one "X and Y" naming two colours in the answer's first sentence."""
    sentence = text.strip().split(".")[0].lower()
    found = [m for m in re.findall(r"\b(\w+) and (\w+)\b", sentence) if set(m) <= vocabulary]
    return set(found[0]) if len(found) == 1 else None


def colour_edit(analysis, ctx) -> CurvesResult:
    """Paper 5.5: write W_U[new] - W_U[old] over one half's image positions from layer i on."""
    import numpy as np
    import torch

    bb = ctx.backbone
    needs_vision_llm(bb)
    tops, bottoms = column(ctx, "top", "the top half's colour"), column(ctx, "bottom", "the bottom half's colour")
    palette = sorted(set(analysis.palette) | set(tops) | set(bottoms))
    unembed = bb.part("unembedding").weight.detach()
    token = {c: semhub.word_token_ids(bb, [c])[0] for c in palette}
    starts = [layer for layer in ctx.layers if layer >= 1]  # the block outputs i..L (layer 0 is the embedding)
    spoke, view = semhub.spoke_for_view(image_view(ctx)), image_view(ctx)
    success = np.zeros(len(starts))
    examples, cases = [], 0
    for path, top, bottom in zip(ctx.dataset.columns[view], tops, bottoms):
        enc = spoke.encode([path], bb, ctx.dataset.base_dir, question=analysis.question)
        rows, cols = enc.meta["grid"][0]
        grid_pos = enc.groups["grid"][0].nonzero()[:, 0]
        half = rows // 2 * cols
        for side, old, region in (("top", top, grid_pos[:half]), ("bottom", bottom, grid_pos[half:])):
            mask = torch.zeros_like(enc.groups["grid"])
            mask[0, region] = True
            for new in [c for c in palette if c not in (top, bottom)]:
                vec = (unembed[token[new]] - unembed[token[old]]).float()
                cases += 1
                for k, start in enumerate(starts):
                    layers = [layer for layer in range(start, bb.n_layers + 1)]
                    with semhub.steer_hooks(bb, vec, layers=layers, positions=mask, mode="replace"):
                        answer = greedy_answer(bb, enc, analysis.max_new_tokens)
                    got = two_colours(answer, set(palette))
                    success[k] += bool(got and new in got and old not in got)
                    if len(examples) < 20 and k == 0:
                        examples.append({"image": path, "side": side, "old": old, "new": new, "answer": answer})
                    if ctx.on_batch:
                        ctx.on_batch(1)
    record = {"x": starts, "xlabel": "first edited layer", "ylabel": "% new colour named, old not",
              "title": f"{bb.name}: colour edit (replace) on half the image positions", "cases": cases,
              "series": {"accuracy": (100 * success / max(cases, 1)).tolist()}, "examples": examples}
    return ColourEditResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})

def greedy_answer(bb, enc, max_new_tokens: int) -> str:
    """The model's greedy answer to an encoded image prompt (under any steering hooks in force)."""
    return semhub.generate(bb, enc, max_new_tokens=max_new_tokens).continuations[0]


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class ImageLens(semhub.Analysis):
    """Lenses over each image once: progress counts images."""

    input_kinds = ("image",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)


class ColourLensAnalysis(ImageLens):
    """Paper 5.2: at a solid colour's image positions, how often is the colour word the lens's top-1 token?"""

    name = "colour-lens"
    description = "% of image positions whose lens top-1 is the image's colour (vs 'white'), per layer (paper 5.2)"
    plot_name = "colour_lens.png"
    question = "What is the color in the image?"
    baseline = "white"

    def run(self, ctx):
        return colour_lens(self, ctx)


class CaptionLensAnalysis(ImageLens):
    """Paper 5.3: the caption's nouns at the image positions, against the least-overlapping caption's nouns."""

    name = "caption-lens"
    description = "sum over caption nouns of their mean p at the image positions vs an unrelated caption's (paper 5.3)"
    plot_name = "caption_lens.png"
    question = "What is in the image?\n"

    def run(self, ctx):
        return caption_lens(self, ctx)


class SegmentationLensAnalysis(ImageLens):
    """Paper 5.4: at each patch covered (> 50 %) by a class, the probability of that class's name."""

    name = "segmentation-lens"
    description = "each image patch's class name at its position vs a random other class name (paper 5.4)"
    plot_name = "segmentation_lens.png"
    question = "What is in the image?\n"

    def run(self, ctx):
        return segmentation_lens(self, ctx)


class ColourEditAnalysis(semhub.Analysis):
    """Paper 5.5: write W_U[new] - W_U[old] over one half's image positions from layer i on; does the answer change?"""

    name = "colour-edit"
    description = "replace one half's image states by W_U[new colour] - W_U[old] from layer i on (paper 5.5)"
    plot_name = "colour_edit.png"
    input_kinds = ("image",)
    question = "What are the two colors in the image?\n"
    max_new_tokens = 15
    palette = ("red", "green", "blue", "black")  # the paper's; colours the data names beyond these join them

    def work(self, ctx) -> int:
        return len(ctx.dataset) * 4 * max(1, len(ctx.layers) - 1)

    def run(self, ctx):
        return colour_edit(self, ctx)
