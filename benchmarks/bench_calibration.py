"""What calibration costs, side by side in one run.

1. Whole processes: `semhub analyze` (similarity, and alignment) with `--permutations 0` (raw numbers) and
   with the default 200, on the built-in sample: the issue's bound is 1.5x.
2. In process, on states captured once: semhub's nulls (gathered similarities, relabelled neighbour
   lists, ranks sorted once) against the calibrated-similarity package recomputing each metric on each
   shuffle, for the same K, per layer.

Usage:
    python benchmarks/bench_calibration.py [--views en,zh,es] [--rounds 3] [--permutations 200]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from side_by_side import run_rounds


def in_process(views: list[str], k: int) -> dict[str, float]:
    import torch
    import calibrated_similarity as cs

    import semhub
    from semhub.analyses import alignment_metrics as am
    from semhub.analyses.alignment import layer_draws
    from semhub.analyses.calibration import permutations
    from semhub.analyses.stats import item_statistics

    bb = semhub.load("gemma3-270m")
    ctx = semhub.make_context(bb, "multilingual", views[:2])
    x, y = ctx.states(views[0]), ctx.states(views[1])
    n, layers = x.shape[0], x.shape[1]
    perms = permutations(n, k, 0)
    out = {}
    start = time.perf_counter()
    item_statistics(x, y, center=True, perms=perms)
    out["semhub_similarity_s"] = time.perf_counter() - start

    def eq1(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        c = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T
        t = c.diagonal().sum()
        return (t / len(c) - (c.sum() - t) / (len(c) * (len(c) - 1))).item()

    start = time.perf_counter()
    for layer in range(layers):
        cs.calibrate(x[:, layer], y[:, layer], eq1, K=k, generator=torch.Generator().manual_seed(0))
    out["package_eq1_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for layer in range(layers):
        layer_draws(x[:, layer], y[:, layer], perms, k=10, ks=[1, 5, 10], center=True)
    out["semhub_alignment_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for layer in range(layers):
        for fn in (am.linear_cka, lambda a, b: am.mutual_knn(a, b, 10)):
            cs.calibrate(x[:, layer], y[:, layer], fn, K=k, generator=torch.Generator().manual_seed(0))
    out["package_cka_and_mutual_knn_s"] = time.perf_counter() - start
    out["rows"], out["layers"] = n, layers
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--views", default="en,zh,es")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--json", default="benchmarks/out/calibration.json")
    args = ap.parse_args()
    semhub_bin = str(Path(sys.executable).with_name("semhub"))

    def command(analysis: str, k: int, *extra: str):
        return lambda: [semhub_bin, "analyze", "--analysis", analysis, "--views", args.views,
                        "--permutations", str(k), *extra, "--out", tempfile.mkdtemp() + "/run"]

    contenders = {f"{a} K={k}": command(a, k) for a in ("similarity", "alignment") for k in (0, args.permutations)}
    # the jackknife pseudo-values compare pairs (alignment only, at each metric's calibrated peak)
    contenders[f"alignment K={args.permutations} without pseudo-values"] = command("alignment", args.permutations, "--jackknife-blocks", "0")
    times, med = run_rounds(contenders, args.rounds)
    plain = med[f"alignment K={args.permutations} without pseudo-values"]
    report = {"views": args.views, "rounds": args.rounds, "permutations": args.permutations, "seconds": times,
              "median_s": med,
              **{f"{a}_calibrated_over_raw": med[f"{a} K={args.permutations}"] / med[f"{a} K=0"]
                 for a in ("similarity", "alignment")},
              "alignment_calibration_alone_over_raw": plain / med["alignment K=0"],
              "alignment_pseudo_values_over_without": med[f"alignment K={args.permutations}"] / plain,
              "in_process": in_process(args.views.split(","), args.permutations)}
    p = report["in_process"]
    report["package_over_semhub_eq1"] = p["package_eq1_s"] / p["semhub_similarity_s"]
    report["package_over_semhub_alignment"] = p["package_cka_and_mutual_knn_s"] / p["semhub_alignment_s"]
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "seconds"}, indent=1))


if __name__ == "__main__":
    main()
