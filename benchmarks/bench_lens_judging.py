"""Judging lenses (lens-quality, `semhub train-lens`'s held-out table): one pass over the vocabulary for
every lens and layer (``judge_lenses``) against one pass per lens and layer (``kl_and_agreement`` in a
loop, how semhub judged before 2026-12-06), side by side in one process on the same states.

The one-pass form computes the final distribution's logits once per vocabulary chunk instead of once
per (lens, layer), and reads the unembedding once: with few positions each pass is memory-bound.
Both give the same numbers (asserted here; tested in tests/test_tuned_lens.py).
    python benchmarks/bench_lens_judging.py [--positions 100,10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import semhub
from semhub.lens.logit import Lens
from semhub.lens.quality import content_states, judge_lenses, kl_and_agreement
from semhub.lens.tuned import TunedLens
from semhub.readout.collect import encode_values


def per_layer(lenses: dict, states: dict, layers: list[int], final: Lens) -> dict[str, list[float]]:
    last = max(states)
    return {name: [float(kl_and_agreement(lens, states[layer], layer, final, states[last])[0].mean()) for layer in layers]
            for name, lens in lenses.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--positions", default="100,10", help="Comma list of position counts to judge.")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    bb = semhub.load()
    L = bb.n_layers
    texts = semhub.dataset("multilingual").columns["en"][:40]
    states = content_states(bb, encode_values(bb, texts, "text", 16), range(L + 1))
    torch.manual_seed(0)
    d = bb.d_model
    tuned = TunedLens(bb, torch.eye(d).repeat(L, 1, 1) + 0.01 * torch.randn(L, d, d), torch.zeros(L, d))
    final = Lens(bb)
    lenses = {"logit": final, "tuned": tuned}
    layers = list(range(L))
    print(f"{bb.name}: {L} layers x 2 lenses, vocabulary {final.vocab_size}, {torch.get_num_threads()} threads")
    for n in (int(x) for x in args.positions.split(",")):
        cut = {layer: s[:n] for layer, s in states.items()}
        times = {"one pass": [], "per lens and layer": []}
        for r in range(args.rounds):
            order = list(times) if r % 2 == 0 else list(reversed(times))
            for name in order:
                start = time.perf_counter()
                got = judge_lenses(lenses, cut, layers, final)[0] if name == "one pass" else per_layer(lenses, cut, layers, final)
                times[name].append(time.perf_counter() - start)
                if name == "one pass":
                    one = got
                else:
                    loop = got
        for name in lenses:
            assert max(abs(a - b) for a, b in zip(one[name], loop[name])) < 1e-4
        a, b = statistics.median(times["one pass"]), statistics.median(times["per lens and layer"])
        print(f"{n} positions: one pass {a:.2f} s, per lens and layer {b:.2f} s, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
