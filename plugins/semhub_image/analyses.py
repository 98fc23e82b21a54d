"""The image plugin's analyses, declared: names, help, prompts and defaults only.

The computations live in ``semhub_image.lenses`` and ``semhub_image.joint`` and are imported
by ``run``: listing analyses (``semhub plugins``, ``semhub analyze --help``) never imports torch.
"""
from __future__ import annotations

import semhub


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
        from semhub_image.lenses import colour_lens

        return colour_lens(self, ctx)


class CaptionLensAnalysis(ImageLens):
    """Paper 5.3: the caption's nouns at the image positions, against the least-overlapping caption's nouns."""

    name = "caption-lens"
    description = "sum over caption nouns of their mean p at the image positions vs an unrelated caption's (paper 5.3)"
    plot_name = "caption_lens.png"
    question = "What is in the image?\n"

    def run(self, ctx):
        from semhub_image.lenses import caption_lens

        return caption_lens(self, ctx)


class SegmentationLensAnalysis(ImageLens):
    """Paper 5.4: at each patch covered (> 50 %) by a class, the probability of that class's name."""

    name = "segmentation-lens"
    description = "each image patch's class name at its position vs a random other class name (paper 5.4)"
    plot_name = "segmentation_lens.png"
    question = "What is in the image?\n"

    def run(self, ctx):
        from semhub_image.lenses import segmentation_lens

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
        from semhub_image.lenses import colour_edit

        return colour_edit(self, ctx)


class JointAlignmentAnalysis(semhub.Analysis):
    """Dual encoders: project each layer of one tower into the shared space (its final norm and
    projection) and compare with the other tower's final embedding of the paired input."""

    name = "joint-alignment"
    description = "dual encoder: each tower's layers, projected to the joint space, vs the other's final embedding"
    plot_name = "joint_alignment.png"

    def run(self, ctx):
        from semhub_image.joint import joint_alignment

        return joint_alignment(ctx)
