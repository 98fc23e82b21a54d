"""Processors semhub needs beyond transformers' own."""
from __future__ import annotations

from transformers import ProcessorMixin, Qwen2VLProcessor


class Qwen2VLImageProcessor(Qwen2VLProcessor):
    """Qwen2-VL's processor for images and text only.

    transformers' ``Qwen2VLProcessor`` also builds a video processor, which needs torchvision;
    semhub reads images, so this one loads (and behaves the same) without it.
    """

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)
