"""The logit lens (the paper's Eq. 2): read any layer's state through the unembedding.

Everything is streamed over vocabulary chunks: the normaliser (log-sum-exp), top-k and
language mixtures never materialise a (positions x vocabulary) matrix larger than one
chunk, and only the positions and layers someone asked for are ever projected.

``norm=True`` (the default, the standard lens) applies the model's final norm before the
unembedding. ``norm=False`` reproduces the paper's code: raw states at layers < L, while
layer L is normed in both cases (HF's last hidden state, which the paper read, is post-norm).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

MAX_ROWS = 1024  # states projected at once: logits in flight are at most MAX_ROWS x DEFAULT_CHUNK floats
DEFAULT_CHUNK = 8192  # measured fastest on CPU for a few hundred rows x 262k vocab (docs/benchmarks.md)


@dataclass
class Scan:
    """One pass over the vocabulary for P states: log-normaliser, top-k, optional mixture."""

    log_norm: torch.Tensor  # (P,)
    top_logprobs: torch.Tensor | None = None  # (P, k)
    top_ids: torch.Tensor | None = None  # (P, k)
    mixture: torch.Tensor | None = None  # (P, n): expected table row under the lens distribution
    entropy: torch.Tensor | None = None  # (P,): the lens distribution's entropy, in nats


class Lens:
    """Final norm + unembedding (+ bias, + soft-capping) of one backbone: the logit lens.

    Other lenses (``semhub.lens.tuned.TunedLens``, a plugin's) subclass it and override
    ``prepare`` (what happens to a state before the unembedding) and ``describe``.
    """

    name = "logit"

    def __init__(self, backbone, norm: bool = True, chunk: int = DEFAULT_CHUNK, max_rows: int = MAX_ROWS):
        self.backbone = backbone
        self.norm = norm
        self.chunk = chunk
        self.max_rows = max_rows
        head = backbone.part("unembedding")
        self.weight = head.weight.detach()  # no autograd: lens outputs are read, never differentiated
        bias = getattr(head, "bias", None)
        self.bias = bias.detach() if bias is not None else None
        self.final_norm = backbone.part("final_norm")
        self.n_layers = backbone.n_layers
        attr = backbone.family.softcap_config
        self.softcap = getattr(backbone.model.config, attr, None) if attr else None
        # Ids the family leaves out of the lens (Chameleon's image codes): never in the normaliser or top-k.
        excluded = [i for i in backbone.excluded_token_ids if i < self.vocab_size]
        self.excluded: torch.Tensor | None = None
        if excluded:
            self.excluded = torch.zeros(self.vocab_size, dtype=torch.bool, device=self.weight.device)
            self.excluded[excluded] = True

    def describe(self) -> dict:
        """What results record about the lens that produced them."""
        return {"lens": self.name, "norm": bool(self.norm)}

    @property
    def vocab_size(self) -> int:
        return int(self.weight.shape[0])

    def prepare(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        """Apply the final norm where this lens does; return float32 on the unembedding's device."""
        with torch.inference_mode():
            if self.norm or layer == self.n_layers:
                param = next(self.final_norm.parameters(), None)  # with device_map, layers live on many devices
                hidden = self.final_norm(hidden if param is None else hidden.to(param.device))
            return hidden.to(self.weight.device, torch.float32)

    def _logits(self, h: torch.Tensor, rows) -> torch.Tensor:
        z = h @ self.weight[rows].to(torch.float32).T
        if self.bias is not None:
            z = z + self.bias[rows].to(torch.float32)
        if self.softcap:
            z = torch.tanh(z / self.softcap) * self.softcap
        if self.excluded is not None:
            # the lowest finite value, not -inf: a chunk with every id excluded keeps a finite running max
            z = z.masked_fill(self.excluded[rows], torch.finfo(z.dtype).min)
        return z

    def logits(self, h: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Logits of selected token ids only: (P, K) for ids (K,)."""
        return self._logits(h, ids.to(self.weight.device))

    def scan(self, h: torch.Tensor, k: int = 0, table: torch.Tensor | None = None, entropy: bool = False) -> Scan:
        """Stream the vocabulary once: log-sum-exp, top-k log-probs, sum_t p(t) * table[t], and the entropy.

        States are taken ``max_rows`` at a time, so memory is bounded by max_rows x chunk
        whatever the number of positions, layers or vocabulary size.
        """
        if h.shape[0] > self.max_rows:
            parts = [self._scan(h[s : s + self.max_rows], k, table, entropy) for s in range(0, h.shape[0], self.max_rows)]
            cat = lambda name: None if getattr(parts[0], name) is None else torch.cat([getattr(p, name) for p in parts])  # noqa: E731
            return Scan(cat("log_norm"), cat("top_logprobs"), cat("top_ids"), cat("mixture"), cat("entropy"))
        return self._scan(h, k, table, entropy)

    def _scan(self, h: torch.Tensor, k: int, table: torch.Tensor | None, entropy: bool = False) -> Scan:
        P = h.shape[0]
        run_max = torch.full((P,), -torch.inf, device=h.device)
        run_sum = torch.zeros(P, device=h.device)
        mix = torch.zeros(P, table.shape[1], device=h.device) if table is not None else None
        top_val = top_idx = None
        spread = torch.zeros(P, device=h.device)  # sum_t e^(z_t - max) (z_t - max): the entropy's numerator
        with torch.inference_mode():
            for start in range(0, self.vocab_size, self.chunk):
                rows = slice(start, min(start + self.chunk, self.vocab_size))
                z = self._logits(h, rows)
                if k:
                    val, idx = z.topk(min(k, z.shape[1]), dim=1)
                    idx = idx + start
                    if top_val is not None:
                        val = torch.cat([top_val, val], 1)
                        val, pick = val.topk(min(k, val.shape[1]), dim=1)
                        idx = torch.cat([top_idx, idx], 1).gather(1, pick)
                    top_val, top_idx = val, idx
                new_max = torch.maximum(run_max, z.amax(1))
                rescale = torch.exp(run_max - new_max)
                if entropy:
                    shifted = z.sub_(new_max[:, None])
                    weights = shifted.exp()
                    moved = torch.where(run_sum > 0, (run_max - new_max) * run_sum, torch.zeros_like(run_sum))
                    spread = rescale * (spread + moved) + torch.where(weights > 0, weights * shifted, 0).sum(1)
                else:
                    weights = z.sub_(new_max[:, None]).exp_()  # in place: z is not needed any more
                run_sum = run_sum * rescale + weights.sum(1)
                if mix is not None:
                    mix = mix * rescale[:, None] + weights @ table[rows].to(h.device, torch.float32)
                run_max = new_max
        log_norm = run_max + torch.log(run_sum)
        out = Scan(log_norm)
        if k:
            out.top_logprobs, out.top_ids = top_val - log_norm[:, None], top_idx
        if mix is not None:
            out.mixture = mix / run_sum[:, None]
        if entropy:
            out.entropy = torch.log(run_sum) - spread / run_sum
        return out

    def logprobs(self, h: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """log p(id) for each state and each of K ids: (P, K)."""
        return self.logits(h, ids) - self.scan(h).log_norm[:, None]

    def layer_logprobs(self, per_layer: list[torch.Tensor], ids: torch.Tensor) -> torch.Tensor:
        """log p(ids) for the same P positions at several layers: one vocabulary pass, (layers, P, K) on the CPU."""
        return self.logprobs(torch.cat(per_layer), ids).cpu().view(len(per_layer), -1, len(ids))
