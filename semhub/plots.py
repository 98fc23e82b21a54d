"""Figures for results; matplotlib is imported here only, with the headless Agg backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (for plugins' figures too)."""
    import warnings

    import matplotlib

    # token labels may be in scripts the default font lacks (CJK); they render as boxes, not errors
    warnings.filterwarnings("ignore", message="Glyph .* missing from font")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Save a figure as PNG and close it (figures are never kept open between runs)."""
    import matplotlib.pyplot as plt

    from semhub.files import atomic_file

    try:
        with atomic_file(Path(path)) as tmp:  # the format from the name: the temporary file has none
            fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path


def plot_similarity(result: Any, path: Path) -> Path:
    """Retrieval@1 and Eq. 1 across layers, one line per view pair, 95% bands; with calibration a third
    panel: calibrated retrieval@1 per layer (layer 0 is the embedding baseline) and, dashed, each pair's
    bag-of-tokens baseline."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    calibrated = [rec for rec in result.records if rec.get("calibration")]
    fig, axes = plt.subplots(1, 3 if calibrated else 2, figsize=(16 if calibrated else 11, 4.2),
                             constrained_layout=True)
    if calibrated:
        ax = axes[2]
        for rec in calibrated:
            curve = rec["calibration"]["metrics"]["retrieval_at_1"]["score"]
            (line,) = ax.plot(rec["layers"], [float("nan") if v is None else v for v in curve], marker="o", ms=3,
                              label=f"{rec['a']}-{rec['b']}")
            lexical = (rec.get("surface", {}).get("lexical") or {}).get("score", {}).get("retrieval_at_1")
            if lexical is not None:
                ax.axhline(lexical, color=line.get_color(), ls="--", lw=1)
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (0 = embeddings: the static baseline)")
        ax.set_title("calibrated retrieval@1 (dashed: bag of tokens)")
        ax.grid(alpha=0.3)
        axes = axes[:2]
    panels = (("retrieval_at_1", "retrieval@1 (both directions)"), ("eq1", "Eq. 1: matched - mismatched cosine"))
    for ax, (metric, title) in zip(axes, panels):
        for rec in result.records:
            layers = rec["layers"]
            (line,) = ax.plot(layers, rec[metric], marker="o", ms=3, label=f"{rec['a']}-{rec['b']}")
            band = rec.get("ci95", {}).get(metric)
            if band:
                ax.fill_between(layers, [lo for lo, _ in band], [hi for _, hi in band], color=line.get_color(), alpha=0.15)
        if metric == "retrieval_at_1" and result.records:
            ax.axhline(result.records[0]["chance"], color="grey", ls="--", lw=1, label="chance")
            ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, ncol=2)
    opts = result.options
    fig.suptitle(
        f"{opts.get('model', '')}  pooling={opts.get('pooling', '?')}  center={opts.get('center')}", fontsize=10
    )
    return save_figure(fig, path)


