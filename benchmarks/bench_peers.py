"""semhub against its peers on the same work, whole processes (model load included), wall time
and peak RSS of each, over several sizes N and batch sizes. One command per task:

    python benchmarks/bench_peers.py --task similarity   # per-layer states of N aligned pairs
    python benchmarks/bench_peers.py --task lens         # logit lens + token-set scoring at probed sites
    python benchmarks/bench_peers.py --task steer        # greedy generation, unsteered and steered

Contenders (peer_*.py; the task files they read are described in peer_tasks.py):
- floor: the least any code must do (similarity: a batched forward through the decoder blocks;
  lens: that plus final norm + unembedding at exactly the probed positions);
- semhub: its CLI end to end (analysis, bootstrap, plot, report, run directory);
- hf: batched ``output_hidden_states`` / ``generate`` with a forward hook;
- paper: the same one example at a time (the paper's code style);
- nnsight 0.8 in its own venv under benchmarks/.venvs, TransformerLens 4.3 (its TransformerBridge) in
  .venv-jlens (both made by ``make bench-venvs``); a contender whose venv is missing is skipped.
Numbers each contender computes are compared with hf's (lens: per-layer mean log-probs;
steer: identical continuations), so a fast but wrong contender shows.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_lens_floor import FLOOR, plan
from bench_similarity_floor import BASELINE
from side_by_side import bench_env

HERE = Path(__file__).parent
# nnsight in its own benchmark venv; TransformerLens 4.3 in the one the Jacobian-lens test uses (.venv-jlens)
VENVS = {"nnsight": HERE / ".venvs" / "nnsight" / "bin" / "python",
         "transformer_lens": HERE.parent / ".venv-jlens" / "bin" / "python"}
WRAP = r'''
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"wall_s": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
'''
DEFAULTS = {  # sizes, batch sizes (swept at the middle size), largest N for the paper style
    "similarity": ("100,300,1000", "4,16,64", 300),
    "lens": ("30,60,120", "4,16,64", 60),
    "steer": ("8,16,32", "4,16", 16),
}


def measure(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True, env=bench_env())
    if out.returncode:
        raise SystemExit(f"{cmd[:3]} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def agreement(task: str, result: dict, reference: dict, tokenizer) -> float:
    """lens: largest per-layer difference of mean log-probs; steer: share of identical continuations."""
    if task == "lens":
        return max(abs(a - b) for key in ("native_mean", "dominant_mean") for a, b in zip(result[key], reference[key]))
    if task == "steer":
        pairs = [(a, b) for c in reference["generations"] for a, b in
                 zip(result["generations"][c], reference["generations"][c])]
        if pairs and isinstance(pairs[0][0], str):  # semhub writes decoded text
            pairs = [(a, tokenizer.decode(b, skip_special_tokens=True)) for a, b in pairs]
        return sum(a == b for a, b in pairs) / len(pairs)
    raise ValueError(task)


def semhub_output(task: str, run: Path, tokenizer) -> dict | None:
    """semhub's run directory in the peers' format, so its numbers are checked like theirs."""
    if task == "lens":
        views = json.loads((run / "results.json").read_text())["logit_lens"]
        n = sum(v["n_positions"] for v in views)
        return {key: [sum(v["n_positions"] * v[src][i] for v in views) / n for i in range(len(views[0][src]))]
                for key, src in (("native_mean", "native_logprob"), ("dominant_mean", "dominant_logprob"))}
    if task == "steer":
        settings = json.loads((run / "continuations.json").read_text())
        return {"generations": {str(s["coeff"]): [c["continuation"] for c in s["continuations"]] for s in settings}}
    return None


class Tasks:
    """The task files for one size and the command of each contender."""

    def __init__(self, task: str, work: Path, model_dir: str, semhub_bin: str) -> None:
        self.task, self.work, self.model_dir, self.semhub = task, work, model_dir, semhub_bin
        (work / "floor_similarity.py").write_text(BASELINE)
        (work / "floor_lens.py").write_text(FLOOR)

    def prepare(self, n: int, args) -> str:
        if self.task == "similarity":
            data = self.work / f"rows-{n}.jsonl"
            rows = Path(args.data).read_text(encoding="utf-8").splitlines()[:n]
            data.write_text("\n".join(rows) + "\n", encoding="utf-8")
            return f"{data}:{args.views}"
        if self.task == "lens":
            spec = self.work / f"plan-{n}.json"
            spec.write_text(json.dumps(plan(args.views.split(","), 16, limit=n), ensure_ascii=False))
            return str(spec)
        import semhub
        from semhub import from_contrast

        ds = semhub.dataset("multilingual")
        vector = self.work / "es-minus-en.safetensors"
        if not vector.exists():  # built once, for the first size
            from_contrast(semhub.load(), ds.columns["es"][:40], ds.columns["en"][:40], layer=args.layer).save(vector)
        prompts = [" ".join(t.split()[:4]) for t in ds.columns["en"][40:40 + n]]
        (self.work / f"prompts-{n}.txt").write_text("\n".join(prompts) + "\n", encoding="utf-8")
        spec = self.work / f"steer-{n}.json"
        spec.write_text(json.dumps({"prompts": prompts, "layer": args.layer, "coeff": args.coeff,
                                    "max_new_tokens": args.max_new_tokens, "vector": str(vector)}))
        return str(spec)

    def command(self, name: str, n: int, bs: int, spec: str, out: Path, args) -> list[str] | None:
        peer = {"hf": sys.executable, "paper": sys.executable, **{k: str(v) for k, v in VENVS.items()}}
        if name in peer:
            if name in VENVS and not VENVS[name].exists():
                return None
            script = HERE / f"peer_{'hf' if name == 'paper' else name}.py"
            return [peer[name], str(script), self.task, self.model_dir, spec, str(bs), str(out)]
        run = str(self.work / f"run-{name}-{n}-{bs}")
        if name == "floor" and self.task == "similarity":
            data, views = spec.rsplit(":", 1)
            return [sys.executable, str(self.work / "floor_similarity.py"), "floor", self.model_dir, data, views, str(bs)]
        if name == "floor" and self.task == "lens":
            return [sys.executable, str(self.work / "floor_lens.py"), self.model_dir, spec, str(bs)]
        if name == "floor":
            return None
        if self.task == "similarity":
            data, views = spec.rsplit(":", 1)
            return [self.semhub, "analyze", "--data", data, "--views", views, "--batch-size", str(bs), "--out", run]
        if self.task == "lens":
            return [self.semhub, "analyze", "--analysis", "logit-lens", "--views", args.views, "--limit", str(n),
                    "--batch-size", str(bs), "--out", run]
        cfg = json.loads(Path(spec).read_text())
        return [self.semhub, "steer", "--vector", cfg["vector"], "--layer", str(cfg["layer"]), "--coeff",
                str(cfg["coeff"]), "--prompts", str(self.work / f"prompts-{n}.txt"), "--max-new-tokens",
                str(cfg["max_new_tokens"]), "--scorer", "language", "--target-language", "es", "--greedy", "--no-random-control", "--batch-size", str(bs), "--out", run]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=list(DEFAULTS), default="similarity")
    ap.add_argument("--data", default=str(HERE.parent / "plugins/semhub_arithmetic/arithmetic.jsonl"), help="similarity: aligned JSONL")
    ap.add_argument("--views", default=None, help="similarity: en,es; lens: en,zh,es")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--batch-sizes", default=None)
    ap.add_argument("--paper-max", type=int, default=None, help="largest N for the (slow) paper style")
    ap.add_argument("--layer", type=int, default=6, help="steer: the layer written")
    ap.add_argument("--coeff", type=float, default=1.0, help="steer: the coefficient")
    ap.add_argument("--max-new-tokens", type=int, default=16, help="steer: tokens generated")
    ap.add_argument("--contenders", default="floor,semhub,hf,nnsight,transformer_lens,paper")
    args = ap.parse_args()
    sizes, batch_sizes, paper_max = DEFAULTS[args.task]
    args.views = args.views or ("en,zh,es" if args.task == "lens" else "en,es")
    sizes = [int(x) for x in (args.sizes or sizes).split(",")]
    batch_sizes = [int(x) for x in (args.batch_sizes or batch_sizes).split(",")]
    paper_max = args.paper_max if args.paper_max is not None else paper_max

    from semhub.backbone.gguf import dequantized_copy
    from semhub.backbone.loading import resolve_source

    model_dir = str(dequantized_copy(resolve_source("gemma3-270m")[0]))  # every contender loads these files
    work = Path(tempfile.mkdtemp())
    tasks = Tasks(args.task, work, model_dir, str(Path(sys.executable).with_name("semhub")))
    middle = sizes[len(sizes) // 2]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    results = []
    for n in sizes:
        spec = tasks.prepare(n, args)
        for bs in batch_sizes if n == middle else [16]:
            rows, outputs = [], {}
            for name in args.contenders.split(","):
                if name == "paper" and (bs != 16 or n > paper_max):
                    continue
                out = work / f"{name}-{n}-{bs}.json"
                cmd = tasks.command(name, n, 1 if name == "paper" else bs, spec, out, args)
                if cmd is None:
                    continue
                rows.append({"task": args.task, "contender": name, "n": n, "batch_size": 1 if name == "paper" else bs,
                             **measure(cmd)})
                outputs[name] = (semhub_output(args.task, Path(cmd[-1]), tokenizer) if name == "semhub"
                                 else json.loads(out.read_text()) if out.exists() else None)
            for row in rows:
                if outputs.get(row["contender"]) and outputs.get("hf") and args.task != "similarity":
                    row["agreement_with_hf"] = agreement(args.task, outputs[row["contender"]], outputs["hf"], tokenizer)
                extra = f"  agreement {row['agreement_with_hf']:.3g}" if "agreement_with_hf" in row else ""
                print(f"{row['contender']:<16} N={n:<5} bs={row['batch_size']:<3} {row['wall_s']:7.1f} s "
                      f"{row['peak_rss_mb']:6.0f} MB{extra}", flush=True)
            results += rows
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / f"peers-{args.task}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
