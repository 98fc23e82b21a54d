"""Figures for results; matplotlib is imported here only, with the headless Agg backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_similarity(result: Any, path: Path) -> Path:
    """Two panels per run: retrieval@1 and Eq. 1 across layers, one line per view pair, 95% bands."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
