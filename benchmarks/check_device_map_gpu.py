"""GPU check of --device-map (run where CUDA is present; the test suite never needs it).

The embedded Gemma 3 270M is split across every CUDA device and the CPU (the first half of
its blocks on the GPUs, the rest on the CPU), so activations cross devices inside the forward.
Captured states, steered logits and the logit lens are compared with the same model on the
CPU alone; prints one JSON line and exits 1 if anything differs beyond float32 noise.

    python benchmarks/check_device_map_gpu.py            # then: semhub analyze --device-map auto --device cuda
"""
from __future__ import annotations

import json
import sys

import torch

import semhub
from semhub.steering.apply import steer
from semhub.default_plugins.text import TextSpoke

TOL = 1e-3  # float32 on two kinds of device: reductions run in another order


def placement(n_blocks: int, gpus: int) -> dict:
    half = n_blocks // 2
    where = {"model.embed_tokens": 0, "model.rotary_emb": 0, "model.norm": "cpu", "lm_head": "cpu"}
    for i in range(n_blocks):
        where[f"model.layers.{i}"] = (i * gpus) // half if i < half else "cpu"
    return where


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this check is for a GPU machine")
    cpu = semhub.load(dtype="float32")
    spread = semhub.load(dtype="float32", device_map=placement(cpu.n_layers, torch.cuda.device_count()))
    texts = semhub.dataset().columns["en"][:32]
    enc = TextSpoke().encode(texts, cpu, None)
    report: dict = {"devices": sorted({str(d) for d in getattr(spread.model, "hf_device_map", {}).values()})}
    report["capture_max_abs"] = float((semhub.capture(spread, [enc]) - semhub.capture(cpu, [enc])).abs().max())
    vector = torch.randn(cpu.d_model, generator=torch.Generator().manual_seed(0)) * 20
    logits = {}
    for name, bb in (("cpu", cpu), ("spread", spread)):
        with torch.inference_mode(), steer(bb, vector, layers=cpu.n_layers - 2, coeff=1.0):
            logits[name] = bb.model(**bb.forward_kwargs(enc.inputs)).logits.float().cpu()
    report["steered_logits_max_abs"] = float((logits["cpu"] - logits["spread"]).abs().max())
    one = TextSpoke().encode(texts[:1], cpu, None)
    views = {name: semhub.lens_view(bb, one, layers=list(range(cpu.n_layers + 1)), k=1)
             for name, bb in (("cpu", cpu), ("spread", spread))}
    report["lens_top1_same"] = views["cpu"].top_tokens == views["spread"].top_tokens
    report["ok"] = (report["capture_max_abs"] < TOL and report["steered_logits_max_abs"] < 20 * TOL
                    and report["lens_top1_same"])
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
