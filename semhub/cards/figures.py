"""Static figures of a card for papers (matplotlib: PNG, PDF, SVG): the hub map and one panel per
spoke pair and per lens, the same curves the interactive page shows."""
from __future__ import annotations

from pathlib import Path

import numpy as np

FORMATS = ("png", "pdf", "svg")


def check_formats(formats: tuple[str, ...]) -> None:
    """Refuse an unknown figure format before a card is computed, not after."""
    from semhub.errors import ParameterError

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ParameterError("figure_format", f"{', '.join(bad)} (choose from {', '.join(FORMATS)})")


def static_figures(card, folder: Path, formats: tuple[str, ...]) -> list[Path]:
    from semhub.cards.page import map_rows
    from semhub.plots import pyplot

    check_formats(formats)
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig, stem: str) -> None:
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)

    z, label = map_rows(card.spokes)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(z) + 1.6), constrained_layout=True)
    image = ax.imshow(z, aspect="auto", vmin=0, vmax=1, cmap="viridis", extent=(0, 1, len(z) - 0.5, -0.5))
    ax.set_yticks(range(len(z)), [s.name for s in card.spokes], fontsize=8)
    ax.set_xlabel("relative depth")
    fig.colorbar(image, ax=ax, label=label)
    ax.set_title(f"hub map: {card.label}", fontsize=10)
    save(fig, "hub_map")
    for i, item in enumerate([*card.spokes, *card.lenses]):
        fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
        for name, c in item.curves.items():
            values = [np.nan if v is None else v for v in c.values]
            (line,) = ax.plot(c.depth, values, marker="o", ms=2.5, label=name)
            if c.ci95:
                ax.fill_between(c.depth, [b[0] for b in c.ci95], [b[1] for b in c.ci95], color=line.get_color(),
                                alpha=0.15)
        ax.set_xlabel("relative depth (layer / L)")
        ax.set_title(item.name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, f"{'spoke' if i < len(card.spokes) else 'lens'}-{i:02d}")
    return written
