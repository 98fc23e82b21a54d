"""What every peer contender shares: the task files written by the harness, the logit-lens
token-set scoring, and the summary each prints. Imports only torch and safetensors, so the
peers' own venvs (nnsight, TransformerLens) can use it too.

Tasks (argv: TASK MODEL_DIR SPEC BATCH_SIZE OUT_JSON):
- similarity: SPEC is an aligned JSONL and views (``data.jsonl:en,es``); keep every layer's
  last-token state of every text.
- lens: SPEC is a plan JSON (per view: texts and probed sites ``[row, pos, native, candidates]``,
  the positions semhub's dictionary probe reads); per layer, final norm + unembedding at the
  probed positions, full log-softmax, the native token's log-prob and the best candidate's.
- steer: SPEC is a steering JSON (prompts, layer, coeff, max_new_tokens, vector path); greedy
  generation unsteered and with ``coeff * vector`` added to the residual after block
  ``layer - 1`` (semhub's layer ``layer``) at every position.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def args() -> tuple[str, str, str, int, str]:
    task, model_dir, spec, bs, out = sys.argv[1:6]
    return task, model_dir, spec, int(bs), out


def similarity_texts(spec: str) -> list[str]:
    data, views = spec.rsplit(":", 1)
    rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
    return [r[v] for v in views.split(",") for r in rows]


def lens_batches(spec: str, bs: int):
    """(texts, sites, batch rows, positions) for each batch of the plan that holds a probed site."""
    for view in json.loads(Path(spec).read_text(encoding="utf-8")):
        texts = view["texts"]
        for start in range(0, len(texts), bs):
            sites = [s for s in view["sites"] if start <= s[0] < start + bs]
            if sites:
                rows = torch.tensor([r - start for r, *_ in sites])
                yield texts[start:start + bs], sites, rows, torch.tensor([p for _, p, *_ in sites])


def score_layer(logits: torch.Tensor, sites: list[list]) -> tuple[torch.Tensor, torch.Tensor]:
    """(n,) native log-probs and (n,) best-candidate log-probs from (n, vocab) lens logits."""
    lp = logits.float().log_softmax(-1)
    rows = torch.arange(len(sites))
    native = lp[rows, torch.tensor([s[2] for s in sites])]
    dominant = torch.stack([lp[i, s[3]].max() for i, s in enumerate(sites)])
    return native, dominant


class LensScores:
    """Collects (site, layer) scores; ``summary`` is the per-layer mean the harness compares."""

    def __init__(self) -> None:
        self.native: list[torch.Tensor] = []
        self.dominant: list[torch.Tensor] = []

    def add(self, per_layer: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.native.append(torch.stack([n for n, _ in per_layer], 1))
        self.dominant.append(torch.stack([d for _, d in per_layer], 1))

    def summary(self) -> dict:
        native, dominant = torch.cat(self.native), torch.cat(self.dominant)
        return {"sites": native.shape[0], "native_mean": native.mean(0).tolist(),
                "dominant_mean": dominant.mean(0).tolist()}


def steer_spec(spec: str) -> tuple[dict, torch.Tensor]:
    from safetensors.torch import load_file

    cfg = json.loads(Path(spec).read_text(encoding="utf-8"))
    return cfg, load_file(cfg["vector"])["vector"].float()


def continuations(ids: torch.Tensor, prompt_len: int, tok) -> list[list[int]]:
    """Generated ids after a left-padded prompt, cut at the first EOS, padding dropped."""
    out = []
    for row in ids[:, prompt_len:].tolist():
        if tok.eos_token_id in row:
            row = row[: row.index(tok.eos_token_id)]
        out.append([i for i in row if i != tok.pad_token_id])
    return out


def write(out: str, payload: dict) -> None:
    Path(out).write_text(json.dumps(payload), encoding="utf-8")
