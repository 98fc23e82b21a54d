"""semhub analyze vs the floor, side by side, whole processes, model load included.

floor:     load the model, batched forward through the base model (decoder blocks, no LM
           head), nothing kept.
hf-hidden: load the model, batched HF forward with output_hidden_states=True (LM head
           included), what most libraries do.
paper:     the paper's code style: one example at a time, output_hidden_states=True, the last
           token of every hidden state kept (--paper-style adds it; slow).
semhub:    `semhub analyze` end to end (capture, similarity, bootstrap, plot, run dir).

Runs rounds in alternating order and reports medians and ratios, because this machine
is noisy. Usage:
    python benchmarks/bench_similarity_floor.py [--data FILE] [--views en,zh] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from side_by_side import run_rounds

BASELINE = r'''
import sys, json, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
mode, model_dir, data, views, bs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
rows = [json.loads(l) for l in open(data, encoding="utf-8") if l.strip()]
texts = [r[v] for v in views for r in rows]
kept = []
with torch.inference_mode():
    if mode == "paper":
        for text in texts:
            enc = tok(text, return_tensors="pt")
            hs = model(**enc, output_hidden_states=True).hidden_states
            kept.append(torch.stack([h[0, -1] for h in hs]))
    for s in range(0, len(texts), bs) if mode != "paper" else ():
        enc = tok(texts[s:s + bs], padding=True, return_tensors="pt")
        if mode == "floor":
            model.model(**enc, use_cache=False)
        else:
            model(**enc, use_cache=False, output_hidden_states=True)
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="aligned JSONL (default: the built-in multilingual sample)")
    ap.add_argument("--views", default="en,zh,es")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", default="benchmarks/out/similarity_floor.json")
    ap.add_argument("--paper-style", action="store_true", help="also time the one-example-at-a-time paper style")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N rows")
    args = ap.parse_args()

    import semhub
    from semhub.backbone.gguf import dequantized_copy
    from semhub.backbone.loading import resolve_source

    data = args.data or str(semhub.plugins.catalog.datasets()["multilingual"].path)
    if args.limit:
        rows = Path(data).read_text(encoding="utf-8").splitlines()[: args.limit]
        data = str(Path(tempfile.mkdtemp()) / "rows.jsonl")
        Path(data).write_text("\n".join(rows) + "\n", encoding="utf-8")
    source, _ = resolve_source("gemma3-270m")
    model_dir = str(dequantized_copy(source))  # warm the cache so every contender loads the same files
    script = Path(tempfile.mkdtemp()) / "baseline.py"
    script.write_text(BASELINE)
    semhub_bin = str(Path(sys.executable).with_name("semhub"))
    contenders = {
        "floor": lambda: [sys.executable, str(script), "floor", model_dir, data, args.views, str(args.batch_size)],
        "hf-hidden": lambda: [sys.executable, str(script), "hidden", model_dir, data, args.views, str(args.batch_size)],
        "semhub": lambda: [semhub_bin, "analyze", "--data", data, "--views", args.views,
                           "--batch-size", str(args.batch_size), "--out", tempfile.mkdtemp() + "/run"],
    }
    if args.paper_style:
        contenders["paper"] = lambda: [sys.executable, str(script), "paper", model_dir, data, args.views, "1"]
    times, med = run_rounds(contenders, args.rounds)
    report = {
        "data": data, "views": args.views, "rounds": args.rounds, "batch_size": args.batch_size,
        "seconds": times, "median_s": med,
        "semhub_over_floor": med["semhub"] / med["floor"], "hf_hidden_over_floor": med["hf-hidden"] / med["floor"],
    }
    if "paper" in med:
        report["paper_over_semhub"] = med["paper"] / med["semhub"]
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    keys = ("median_s", "semhub_over_floor", "hf_hidden_over_floor", "paper_over_semhub")
    print(json.dumps({k: report[k] for k in keys if k in report}, indent=1))


if __name__ == "__main__":
    main()
