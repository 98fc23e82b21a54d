"""The TransformerLens 3 contender (run inside benchmarks/.venvs/transformer_lens): the HF model
converted to a HookedTransformer, ``run_with_cache`` for states and ``generate`` under
``model.hooks`` for steering. Tasks as in peer_tasks.py."""
import torch
from transformer_lens import HookedTransformer
from transformers import AutoModelForCausalLM, AutoTokenizer

from peer_tasks import (LensScores, args, continuations, lens_batches, score_layer, similarity_texts, steer_spec,
                        write)

task, model_dir, spec, bs, out = args()
tok = AutoTokenizer.from_pretrained(model_dir)
hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
model = HookedTransformer.from_pretrained_no_processing("google/gemma-3-270m", hf_model=hf, tokenizer=tok,
                                                        device="cpu", dtype=torch.float32)
del hf
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
                    gen = model.generate(cfg["prompts"][s:s + bs], max_new_tokens=cfg["max_new_tokens"],
                                         do_sample=False, padding_side="left", return_type="tokens", verbose=False)
                    ids += continuations(gen, enc["input_ids"].shape[1], tok)
            gens[str(coeff)] = ids
        write(out, {"generations": gens})
