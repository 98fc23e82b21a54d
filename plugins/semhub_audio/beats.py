"""BEATs (Chen et al., 2022), the audio-event encoder SALMONN runs beside Whisper.

Written from the published architecture (microsoft/unilm ``beats/``): a 128-bin Kaldi
filterbank (``fbank.py``), normalised with the training set's mean and deviation; 16 x 16 patches
of it embedded by a convolution (flattened time-major, frequency-minor), a layer norm and a
projection; a convolutional position embedding (grouped Conv1d, GELU); then post-norm transformer
layers with DeepNorm residual scaling and a T5-style bucketed relative position bias, shared by all
layers and gated per head and query by a small linear map of the query ("gated relative position",
``gru_rel_pos``).

``load_beats`` reads the published checkpoints (``BEATs_iter3_plus_AS2M*.pt``: a dict with ``cfg``
and ``model``) with ``torch.load(weights_only=True)``: the position convolution's weight norm is
folded into a plain weight, the bias table shared by all layers is kept once, and the AudioSet
classifier of fine-tuned checkpoints is dropped (SALMONN reads features only).
"""
from __future__ import annotations

import inspect
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig

from semhub_audio.fbank import FbankOptions, kaldi_fbank

FBANK_MEAN, FBANK_STD = 15.41663, 6.55582  # BEATs' AudioSet statistics


class BEATsConfig(PretrainedConfig):
    """The published ``cfg`` fields semhub uses (names as in the checkpoints), defaults of BEATs iter3."""

    model_type = "semhub_beats"

    def __init__(self, input_patch_size: int = 16, embed_dim: int = 512, conv_bias: bool = False,
                 encoder_layers: int = 12, encoder_embed_dim: int = 768, encoder_ffn_embed_dim: int = 3072,
                 encoder_attention_heads: int = 12, activation_fn: str = "gelu", layer_norm_first: bool = False,
                 deep_norm: bool = True, conv_pos: int = 128, conv_pos_groups: int = 16,
                 relative_position_embedding: bool = True, num_buckets: int = 320, max_distance: int = 800,
                 gru_rel_pos: bool = True, num_mel_bins: int = 128, **kwargs):
        self.input_patch_size = input_patch_size
        self.embed_dim = embed_dim
        self.conv_bias = conv_bias
        self.encoder_layers = encoder_layers
        self.encoder_embed_dim = encoder_embed_dim
        self.encoder_ffn_embed_dim = encoder_ffn_embed_dim
        self.encoder_attention_heads = encoder_attention_heads
        self.activation_fn = activation_fn
        self.layer_norm_first = layer_norm_first
        self.deep_norm = deep_norm
        self.conv_pos = conv_pos
        self.conv_pos_groups = conv_pos_groups
        self.relative_position_embedding = relative_position_embedding
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.gru_rel_pos = gru_rel_pos
        self.num_mel_bins = num_mel_bins  # 128 in every published checkpoint (not in their cfg)
        super().__init__(**kwargs)

    def architecture(self) -> dict:
        """The fields above only: what an enclosing config stores to rebuild this encoder."""
        return {k: getattr(self, k) for k in ARCHITECTURE_FIELDS}


ARCHITECTURE_FIELDS = tuple(n for n, p in inspect.signature(BEATsConfig.__init__).parameters.items()
                            if n != "self" and p.kind is p.POSITIONAL_OR_KEYWORD)


def relative_buckets(length: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """(length, length) bucket of key j seen from query i: exact below a quarter of the buckets, then log-spaced.

    Half the buckets are for keys after the query; distances beyond ``max_distance`` share the last.
    """
    pos = torch.arange(length)
    rel = pos[None, :] - pos[:, None]
    half = num_buckets // 2
    bucket = (rel > 0).long() * half
    rel = rel.abs()
    exact = half // 2
    far = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                   * (half - exact)).long()
    far = far.clamp(max=half - 1)
    return bucket + torch.where(rel < exact, rel, far)


