"""The real-speech sample: prompts recorded by people (Asterisk's core sounds, CC-BY-SA 3.0), the same
prompt in several languages, with their transcripts; built from the Debian packages
``asterisk-core-sounds-{en,es,fr,it,ru}-wav``.

Why: a read-out chosen on synthetic (espeak-ng) speech need not hold on recorded speech; the audio
default is chosen on this sample. The prompts ``digits*``, ``hello-world`` and ``vm-goodbye`` are never
in the tuning sample: ``held_out=True`` builds them alone, for evaluation only.
"""
from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
LANGUAGES = ("en", "es", "fr", "it", "ru")
SHIPPED = ("en", "es", "fr")
"""The languages of the sample semhub ships (the others build from the packages the same way)."""
HELD_OUT = re.compile(r"^(digits/.*|hello-world|vm-goodbye)$")
"""Prompts kept out of anything tuned: the evaluation set."""


def transcripts(language: str, docs: Path = DOCS) -> dict[str, str]:
    """Prompt name -> its text, from the package's ``core-sounds-<lang>.txt.gz`` (``name: text`` lines).

    A name listed twice keeps its first text: the Spanish file lists ``digits/0`` as "cero" and then
    as "diez" (the missing ``digits/10`` line, mislabelled)."""
    path = docs / f"asterisk-core-sounds-{language}" / f"core-sounds-{language}.txt.gz"
    out = {}
    for line in gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace").splitlines():
        name, sep, text = line.partition(":")
        if sep and not line.startswith(";") and text.strip():
            out.setdefault(name.strip(), text.strip())
    return out


MAX_SECONDS = 28.0
"""Longer prompts are left out: Whisper reads at most 30 s (the demo instructions last over a minute)."""


def prompts(languages: tuple[str, ...], sounds: Path = SOUNDS, docs: Path = DOCS) -> list[tuple[str, dict[str, str]]]:
    """(name, language -> transcript) of every prompt recorded, and transcribed, in every language, at most
    ``MAX_SECONDS`` long in each."""
    import soundfile as sf

    texts = {lang: transcripts(lang, docs) for lang in languages}
    names = None
    for lang in languages:
        here = {str(p.relative_to(sounds / lang).with_suffix("")) for p in (sounds / lang).rglob("*.wav")}
        names = here if names is None else names & here
    return [(n, {lang: texts[lang][n] for lang in languages}) for n in sorted(names or ())
            if all(n in texts[lang] for lang in languages)
            and all(sf.info(str(sounds / lang / f"{n}.wav")).duration <= MAX_SECONDS for lang in languages)]


def missing(languages: tuple[str, ...], sounds: Path = SOUNDS, docs: Path = DOCS) -> str | None:
    """What is not installed for ``languages`` (one line naming the package), or None."""
    if len(languages) < 2:
        return f"give at least two languages, got {','.join(languages) or 'none'}"
    for lang in languages:
        if not (sounds / lang).is_dir() or not (docs / f"asterisk-core-sounds-{lang}").is_dir():
            return (f"{lang}: no recordings in {sounds / lang} or no transcripts in {docs}; install "
                    f"asterisk-core-sounds-{lang}-wav (apt-get)")
    return None


def build(folder: Path, *, rows: int = 120, held_out: bool = False, languages: tuple[str, ...] = LANGUAGES,
          seed: int = 0, sounds: Path = SOUNDS, docs: Path = DOCS) -> Path:
    """Write ``<lang>/<name>.ogg`` clips (mono Vorbis at the recordings' 8 kHz) and ``real_speech.jsonl`` (views
    ``audio_<lang>`` and ``<lang>``) for ``rows`` prompts drawn with ``seed`` among those that may be tuned
    on, or (``held_out``) for every held-out prompt; returns the JSONL."""
    import soundfile as sf

    chosen = [(n, t) for n, t in prompts(languages, sounds, docs) if bool(HELD_OUT.match(n)) == held_out]
    if not held_out and len(chosen) > rows:
        chosen = sorted(random.Random(seed).sample(chosen, rows))
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, texts in chosen:
        row = {"id": name}
        for lang in languages:
            clip, rate = sf.read(str(sounds / lang / f"{name}.wav"), dtype="float32", always_2d=True)
            out = folder / lang / f"{name.replace('/', '-')}.ogg"
            out.parent.mkdir(parents=True, exist_ok=True)
            # the recordings' own 8 kHz, Vorbis at its smallest: ~2 KB a second (the spoke resamples on reading)
            sf.write(str(out), clip.mean(1), rate, format="OGG", subtype="VORBIS", compression_level=1.0)
            row[f"audio_{lang}"] = str(out.relative_to(folder))
            row[lang] = texts[lang]
        lines.append(json.dumps(row, ensure_ascii=False))
    path = folder / ("real_speech_held_out.jsonl" if held_out else "real_speech.jsonl")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
