"""Wall time and peak RSS of the alignment analysis on activation stores of N = 2k and 20k pairs,
one model (views en, zh) and two models (A: en, B: image, in the store's model-b/), each size in
its own process reading a finished store (``--from-store``: the analysis alone, no model).

The stores are synthetic, with the widths of the offline models (Gemma 3 270M: 640; DINOv2 small:
384) and 6 layers: y = x R + noise, so every metric has something to find. Memory must stay
O(N x block): what grows from 2k to 20k is a few N x D buffers, never N x N. Two figures: peak RSS
(``ru_maxrss``, which also counts the store's file pages that reading a layer maps in: a layer is
strided across every shard) and peak anonymous memory (RssAnon, sampled every 50 ms).
Usage: python benchmarks/bench_alignment_store.py [--sizes 2000,20000] [--permutations 5]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
LAYERS, WIDTH_A, WIDTH_B, SHARD = 6, 640, 384, 1024


def write_store(root: Path, views: dict[str, int], n: int, seed: int) -> None:
    """A finished store: ``views`` name -> width; rows of each view share one latent per item."""
    import torch

    from semhub.runs.store import ActivationStore, shard_rows

    store = ActivationStore(root)
    width = max(views.values())
    store.open({"model": {"name": f"synthetic-{width}", "model": "synthetic"}, "data": "synthetic.jsonl",
                "data_sha256": "0" * 64, "rows": n, "views": list(views), "layers": list(range(LAYERS)),
                "pooling": "mean", "final_norm": False, "batch_size": 64, "store_dtype": "float32",
                "shard_rows": SHARD, "d_model": width}, resume=False)
    gen = torch.Generator().manual_seed(seed)
    mixes = {v: torch.randn(LAYERS, 64, w, generator=torch.Generator().manual_seed(seed + len(v) + w))
             for v, w in views.items()}
    for view in views:
        store.missing(view)  # makes the view's folder
    for index, rows in enumerate(shard_rows(n, SHARD)):
        latent = torch.randn(len(rows), 64, generator=torch.Generator().manual_seed(1000 + index))
        for view, w in views.items():
            states = torch.einsum("nd,ldw->nlw", latent, mixes[view]) + 4 * torch.randn(len(rows), LAYERS, w,
                                                                                          generator=gen)
            store.write(view, index, states)


def anon_peak() -> "callable":
    """Sample RssAnon (memory the process allocated, not the store's file pages that reading a layer
    maps in) every 50 ms; returns a function giving the peak seen, in MB."""
    import threading

    peak = [0]

    def sample() -> None:
        while True:
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    return lambda: round(peak[0] / 1024)


def child(n: int, work: Path, kind: str, permutations: int) -> None:
    from semhub.cli import main

    store = work / f"{kind}-{n}"
    if kind == "one":
        write_store(store, {"en": WIDTH_A, "zh": WIDTH_A}, n, seed=1)
    else:
        write_store(store, {"en": WIDTH_A}, n, seed=1)
        write_store(store / "model-b", {"image": WIDTH_B}, n, seed=2)
    peak = anon_peak()
    start = time.perf_counter()
    try:
        main(["analyze", "--from-store", str(store), "--analysis", "alignment", "--permutations", str(permutations),
              "--out", str(work / f"run-{kind}-{n}")])
    except SystemExit as exc:
        if exc.code:
            raise
    print(json.dumps({"n": n, "kind": kind, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "peak_anon_mb": peak(),
                      "analysis_s": round(time.perf_counter() - start, 1),
                      "store_mb": round(sum(f.stat().st_size for f in store.rglob("*.safetensors")) / 2 ** 20)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--permutations", type=int, default=5)
    parser.add_argument("--child", type=int, default=None)
    parser.add_argument("--kind", default="one")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.work, args.kind, args.permutations)
        return
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for kind in ("one", "two"):
            for n in [int(s) for s in args.sizes.split(",")]:
                out = subprocess.run([sys.executable, __file__, "--child", str(n), "--kind", kind, "--work", work,
                                      "--permutations", str(args.permutations)], capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"{kind} N={n} failed:\n{out.stderr[-3000:]}")
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
    for kind in ("one", "two"):
        mine = [r for r in rows if r["kind"] == kind]
        for row in mine:
            print(f"{kind} model(s)  N={row['n']:>6}  store {row['store_mb']:5d} MB  peak RSS {row['peak_rss_mb']:6d} MB "
                  f"({row['peak_rss_mb'] / mine[0]['peak_rss_mb']:.2f}x)  peak anonymous {row['peak_anon_mb']:6d} MB "
                  f"({row['peak_anon_mb'] / mine[0]['peak_anon_mb']:.2f}x)  analysis {row['analysis_s']} s")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "alignment_store.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
