"""Kaldi-compatible log-mel filterbank in torch: BEATs' input features.

BEATs was trained on ``torchaudio.compliance.kaldi.fbank`` (128 bins, 25 ms frames, 10 ms shift,
no dither). This is the same computation, batched over clips and run on whatever device holds the
waveform, so it needs neither torchaudio (no wheel matches every torch build) nor a per-clip CPU
loop. It is the default because it is the only one of the three that works everywhere semhub
does; tests check it against ``kaldi-native-fbank`` (k2-fsa's maintained Kaldi port, always) and
against torchaudio's where torchaudio imports.

The Kaldi recipe, frame by frame: remove the DC offset, pre-emphasise (0.97, the first sample
repeated), multiply by the Povey window (Hann ** 0.85), zero-pad to a power of two, take the power
spectrum, apply triangular filters equally spaced on the mel scale (1127 ln(1 + f / 700)) between
20 Hz and Nyquist, and take the log floored at float32's epsilon. Frames are cut with
``snip_edges`` (only whole frames).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FbankOptions:
    """Kaldi's options that BEATs sets or relies on (their Kaldi defaults otherwise)."""

    sample_rate: int = 16_000
    num_mel_bins: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0: offset from Nyquist, as in Kaldi
    preemphasis: float = 0.97

    @property
    def window(self) -> int:
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms / 1000)

    @property
    def n_fft(self) -> int:
        return 1 << (self.window - 1).bit_length()


def num_frames(samples: int, options: FbankOptions = FbankOptions()) -> int:
    """Whole frames in ``samples`` (Kaldi's snip_edges): 0 when shorter than one window."""
    return 0 if samples < options.window else 1 + (samples - options.window) // options.shift


def _mel(freq: torch.Tensor | float) -> torch.Tensor:
    return 1127.0 * torch.log1p(torch.as_tensor(freq, dtype=torch.float64) / 700.0)


def mel_banks(options: FbankOptions = FbankOptions()) -> torch.Tensor:
    """(num_mel_bins, n_fft // 2 + 1) triangular filters; the Nyquist bin gets no weight, as in Kaldi."""
    nyquist = options.sample_rate / 2
    high = options.high_freq if options.high_freq > 0 else nyquist + options.high_freq
    if not 0 <= options.low_freq < high <= nyquist:
        raise ValueError(f"fbank: low_freq {options.low_freq} and high_freq {high} must satisfy 0 <= low < high <= Nyquist")
    half = options.n_fft // 2
    mel_low, mel_high = _mel(options.low_freq), _mel(high)
    delta = (mel_high - mel_low) / (options.num_mel_bins + 1)
    left = mel_low + delta * torch.arange(options.num_mel_bins, dtype=torch.float64)[:, None]
    center, right = left + delta, left + 2 * delta
    mel = _mel(torch.arange(half, dtype=torch.float64) * options.sample_rate / options.n_fft)[None, :]
    up, down = (mel - left) / (center - left), (right - mel) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1)).float()


def kaldi_fbank(waves: torch.Tensor, options: FbankOptions = FbankOptions()) -> torch.Tensor:
    """(clips, samples) or (samples,) waveforms -> (clips, frames, num_mel_bins) log-mel energies.

    Waveforms are taken at the scale Kaldi sees them (BEATs multiplies [-1, 1] audio by 2 ** 15
    before calling this). Every clip of a batch has the same length: pass clips one at a time, or
    cut to a common length, when they differ.
    """
    single = waves.dim() == 1
    waves = waves[None] if single else waves
    if waves.dim() != 2:
        raise ValueError(f"fbank: waves must be (samples,) or (clips, samples), got shape {tuple(waves.shape)}")
    if num_frames(waves.shape[-1], options) == 0:
        raise ValueError(f"fbank: {waves.shape[-1]} samples is shorter than one {options.window}-sample frame")
    frames = waves.float().unfold(-1, options.window, options.shift)  # (clips, frames, window)
    frames = frames - frames.mean(-1, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
    frames = frames - options.preemphasis * previous
    window = torch.hann_window(options.window, periodic=False, dtype=torch.float64).pow(0.85)
    frames = frames * window.to(frames)
    power = torch.fft.rfft(frames, n=options.n_fft).abs().pow(2)
    energies = power @ mel_banks(options).to(power).T
    out = torch.log(torch.clamp(energies, min=torch.finfo(torch.float32).eps))
    return out[0] if single else out


__all__ = ["FbankOptions", "kaldi_fbank", "mel_banks", "num_frames"]
