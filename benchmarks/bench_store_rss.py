"""Peak RSS of `semhub analyze --store` as N grows: memory must stay bounded (issue bar: the
20k-pair run within 1.2x of the 2k-pair run). Each size runs in its own process; the figure is
that process's ru_maxrss. Usage: python benchmarks/bench_store_rss.py [--sizes 2000,20000]
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


def child(n: int, work: Path) -> None:
    """Run the CLI in this process, then report its own peak RSS."""
    from semhub.cli import main

    data = work / f"pairs-{n}.jsonl"
    sample = [json.loads(line) for line in
              (Path(__import__("semhub.default_plugins.multilingual_sample").__file__).parent / "multilingual.jsonl").read_text().splitlines()]
    with data.open("w") as fh:
        for i in range(n):
            row = sample[i % len(sample)]
            fh.write(json.dumps({"en": row["en"], "es": row["es"]}) + "\n")
    start = time.perf_counter()
    try:
        main(["analyze", "--data", str(data), "--views", "en,es", "--layers", "6,9,12", "--batch-size", "64",
              "--bootstrap", "200", "--store", str(work / f"store-{n}"), "--out", str(work / f"run-{n}")])
    except SystemExit as exc:
        if exc.code:
            raise
    print(json.dumps({"n": n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "wall_s": round(time.perf_counter() - start, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--child", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.work)
        return
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n in [int(s) for s in args.sizes.split(",")]:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), "--work", work],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"N={n} failed:\n{out.stderr[-3000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    base = rows[0]["peak_rss_mb"]
    for row in rows:
        print(f"N={row['n']:>6}  peak RSS {row['peak_rss_mb']:7.0f} MB  ({row['peak_rss_mb'] / base:.2f}x)  "
              f"wall {row['wall_s']} s")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "store_rss.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
