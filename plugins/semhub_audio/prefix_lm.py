"""SALMONN-style audio-prefix LLMs: speech encoder -> window Q-Former (or linear) -> LLM prefix.

SALMONN (Tang et al., 2024) feeds Whisper's encoder output, cut into 0.33 s windows (17 frames),
through a BLIP-2 Q-Former (one query per window) and a linear projection into the LLM, where
the 88 resulting vectors replace the embeddings of 88 placeholder tokens. This module builds
that architecture from transformers parts (``WhisperEncoder``, ``Blip2QFormerModel``, any
causal LM), saves and loads it with ``save_pretrained`` / ``from_pretrained``, and converts
the published SALMONN checkpoint (``convert_salmonn``). The LLM's blocks are the residual
stream semhub reads; audio positions are the placeholder positions, found from the ids.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    Blip2QFormerConfig,
    Blip2QFormerModel,
    PretrainedConfig,
    PreTrainedModel,
    WhisperConfig,
)
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from semhub import ParameterError, SemhubError
from semhub_audio.beats import BEATs, BEATsConfig, load_beats, load_checkpoint


class AudioPrefixConfig(PretrainedConfig):
    model_type = "semhub_audio_prefix"
    sub_configs = {"encoder_config": WhisperConfig, "qformer_config": Blip2QFormerConfig, "text_config": AutoConfig}

    def __init__(self, encoder_config=None, qformer_config=None, text_config=None, projector: str = "qformer",
                 window_frames: int = 17, num_query_tokens: int = 1, aux_dim: int = 0, audio_token_id: int = 0,
                 beats_config: dict | None = None, **kwargs):
        as_config = lambda c, cls: cls(**c) if isinstance(c, dict) else (c or cls())  # noqa: E731
        self.encoder_config = as_config(encoder_config, WhisperConfig)
        self.qformer_config = as_config(qformer_config, Blip2QFormerConfig)
        if isinstance(text_config, dict):
            text_config = AutoConfig.for_model(**text_config)
        self.text_config = text_config
        self.projector = projector
        self.window_frames = window_frames
        self.num_query_tokens = num_query_tokens
        # SALMONN concatenates BEATs' features (768 channels) to Whisper's. ``beats_config`` (BEATs'
        # cfg, a plain dict) builds that encoder; without it the channels hold zeros (a speech-only model).
        self.beats_config = dict(beats_config) if beats_config else None
        if self.beats_config:
            aux_dim = self.beats_config.get("encoder_embed_dim", 768)
        self.aux_dim = aux_dim
        self.audio_token_id = audio_token_id
        super().__init__(**kwargs)

    @property
    def audio_tokens(self) -> int:
        """Placeholders per clip: one per window and query (88 for Whisper's 1,500 frames, 17-frame windows)."""
        frames = self.encoder_config.max_source_positions
        return (frames // self.window_frames) * self.num_query_tokens


class AudioPrefixLM(PreTrainedModel):
    config_class = AudioPrefixConfig
    base_model_prefix = "prefix_lm"
    _supports_sdpa = True

    def __init__(self, config: AudioPrefixConfig):
        super().__init__(config)
        self.speech_encoder = WhisperEncoder(config.encoder_config)
        self.beats = BEATs(BEATsConfig(**config.beats_config)) if config.beats_config else None
        d_audio = config.encoder_config.d_model
        self.ln_speech = nn.LayerNorm(d_audio)
        self.ln_audio = nn.LayerNorm(config.aux_dim) if config.aux_dim else None
        width = d_audio + config.aux_dim
        d_llm = config.text_config.hidden_size
        if config.projector == "qformer":
            config.qformer_config.encoder_hidden_size = width
            self.qformer = Blip2QFormerModel(config.qformer_config)
            self.query_tokens = nn.Parameter(torch.zeros(1, config.num_query_tokens, config.qformer_config.hidden_size))
            self.proj = nn.Linear(config.qformer_config.hidden_size, d_llm)
        elif config.projector == "linear":
            self.qformer, self.query_tokens = None, None
            self.proj = nn.Linear(width * config.window_frames, d_llm * config.num_query_tokens)
        else:
            raise SemhubError(f"audio-prefix config: unknown projector {config.projector!r} (qformer or linear)")
        self.llm = AutoModelForCausalLM.from_config(config.text_config)
        self.post_init()

    def audio_events(self, speech: torch.Tensor, audio_values: torch.Tensor | None,
                     audio_lengths: torch.Tensor | None) -> torch.Tensor:
        """BEATs' channels beside Whisper's frames: (B, T, aux_dim), normalised, zero-padded to T frames.

        Each clip goes through BEATs alone, at its own length (as SALMONN's inference does), so a
        clip's features never depend on the batch it is in. Features beyond Whisper's T frames are
        cut (SALMONN pads Whisper instead, which only differs for clips over 30 s, never read here).
        """
        B, T, _ = speech.shape
        if self.beats is None:
            return self.ln_audio(speech.new_zeros(B, T, self.config.aux_dim))
        if audio_values is None or audio_lengths is None:
            raise SemhubError("audio-prefix model with BEATs: the inputs lack the waveforms (audio_values, "
                              "audio_lengths); encode clips with its processor")
        out = speech.new_zeros(B, T, self.config.aux_dim)
        for i in range(B):
            events = self.ln_audio(self.beats(audio_values[i : i + 1, : int(audio_lengths[i])]))[0]
            n = min(T, events.shape[0])
            out[i, :n] = events[:n].to(out.dtype)
        return out

    def audio_embeddings(self, input_features: torch.Tensor, audio_values: torch.Tensor | None = None,
                         audio_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, mels, frames) [+ waveforms for BEATs] -> (B, audio_tokens, d_llm): windowed, projected."""
        cfg = self.config
        speech = self.ln_speech(self.speech_encoder(input_features).last_hidden_state)
        if self.ln_audio is not None:
            speech = torch.cat([speech, self.audio_events(speech, audio_values, audio_lengths)], -1)
        B, T, D = speech.shape
        w = cfg.window_frames
        n = T // w
        windows = speech[:, : n * w].reshape(B * n, w, D)
        if self.qformer is None:
            return self.proj(windows.reshape(B, n, w * D)).reshape(B, n * cfg.num_query_tokens, -1)
        query = self.query_tokens.expand(B * n, -1, -1)
        out = self.qformer(query_embeds=query, encoder_hidden_states=windows).last_hidden_state
        return self.proj(out).reshape(B, n * cfg.num_query_tokens, -1)

    def get_input_embeddings(self):
        return self.llm.get_input_embeddings()

    def embed(self, input_ids: torch.Tensor, input_features: torch.Tensor | None,
              audio_values: torch.Tensor | None = None, audio_lengths: torch.Tensor | None = None) -> torch.Tensor:
        embeds = self.llm.get_input_embeddings()(input_ids)
        if input_features is None:
            return embeds
        audio = self.audio_embeddings(input_features, audio_values, audio_lengths).to(embeds.dtype)
        mask = input_ids == self.config.audio_token_id
        if int(mask.sum()) != audio.shape[0] * audio.shape[1]:
            raise SemhubError(f"audio-prefix model: {int(mask.sum())} placeholders in the ids for "
                              f"{audio.shape[0] * audio.shape[1]} audio vectors")
        return embeds.masked_scatter(mask.unsqueeze(-1), audio.reshape(-1, audio.shape[-1]))

    def forward(self, input_ids=None, input_features=None, attention_mask=None, position_ids=None,
                use_cache=None, audio_values=None, audio_lengths=None, **kwargs):
        """The LLM's base (no LM head: the lens applies ``llm.lm_head`` itself) on ids whose placeholders carry audio."""
        embeds = self.embed(input_ids, input_features, audio_values, audio_lengths)
        return self.llm.base_model(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids,
                                   use_cache=use_cache, **kwargs)


class AudioPrefixProcessor:
    """Log-mel features padded to 30 s (as SALMONN does) and the placeholder expanded to its fixed count.

    The waveforms come too (``audio_values``, zero-padded, with ``audio_lengths``), each at least
    one second long as SALMONN pads them: BEATs reads the raw audio.
    """

    def __init__(self, feature_extractor, tokenizer, audio_token: str, audio_tokens: int):
        self.feature_extractor, self.tokenizer = feature_extractor, tokenizer
        self.audio_token, self.audio_tokens = audio_token, audio_tokens

    @classmethod
    def from_pretrained(cls, path, **kwargs):
        from transformers import AutoTokenizer, WhisperFeatureExtractor

        config = AudioPrefixConfig.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        token = tok.convert_ids_to_tokens(config.audio_token_id)
        return cls(WhisperFeatureExtractor.from_pretrained(path), tok, token, config.audio_tokens)

    def save_pretrained(self, path) -> None:
        self.feature_extractor.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def __call__(self, text: list[str], audio: list[np.ndarray], sampling_rate: int = 16_000,
                 return_tensors: str = "pt", padding: bool = True) -> dict[str, Any]:
        feats = self.feature_extractor(audio, sampling_rate=sampling_rate, return_tensors=return_tensors).input_features
        expanded = [t.replace(self.audio_token, self.audio_token * self.audio_tokens) for t in text]
        enc = self.tokenizer(expanded, return_tensors=return_tensors, padding=padding)
        lengths = [max(len(a), sampling_rate) for a in audio]
        waves = torch.zeros(len(audio), max(lengths))
        for i, a in enumerate(audio):
            waves[i, : len(a)] = torch.as_tensor(np.asarray(a, dtype=np.float32))
        return {**enc, "input_features": feats, "audio_values": waves, "audio_lengths": torch.tensor(lengths)}


def register() -> None:
    """Make saved audio-prefix checkpoints loadable through transformers' Auto classes."""
    try:
        AutoConfig.register(AudioPrefixConfig.model_type, AudioPrefixConfig)
    except ValueError:  # already registered
        pass


# ---- the published SALMONN checkpoint ---------------------------------------------------

_QFORMER_TEXT_BRANCH = re.compile(r"layer\.\d+\.(intermediate|output)\.")


def salmonn_state_dict(ckpt: dict[str, torch.Tensor], lora_scale: float) -> dict[str, torch.Tensor]:
    """SALMONN ``ckpt["model"]`` keys -> ``AudioPrefixLM`` keys; LoRA deltas merged into the LLM weights.

    speech_Qformer.bert.* -> qformer.* (LAVIS BERT naming -> Blip2QFormerModel naming; the unused
    text branch is dropped), speech_query_tokens -> query_tokens, speech_llama_proj -> proj,
    ln_speech / ln_audio kept, llama_model.base_model.model.* LoRA A/B -> merged deltas.
    """
    out: dict[str, torch.Tensor] = {}
    lora: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in ckpt.items():
        if key.startswith("speech_Qformer.bert."):
            k = key.removeprefix("speech_Qformer.bert.")
            if k.startswith("embeddings.LayerNorm."):
                out["qformer.layernorm." + k.rsplit(".", 1)[1]] = value
            elif k.startswith("encoder.") and not _QFORMER_TEXT_BRANCH.search(k):
                out["qformer." + k.replace(".self.", ".attention.")] = value
        elif key == "speech_query_tokens":
            out["query_tokens"] = value
        elif key.startswith("speech_llama_proj."):
            out["proj." + key.rsplit(".", 1)[1]] = value
        elif key.startswith(("ln_speech.", "ln_audio.")):
            out[key] = value
        elif ".lora_" in key:
            base, _, rest = key.partition(".lora_")
            base = base.replace("llama_model.base_model.model.", "llm.") + ".weight"
            lora.setdefault(base, {})[rest[0]] = value
    deltas = {k: (ab["B"].float() @ ab["A"].float()) * lora_scale for k, ab in lora.items()}
    return {**out, **{f"delta::{k}": v for k, v in deltas.items()}}


def convert_salmonn(ckpt_path: Path, whisper: str, llm: str, out: Path, *, beats: Path | None = None,
                    speech_only: bool = False, lora_alpha: float = 32, lora_rank: int = 8, window_frames: int = 17,
                    qformer_heads: int = 12) -> Path:
    """Build a SALMONN ``AudioPrefixLM`` from its parts and save it where ``semhub analyze --model`` reads it.

    ``ckpt_path`` is ``salmonn_v1.pth`` (only the trained parts: Q-Former, projection, norms,
    LoRA); ``whisper`` the Whisper it was trained on (openai/whisper-large-v2); ``llm`` the base
    LLM (lmsys/vicuna-13b-v1.1); ``beats`` the BEATs checkpoint it was trained with
    (``BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt``), the encoder of non-speech audio.
    Without ``beats`` the conversion is refused unless ``speech_only``: then BEATs' channels (as
    many as the checkpoint's ``ln_audio``) hold zeros, which keeps speech and weakens non-speech
    audio (the paper's animal sounds).
    """
    from transformers import AutoTokenizer, WhisperFeatureExtractor, WhisperModel

    if beats is None and not speech_only:
        raise ParameterError("beats", "SALMONN's non-speech encoder is missing: give the BEATs checkpoint it was "
                             "trained with (BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt), or ask for a "
                             "speech-only model")
    beats_model = load_beats(Path(beats)) if beats is not None else None
    state = load_checkpoint(Path(ckpt_path), "SALMONN")
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or "speech_query_tokens" not in state:
        raise SemhubError(f"{ckpt_path}: not a SALMONN checkpoint (no speech_query_tokens)")
    w_kind = AutoConfig.from_pretrained(whisper).model_type
    if w_kind != "whisper":  # WhisperConfig.from_pretrained would only warn, then build a wrong model
        raise ParameterError("whisper", f"{whisper} is a {w_kind} model, not a Whisper (SALMONN's is "
                                        "openai/whisper-large-v2)")
    llm_config = AutoConfig.from_pretrained(llm)
    if llm_config.model_type == "whisper":
        raise ParameterError("llm", f"{llm} is a Whisper model, not the language model (SALMONN's is vicuna-13b)")
    tok = AutoTokenizer.from_pretrained(llm)
    tok.add_special_tokens({"additional_special_tokens": ["<SpeechHere>"]})
    w_config = WhisperConfig.from_pretrained(whisper)
    aux_dim = int(state["ln_audio.weight"].shape[0]) if "ln_audio.weight" in state else 0
    if beats_model is not None and beats_model.config.encoder_embed_dim != aux_dim:
        raise SemhubError(f"{beats}: BEATs gives {beats_model.config.encoder_embed_dim} channels, {ckpt_path} "
                          f"was trained on {aux_dim}")
    _, num_query_tokens, q_hidden = state["speech_query_tokens"].shape
    if q_hidden % qformer_heads:
        raise ParameterError("qformer_heads", f"{qformer_heads} heads do not divide the checkpoint's Q-Former width "
                                              f"{q_hidden} (SALMONN's is 768 with 12 heads)")
    needed = "speech_Qformer.bert.encoder.layer.0.intermediate_query.dense.weight"
    if needed not in state:
        raise SemhubError(f"{ckpt_path}: not a complete SALMONN checkpoint (no {needed})")
    ffn = state[needed].shape[0]
    n_layers = 1 + max(int(m.group(1)) for k in state if (m := re.search(r"Qformer\.bert\.encoder\.layer\.(\d+)\.", k)))
    config = AudioPrefixConfig(
        encoder_config=w_config.to_dict(), text_config=llm_config.to_dict(), window_frames=window_frames,
        qformer_config=dict(hidden_size=q_hidden, num_hidden_layers=n_layers, num_attention_heads=qformer_heads,
                            intermediate_size=ffn, cross_attention_frequency=1),
        num_query_tokens=num_query_tokens, aux_dim=aux_dim, audio_token_id=tok.convert_tokens_to_ids("<SpeechHere>"),
        beats_config=beats_model.config.architecture() if beats_model is not None else None)
    model = AudioPrefixLM(config)
    model.speech_encoder.load_state_dict(WhisperModel.from_pretrained(whisper).encoder.state_dict())
    if beats_model is not None:
        model.beats.load_state_dict(beats_model.state_dict())
    model.llm = AutoModelForCausalLM.from_pretrained(llm)
    model.llm.resize_token_embeddings(len(tok))
    config.text_config = model.llm.config
    mapped = salmonn_state_dict(state, lora_alpha / lora_rank)
    apply_mapped(model, mapped, str(ckpt_path))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    WhisperFeatureExtractor.from_pretrained(whisper).save_pretrained(out)
    return out


TRAINED = ("qformer.", "proj.", "ln_speech.", "ln_audio.", "query_tokens")
"""The parts SALMONN's checkpoint holds: every parameter under them must come from it."""


def apply_mapped(model: AudioPrefixLM, mapped: dict[str, torch.Tensor], source: str = "SALMONN checkpoint") -> None:
    """Load mapped weights (strictly: every key must exist, and every trained part must be given, never left
    at its random initialisation) and add merged LoRA deltas."""
    params = dict(model.named_parameters())
    unknown = [k.removeprefix("delta::") for k in mapped if k.removeprefix("delta::") not in params]
    if unknown:
        raise SemhubError(f"{source}: keys with no place in the model: {unknown[:5]}")
    missing = [k for k in params if k.startswith(TRAINED) and k not in mapped]
    if missing:
        raise SemhubError(f"{source}: not a complete SALMONN checkpoint (no {missing[0]}"
                          f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''})")
    with torch.no_grad():
        for key, value in mapped.items():
            if key.startswith("delta::"):
                p = params[key.removeprefix("delta::")]
                p += value.to(p.dtype)
            else:
                if value.shape != params[key].shape:
                    raise SemhubError(f"{source}: {key} has shape {tuple(value.shape)}, "
                                      f"the model {tuple(params[key].shape)}")
                params[key].copy_(value)


register()

__all__ = ["AudioPrefixConfig", "AudioPrefixLM", "AudioPrefixProcessor", "convert_salmonn"]
