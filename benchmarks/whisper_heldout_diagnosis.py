"""Why Whisper base's audio read-outs stay below 0.45 on the held-out real speech (docs/findings.md).

Runs the encoder once per clip, then reads the decoder under several prompts and pools, and
scores en-es retrieval@1 per layer (centred cosine, both directions averaged); then writes greedy
transcripts and translations of every clip and counts the ones that are right.

    semhub make-real-speech rs-held --held-out --languages en,es
    python benchmarks/whisper_heldout_diagnosis.py plugins/semhub_audio/real_speech/real_speech.jsonl \\
        rs-held/real_speech_held_out.jsonl            # about 12 min on 2 cores (the encoder: 428 clips)
"""
from __future__ import annotations

import argparse
import json
import re
import unicodedata
from pathlib import Path

import torch
from transformers.modeling_outputs import BaseModelOutput

import semhub
from semhub_audio.audio_io import read_audio
from semhub_audio.transcribe import language_token_ids
from semhub_audio.whisper_decoder import greedy

LANGS = ("en", "es")


def rows(path: Path, limit: int | None) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()][:limit]


@torch.inference_mode()
def encoder_outputs(bb, path: Path, data: list[dict]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per language: (clips, 1500, D) encoder output and each clip's frames holding speech."""
    out = {}
    for lang in LANGS:
        clips = [read_audio(path.parent / r[f"audio_{lang}"]) for r in data]
        parts = [bb.model.model.encoder(bb.processor(clips[s:s + 8], sampling_rate=16000, return_tensors="pt")
                                        .input_features).last_hidden_state for s in range(0, len(clips), 8)]
        out[lang] = torch.cat(parts), torch.tensor([-(-len(c) // 320) for c in clips])
    return out


def prompt(bb, n: int, lang: str, task: str) -> torch.Tensor:
    tok = bb.tokenizer
    ids = [int(bb.model.config.decoder_start_token_id), language_token_ids(tok)[lang],
           tok.convert_tokens_to_ids(f"<|{task}|>"), tok.convert_tokens_to_ids("<|notimestamps|>")]
    return torch.tensor([ids] * n)


@torch.inference_mode()
def decoder_states(bb, enc: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(clips, layers + 1, prompt length, D)."""
    out = [torch.stack(bb.model.model.decoder(input_ids=ids[s:s + 16], encoder_hidden_states=enc[s:s + 16],
                                              output_hidden_states=True).hidden_states, 1)
           for s in range(0, len(enc), 16)]
    return torch.cat(out)


def retrieval_at_1(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(0), b - b.mean(0)
    sim = torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T
    hits = torch.arange(len(a))
    return float(((sim.argmax(1) == hits).float().mean() + (sim.argmax(0) == hits).float().mean()) / 2)


def best(a: torch.Tensor, b: torch.Tensor) -> tuple[float, int]:
    """The best layer's retrieval@1 of (clips, layers, D) states."""
    values = [retrieval_at_1(a[:, k].float(), b[:, k].float()) for k in range(a.shape[1])]
    k = max(range(len(values)), key=values.__getitem__)
    return values[k], k


def plain(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tuning", type=Path)
    parser.add_argument("held_out", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="first N rows of each file (a quick look)")
    args = parser.parse_args()
    bb = semhub.load("whisper-base")
    for name, path in (("tuning", args.tuning), ("held-out", args.held_out)):
        data = rows(path, args.limit)
        enc = encoder_outputs(bb, path, data)
        n = len(data)
        st = {(task, lang): decoder_states(bb, enc[lang][0], prompt(bb, n, lang, task))
              for task in ("translate", "transcribe") for lang in LANGS}
        pools = {
            "translate prompt end (the default)": {lang: st[("translate", lang)][:, :, -1] for lang in LANGS},
            "translate prompt, mean of 4 positions": {lang: st[("translate", lang)].mean(2) for lang in LANGS},
            "translate prompt, after the start token": {lang: st[("translate", lang)][:, :, 1:].mean(2) for lang in LANGS},
            "transcribe prompt end": {lang: st[("transcribe", lang)][:, :, -1] for lang in LANGS},
            "translate and transcribe ends averaged": {
                lang: (st[("translate", lang)][:, :, -1] + st[("transcribe", lang)][:, :, -1]) / 2 for lang in LANGS},
        }
        encoder = {}
        for lang in LANGS:
            states, frames = enc[lang]
            mask = torch.arange(states.shape[1])[None] < frames[:, None]
            encoder[lang] = ((states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True))[:, None]
        pools["encoder top layer, mean over speech frames"] = encoder
        print(f"== {name}: {n} rows")
        for label, pool in pools.items():
            value, layer = best(pool["en"], pool["es"])
            print(f"{label:48s} retrieval@1 {value:.3f} at layer {layer}")
        numbers = {r["id"]: r["id"].split("/")[1] for r in data if r["id"].split("/")[-1].isdigit()}
        for lang, task, column in (("en", "transcribe", "en"), ("es", "transcribe", "es"), ("es", "translate", "en")):
            states = enc[lang][0]
            texts = []
            for s in range(0, n, 16):
                ids = greedy(bb.model, BaseModelOutput(last_hidden_state=states[s:s + 16]),
                             prompt(bb, len(states[s:s + 16]), lang, task), 20)
                texts += bb.tokenizer.batch_decode(ids, skip_special_tokens=True)
            right = sum(plain(t) in (plain(r[column]), numbers.get(r["id"])) for t, r in zip(texts, data))
            print(f"{lang} clips, greedy {task}: {right} of {n} equal the {column} text")


if __name__ == "__main__":
    main()