class BEATsAttention(nn.Module):
    def __init__(self, config: BEATsConfig):
        super().__init__()
        d, self.heads = config.encoder_embed_dim, config.encoder_attention_heads
        if d % self.heads:
            raise ValueError(f"BEATs config: encoder_embed_dim {d} is not divisible by {self.heads} heads")
        self.head_dim = d // self.heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.gated = config.gru_rel_pos
        if self.gated:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        B, T, _ = x.shape
        split = lambda t: t.view(B, T, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        mask = None
        if bias is not None:
            if self.gated:  # per head and query: a in (0, 1), b in (0, 1) -> a * (b * grep_a - 1) + 2
                a, b = torch.sigmoid(self.grep_linear(q).view(B, self.heads, T, 2, 4).sum(-1)).chunk(2, dim=-1)
                bias = (a * (b * self.grep_a - 1.0) + 2.0) * bias
            mask = bias.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(B, T, -1))


class BEATsLayer(nn.Module):
    def __init__(self, config: BEATsConfig):
        super().__init__()
        if config.activation_fn != "gelu":
            raise ValueError(f"BEATs config: activation_fn {config.activation_fn!r} is not supported (gelu)")
        d = config.encoder_embed_dim
        self.self_attn = BEATsAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, config.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_embed_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.pre_norm = config.layer_norm_first
        self.alpha = (2 * config.encoder_layers) ** 0.25 if config.deep_norm else 1.0

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ffn = lambda h: self.fc2(F.gelu(self.fc1(h)))  # noqa: E731
        if self.pre_norm:
            x = x + self.self_attn(self.self_attn_layer_norm(x), bias)
            return x + ffn(self.final_layer_norm(x))
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, bias))
        return self.final_layer_norm(x * self.alpha + ffn(x))


