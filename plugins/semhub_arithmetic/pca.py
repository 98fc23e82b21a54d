"""The arithmetic PCA trajectory (the paper's 2.3): where do the states of "24=21+" travel, layer by
layer, in the plane the digit and number-word unembeddings span?

As the paper's ``arithmetic/pca.py``: the last-token state of every addition prompt at every captured
layer (the embeddings included); each prompt's (layers x d) matrix z-scored per dimension across its
own layers; a 2-D PCA fitted only on 20 anchors, the unembedding rows of "0".."9" (no space) and of
" zero".." nine" (word-start form), which are not standardised; every trajectory projected.

Beyond the figure, one number per layer says what it shows: the share of prompts whose projected
state lies nearer its answer's word anchor than its answer's digit anchor.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import semhub
from semhub import RecordsResult
from semhub_arithmetic.lens import digit_id
from semhub_arithmetic.numbers import spell

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import numpy as np

DRAWN = 100  # trajectories drawn in the figure (and kept in results.json), as in the paper


def anchors(bb) -> tuple[list[str], np.ndarray]:
    """Labels and (20, d) unembedding rows: each digit without a space, then its word with one."""
    import numpy as np

    weight = bb.part("unembedding").weight.detach().float().cpu()
    labels, rows = [], []
    for n in range(10):
        word = spell(n, bb.family.dominant_language)
        for label, token in ((str(n), digit_id(bb, str(n))), (word, semhub.word_token_ids(bb, [word])[0])):
            labels.append(label)
            rows.append(weight[token].numpy())
    return labels, np.stack(rows).astype(np.float64)


def standardise(states: np.ndarray) -> np.ndarray:
    """z-score each prompt's (layers, d) matrix per dimension across its layers (scikit-learn's
    ``StandardScaler``: population std, a constant dimension left at 0)."""
    import numpy as np

    mean = states.mean(axis=1, keepdims=True)
    std = states.std(axis=1, keepdims=True)
    return (states - mean) / np.where(std == 0, 1.0, std)


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, (2, d) components, explained-variance ratios) of a 2-D PCA of ``points``."""
    import numpy as np

    mean = points.mean(0)
    _, s, vt = np.linalg.svd(points - mean, full_matrices=False)
    # scikit-learn's sign rule: each component's largest-magnitude loading is positive
    signs = np.sign(vt[np.arange(2), np.abs(vt[:2]).argmax(1)])
    variance = s ** 2
    return mean, vt[:2] * signs[:, None], variance[:2] / variance.sum()


