"""Tiny random vision backbones of every image family, with processors built offline (PIL image
processors, the in-process tokenizer), shared by the image tests."""
from __future__ import annotations

from conftest import make_tokenizer, tiny_backbone

VISION_LLMS = ["llava", "llava_next", "chameleon", "gemma3", "qwen2_vl"]
GEMMA_ROLES = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}


def processor(name: str):
    """The processor a hub checkpoint of ``name`` ships, at the tiny configs' sizes."""
    import transformers as T

    square30 = {"size": {"shortest_edge": 30}, "crop_size": {"height": 30, "width": 30}}
    llava_kw = {"patch_size": 6, "vision_feature_select_strategy": "default", "num_additional_image_tokens": 1,
                "image_token": "<image>"}
    if name == "llava":
        return T.LlavaProcessor(T.CLIPImageProcessorPil(**square30), make_tokenizer(media=True), **llava_kw)
    if name == "llava_next":
        ip = T.LlavaNextImageProcessorPil(**square30, image_grid_pinpoints=[[30, 30], [30, 60], [60, 30]])
        return T.LlavaNextProcessor(ip, make_tokenizer(media=True), **llava_kw)
    if name == "chameleon":
        ip = T.ChameleonImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
        return T.ChameleonProcessor(ip, make_tokenizer(media=True, roles={"sep_token": "<reserved08706>"}),
                                    image_seq_length=16)
    if name == "gemma3":
        ip = T.Gemma3ImageProcessorPil(size={"height": 30, "width": 30})
        return T.Gemma3Processor(ip, make_tokenizer(media=True, roles=GEMMA_ROLES), image_seq_length=4)
    if name == "qwen2_vl":
        from semhub_image.processors import Qwen2VLImageProcessor

        ip = T.Qwen2VLImageProcessorPil(min_pixels=8 * 8 * 4, max_pixels=32 * 32 * 4, patch_size=4, merge_size=2,
                                        temporal_patch_size=2)
        return Qwen2VLImageProcessor(ip, make_tokenizer(media=True))
    if name == "clip":
        return T.CLIPImageProcessorPil(**square30)
    if name == "dinov2":
        return T.BitImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    raise KeyError(name)


def vision_backbone(name: str, seed: int = 0):
    proc = processor(name)
    bb = tiny_backbone(name, seed=seed, processor=proc)
    if name == "clip":
        bb.tokenizer = make_tokenizer()
    if name == "dinov2":
        bb.tokenizer = None  # pixels only, as the real one loads
    return bb


def save_tiny(name: str, folder) -> None:
    """A saved tiny model of the family that ``--model FOLDER`` loads."""
    bb = vision_backbone(name)
    bb.model.save_pretrained(folder)
    bb.processor.save_pretrained(folder)
    if name == "clip":
        bb.tokenizer.save_pretrained(folder)
    # dinov2: no tokenizer, as the real one
