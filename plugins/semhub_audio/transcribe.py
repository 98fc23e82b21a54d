"""Greedy Whisper transcription with a KV cache: a check that the converted weights really hear.

Kept minimal on purpose (no timestamps, no beam search): semhub analyses states, it does not
compete with ASR toolkits; this is how tests and users confirm a checkpoint is sane.
"""
from __future__ import annotations

import numpy as np
import torch


def language_token_ids(tokenizer) -> dict[str, int]:
    """``{"en": 50259, ...}`` from the tokenizer's added tokens (``<|xx|>``)."""
    out = {}
    for token, idx in tokenizer.get_vocab().items():
        if token.startswith("<|") and token.endswith("|>") and 2 <= len(token) - 4 <= 3 and token[2:-2].isalpha():
            out[token[2:-2]] = idx
    return out


@torch.inference_mode()
def transcribe(model, tokenizer, feature_extractor, audio: np.ndarray, language: str | None = None,
               max_new_tokens: int = 96) -> tuple[str, str]:
    """(language code, text) for one 16 kHz clip; the language is detected when not given."""
    sot = model.config.decoder_start_token_id
    eot = model.config.eos_token_id
    feats = feature_extractor(audio, sampling_rate=feature_extractor.sampling_rate, return_tensors="pt").input_features
    feats = feats.to(model.device, model.dtype)
    encoded = model.model.encoder(feats)
    langs = language_token_ids(tokenizer)
    if language is not None and language not in langs:
        from semhub import ParameterError

        raise ParameterError("language", f"{language!r} is not a language of this model (e.g. "
                                         f"{', '.join(sorted(langs)[:8])}...)")
    if language is None:
        logits = model(encoder_outputs=encoded, decoder_input_ids=torch.tensor([[sot]], device=model.device)).logits[0, -1]
        ids = torch.tensor(list(langs.values()), device=logits.device)
        language = list(langs)[int(logits[ids].argmax())]
    prompt = [sot, langs[language], tokenizer.convert_tokens_to_ids("<|transcribe|>"),
              tokenizer.convert_tokens_to_ids("<|notimestamps|>")]
    ids = torch.tensor([prompt], device=model.device)
    out, past, generated = None, None, []
    step = ids
    for _ in range(max_new_tokens):
        out = model(encoder_outputs=encoded, decoder_input_ids=step, cache=past, use_cache=True)
        past = out.past_key_values
        nxt = int(out.logits[0, -1].argmax())
        if nxt == eot:
            break
        generated.append(nxt)
        step = torch.tensor([[nxt]], device=model.device)
    return language, tokenizer.decode(generated, skip_special_tokens=True).strip()
