"""The logit lens at audio positions (paper 6.2): the computation behind ``audio-lens``.

Label words come from a text column (``en`` by default); the random baseline label is drawn with
a seeded generator, so runs repeat exactly.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

import semhub
from semhub import CurvesResult, SemhubError
from semhub_audio.views import audio_views

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import numpy as np


class AudioLensResult(CurvesResult):
    key: ClassVar[str] = "audio_lens"
    summary_title = "logit lens at audio positions: label words (geometric-mean p)"


def label_words(label: str) -> list[str]:
    """The paper's split: "bird chirping, tweeting" -> bird, chirping, tweeting."""
    return [w for w in re.split(r"[,\s]+", label.strip()) if w]


def random_disjoint(labels: list[str], rng: np.random.Generator) -> list[int]:
    """For each label, another label sharing no word with it (drawn with ``rng``)."""
    words = [set(w.lower() for w in label_words(lab)) for lab in labels]
    out = []
    for i, own in enumerate(words):
        choices = [j for j, other in enumerate(words) if j != i and not own & other]
        if not choices:
            raise SemhubError(f"label {labels[i]!r} shares a word with every other label: no random baseline")
        out.append(int(rng.choice(choices)))
    return out


def labels_of(ctx) -> list[str]:
    column = getattr(ctx.options, "label_view", None) or ctx.backbone.family.dominant_language
    if column not in ctx.dataset.columns:
        raise SemhubError(f"{ctx.dataset.path}: no label column {column!r} (the clips' text, e.g. 'en')")
    return list(ctx.dataset.columns[column])


def audio_lens(analysis, ctx) -> AudioLensResult:
    """Paper 6.2: each clip's label words at its audio positions vs a random disjoint label's."""
    import numpy as np

    bb = ctx.backbone
    labels = labels_of(ctx)
    words = sorted({w for lab in labels for w in label_words(lab)})
    sets = {w: semhub.word_token_ids(bb, [w]) for w in words}
    other = random_disjoint(labels, np.random.default_rng(ctx.settings.seed))
    records = []
    for view in audio_views(ctx):  # label words stay in the dominant language: the hub question
        scores = semhub.score_token_sets(bb, list(ctx.dataset.columns[view]), sets, view=view, layers=ctx.layers,
                                         position="mean", lens=ctx.lens,
                                         batch_size=ctx.settings.batch_size, base_dir=ctx.dataset.base_dir)

        def per_clip(label: str) -> np.ndarray:
            return np.mean([scores.scores[w] for w in label_words(label)], axis=0)  # (N, L): mean over words

        matching = np.stack([per_clip(lab)[i] for i, lab in enumerate(labels)])
        random = np.stack([per_clip(labels[j])[i] for i, j in enumerate(other)])
        if ctx.on_batch:
            ctx.on_batch(len(labels))
        records.append({"x": ctx.layers, "title": f"{bb.name}: label words at {view} positions",
                        "ylabel": "geometric-mean p", "view": view, "n": len(labels),
                        "series": {f"matching label ({view})": np.exp(matching).mean(0).tolist(),
                                   f"random label ({view})": np.exp(random).mean(0).tolist()},
                        "baseline_rows": other})
    return AudioLensResult(records, {"model": ctx.model_name, **ctx.settings.to_dict()})


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class AudioOptions(semhub.Options):
    label_view: str | None = semhub.option(None, help="The text column naming each clip's label "
                                           "(default: the model's dominant language, e.g. en).")


class AudioLensAnalysis(semhub.Analysis):
    """Paper 6.2: at the audio positions, how probable are the clip's own label words vs a random label's?"""

    name = "audio-lens"
    description = "logit lens at audio positions: the clip's label words vs a random label's (paper 6.2)"
    plot_name = "audio_lens.png"
    Options = AudioOptions

    def work(self, ctx) -> int:
        return len(ctx.dataset) * len(audio_views(ctx))

    def run(self, ctx):
        return audio_lens(self, ctx)
