"""Read speech files: any soundfile format and rate -> mono float32 at the model's rate.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis, Opus and, with libsndfile >= 1.1, MP3;
``scipy.signal.resample_poly`` resamples exactly by a rational factor. torchaudio is not needed
(its PyPI wheels need CUDA libraries next to a CPU torch). Every problem is one line naming the file.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from semhub import SemhubError, first_line

MAX_SECONDS = 30.0  # Whisper's window; longer clips would be cut silently by the feature extractor
MAX_CHANNELS = 8  # decoded size is frames x channels x 4 bytes: bounded before decoding
MAX_RATE = 384_000  # the highest rate of studio audio; more is a corrupt header
SILENCE_PEAK = 1e-4  # digital silence (or a file of zeros) carries no speech to analyse


def soundfile():
    """soundfile, or one line naming the extra that installs it."""
    try:
        import soundfile as sf
    except ImportError:
        raise SemhubError("reading audio needs soundfile: pip install 'semhub[audio]'") from None
    return sf


def read_audio(path: Path, rate: int = 16_000, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """The clip as mono float32 samples at ``rate``; ValueError with a one-line reason otherwise."""
    sf = soundfile()

    try:
        info = sf.info(str(path))  # the header first: a long or many-channel file is refused before decoding
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = first_line(exc)
        raise ValueError(f"cannot read audio {path.name}: {reason}") from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise ValueError(f"audio file {path.name} declares {info.samplerate} Hz and {info.channels} channel(s)")
    if info.frames / info.samplerate > max_seconds:
        raise ValueError(f"audio file {path.name} lasts {info.frames / info.samplerate:.1f} s, over the "
                         f"{max_seconds:g} s limit")
    if info.channels > MAX_CHANNELS:
        raise ValueError(f"audio file {path.name} has {info.channels} channels, over the {MAX_CHANNELS} limit")
    if info.samplerate > MAX_RATE:
        raise ValueError(f"audio file {path.name} is sampled at {info.samplerate} Hz, over the {MAX_RATE} Hz limit")
    try:
        # frames bounded too: a header may under-declare the length (a stream without one)
        data, source_rate = sf.read(str(path), dtype="float32", always_2d=True,
                                    frames=int(max_seconds * info.samplerate) + 1)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = first_line(exc)
        raise ValueError(f"cannot read audio {path.name}: {reason}") from None
    if data.shape[0] == 0:
        raise ValueError(f"audio file {path.name} is empty (0 samples)")
    seconds = data.shape[0] / source_rate
    if seconds > max_seconds:
        raise ValueError(f"audio file {path.name} lasts {seconds:.1f} s, over the {max_seconds:g} s limit")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise ValueError(f"audio file {path.name} holds NaN or infinite samples")
    if float(np.abs(mono).max()) < SILENCE_PEAK:
        raise ValueError(f"audio file {path.name} is silent")
    if source_rate != rate:
        from scipy.signal import resample_poly

        ratio = Fraction(rate, source_rate)
        mono = resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    return mono


def audio_seconds(path: Path) -> float:
    """Duration from the header alone (cheap: used to batch clips of similar length)."""
    sf = soundfile()
    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate
    except Exception:  # unreadable files are reported by validation, not here
        return 0.0