def plot_pca(result: "ArithmeticPCAResult", path: Path) -> Path:
    import numpy as np

    plt = semhub.pyplot()
    rec = result.records[0]
    fig, ax = plt.subplots(figsize=(6.4, 5.0), constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    layers = rec["layers"]
    for traj in rec["trajectories"]:
        traj = np.asarray(traj)
        for j in range(len(traj) - 1):
            ax.plot(traj[j:j + 2, 0], traj[j:j + 2, 1], color=cmap(j / max(1, len(traj) - 1)), alpha=0.15, lw=1)
    for a in rec["anchors"]:
        ax.annotate(a["label"], (a["x"], a["y"]), fontsize=9, color="black" if a["label"].isdigit() else "crimson")
        ax.scatter([a["x"]], [a["y"]], s=4, color="grey")
    bar = fig.colorbar(plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(layers[0], layers[-1])), ax=ax)
    bar.set_label("layer")
    ev = rec["explained_variance"]
    ax.set_title(f"{result.options.get('model', '')}: {rec['n']} sums, {len(rec['trajectories'])} drawn "
                 f"(anchors' PCs explain {ev[0]:.2f}, {ev[1]:.2f})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return semhub.save_figure(fig, path)


class ArithmeticPCAResult(RecordsResult):
    key: ClassVar[str] = "arithmetic_pca"
    summary_title = "arithmetic PCA: prompts nearer their answer's word anchor than its digit anchor"
    summary_columns = ("layer", "prompts", "nearer the word", "mean x", "mean y")

    def plot(self, folder):
        return plot_pca(self, self.figure_path(folder))

    def summary_rows(self):
        rec = self.records[0]
        L = len(rec["layers"])
        return [(str(rec["layers"][k]), str(rec["n"]), f"{rec['word_nearer'][k]:.2f}",
                 f"{rec['mean_trajectory'][k][0]:.2f}", f"{rec['mean_trajectory'][k][1]:.2f}")
                for k in sorted({0, L // 4, L // 2, (3 * L) // 4, L - 1})]


def arithmetic_pca(ctx, ops: str = "+") -> ArithmeticPCAResult:
    import numpy as np

    ds, bb = ctx.dataset, ctx.backbone
    for column in ("arithmetic_answer", "answer"):
        if column not in ds.columns:
            raise semhub.SemhubError(f"{ds.path}: the arithmetic PCA needs the column {column!r} "
                                     "(use the built-in 'arithmetic' data or `semhub make-arithmetic`)")
    rows = [i for i, p in enumerate(ds.columns["arithmetic_answer"]) if p and p[-1] in ops]
    if len(rows) < 2:
        raise semhub.SemhubError(f"{ds.path}: fewer than two prompts end with an operator among {ops!r}")
    picked = ds.take(rows)
    # the last token, HF's hidden_states convention (post-norm last layer), whatever --pooling says
    states = semhub.view_states(bb, picked, "arithmetic_answer", layers=ctx.layers, pooling="last",
                                batch_size=ctx.settings.batch_size, final_norm=True, on_batch=ctx.on_batch)
    z = standardise(states.double().numpy())  # (n, layers, d)
    labels, anchor_rows = anchors(bb)
    mean, components, explained = fit_plane(anchor_rows)
    projected = (z - mean) @ components.T  # (n, layers, 2)
    placed = (anchor_rows - mean) @ components.T  # (20, 2)
    answers = [int(a) for a in picked.columns["answer"]]
    digit_at = placed[[2 * a for a in answers]][:, None]  # (n, 1, 2)
    word_at = placed[[2 * a + 1 for a in answers]][:, None]
    nearer = np.linalg.norm(projected - word_at, axis=-1) < np.linalg.norm(projected - digit_at, axis=-1)
    drawn = np.random.default_rng(ctx.settings.seed).choice(len(rows), size=min(DRAWN, len(rows)), replace=False)
    record = {"n": len(rows), "ops": ops, "layers": list(ctx.layers),
              "explained_variance": explained.tolist(),
              "anchors": [{"label": lab, "x": float(x), "y": float(y)} for lab, (x, y) in zip(labels, placed)],
              "word_nearer": nearer.mean(0).tolist(),
              "mean_trajectory": projected.mean(0).tolist(),
              "trajectories": projected[np.sort(drawn)].round(4).tolist(),
              "drawn_ids": [picked.ids[i] for i in np.sort(drawn)]}
    return ArithmeticPCAResult([record], {"model": bb.name})


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class ArithmeticPCAOptions(semhub.Options):
    ops: str = semhub.option("+", help="Prompts whose operator is among these (the paper: additions only).")

    def check(self) -> None:
        if not self.ops or set(self.ops) - set("+-*"):
            raise semhub.ParameterError("ops", f"{self.ops!r}: give operators among +, - and *")


class ArithmeticPCAAnalysis(semhub.Analysis):
    """The paper's 2.3: trajectories of '<result>=<a>+' states in the plane of the digit and word unembeddings."""

    name = "arithmetic-pca"
    min_views = 1  # a probe of one view
    description = "2-D PCA of the 20 digit/word unembeddings; every layer's last-token state of '<result>=<a>+' projected"
    plot_name = "arithmetic_pca.png"
    input_kinds = ("text",)
    Options = ArithmeticPCAOptions
    paper = semhub.PaperSetting(drop_embeddings=False)  # the only experiment of the paper that keeps hs[0]

    def work(self, ctx) -> int:
        return sum(1 for p in ctx.dataset.columns.get("arithmetic_answer", []) if p and p[-1] in ctx.options.ops)

    def run(self, ctx):
        return arithmetic_pca(ctx, ctx.options.ops)