def plot_logit_lens(result: Any, path: Path) -> Path:
    """Per probed view: mean log p of the next token vs its translation (top), how often the translation wins (bottom)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    n = len(result.records)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n + 1, 6.4), squeeze=False, sharex=True, constrained_layout=True)
    for col, rec in enumerate(result.records):
        top, bottom = axes[0][col], axes[1][col]
        layers = rec["layers"]
        for key, label in (("native_logprob", f"{rec.get('native_label', 'next token')} ({rec['view']})"),
                           ("dominant_logprob", f"{rec.get('dominant_label', 'translation')} ({rec['dominant']})")):
            (line,) = top.plot(layers, rec[key], marker="o", ms=3, label=label)
            band = rec["ci95"].get(key)
            if band:
                top.fill_between(layers, [a for a, _ in band], [b for _, b in band], color=line.get_color(), alpha=0.15)
        # the embedding layer's lens is far below the rest; keep the informative range in view
        inner = [v for key in ("native_logprob", "dominant_logprob") for v in rec[key][2:]] or [0.0]
        top.set_ylim(min(inner) - 2, max(0.5, max(inner) + 1))
        top.set_title(f"{rec['view']}: {rec['n_positions']} positions")
        top.legend(fontsize=8)
        bottom.plot(layers, rec["dominant_wins"], marker="o", ms=3, color="tab:green", label="translation")
        if rec.get("random_wins"):  # the control: a random word of the translation's frequency
            bottom.plot(layers, rec["random_wins"], marker=".", ms=3, color="tab:grey", ls=":",
                        label="random word, same frequency")
            bottom.legend(fontsize=8)
        bottom.axhline(0.5, color="grey", ls="--", lw=1)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("layer")
        for ax in (top, bottom):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean log p (logit lens)")
    axes[1][0].set_ylabel(f"P({result.records[0].get('dominant_label', 'translation')} > "
                          f"{result.records[0].get('native_label', 'next token')})")
    norm = result.records[0].get("lens_norm", True)
    fig.suptitle(f"{result.options.get('model', '')}  lens {'with' if norm else 'without'} final norm", fontsize=10)
    return save_figure(fig, path)


def plot_language_trends(result: Any, path: Path) -> Path:
    """One panel per input language: each language's expected lens mass across layers."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    n = len(result.records)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols + 1, 3.6 * rows), squeeze=False,
                             sharey=True, constrained_layout=True)
    for ax, rec in zip(axes.flat, result.records):
        for lang in rec["languages"]:
            ax.plot(rec["layers"], rec["mass"][lang], marker="o", ms=2.5, label=lang,
                    lw=2.2 if lang in (rec["view"], rec["dominant"]) else 1.0)
        ax.plot(rec["layers"], rec["known_mass"], color="grey", ls=":", lw=1, label="known tokens")
        ax.set_title(f"text in {rec['view']} ({rec['positions']} positions)")
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes[0][0].set_ylabel("expected language mass")
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{result.options.get('model', '')}  language trends under the logit lens", fontsize=10)
    return save_figure(fig, path)


def plot_lens_view(view: Any, path: Path) -> Path:
    """Heatmap: layers x positions, colour = top-1 probability, text = top-1 token."""
    plt = pyplot()
    probs = view.top_probs[:, :, 0].numpy()
    n_layers, n_pos = probs.shape
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * n_pos, 0.8 + 0.36 * n_layers), constrained_layout=True)
    im = ax.imshow(probs, aspect="auto", cmap="Blues", vmin=0, vmax=1, origin="lower")
    for li in range(n_layers):
        for pi in range(n_pos):
            text = view.top_tokens[li][pi][0].replace("\n", "\\n")[:10]
            ax.text(pi, li, text, ha="center", va="center", fontsize=7,
                    color="white" if probs[li, pi] > 0.6 else "black")
    ax.set_xticks(range(n_pos), [t.replace("\n", "\\n")[:10] for t in view.tokens], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n_layers), [str(layer) for layer in view.layers], fontsize=8)
    ax.set_xlabel("input token (the lens predicts the next one)")
    ax.set_ylabel("layer")
    fig.colorbar(im, ax=ax, label="top-1 probability")
    ax.set_title(f"{view.model}  logit lens {'with' if view.norm else 'without'} final norm", fontsize=10)
    return save_figure(fig, path)


def plot_steering(result: Any, path: Path) -> Path:
    """Per scorer: mean score over coefficients, one line per layer (a heatmap when sweeping layers)."""
    plt = pyplot()
    names = result.scorer_names
    fig, axes = plt.subplots(1, len(names), figsize=(4.4 * len(names) + 0.6, 3.8), squeeze=False, constrained_layout=True)
    layers = sorted({r["layer"] for r in result.records})
    coeffs = sorted({r["coeff"] for r in result.records})
    for ax, name in zip(axes[0], names):
        grid = [[result.score(name, layer, c) for c in coeffs] for layer in layers]
        if len(layers) > 1:
            im = ax.imshow([[float("nan") if v is None else v for v in row] for row in grid], aspect="auto",
                           cmap="viridis", origin="lower")
            ax.set_xticks(range(len(coeffs)), [f"{c:g}" for c in coeffs])
            ax.set_yticks(range(len(layers)), [str(layer) for layer in layers])
            ax.set_ylabel("layer")
            fig.colorbar(im, ax=ax)
        else:
            ax.plot(coeffs, [float("nan") if v is None else v for v in grid[0]], marker="o")
            ax.grid(alpha=0.3)
        ax.set_xlabel("coefficient")
        ax.set_title(f"{name} (layer {layers[0]})" if len(layers) == 1 else name)
    fig.suptitle(f"{result.options.get('model', '')}  steering: {result.options.get('spec', {}).get('description', '')}",
                 fontsize=10)
    return save_figure(fig, path)


