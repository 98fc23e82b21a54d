"""What the cached prefix saves concept patching, side by side in one run.

Each edit (a variant at a layer) changes the target prompt only from the patched token on. semhub
runs each batch's prefix once and reruns the few tokens after it from a copy of the cache
(``SuffixRun``); the plain way reruns the whole prompt per edit (``read_lens`` under the same write
hooks). Both give the same probabilities (checked here); the ratio is the time of the plain way over
semhub's, on Gemma 3 270M, the default prompts (de:fr into es:zh, 4 shots), at both sites.

Usage:
    python benchmarks/bench_concept_patching.py [--pairs 16] [--layers 0,6,12,18]
"""
from __future__ import annotations

import argparse
import time
from contextlib import nullcontext


def plain(bb, prompts, answer, edits, site, ends, batch_size):
    """Every edit runs the whole target prompt (the straightforward implementation)."""
    import numpy as np

    from semhub.lens.logit import Lens
    from semhub.lens.sites import last_site, read_lens
    from semhub.patchscopes.concept_patching import word_positions
    from semhub.readout.capture import last_index
    from semhub.readout.collect import encode_values
    from semhub.steering.apply import patch_layers

    ids = sorted({t for row in answer for word in row for t in word})
    col = {t: k for k, t in enumerate(ids)}
    lens = Lens(bb)
    out = {key: np.zeros((len(prompts), 4)) for key in edits}
    for start, batch in zip(range(0, len(prompts), batch_size), encode_values(bb, prompts, "text", batch_size)):
        last = last_index(batch.groups["content"])
        where = last if site == "last" else word_positions(batch, ends[start : start + len(batch)])
        for key, (states, layers) in edits.items():
            values = {} if states is None else {layer: states[start : start + len(batch), layer] for layer in layers}
            with patch_layers(bb, values, position=where) if values else nullcontext():
                for reading in read_lens(bb, [batch], [bb.n_layers], sites=last_site(), ids=ids, lens=lens):
                    p = reading.logprobs[0, 0].exp()
                    r = start + reading.row
                    out[key][r] = [float(p[[col[t] for t in word]].sum()) for word in answer[r]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--layers", default="0,6,12,18")
    args = parser.parse_args()
    import numpy as np

    import semhub
    from semhub.analyses.latent_language import dictionaries_option, variants
    from semhub.data.dictionary import words_in
    from semhub.patchscopes.concept_patching import Direction, answer_probs, draw_pairs, prompt_for, word_end
    from semhub.patchscopes.states import source_states

    bb = semhub.load("gemma3-270m")
    src, tgt = Direction("de", "fr"), Direction("es", "zh")
    words = words_in(dictionaries_option([]), ["de", "fr", "es", "zh"])
    forms = {(w["en"], lang): variants(bb.tokenizer, w[lang]) for w in words for lang in ("fr", "zh")}
    pairs = draw_pairs(words, forms, src, tgt, args.pairs, 0)
    index = {w["en"]: i for i, w in enumerate(words)}
    layers = [int(x) for x in args.layers.split(",")]
    L = bb.n_layers
    answer = [[forms[(w["en"], lang)] for w, lang in ((p.c, "zh"), (p.c, "fr"), (p.d, "zh"), (p.d, "fr"))]
              for p in pairs]
    targets = [prompt_for(words, index[p.d["en"]], tgt, 4, 0) for p in pairs]
    ends = [word_end(t, p.d["es"]) for t, p in zip(targets, pairs)]
    print(f"{len(pairs)} pairs, layers {layers}, Gemma 3 270M, {__import__('torch').get_num_threads()} threads")
    print("| site | edits | semhub (cached prefix) s | whole prompt per edit s | ratio | max |diff| |")
    print("|---|---|---|---|---|---|")
    for site in ("last", "word"):
        prompts = [prompt_for(words, index[p.c["en"]], src, 4, 0) for p in pairs]
        if site == "word":
            prompts = [q[: word_end(q, p.c["de"])] for q, p in zip(prompts, pairs)]
        states = source_states(bb, prompts, list(range(L + 1)))
        edits = {None: (None, [])}
        edits.update({layer: (states, [layer] if site == "last" else list(range(layer, L + 1))) for layer in layers})
        t0 = time.perf_counter()
        fast = answer_probs(bb, targets, answer, edits, site, ends, 16)
        t1 = time.perf_counter()
        slow = plain(bb, targets, answer, edits, site, ends, 16)
        t2 = time.perf_counter()
        diff = max(float(np.abs(fast[k][0] - slow[k]).max()) for k in edits)
        print(f"| {site} | {len(edits)} | {t1 - t0:.1f} | {t2 - t1:.1f} | {(t2 - t1) / (t1 - t0):.1f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
