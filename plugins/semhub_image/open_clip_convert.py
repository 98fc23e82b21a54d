"""open_clip checkpoints -> transformers ``CLIPModel`` folders (the ``clip`` registry family).

open_clip (optional extra ``clip``: ``pip install 'semhub[clip]'``) resolves its model names and
pretrained tags (LAION, DataComp, OpenAI...); semhub then reads the weights through
transformers' CLIP classes, so capture, the lens projection and steering work unchanged.
Standard ViT towers only (no layer scale, no custom text towers such as those of CoCa).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from semhub import SemhubError, first_line


def _block(src: str, dst: str, sd: dict[str, torch.Tensor], out: dict[str, torch.Tensor]) -> None:
    """One residual block: fused in_proj (q, k, v stacked) split into three projections."""
    q, k, v = sd[f"{src}.attn.in_proj_weight"].chunk(3)
    qb, kb, vb = sd[f"{src}.attn.in_proj_bias"].chunk(3)
    for name, w, b in (("q_proj", q, qb), ("k_proj", k, kb), ("v_proj", v, vb)):
        out[f"{dst}.self_attn.{name}.weight"], out[f"{dst}.self_attn.{name}.bias"] = w, b
    pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
             "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
    for a, b in pairs.items():
        for p in ("weight", "bias"):
            out[f"{dst}.{b}.{p}"] = sd[f"{src}.{a}.{p}"]


def hf_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """open_clip ``CLIP`` state dict -> ``CLIPModel`` state dict (projections transposed into Linear weights)."""
    if any(".ls_1." in k or ".ls_2." in k for k in sd):
        raise SemhubError("open_clip: towers with layer scale are not supported by transformers' CLIP")
    out: dict[str, torch.Tensor] = {
        "vision_model.embeddings.patch_embedding.weight": sd["visual.conv1.weight"],
        "vision_model.embeddings.class_embedding": sd["visual.class_embedding"],
        "vision_model.embeddings.position_embedding.weight": sd["visual.positional_embedding"],
        "visual_projection.weight": sd["visual.proj"].T.contiguous(),
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_projection.weight": sd["text_projection"].T.contiguous(),
        "logit_scale": sd["logit_scale"].reshape(()),
    }
    for a, b in (("visual.ln_pre", "vision_model.pre_layrnorm"), ("visual.ln_post", "vision_model.post_layernorm"),
                 ("ln_final", "text_model.final_layer_norm")):
        out[f"{b}.weight"], out[f"{b}.bias"] = sd[f"{a}.weight"], sd[f"{a}.bias"]
    for prefix, dst in (("visual.transformer.resblocks", "vision_model.encoder.layers"),
                        ("transformer.resblocks", "text_model.encoder.layers")):
        n = len({k.split(".")[len(prefix.split("."))] for k in sd if k.startswith(prefix + ".")})
        for i in range(n):
            _block(f"{prefix}.{i}", f"{dst}.{i}", sd, out)
    return out


def clip_config(cfg: dict[str, Any], quick_gelu: bool) -> Any:
    """open_clip's model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) as a ``CLIPConfig``."""
    from transformers import CLIPConfig

    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    act = "quick_gelu" if quick_gelu or cfg.get("quick_gelu") else "gelu"
    vision = {"hidden_size": v["width"], "intermediate_size": int(v["width"] * v.get("mlp_ratio", 4.0)),
              "num_hidden_layers": v["layers"], "num_attention_heads": v["width"] // v.get("head_width", 64),
              "image_size": v["image_size"], "patch_size": v["patch_size"], "hidden_act": act}
    text = {"hidden_size": t["width"], "intermediate_size": int(t["width"] * t.get("mlp_ratio", 4.0)),
            "num_hidden_layers": t["layers"], "num_attention_heads": t["heads"], "vocab_size": t["vocab_size"],
            "max_position_embeddings": t["context_length"], "hidden_act": act,
            # open_clip pools the argmax id, its end-of-text token, the last of the vocabulary; transformers
            # pools the first eos_token_id: the same position once eos is that id
            "eos_token_id": t["vocab_size"] - 1, "bos_token_id": t["vocab_size"] - 2, "pad_token_id": 0}
    return CLIPConfig(vision_config=vision, text_config=text, projection_dim=cfg["embed_dim"])


def convert_open_clip(model_name: str, pretrained: str | None, out: Path) -> Path:
    """Load an open_clip model (its own download and cache rules), write a transformers CLIP folder."""
    try:
        import open_clip
    except Exception as exc:  # ImportError, or torchvision failing to load its CUDA libraries
        raise SemhubError(f"convert-open-clip needs the optional extra 'clip' (pip install 'semhub[clip]'): "
                          f"{first_line(exc)}") from None
    from transformers import CLIPImageProcessor, CLIPProcessor

    model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
    cfg = open_clip.get_model_config(model_name)
    if cfg is None or "vision_cfg" not in cfg or cfg["text_cfg"].get("hf_model_name"):
        raise SemhubError(f"--model: {model_name!r} is not a standard open_clip ViT (vision + transformer text tower)")
    from transformers import CLIPModel

    hf = CLIPModel(clip_config(cfg, bool(getattr(model, "quick_gelu", False))))
    missing, unexpected = hf.load_state_dict(hf_state_dict(model.state_dict()), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SemhubError(f"open_clip -> CLIP: missing {missing[:3]}, unexpected {unexpected[:3]}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(out)
    size = cfg["vision_cfg"]["image_size"]
    mean, std = getattr(model.visual, "image_mean", None), getattr(model.visual, "image_std", None)
    image_processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                         **({"image_mean": list(mean), "image_std": list(std)} if mean else {}))
    CLIPProcessor(image_processor=image_processor, tokenizer=_tokenizer(open_clip, out)).save_pretrained(out)
    (out / "semhub-source.json").write_text(json.dumps({"open_clip": model_name, "pretrained": pretrained}) + "\n")
    return out


def _tokenizer(open_clip, out: Path):
    """open_clip's BPE (the original CLIP vocabulary) as a transformers ``CLIPTokenizer``."""
    from transformers import CLIPTokenizer

    simple = open_clip.tokenizer.SimpleTokenizer()
    (out / "vocab.json").write_text(json.dumps(simple.encoder))
    merges = sorted(simple.bpe_ranks, key=simple.bpe_ranks.get)
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    # open_clip's own special tokens (not transformers' default "<|startoftext|>" names, which would be
    # added as new ids 49408+)
    return CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), bos_token="<start_of_text>",
                         eos_token="<end_of_text>", unk_token="<end_of_text>", pad_token="<end_of_text>")