def plot_curves(result: Any, path: Path) -> Path:
    """Generic line panels: each record has ``x``, ``series`` (name -> values), ``title``, ``xlabel``, ``ylabel``
    and optionally ``ci`` (name -> [low, high] per x, drawn as a band)."""
    plt = pyplot()
    n = len(result.records)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n + 0.6, 3.8), squeeze=False, constrained_layout=True)
    for ax, rec in zip(axes[0], result.records):
        for name, values in rec["series"].items():
            (line,) = ax.plot(rec["x"], values, marker="o", ms=3, label=name)
            band = rec.get("ci", {}).get(name)
            if band:
                ax.fill_between(rec["x"], [b[0] for b in band], [b[1] for b in band], color=line.get_color(), alpha=0.15)
        ax.set_xlabel(rec.get("xlabel", "layer"))
        ax.set_ylabel(rec.get("ylabel", ""))
        ax.set_title(rec.get("title", ""), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_layer_pairs(result: Any, path: Path) -> Path:
    """Two models: per view pair, one heatmap per metric (model A's layers down, B's across, the best
    pair ringed) and the pool-size curve at the best mutual-k-NN pair."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    pairs = [r for r in result.records if not r.get("pool")]
    pools = {(r["a"], r["b"]): r for r in result.records if r.get("pool")}
    n_cols = max((len(r["heatmaps"]) for r in pairs), default=1) + 1
    fig, axes = plt.subplots(len(pairs) or 1, n_cols, figsize=(4.2 * n_cols, 3.9 * max(1, len(pairs))),
                             squeeze=False, constrained_layout=True)
    for row, rec in zip(axes, pairs):
        la, lb = rec["layers_a"], rec["layers_b"]
        for ax, (name, grid) in zip(row, rec["heatmaps"].items()):
            values = [[float("nan") if v is None else v for v in line] for line in grid]
            image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis",
                              extent=(lb[0] - 0.5, lb[-1] + 0.5, la[0] - 0.5, la[-1] + 0.5))
            best = rec["best"].get(name)
            if best:
                ax.plot(best["layer_b"], best["layer_a"], "o", mfc="none", mec="red", ms=10, mew=1.5)
            fig.colorbar(image, ax=ax, shrink=0.8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(f"{rec['model_b']} layer ({rec['b']})")
            ax.set_ylabel(f"{rec['model_a']} layer ({rec['a']})")
            ax.set_title(name, fontsize=10)
        ax = row[-1]
        pool = pools.get((rec["a"], rec["b"]))
        if pool:
            for name, values in pool["series"].items():
                chance = name.endswith("(chance)")
                ax.plot(pool["x"], values, marker="" if chance else "o", ms=3, ls="--" if chance else "-",
                        color="grey" if chance else None, label=name)
            ax.set_xscale("log")
            ax.set_xticks(pool["x"], [str(m) for m in pool["x"]])
            ax.minorticks_off()
            ax.legend(fontsize=8)
            ax.set_title(pool["title"], fontsize=10)
        ax.set_xlabel("candidates in the pool")
        ax.grid(alpha=0.3)
    opts = result.options
    fig.suptitle(f"{opts.get('model', '')} x {opts.get('model_b', '')}  pooling={opts.get('pooling', '?')}", fontsize=10)
    return save_figure(fig, path)
