"""semhub against its peers on the same work (per-layer states of N aligned pairs -> similarity):
the floor (batched base-model forward), the paper's one-example-at-a-time output_hidden_states,
and nnsight (in its own venv, benchmarks/.venvs/nnsight, made by `make bench-venvs`). Whole
processes, model load included; wall time and peak RSS of each; several N and batch sizes.

    python benchmarks/bench_peers.py [--sizes 100,300,1000] [--batch-sizes 4,16,64] [--paper-max 300]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_similarity_floor import BASELINE
from side_by_side import bench_env

HERE = Path(__file__).parent
NNSIGHT = HERE / ".venvs" / "nnsight" / "bin" / "python"
WRAP = r'''
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"wall_s": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
'''


def measure(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True, env=bench_env())
    if out.returncode:
        raise SystemExit(f"{cmd[:3]} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="plugins/semhub_arithmetic/arithmetic.jsonl")
    ap.add_argument("--views", default="en,es")
    ap.add_argument("--sizes", default="100,300,1000")
    ap.add_argument("--batch-sizes", default="4,16,64")
    ap.add_argument("--paper-max", type=int, default=300, help="largest N for the (slow) paper style")
    args = ap.parse_args()

    from semhub.backbone.loading import dequantized_copy, resolve_source

    source, _ = resolve_source("gemma3-270m")
    model_dir = str(dequantized_copy(source))
    work = Path(tempfile.mkdtemp())
    script = work / "baseline.py"
    script.write_text(BASELINE)
    semhub_bin = str(Path(sys.executable).with_name("semhub"))
    rows = Path(args.data).read_text(encoding="utf-8").splitlines()
    results = []

    def run(name: str, n: int, bs: int, cmd: list[str]) -> None:
        row = {"contender": name, "n": n, "batch_size": bs, **measure(cmd)}
        results.append(row)
        print(f"{name:<10} N={n:<5} bs={bs:<3} {row['wall_s']:7.1f} s  {row['peak_rss_mb']:6.0f} MB", flush=True)

    for n in [int(x) for x in args.sizes.split(",")]:
        data = work / f"rows-{n}.jsonl"
        data.write_text("\n".join(rows[:n]) + "\n", encoding="utf-8")
        for bs in [int(x) for x in args.batch_sizes.split(",")] if n == 300 else [16]:
            run("floor", n, bs, [sys.executable, str(script), "floor", model_dir, str(data), args.views, str(bs)])
            run("semhub", n, bs, [semhub_bin, "analyze", "--data", str(data), "--views", args.views,
                                  "--batch-size", str(bs), "--out", str(work / f"run-{n}-{bs}")])
            if NNSIGHT.exists():
                run("nnsight", n, bs, [str(NNSIGHT), str(HERE / "peer_nnsight.py"), model_dir, str(data),
                                       args.views, str(bs)])
        if n <= args.paper_max:
            run("paper", n, 1, [sys.executable, str(script), "paper", model_dir, str(data), args.views, "1"])
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "peers.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
