"""The mammal / non-mammal intervention (paper 6.3): the computation behind ``mammal-steering``."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import semhub
from semhub import CurvesResult, SemhubError
from semhub_audio.lens import AudioOptions, labels_of
from semhub_audio.views import audio_views

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch


class MammalSteeringResult(CurvesResult):
    key: ClassVar[str] = "mammal_steering"
    summary_title = "P(yes) to 'is this animal a mammal?' while steering to the other class"


def mammal_steering(analysis, ctx) -> MammalSteeringResult:
    """Paper 6.3: steer the audio positions toward an animal of the other class; P(yes) to the question."""
    import numpy as np
    import torch

    bb, view = ctx.backbone, audio_views(ctx)[0]
    if bb.placeholder_id("audio") is None:
        raise SemhubError(f"--model: {bb.name} is not an audio-prefix LLM (this needs Qwen2-Audio, SALMONN...)")
    if "class" not in ctx.dataset.columns:
        raise SemhubError(f"{ctx.dataset.path}: no 'class' column (mammal / non-mammal); see spoken-animals")
    animals, classes = labels_of(ctx), list(ctx.dataset.columns["class"])
    layer = ctx.layers[len(ctx.layers) * 14 // 40] if len(ctx.layers) > 2 else ctx.layers[0]
    token = {w: semhub.word_token_ids(bb, [w])[0] for w in {"Yes", "No", *animals}}
    answers = torch.tensor([token["Yes"], token["No"]])
    unembed = bb.part("unembedding").weight
    rng = np.random.default_rng(ctx.settings.seed)
    curves: dict[str, list[list[float]]] = {"mammal": [], "non-mammal": []}
    spoke = semhub.spoke_for_view(view)
    for path, animal, cls in zip(ctx.dataset.columns[view], animals, classes):
        enc = spoke.encode([path], bb, ctx.dataset.base_dir, question=analysis.question)
        opposite = [j for j, c in enumerate(classes) if c != cls]
        if not opposite:
            raise SemhubError(f"{ctx.dataset.path}: every row is {cls!r}; steering needs animals of both classes")
        row = []
        for strength in analysis.strengths:
            new = animals[int(rng.choice(opposite))]
            vec = unembed[token[new]] - unembed[token[animal]]
            with semhub.steer_hooks(bb, vec.detach().float(), layers=layer, coeff=float(strength),
                              positions=enc.groups["content"]):
                row.append(p_yes(bb, enc, answers))
            if ctx.on_batch:
                ctx.on_batch(1)
        curves.setdefault(cls, []).append(row)
    record = {"x": list(analysis.strengths), "xlabel": "strength", "ylabel": "P(yes) / (P(yes) + P(no))",
              "title": f"{bb.name}: steering at layer {layer}, audio positions", "layer": layer,
              "series": {f"{cls} -> other class": np.mean(rows, axis=0).tolist()
                         for cls, rows in curves.items() if rows}}
    return MammalSteeringResult([record], {"model": ctx.model_name, **ctx.settings.to_dict()})


def p_yes(bb, enc, answers: torch.Tensor) -> float:
    """P(yes) / (P(yes) + P(no)) at the last prompt token, under the (normed) last layer."""
    import torch

    reading = next(semhub.read_lens(bb, [enc], [bb.n_layers], sites="prompt_last", ids=answers))
    return float(torch.softmax(reading.logprobs[0, -1], -1)[0])


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


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

    def run(self, ctx):
        return mammal_steering(self, ctx)
