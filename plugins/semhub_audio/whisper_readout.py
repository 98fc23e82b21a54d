"""Where Whisper's decoder is read: the read-out names (no torch, so listings stay light;
whisper_decoder.py builds the decoder's inputs for one).

Whisper's decoder starts from ``<|startoftranscript|>`` (SOT), then a language tag, a task
(``<|transcribe|>`` or ``<|translate|>``, into English) and ``<|notimestamps|>``. A read-out names

- ``sot``: SOT alone (the state that predicts the language tag), or
- ``TASK:LANGUAGE:POSITION``: TASK ``transcribe`` or ``translate``; LANGUAGE ``detect`` (the tag
  Whisper predicts at SOT, per clip), ``view`` (the view's own language: ``audio_es`` -> ``es``),
  ``auto`` (the view's language when it names one Whisper knows, else detected) or a code (``en``:
  forced for every clip); POSITION ``prompt`` (the last prompt token, before any
  text), or the mean over a text teacher-forced after the prompt: ``greedy`` (what Whisper itself
  writes, greedily), ``transcript`` (the row's text in the view's language: column ``es`` for
  ``audio_es``) or ``translation`` (the row's English text, column ``en``).

``greedy`` reads only the audio; ``transcript`` and ``translation`` hand the decoder the reference
text, so their similarity is partly the text's (with ``translation`` every language reads the same
English words): docs/findings.md measures all of them on the built-in spoken sample.
"""
from __future__ import annotations

from dataclasses import dataclass

from semhub import ParameterError

TASKS = ("transcribe", "translate")
POSITIONS = ("prompt", "greedy", "transcript", "translation")
DEFAULT_READOUT = "translate:auto:prompt"  # the best audio-only read-out on recorded speech (docs/findings.md)
MAX_NEW_TOKENS = 96


@dataclass(frozen=True)
class Readout:
    """A parsed read-out; ``task`` is None for ``sot``."""

    task: str | None = None
    language: str = "detect"
    position: str = "prompt"

    @classmethod
    def parse(cls, text: str) -> "Readout":
        if text == "sot":
            return cls()
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in TASKS or parts[2] not in POSITIONS or not parts[1]:
            raise ParameterError("readout", f"{text!r}: give 'sot' or TASK:LANGUAGE:POSITION, TASK one of "
                                            f"{', '.join(TASKS)}, LANGUAGE detect, view, auto or a code (en, es...), "
                                            f"POSITION one of {', '.join(POSITIONS)}")
        return cls(parts[0], parts[1], parts[2])

    def columns(self, view: str) -> list[str]:
        """The data columns this read-out reads for ``view`` besides the clip (empty when none)."""
        if self.position == "translation":
            return ["en"]
        if self.position == "transcript":
            return [view_language(view)]
        return []

    def check(self, views: list[str], columns: list[str]) -> str | None:
        """A problem with these views and data columns, or None (before the model loads)."""
        for view in views:
            if not view.startswith("audio"):
                continue
            if (self.language == "view" or self.position == "transcript") and not view_language(view):
                return f"view {view!r} names no language (use audio_<lang> views for LANGUAGE view or a transcript)"
            missing = [c for c in self.columns(view) if c not in columns]
            if missing:
                return (f"{self.position} reads column {missing[0]!r} for view {view!r}; the data has "
                        f"{', '.join(columns)}")
        return None


def view_language(view: str) -> str:
    """``audio_es`` -> ``es``; ``audio`` -> ``''``."""
    return view.partition("_")[2]


def readouts() -> dict[str, str]:
    """The read-outs to list (``view``, ``auto`` or a language code may stand where ``detect`` is)."""
    out = {"sot": "<|startoftranscript|> alone: the state that predicts the language tag",
           DEFAULT_READOUT: "the default: the end of the translate prompt, the language tag the view's (audio_es: "
                            "es) or, when it names none, detected (best on recorded speech, no generation)"}
    for task in TASKS:
        out[f"{task}:detect:prompt"] = f"the end of the {task} prompt, the detected language's tag"
        out[f"{task}:detect:greedy"] = f"the mean over Whisper's own greedy {task} output, teacher-forced"
        out[f"{task}:view:transcript"] = "the mean over the row's transcript (column <lang> of audio_<lang>)"
        out[f"{task}:view:translation"] = "the mean over the row's English text (column en)"
    return out


__all__ = ["DEFAULT_READOUT", "POSITIONS", "TASKS", "Readout", "readouts", "view_language"]
