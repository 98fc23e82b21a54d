"""The decoder inputs of a Whisper read-out (whisper_readout.py names them): its prompt, with the
language tag forced or detected, and the text teacher-forced after it."""
from __future__ import annotations

import torch

from semhub import ParameterError
from semhub_audio.whisper_readout import MAX_NEW_TOKENS, Readout, view_language


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


__all__ = ["decoder_inputs", "greedy"]
