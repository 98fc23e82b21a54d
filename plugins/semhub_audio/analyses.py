"""The audio plugin's analyses, declared: names, help, options and the question asked.

The computations live in ``semhub_audio.lens`` (paper 6.2) and ``semhub_audio.mammal`` (6.3)
and are imported by ``run``: listing analyses never imports torch.
"""
from __future__ import annotations

import semhub
from semhub_audio.views import audio_views


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
        from semhub_audio.lens import audio_lens

        return audio_lens(self, ctx)


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
        from semhub_audio.mammal import mammal_steering

        return mammal_steering(self, ctx)
