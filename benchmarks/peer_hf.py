"""The plain Hugging Face contender: ``model(..., output_hidden_states=True)`` and ``generate``
with a forward hook, batched. With batch size 1 it is the paper's code style (one example at a
time). Tasks as in peer_tasks.py."""
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from peer_tasks import (LensScores, args, continuations, lens_batches, score_layer, similarity_texts, steer_spec,
                        write)

task, model_dir, spec, bs, out = args()
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
norm, head = model.model.norm, model.lm_head

with torch.inference_mode():
    if task == "similarity":
        texts, kept = similarity_texts(spec), []
        for s in range(0, len(texts), bs):
            enc = tok(texts[s:s + bs], padding=True, padding_side="left", return_tensors="pt")
            hs = model(**enc, use_cache=False, output_hidden_states=True).hidden_states
            kept.append(torch.stack([h[:, -1] for h in hs], 1))
        write(out, {"shape": list(torch.cat(kept).shape)})
    elif task == "lens":
        scores = LensScores()
        for texts, sites, b, p in lens_batches(spec, bs):
            enc = tok(texts, padding=True, padding_side="right", return_tensors="pt")
            hs = model(**enc, use_cache=False, output_hidden_states=True).hidden_states
            last = len(hs) - 1  # HF's last hidden state already has the final norm
            scores.add([score_layer(head(h[b, p] if i == last else norm(h[b, p])), sites) for i, h in enumerate(hs)])
        write(out, scores.summary())
    else:
        cfg, vector = steer_spec(spec)
        block = model.model.layers[cfg["layer"] - 1]
        gens = {}
        for coeff in (0.0, cfg["coeff"]):
            add = coeff * vector

            def hook(_m, _a, output):
                return (output[0] + add, *output[1:]) if isinstance(output, tuple) else output + add

            handle = block.register_forward_hook(hook) if coeff else None
            ids = []
            for s in range(0, len(cfg["prompts"]), bs):
                enc = tok(cfg["prompts"][s:s + bs], padding=True, padding_side="left", return_tensors="pt")
                gen = model.generate(**enc, max_new_tokens=cfg["max_new_tokens"], do_sample=False, temperature=None,
                                     top_p=None, top_k=None, pad_token_id=tok.pad_token_id)
                ids += continuations(gen, enc["input_ids"].shape[1], tok)
            if handle:
                handle.remove()
            gens[str(coeff)] = ids
        write(out, {"generations": gens})
