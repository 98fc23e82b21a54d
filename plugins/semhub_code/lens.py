"""The code logit lens: do list commas read as " and"? (the paper's 3.1)

At every list-literal comma of the code view, per layer: log p of the first tokens of
" and", " or", " not" (prefix-space rule of the tokenizer) and of the true next token.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import semhub
from semhub import RecordsResult

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch

WORDS = ("and", "or", "not")


def plot_code_lens(result: Any, path: Path) -> Path:
    """Mean log p per layer at list commas: the next token and the words ' and', ' or', ' not'."""
    plt = semhub.pyplot()
    rec = result.records[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    for key, values in rec["logprob"].items():
        ax.plot(rec["layers"], values, marker="o", ms=3, label="next token" if key == "next" else repr(" " + key))
    inner = [v for values in rec["logprob"].values() for v in values[2:]] or [0.0]
    ax.set_ylim(min(inner) - 2, max(0.5, max(inner) + 1))
    ax.set_xlabel("layer")
    ax.set_ylabel("mean log p (logit lens)")
    ax.set_title(f"{result.options.get('model', '')}: {rec['n_positions']} list commas", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return semhub.save_figure(fig, path)


class CodeLensResult(RecordsResult):
    key: ClassVar[str] = "code_lens"

    def plot(self, folder):
        return plot_code_lens(self, self.figure_path(folder))
    summary_title = "code logit lens at list commas: mean log p"

    @property
    def summary_columns(self):
        return ("layer", "commas", "next token", *(f"' {w}'" for w in WORDS), "' and' beats ' or'")

    def summary_rows(self):
        rec = self.records[0]
        rows = []
        for k in sorted({len(rec["layers"]) // 3, len(rec["layers"]) // 2, (2 * len(rec["layers"])) // 3,
                         len(rec["layers"]) - 1}):
            rows.append((str(rec["layers"][k]), str(rec["n_positions"]), f"{rec['logprob']['next'][k]:.1f}",
                         *(f"{rec['logprob'][w][k]:.1f}" for w in WORDS), f"{rec['and_beats_or'][k]:.2f}"))
        return rows


def code_lens(ctx) -> CodeLensResult:
    """At every list comma of the code view, per layer: log p of ' and', ' or', ' not' and the next token."""
    import numpy as np

    from semhub import view_batches

    bb = ctx.backbone
    if "code" not in ctx.dataset.columns:
        raise semhub.SemhubError(f"{ctx.dataset.path}: the code lens needs a 'code' view")
    word_ids = [semhub.word_token_ids(bb, [w])[0] for w in WORDS]
    rows: dict[str, list[np.ndarray]] = {"next": [], **{w: [] for w in WORDS}}

    def commas(enc: semhub.Encoded) -> torch.Tensor:
        """List commas followed by a real token (not the end, not padding)."""
        mask = enc.groups["list_commas"].bool().clone()
        mask[:, -1] = False
        mask[:, :-1] &= enc.inputs["attention_mask"][:, 1:].bool()
        return mask

    for reading in semhub.read_lens(bb, view_batches(bb, ctx.dataset, "code", ctx.settings.batch_size), ctx.layers,
                                    sites=commas, ids=word_ids, next_token=True, lens=ctx.lens,
                                    on_batch=ctx.on_batch):
        for i, w in enumerate(WORDS):
            rows[w].append(reading.logprobs[:, :, i].T.numpy())
        rows["next"].append(reading.next_logprob.T.numpy())
    if not sum(len(r) for r in rows["next"]):
        raise semhub.SemhubError(f"{ctx.dataset.path}: no list-literal comma is a token of its own")
    mats = {k: np.concatenate(v) for k, v in rows.items()}
    record = {"n_positions": int(len(mats["next"])), "layers": list(ctx.layers),
              "logprob": {k: v.mean(0).tolist() for k, v in mats.items()},
              "and_beats_or": (mats["and"] > mats["or"]).mean(0).tolist(),
              "lens_norm": ctx.settings.lens_norm, "lens": ctx.lens.describe()}
    return CodeLensResult([record], {"model": bb.name})


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class CodeLensAnalysis(semhub.Analysis):
    """The paper's 3.1: do list commas read as " and" under the logit lens?"""

    name = "code-lens"
    min_views = 1  # a probe of one view
    description = "logit lens at list commas in code: ' and' / ' or' / ' not' / the next token, per layer"
    plot_name = "code_lens.png"

    input_kinds = ("text",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)

    def run(self, ctx):
        return code_lens(ctx)
