"""Training a tuned lens on a CPU in minutes: a least-squares start, then the KL objective on a
sampled vocabulary.

1. **Least squares.** Each layer's translator starts as the ridge regression of the last block's
   output on that layer's state (closed form, one d x d solve per layer): the lens then already
   predicts the state the unembedding reads.
2. **KL to the final distribution** (the tuned lens's objective) with Adam. The full-vocabulary KL
   costs a (positions x vocabulary) product per layer and step; instead each step scores the
   minibatch's final top-``top_k`` tokens (their union) exactly and the rest of the vocabulary
   through ``tail`` uniformly sampled tokens, which estimate the lens's normaliser (the sampled-
   softmax estimate) and the tail's mass. The loss is the KL over {each scored token, the tail
   bucket}, a lower bound of the full KL that tightens as the scored set covers the final mass.
   ``semhub analyze --analysis lens-quality`` measures the exact full-vocabulary KL afterwards.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from semhub.lens.logit import Lens


@dataclass
class TrainConfig:
    """How a tuned lens is trained (``semhub train-lens`` flags of the same names).

    Attributes:
        steps: Adam steps of the KL phase (0: least squares only).
        lr: Adam's learning rate.
        batch: positions per step (the same positions for every layer).
        top_k: each position's most probable final tokens scored exactly (their union per step).
        tail: uniformly sampled other tokens per step, for the normaliser and the tail's mass.
        ridge: the least-squares ridge, relative to the mean squared state norm.
        seed: seeds minibatches and tail samples.
    """

    steps: int = 300
    lr: float = 1e-3
    batch: int = 256
    top_k: int = 16
    tail: int = 2048
    ridge: float = 1e-3
    seed: int = 0


@dataclass
class TrainReport:
    """What training did, recorded in the lens's ``semhub-lens.json``."""

    positions: int
    least_squares_s: float
    kl_s: float
    losses: list[float] = field(default_factory=list)  # the sampled KL (summed over layers), every 10 steps


