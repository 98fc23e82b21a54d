"""The paper's audio experiments as analyses: the logit lens at audio positions (6.2) and the
mammal / non-mammal intervention (6.3). Both read the label words of each clip from a text
column (``en`` by default) and draw baselines with a seeded generator, so runs repeat exactly.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np
import torch

import semhub
from semhub import CurvesResult, SemhubError


class AudioLensResult(CurvesResult):
    key: ClassVar[str] = "audio_lens"
    summary_title = "logit lens at audio positions: label words (geometric-mean p)"


class MammalSteeringResult(CurvesResult):
    key: ClassVar[str] = "mammal_steering"
    summary_title = "P(yes) to 'is this animal a mammal?' while steering to the other class"


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


def _audio_views(ctx) -> list[str]:
    views = [v for v in ctx.views if semhub.spoke_for_view(v).modality == "audio"]
    if not views:
        raise SemhubError("--views: this analysis needs an audio view (e.g. audio_en)")
    return views


def _labels(ctx) -> list[str]:
    column = getattr(ctx.options, "label_view", None) or ctx.backbone.family.dominant_language
    if column not in ctx.dataset.columns:
        raise SemhubError(f"{ctx.dataset.path}: no label column {column!r} (the clips' text, e.g. 'en')")
    return list(ctx.dataset.columns[column])


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
        return len(ctx.dataset) * len(_audio_views(ctx))

    def run(self, ctx) -> AudioLensResult:
        bb = ctx.backbone
        labels = _labels(ctx)
        words = sorted({w for lab in labels for w in label_words(lab)})
        sets = {w: semhub.word_token_ids(bb, [w]) for w in words}
        other = random_disjoint(labels, np.random.default_rng(ctx.settings.seed))
        records = []
        for view in _audio_views(ctx):  # label words stay in the dominant language: the hub question
            scores = semhub.score_token_sets(bb, list(ctx.dataset.columns[view]), sets, view=view, layers=ctx.layers,
                                             position="mean", norm=ctx.settings.lens_norm,
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


class MammalSteeringAnalysis(semhub.Analysis):
    """Paper 6.3: push the audio positions from the heard animal toward one of the other class;
    does the model's yes/no answer to "Is this animal a mammal?" follow?"""

    name = "mammal-steering"
    description = "W_U[new animal] - W_U[heard animal] at the audio positions; P(yes) to 'is it a mammal?' (paper 6.3)"
    plot_name = "mammal_steering.png"
    Options = AudioOptions
    strengths = tuple(range(0, 101, 10))
    question = " Is this animal a mammal?"

    def work(self, ctx) -> int:
        return len(ctx.dataset) * len(self.strengths)

    def run(self, ctx) -> MammalSteeringResult:
        bb, view = ctx.backbone, _audio_views(ctx)[0]
        if bb.placeholder_id("audio") is None:
            raise SemhubError(f"--model: {bb.name} is not an audio-prefix LLM (this needs Qwen2-Audio, SALMONN...)")
        if "class" not in ctx.dataset.columns:
            raise SemhubError(f"{ctx.dataset.path}: no 'class' column (mammal / non-mammal); see spoken-animals")
        animals, classes = _labels(ctx), list(ctx.dataset.columns["class"])
        layer = ctx.layers[len(ctx.layers) * 14 // 40] if len(ctx.layers) > 2 else ctx.layers[0]
        token = {w: semhub.word_token_ids(bb, [w])[0] for w in {"Yes", "No", *animals}}
        answers = torch.tensor([token["Yes"], token["No"]])
        unembed = bb.part("unembedding").weight
        rng = np.random.default_rng(ctx.settings.seed)
        curves: dict[str, list[list[float]]] = {"mammal": [], "non-mammal": []}
        spoke = semhub.spoke_for_view(view)
        for path, animal, cls in zip(ctx.dataset.columns[view], animals, classes):
            enc = spoke.encode([path], bb, ctx.dataset.base_dir, question=self.question)
            opposite = [j for j, c in enumerate(classes) if c != cls]
            if not opposite:
                raise SemhubError(f"{ctx.dataset.path}: every row is {cls!r}; steering needs animals of both classes")
            row = []
            for strength in self.strengths:
                new = animals[int(rng.choice(opposite))]
                vec = unembed[token[new]] - unembed[token[animal]]
                with semhub.steer_hooks(bb, vec.detach().float(), layers=layer, coeff=float(strength),
                                  positions=enc.groups["content"]):
                    row.append(self._p_yes(bb, enc, answers))
                if ctx.on_batch:
                    ctx.on_batch(1)
            curves.setdefault(cls, []).append(row)
        record = {"x": list(self.strengths), "xlabel": "strength", "ylabel": "P(yes) / (P(yes) + P(no))",
                  "title": f"{bb.name}: steering at layer {layer}, audio positions", "layer": layer,
                  "series": {f"{cls} -> other class": np.mean(rows, axis=0).tolist()
                             for cls, rows in curves.items() if rows}}
        return MammalSteeringResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})

    @staticmethod
    def _p_yes(bb, enc, answers: torch.Tensor) -> float:
        """P(yes) / (P(yes) + P(no)) at the last prompt token, under the (normed) last layer."""
        reading = next(semhub.read_lens(bb, [enc], [bb.n_layers], sites="prompt_last", ids=answers))
        return float(torch.softmax(reading.logprobs[0, -1], -1)[0])
