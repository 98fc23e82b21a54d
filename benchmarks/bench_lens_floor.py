"""`semhub analyze --analysis logit-lens` vs its floor, whole processes, model load included.

floor: load the model, forward the base model (no LM head) over the same texts, then the
       unavoidable products only: final norm + unembedding for exactly the probed
       (position, layer) pairs, one matmul per batch; no normaliser, nothing else.
semhub: the full analysis (streamed normaliser, probes, bootstrap, plot, run directory).

The probed positions are computed once by semhub's own probe finder and handed to the
floor. Rounds alternate order; medians and the ratio are reported.
    python benchmarks/bench_lens_floor.py [--views en,zh,es,fr,de] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from side_by_side import run_rounds

FLOOR = r'''
import sys, json, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
model_dir, plan_path, bs = sys.argv[1], sys.argv[2], int(sys.argv[3])
plan = json.load(open(plan_path, encoding="utf-8"))
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
W, norm = model.lm_head.weight, model.model.norm
with torch.inference_mode():
    for view in plan:
        texts, sites = view["texts"], view["sites"]
        for s in range(0, len(texts), bs):
            enc = tok(texts[s:s + bs], padding=True, padding_side="right", return_tensors="pt")
            hs = model.model(**enc, use_cache=False, output_hidden_states=True).hidden_states
            rows = [(r - s, p) for r, p, *_ in sites if s <= r < s + bs]
            if not rows:
                continue
            b, p = torch.tensor([r for r, _ in rows]), torch.tensor([q for _, q in rows])
            x = torch.cat([norm(h[b, p]) for h in hs[:-1]] + [hs[-1][b, p]])
            x @ W.T
'''


def plan(views: list[str], batch_size: int, limit: int | None = None) -> list[dict]:
    """Texts per probed view and the sites semhub's probe reads: ``[row, position, native id, candidate ids]``."""
    import semhub
    from semhub.analyses.logit_lens import probe_sites

    bb = semhub.load()
    ds = semhub.dataset()
    if limit:
        ds = ds.head(limit)
    dominant = bb.family.dominant_language
    dicts = {frozenset(d.languages): d for d in semhub.data.dictionary.dictionaries()}
    from semhub.default_plugins.text import TextSpoke

    out = []
    for view in views:
        if view == dominant or frozenset({view, dominant}) not in dicts:
            continue
        translations = dicts[frozenset({view, dominant})].translations(view, dominant)
        texts = ds.columns[view]
        sites = []
        for s in range(0, len(texts), batch_size):
            enc = TextSpoke().encode(texts[s:s + batch_size], bb, None)
            sites += [(s + site.row, site.pos, site.native, site.candidates) for site in probe_sites(texts[s:s + batch_size], enc, translations, bb)]
        out.append({"view": view, "texts": texts, "sites": sites})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--views", default="en,zh,es,fr,de")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", default="benchmarks/out/lens_floor.json")
    args = ap.parse_args()

    from semhub.backbone.gguf import dequantized_copy
    from semhub.backbone.loading import resolve_source

    model_dir = str(dequantized_copy(resolve_source("gemma3-270m")[0]))
    work = Path(tempfile.mkdtemp())
    probes = plan(args.views.split(","), args.batch_size)
    (work / "plan.json").write_text(json.dumps(probes, ensure_ascii=False))
    (work / "floor.py").write_text(FLOOR)
    semhub_bin = str(Path(sys.executable).with_name("semhub"))
    contenders = {
        "floor": lambda: [sys.executable, str(work / "floor.py"), model_dir, str(work / "plan.json"), str(args.batch_size)],
        "semhub": lambda: [semhub_bin, "analyze", "--analysis", "logit-lens", "--views", args.views,
                           "--batch-size", str(args.batch_size), "--out", tempfile.mkdtemp() + "/run"],
    }
    times, med = run_rounds(contenders, args.rounds)
    report = {"views": args.views, "positions": sum(len(p["sites"]) for p in probes), "rounds": args.rounds,
              "seconds": times, "median_s": med, "semhub_over_floor": med["semhub"] / med["floor"]}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("positions", "median_s", "semhub_over_floor")}, indent=1))


if __name__ == "__main__":
    main()