class BEATsEncoder(nn.Module):
    def __init__(self, config: BEATsConfig):
        super().__init__()
        d = config.encoder_embed_dim
        self.pos_conv = nn.Conv1d(d, d, kernel_size=config.conv_pos, padding=config.conv_pos // 2,
                                  groups=config.conv_pos_groups)
        self.layer_norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList(BEATsLayer(config) for _ in range(config.encoder_layers))
        self.relative_attention_bias = (nn.Embedding(config.num_buckets, config.encoder_attention_heads)
                                        if config.relative_position_embedding else None)
        self.config = config

    def position_bias(self, length: int) -> torch.Tensor | None:
        if self.relative_attention_bias is None:
            return None
        buckets = relative_buckets(length, self.config.num_buckets, self.config.max_distance)
        return self.relative_attention_bias(buckets.to(self.relative_attention_bias.weight.device)).permute(2, 0, 1)[None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.pos_conv(x.transpose(1, 2))
        if self.config.conv_pos % 2 == 0:  # "same" padding for an even kernel: drop the extra last step
            conv = conv[..., :-1]
        x = x + F.gelu(conv).transpose(1, 2)
        if not self.config.layer_norm_first:
            x = self.layer_norm(x)
        bias = self.position_bias(x.shape[1])
        for layer in self.layers:
            x = layer(x, bias)
        return self.layer_norm(x) if self.config.layer_norm_first else x


class BEATs(nn.Module):
    """Waveforms in [-1, 1] at 16 kHz -> (clips, patches, encoder_embed_dim) features."""

    def __init__(self, config: BEATsConfig):
        super().__init__()
        p = config.input_patch_size
        self.patch_embedding = nn.Conv2d(1, config.embed_dim, kernel_size=p, stride=p, bias=config.conv_bias)
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        self.post_extract_proj = (nn.Linear(config.embed_dim, config.encoder_embed_dim)
                                  if config.embed_dim != config.encoder_embed_dim else None)
        self.encoder = BEATsEncoder(config)
        self.config = config

    def features(self, waves: torch.Tensor) -> torch.Tensor:
        """BEATs' normalised filterbank: (clips, frames, mel bins), computed in float32."""
        fbank = kaldi_fbank(waves.float() * 2 ** 15, FbankOptions(num_mel_bins=self.config.num_mel_bins))
        return (fbank - FBANK_MEAN) / (2 * FBANK_STD)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        """Clips of one length (semhub passes one clip at a time, as SALMONN's inference does)."""
        fbank = self.features(waves).to(self.patch_embedding.weight.dtype)
        patches = self.patch_embedding(fbank[:, None])  # (clips, C, time patches, mel patches)
        x = self.layer_norm(patches.flatten(2).transpose(1, 2))
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        return self.encoder(x)

    def min_samples(self) -> int:
        """The shortest clip that yields one patch."""
        options = FbankOptions(num_mel_bins=self.config.num_mel_bins)
        return options.window + (self.config.input_patch_size - 1) * options.shift


# ---- the published checkpoints -----------------------------------------------------------

def _fold_weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``weight_norm(dim=2)``: one scale per kernel tap, the norm taken over the other two axes."""
    return g * v / v.norm(dim=(0, 1), keepdim=True)


WEIGHT_NORM_KEYS = (  # (g, v): torch's old weight_norm, as published, and its parametrization
    ("encoder.pos_conv.0.weight_g", "encoder.pos_conv.0.weight_v"),
    ("encoder.pos_conv.0.parametrizations.weight.original0", "encoder.pos_conv.0.parametrizations.weight.original1"),
)


def beats_state_dict(published: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Published BEATs keys -> ``BEATs`` keys (weight norm folded, the shared bias table once, no classifier)."""
    out: dict[str, torch.Tensor] = {}
    normed = {k for pair in WEIGHT_NORM_KEYS for k in pair}
    for key, value in published.items():
        if key.startswith("predictor.") or key in normed:
            continue
        if key.endswith("self_attn.relative_attention_bias.weight"):
            if key.startswith("encoder.layers.0."):
                out["encoder.relative_attention_bias.weight"] = value
            continue
        out[key.replace("encoder.pos_conv.0.", "encoder.pos_conv.")] = value
    for g, v in WEIGHT_NORM_KEYS:
        if g in published and v in published:
            out["encoder.pos_conv.weight"] = _fold_weight_norm(published[g], published[v])
    return out


def load_checkpoint(path: Path, what: str):
    """``torch.load(weights_only=True)``: tensors and plain containers only, the file's code never runs.

    A refused pickle, a truncated file or not a torch file is one line naming the file.
    """
    from semhub import SemhubError, first_line

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        why = next((line for line in lines if "GLOBAL" in line), first_line(exc))
        raise SemhubError(f"{path}: not a loadable {what} checkpoint ({why})") from None


def load_beats(path: Path) -> BEATs:
    """A published BEATs checkpoint (``{"cfg": ..., "model": ...}``) -> a ``BEATs`` in eval mode.

    Loaded with ``weights_only=True``: the file's code is never run. A key that has no place in
    the model, or a missing one, is an error naming the file.
    """
    from semhub import SemhubError

    ckpt = load_checkpoint(path, "BEATs")
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("cfg"), dict) and isinstance(ckpt.get("model"), dict)):
        raise SemhubError(f"{path}: not a BEATs checkpoint (expected a dict with 'cfg' and 'model')")
    config = BEATsConfig(**{k: v for k, v in ckpt["cfg"].items() if k in ARCHITECTURE_FIELDS})
    model = BEATs(config)
    missing, unexpected = model.load_state_dict(beats_state_dict(ckpt["model"]), strict=False)
    if missing or unexpected:
        raise SemhubError(f"{path}: BEATs weights do not fit its cfg (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()


__all__ = ["BEATs", "BEATsConfig", "beats_state_dict", "load_beats", "load_checkpoint", "relative_buckets"]