def least_squares(states: dict[int, torch.Tensor], L: int, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, d, d) weights and (L, d) biases with ``h_l + W h_l + b ~ h_L`` in the least-squares sense."""
    target = states[L].double()
    d = target.shape[1]
    weight, bias = torch.zeros(L, d, d), torch.zeros(L, d)
    for layer in range(L):
        x = states[layer].double()
        x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
        gram = x1.T @ x1
        lam = ridge * gram.diagonal().mean()
        sol = torch.linalg.solve(gram + lam * torch.eye(d + 1, dtype=x.dtype), x1.T @ (target - x))
        weight[layer], bias[layer] = sol[:d].T.float(), sol[d].float()
    return weight, bias


def train(lens: Lens, states: dict[int, torch.Tensor], config: TrainConfig,
          progress: Callable[[int, float], None] | None = None) -> tuple[torch.Tensor, torch.Tensor, TrainReport]:
    """Translators for every layer below L from ``states`` ({layer: (N, d)}, layer L = the last block's output)."""
    L = lens.n_layers
    t0 = time.perf_counter()
    weight, bias = least_squares(states, L, config.ridge)
    ls_s = time.perf_counter() - t0
    report = TrainReport(int(states[L].shape[0]), round(ls_s, 2), 0.0)
    if config.steps <= 0:
        return weight, bias, report
    gen = torch.Generator().manual_seed(config.seed)
    W = torch.nn.Parameter(weight.clone())
    B = torch.nn.Parameter(bias.clone())
    opt = torch.optim.Adam([W, B], lr=config.lr)
    N = states[L].shape[0]
    target = final_targets(lens, states[L], config.top_k)  # once: the positions' top tokens and normalisers
    inputs = torch.stack([states[layer] for layer in range(L)])  # (L, N, d)
    norm = lens.final_norm
    norm_dtype = next((q.dtype for q in norm.parameters()), torch.float32)
    t1 = time.perf_counter()
    for step in range(config.steps):
        rows = torch.randint(0, N, (min(config.batch, N),), generator=gen)
        h = inputs[:, rows]  # (L, b, d)
        q_h = norm((h + torch.einsum("lbd,led->lbe", h, W) + B[:, None]).to(norm_dtype)).float()
        kl = sampled_kl_terms(lens, q_h, target.h[rows], target.log_norm[rows], target.top_ids[rows], config.tail, gen)
        loss = kl.mean(-1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == config.steps - 1:
            report.losses.append(round(float(loss.detach()), 4))
            if progress is not None:
                progress(step + 1, float(loss.detach()))
    report.kl_s = round(time.perf_counter() - t1, 2)
    return W.detach(), B.detach(), report


def sampled_kl_terms(lens: Lens, q_h: torch.Tensor, final_h: torch.Tensor, log_norm: torch.Tensor,
                     top_ids: torch.Tensor, tail: int, generator: torch.Generator) -> torch.Tensor:
    """The training objective per position, (..., b): the KL from the final distribution to the lens over
    {the positions' final top tokens, the tail bucket}, the lens's normaliser and tail mass estimated
    from ``tail`` uniformly sampled other tokens. ``q_h`` (..., b, d) is what the unembedding reads
    (after translator and norm, with autograd); ``final_h``, ``log_norm``, ``top_ids`` describe the
    final distribution of the same b positions exactly."""
    V = lens.vocab_size
    with torch.no_grad():
        scored = torch.unique(top_ids.flatten())
        others = torch.randint(0, V, (tail,), generator=generator)
        others = others[~torch.isin(others, scored)]
        logp = lens.logits(final_h, scored) - log_norm[:, None]  # (b, S), exact
        p = logp.exp()
        p_rest = (1 - p.sum(1)).clamp_min(1e-12)
        stands_for = math.log(max(V - len(scored), 1) / max(len(others), 1))
    z_s = _logits(lens, q_h, scored)  # (..., b, S)
    if len(others) == 0:  # every token scored: the exact KL
        return (p * (logp - z_s.log_softmax(-1))).sum(-1)
    z_t = _logits(lens, q_h, others) + stands_for  # each sample stands for (V - S) / R tokens
    lse_t = torch.logsumexp(z_t, -1)
    lse = torch.logaddexp(torch.logsumexp(z_s, -1), lse_t)
    return (p * (logp - (z_s - lse[..., None]))).sum(-1) + p_rest * (p_rest.log() - (lse_t - lse))


@dataclass
class FinalTargets:
    """The final distribution of some positions, as the objective reads it: what the unembedding reads
    at the output (``h``), its exact log-normaliser and each position's top tokens."""

    lens: Lens
    h: torch.Tensor
    log_norm: torch.Tensor
    top_ids: torch.Tensor


def final_targets(final: Lens, final_states: torch.Tensor, top_k: int) -> FinalTargets:
    """One vocabulary pass over the last layer's states (computed once, reused for every layer)."""
    with torch.no_grad():
        h = final.prepare(final_states, final.n_layers)
        scan = final.scan(h, k=top_k)
    return FinalTargets(final, h, scan.log_norm, scan.top_ids)


def sampled_kl(lens: Lens, states: torch.Tensor, layer: int, target: FinalTargets, *, tail: int,
               generator: torch.Generator, rows: int = 256) -> float:
    """The mean training objective of ``lens`` at ``layer`` on these states: set beside the exact KL
    (``semhub.lens.quality.kl_and_agreement``) it says how close the approximation comes."""
    total, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, states.shape[0], rows):
            part = slice(s, s + rows)
            q_h = lens.prepare(states[part], layer)
            kl = sampled_kl_terms(target.lens, q_h, target.h[part], target.log_norm[part], target.top_ids[part],
                                  tail, generator)
            total, n = total + float(kl.sum()), n + kl.shape[0]
    return total / max(n, 1)


def _logits(lens: Lens, h: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The lens's logits of ``ids`` with autograd (``Lens.logits`` is for reading): bias and soft-capping."""
    z = h @ lens.weight[ids].float().T
    if lens.bias is not None:
        z = z + lens.bias[ids].float()
    if lens.softcap:
        z = torch.tanh(z / lens.softcap) * lens.softcap
    return z
