"""The nnsight contender (run by bench_peers.py inside benchmarks/.venvs/nnsight): per-layer
last-token states for every text, batched traces, the same batch size as semhub."""
import json
import sys

import torch
from nnsight import LanguageModel

model_dir, data, views, bs = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4])
model = LanguageModel(model_dir, dtype=torch.float32, dispatch=True)
model.tokenizer.padding_side = "left"  # the last position is every text's last token
rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
layers = model.model.layers
kept = []
for view in views:
    texts = [r[view] for r in rows]
    for s in range(0, len(texts), bs):
        saved = []
        with torch.inference_mode(), model.trace(texts[s:s + bs]):
            for layer in layers:
                saved.append(layer.output[:, -1].save())
        kept.append(torch.stack([t.value if hasattr(t, "value") else t for t in saved], 1))
states = torch.cat(kept)
print(json.dumps({"shape": list(states.shape)}))
