"""Audio clips -> model inputs and position groups, for each kind of audio backbone.

Two kinds, told apart by the loaded model, never by its name:
- **encoder-decoder speech models** (Whisper): log-mel features; on the encoder stack the
  groups cover encoder frames (``content`` = frames holding speech, not the padding to 30 s),
  on the decoder stack (the default) the positions the run's ``--readout`` names
  (``whisper_readout.py``: by default the mean over Whisper's own greedy English translation);
- **audio-prefix LLMs** (Qwen2-Audio, SALMONN-style): the family's prompt with an audio
  placeholder that the processor expands; ``content`` = the audio positions the processor
  put there (found from the ids), ``prompt_last`` = the last prompt token (the paper's read-out).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from semhub import Encoded, ParameterError, SemhubError

RATE = 16_000


def sampling_rate(backbone) -> int:
    """The rate the backbone's feature extractor expects (16 kHz for every Whisper-derived encoder)."""
    proc = backbone.processor
    return int(getattr(getattr(proc, "feature_extractor", proc), "sampling_rate", RATE))


def _features_dtype(backbone, features: torch.Tensor) -> torch.Tensor:
    return features.to(backbone.dtype) if features.is_floating_point() else features


def encode_encoder_decoder(clips: list[np.ndarray], backbone, readout: str | None = None, view: str = "",
                           texts: list[str] | None = None) -> Encoded:
    """Whisper-style: fixed-length log-mel input; the encoder's groups cover the frames that hold the
    clip, the decoder's the positions ``readout`` names (``whisper_readout.py``)."""
    fe = backbone.processor
    feats = fe(clips, sampling_rate=sampling_rate(backbone), return_tensors="pt").input_features
    feats = _features_dtype(backbone, feats)
    n = len(clips)
    if backbone.family.input_part(backbone.stack) == "position_embedding":  # fed features: the encoder, 1 state / 2 frames
        if readout:
            raise ParameterError("readout", f"{readout!r} reads Whisper's decoder, not the encoder (drop "
                                            "--stack encoder: the decoder is the default)")
        frames = feats.shape[-1] // 2
        lengths = torch.tensor([min(frames, math.ceil(len(c) / fe.hop_length / 2)) for c in clips])
        positions = torch.arange(frames)
        content = positions[None, :] < lengths[:, None]
        return Encoded({"input_features": feats},
                       {"content": content, "all": torch.ones(n, frames, dtype=torch.bool)})
    from semhub_audio.whisper_decoder import decoder_inputs
    from semhub_audio.whisper_readout import DEFAULT_READOUT

    ids, content, valid = decoder_inputs(backbone, feats, readout or DEFAULT_READOUT, view, texts)
    return Encoded({"input_features": feats, "decoder_input_ids": ids}, {"content": content, "all": valid})


def encode_audio_prefix(clips: list[np.ndarray], backbone, placeholder: int, prompt: str) -> Encoded:
    """Audio-prefix LLMs: the processor expands the placeholder; positions come back from the ids."""
    batch = backbone.processor(text=[prompt] * len(clips), audio=clips, sampling_rate=sampling_rate(backbone),
                               return_tensors="pt", padding=True)
    inputs: dict[str, Any] = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
    if "input_features" in inputs:
        inputs["input_features"] = _features_dtype(backbone, inputs["input_features"])
    ids = inputs["input_ids"]
    attention = inputs["attention_mask"].bool()
    content = (ids == placeholder) & attention
    if not bool(content.any(dim=1).all()):
        raise SemhubError(f"{backbone.name}: the processor put no audio placeholder (id {placeholder}) in the prompt")
    positions = torch.arange(ids.shape[1])
    last = torch.where(attention, positions, -1).max(dim=1).values
    prompt_last = positions[None, :] == last[:, None]
    return Encoded(inputs, {"content": content, "prompt_last": prompt_last, "all": attention})


def encode_clips(clips: list[np.ndarray], backbone, question: str = "", readout: str | None = None, view: str = "",
                 texts: list[str] | None = None) -> Encoded:
    """Dispatch on what the backbone is: an audio-prefix LLM (declares an audio placeholder) or a speech encoder-decoder.

    ``question`` fills the ``{question}`` slot of the family's audio prompt (audio LLMs only);
    ``readout``, ``view`` and ``texts`` say where Whisper's decoder is read (``whisper_readout.py``).
    """
    if backbone.processor is None:
        raise SemhubError(
            f"--model: {backbone.name} ({backbone.family.name}) takes no audio; use a speech model such as "
            "whisper-base (default for --modality audio), Qwen/Qwen2-Audio-7B-Instruct or a SALMONN checkpoint"
        )
    placeholder = backbone.placeholder_id("audio")
    if placeholder is not None and readout:
        raise ParameterError("readout", f"{readout!r} reads Whisper's decoder; {backbone.name} reads audio at its "
                                        "placeholder positions (groups content, prompt_last: --pooling)")
    if placeholder is not None:
        token = getattr(backbone.processor, "audio_token", None)
        if not token:
            raise SemhubError(f"{backbone.name}: its processor names no audio token")
        template = backbone.family.prompts.get("audio", "{audio}{question}")
        prompt = template.replace("{audio}", token).replace("{question}", question)
        return encode_audio_prefix(clips, backbone, placeholder, prompt)
    if getattr(backbone.model.config, "is_encoder_decoder", False):
        return encode_encoder_decoder(clips, backbone, readout, view, texts)
    raise SemhubError(f"--model: {backbone.name} ({backbone.family.name}) has a processor but no audio placeholder")
