"""Where Whisper's decoder is read: its prompt, and the text it is made to read.

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

import torch

from semhub import ParameterError

TASKS = ("transcribe", "translate")
POSITIONS = ("prompt", "greedy", "transcript", "translation")
DEFAULT_READOUT = "translate:auto:greedy"  # the best audio-only read-out on the built-in sample (docs/findings.md)
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
           DEFAULT_READOUT: "the default: the mean over Whisper's own greedy English translation, the language "
                            "tag the view's (audio_es: es) or, when it names none, detected"}
    for task in TASKS:
        out[f"{task}:detect:prompt"] = f"the end of the {task} prompt, the detected language's tag"
        out[f"{task}:detect:greedy"] = f"the mean over Whisper's own greedy {task} output, teacher-forced"
        out[f"{task}:view:transcript"] = "the mean over the row's transcript (column <lang> of audio_<lang>)"
        out[f"{task}:view:translation"] = "the mean over the row's English text (column en)"
    return out


def _token(tokenizer, token: str) -> int:
    idx = tokenizer.convert_tokens_to_ids(token)
    if idx is None or idx == tokenizer.unk_token_id:
        raise ParameterError("readout", f"this model's tokenizer has no {token}")
    return int(idx)


def language_ids(tokenizer) -> dict[str, int]:
    from semhub_audio.transcribe import language_token_ids

    return language_token_ids(tokenizer)


@torch.inference_mode()
def decoder_inputs(backbone, feats: torch.Tensor, readout: str, view: str = "",
                   texts: list[str] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(decoder ids, positions read, valid positions), each (clips, length), for ``readout``.

    ``texts`` are the reference texts of a ``transcript`` or ``translation`` read-out, one per clip.
    Ids are right-padded with end-of-text; the decoder is causal, so padding never reaches the
    positions read.
    """
    spec = Readout.parse(readout)
    model, tok = backbone.model, backbone.tokenizer
    n = feats.shape[0]
    sot = int(model.config.decoder_start_token_id)
    if spec.task is None:
        ones = torch.ones(n, 1, dtype=torch.bool)
        return torch.full((n, 1), sot, dtype=torch.long), ones, ones
    langs = language_ids(tok)
    code = view_language(view) if spec.language == "view" else spec.language
    if code == "auto":
        code = view_language(view) if view_language(view) in langs else "detect"
    if code != "detect" and code not in langs:
        raise ParameterError("readout", f"{code!r} is not a language of this model (e.g. "
                                        f"{', '.join(sorted(langs)[:8])}...)")
    task, no_ts = _token(tok, f"<|{spec.task}|>"), _token(tok, "<|notimestamps|>")
    device = model.device
    encoded = model.model.encoder(feats.to(device)) if code == "detect" or spec.position == "greedy" else None
    if code == "detect":
        first = model(encoder_outputs=encoded, decoder_input_ids=torch.full((n, 1), sot, device=device)).logits[:, -1]
        codes = torch.tensor(list(langs.values()), device=device)
        lang = codes[first[:, codes].argmax(-1)]
    else:
        lang = torch.full((n,), langs[code], device=device)
    prompt = torch.stack([torch.full((n,), sot, device=device), lang, torch.full((n,), task, device=device),
                          torch.full((n,), no_ts, device=device)], dim=1)
    if spec.position == "prompt":
        read = torch.zeros(n, prompt.shape[1], dtype=torch.bool)
        read[:, -1] = True
        return prompt.cpu(), read, torch.ones_like(read)
    eot = int(model.config.eos_token_id)
    room = min(MAX_NEW_TOKENS, int(getattr(model.config, "max_target_positions", 448)) - prompt.shape[1])
    if spec.position == "greedy":
        text = greedy(model, encoded, prompt, room)
    else:
        if texts is None or len(texts) != n:
            raise ParameterError("readout", f"{readout!r} reads each clip's {spec.position}: only a run over a "
                                            "dataset gives the rows' text")
        tokens = [tok(t, add_special_tokens=False)["input_ids"][:room] for t in texts]
        width = max(1, max(len(t) for t in tokens))
        text = torch.tensor([t + [eot] * (width - len(t)) for t in tokens], dtype=torch.long)
    p = prompt.shape[1]
    ids = torch.cat([prompt.cpu(), text], dim=1)
    valid = torch.cat([torch.ones(n, p, dtype=torch.bool), text != eot], dim=1)
    read = valid.clone()
    read[:, :p] = False
    silent = ~read.any(dim=1)  # no text (Whisper wrote nothing, or an empty reference): the prompt's end
    read[silent, p - 1] = True
    return ids, read, valid


def greedy(model, encoded, prompt: torch.Tensor, max_new_tokens: int = MAX_NEW_TOKENS) -> torch.Tensor:
    """(clips, steps) greedy continuations of ``prompt`` with a KV cache; finished rows hold end-of-text."""
    eot = int(model.config.eos_token_id)
    out, cache, step = [], None, prompt
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_new_tokens):
        res = model(encoder_outputs=encoded, decoder_input_ids=step, cache=cache, use_cache=True)
        cache = res.cache if getattr(res, "cache", None) is not None else res.past_key_values
        nxt = res.logits[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, eot), nxt)
        out.append(nxt)
        done |= nxt == eot
        if bool(done.all()):
            break
        step = nxt[:, None]
    return torch.stack(out, dim=1).cpu() if out else prompt.new_empty(prompt.shape[0], 0).cpu()


__all__ = ["DEFAULT_READOUT", "Readout", "decoder_inputs", "readouts"]
