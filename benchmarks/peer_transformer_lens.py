"""The TransformerLens 4.3 contender (run inside .venv-jlens, `make jlens-peer`): the HF model wrapped by
its ``TransformerBridge`` (the 4.x way: the transformers module tree with hook points, no weight
conversion), ``run_with_cache`` for states and ``generate`` under ``model.hooks`` for steering, with the
legacy hook names the bridge keeps. Tasks as in peer_tasks.py."""
import torch
from transformer_lens.model_bridge import TransformerBridge
from transformers import AutoTokenizer

from peer_tasks import (LensScores, args, continuations, lens_batches, score_layer, similarity_texts, steer_spec,
                        write)

task, model_dir, spec, bs, out = args()
tok = AutoTokenizer.from_pretrained(model_dir)
model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32, tokenizer=tok)
model.eval()
L = model.cfg.n_layers
names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(L)]


def wanted(name: str) -> bool:
    return name in names


with torch.inference_mode():
    if task == "similarity":
        texts, kept = similarity_texts(spec), []
        for s in range(0, len(texts), bs):
            enc = tok(texts[s:s + bs], padding=True, padding_side="right", return_tensors="pt")
            last = enc["attention_mask"].sum(1) - 1  # right padding: a causal model's real tokens never see it
            _, cache = model.run_with_cache(enc["input_ids"], names_filter=wanted, return_type=None)
            rows = torch.arange(len(last))
            kept.append(torch.stack([cache[n][rows, last] for n in names], 1))
        write(out, {"shape": list(torch.cat(kept).shape)})
    elif task == "lens":
        scores = LensScores()
        for texts, sites, b, p in lens_batches(spec, bs):
            enc = tok(texts, padding=True, padding_side="right", return_tensors="pt")
            _, cache = model.run_with_cache(enc["input_ids"], names_filter=wanted, return_type=None)
            # the TransformerLens logit-lens idiom (model.unembed would copy W_U on every call)
            scores.add([score_layer(model.ln_final(cache[n][b, p]) @ model.W_U + model.b_U, sites) for n in names])
        write(out, scores.summary())
    else:
        cfg, vector = steer_spec(spec)
        hook_name = f"blocks.{cfg['layer'] - 1}.hook_resid_post"
        gens = {}
        for coeff in (0.0, cfg["coeff"]):
            hooks = [(hook_name, lambda x, hook, add=coeff * vector: x + add)] if coeff else []
            ids = []
            with model.hooks(fwd_hooks=hooks):
                for s in range(0, len(cfg["prompts"]), bs):
                    enc = tok(cfg["prompts"][s:s + bs], padding=True, padding_side="left", return_tensors="pt")
                    # without its KV cache: TransformerLens 4.3's bridge repeats one token after the first
                    # on Gemma 3 when it caches (transformers' own generate does not; docs/benchmarks.md)
                    gen = model.generate(cfg["prompts"][s:s + bs], max_new_tokens=cfg["max_new_tokens"],
                                         do_sample=False, padding_side="left", return_type="tokens", verbose=False,
                                         use_past_kv_cache=False)
                    ids += continuations(gen, enc["input_ids"].shape[1], tok)
            gens[str(coeff)] = ids
        write(out, {"generations": gens})
