"""The nnsight contender (run inside benchmarks/.venvs/nnsight): ``model.trace`` saving layer
outputs, ``model.generate`` with an edit at every step. Tasks as in peer_tasks.py."""
import torch
from nnsight import LanguageModel

from peer_tasks import (LensScores, args, continuations, lens_batches, score_layer, similarity_texts, steer_spec,
                        write)

task, model_dir, spec, bs, out = args()
model = LanguageModel(model_dir, dtype=torch.float32, dispatch=True)
tok, layers = model.tokenizer, model.model.layers
norm, head = model._module.model.norm, model._module.lm_head


def value(t):
    return t.value if hasattr(t, "value") else t


if task == "similarity":
    tok.padding_side = "left"  # the last position is every text's last token
    texts, kept = similarity_texts(spec), []
    for s in range(0, len(texts), bs):
        saved = []
        with torch.inference_mode(), model.trace(texts[s:s + bs]):
            for layer in layers:
                saved.append(layer.output[:, -1].save())
        kept.append(torch.stack([value(t) for t in saved], 1))
    write(out, {"shape": list(torch.cat(kept).shape)})
elif task == "lens":
    tok.padding_side = "right"
    scores = LensScores()
    for texts, sites, b, p in lens_batches(spec, bs):
        saved = []  # filled inside the trace (nnsight hands back what was saved into outer objects)
        with torch.inference_mode(), model.trace(texts):
            saved.append(model.model.embed_tokens.output[b, p].save())
            for layer in layers:
                saved.append(layer.output[b, p].save())
        with torch.inference_mode():
            scores.add([score_layer(head(norm(value(h))), sites) for h in saved])
    write(out, scores.summary())
else:
    tok.padding_side = "left"
    cfg, vector = steer_spec(spec)
    block = layers[cfg["layer"] - 1]
    gens = {}
    for coeff in (0.0, cfg["coeff"]):
        ids = []
        for s in range(0, len(cfg["prompts"]), bs):
            batch = cfg["prompts"][s:s + bs]
            # an open tracer.all() loop ends its invoke, so the result is read in a second invoke
            with torch.inference_mode(), model.generate(max_new_tokens=cfg["max_new_tokens"], do_sample=False,
                                                        temperature=None, top_p=None, top_k=None,
                                                        pad_token_id=tok.pad_token_id) as tracer:
                with tracer.invoke(batch):
                    if coeff:
                        for _step in tracer.all():
                            block.output = block.output + coeff * vector
                with tracer.invoke():
                    result = tracer.result.save()
            prompt_len = tok(batch, padding=True, return_tensors="pt")["input_ids"].shape[1]
            ids += continuations(value(result), prompt_len, tok)
        gens[str(coeff)] = ids
    write(out, {"generations": gens})
