"""Per-layer image-text alignment of a dual encoder (CLIP): the computation behind the
``joint-alignment`` declaration in ``semhub_image.analyses``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import semhub
from semhub import CurvesResult, SemhubError
from semhub_image.lenses import image_view

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch


class JointAlignmentResult(CurvesResult):
    key = "joint_alignment"
    summary_title = "dual encoder: each layer projected into the shared space"


def joint_alignment(ctx) -> JointAlignmentResult:
    """Each tower's layers, projected to the joint space, against the other tower's final embedding."""
    bb = ctx.backbone
    if not bb.family.input_stacks:
        raise SemhubError(f"--model: {bb.name} ({bb.family.name}) is not a dual encoder (e.g. a CLIP model)")
    img_view = image_view(ctx)
    text_view = next((v for v in ctx.views if v != img_view), None)
    if text_view is None:
        raise SemhubError("--views: joint-alignment needs an image view and a text view (e.g. image,en)")
    image = projected(bb.for_input("image"), ctx, img_view, "cls")
    text = projected(bb.for_input("text"), ctx, text_view, "all")
    records = [record(image, text[:, -1], f"{img_view} layers vs final {text_view}"),
               record(text, image[:, -1], f"{text_view} layers vs final {img_view}")]
    for rec in records:
        rec["title"] = f"{bb.name}: {rec.pop('what')}"
    return JointAlignmentResult(records, {"model": ctx.model_name, **ctx.settings.to_dict()})


def projected(tower, ctx, view: str, group: str) -> torch.Tensor:
    """(N, layers, joint dim) unit vectors: each layer's pooled state through the final norm and projection."""
    import torch

    spoke = semhub.spoke_for_view(view)
    values = list(ctx.dataset.columns[view])
    size = ctx.settings.batch_size
    batches = (spoke.encode(values[s:s + size], tower, ctx.dataset.base_dir) for s in range(0, len(values), size))
    states = semhub.capture(tower, batches, pooling="last", group=group)  # CLS / the end-of-text token
    with torch.inference_mode():
        joint = tower.part("unembedding")(tower.part("final_norm")(states.to(tower.dtype))).float()
    return torch.nn.functional.normalize(joint, dim=-1)

def record(layers: torch.Tensor, target: torch.Tensor, what: str) -> dict[str, Any]:
    """Each layer of one tower against the other's final embedding: Eq. 1's two terms and retrieval@1
    from the layer to the target (``semhub.item_statistics``, uncentred: the joint space's own cosine)."""
    n, L = layers.shape[:2]
    stats = semhub.item_statistics(layers, target[:, None].expand(-1, L, -1), center=False)
    return {"x": [round(k / (L - 1), 3) for k in range(L)], "xlabel": "relative depth (0 = embeddings)",
            "ylabel": "cosine in the joint space", "what": what, "n": n,
            "series": {"matched": stats["matched"].mean(1).tolist(), "mismatched": stats["mismatched"].mean(1).tolist(),
                       "retrieval@1": stats["hit_ab"].mean(1).tolist()}}


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class JointAlignmentAnalysis(semhub.Analysis):
    """Dual encoders: project each layer of one tower into the shared space (its final norm and
    projection) and compare with the other tower's final embedding of the paired input."""

    name = "joint-alignment"
    description = "dual encoder: each tower's layers, projected to the joint space, vs the other's final embedding"
    plot_name = "joint_alignment.png"

    def run(self, ctx):
        return joint_alignment(ctx)
