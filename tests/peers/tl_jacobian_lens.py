"""Run in the TransformerLens 4.3 venv (make jlens-peer): the independent implementation's side of
tests/test_jacobian_lens.py. Fits a Jacobian lens on a saved model with TransformerLens's
``JacobianLens.fit``, saves it, reads a lens semhub wrote, and records both lenses' read-outs.

    python tl_jacobian_lens.py MODEL_DIR SEMHUB_LENS.pt OUT.pt TEXT...
"""
import sys

import torch
from transformers import AutoTokenizer

from transformer_lens.model_bridge import TransformerBridge
from transformer_lens.tools.analysis import JacobianLens

folder, theirs, out, *texts = sys.argv[1:]
model = TransformerBridge.boot_transformers(folder, device="cpu", dtype=torch.float32,
                                           tokenizer=AutoTokenizer.from_pretrained(folder))
fitted = JacobianLens.fit(model, texts, corpus="semhub-test", dim_batch=3, skip_first_positions=2, show_progress=False)
fitted.save(out + ".lens.pt", dtype=torch.float32)
semhub_lens = JacobianLens.load(theirs)
probe = texts[0]
result = {"fitted": {}, "semhub": {}}
for name, lens in (("fitted", fitted), ("semhub", semhub_lens)):
    r = lens.readout(model, probe, return_full_logits=True)
    result[name] = {int(k): v.float() for k, v in r.lens_logits.items()}
result["tokens"] = r.tokens
torch.save(result, out)
