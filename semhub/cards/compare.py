"""``semhub.compare``: several hub cards side by side (models, revisions, dtypes) on a relative-depth
axis. Headline numbers (calibrated peaks first) go in one table; two cards differ on a metric only when
the difference survives a permutation test: a paired sign-flip test of the per-item values at each
card's calibrated peak (the same items, in the same order), Bonferroni-corrected over the pairs of cards.
Set-level metrics (CKA, mutual k-NN, RSA) have no per-item values; their cards keep the jackknife
pseudo-values of blocks of items (``semhub.analyses.alignment.peak_items``), which the same test pairs
block by block. The lens and language-trend curves keep each data row's mean over its positions read
(positions depend on the tokenizer, rows do not) and pair row by row, over the rows both cards read.
A curve without values (a card written before 2026-12-07) is shown, never flagged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semhub.cards.card import Card
from semhub.errors import ParameterError

SCHEMA = "semhub-compare/2"
FLIPS = 10_000
"""Random sign flips of the paired test (seeded: a comparison is reproducible)."""
ALPHA = 0.05


def paired_difference(a: list[float | None] | None, b: list[float | None] | None, flips: int = FLIPS,
                      seed: int = 0) -> float | None:
    """The two-sided add-one p-value of a paired sign-flip permutation test of mean(a - b) = 0 over the
    items both cards have a value for (None: an item without one, as a lens row without a probe site),
    or None when the two cards' items cannot be paired (missing, another number of items, or fewer than
    two values in common)."""
    import numpy as np

    if not a or not b or len(a) != len(b):
        return None
    diff = np.asarray([x - y for x, y in zip(a, b) if x is not None and y is not None], dtype=np.float64)
    if len(diff) < 2:
        return None
    observed = abs(diff.mean())
    signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=(flips, len(diff)))
    null = np.abs(signs @ diff / len(diff))
    return float((1 + np.count_nonzero(null >= observed - 1e-12)) / (flips + 1))


@dataclass
class Comparison:
    """Cards and what they share.

    Attributes:
        cards: the compared cards, in the order given.
        rows: per (section, name, metric) present in every card: each card's headline, ``p_difference``
            (pair of cards -> the paired test's p-value) and ``differs`` (True: some pair's p is at most
            0.05 divided by the number of pairs; None: no paired test for this metric).
    """

    cards: list[Card]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "cards": [c.label for c in self.cards], "models": [c.model for c in self.cards],
                "rows": self.rows}

    def html(self) -> str:
        from semhub.cards.page import compare_page

        return compare_page(self)

    def _repr_html_(self) -> str:
        from semhub.cards.page import compare_table, esc

        return f"<h3>{esc(' vs '.join(c.label for c in self.cards))}</h3>{compare_table(self)}"

    def write(self, out: str | Path) -> Path:
        """``compare.json`` and ``compare.html`` in a new folder ``out`` (staged: complete or absent)."""
        from semhub.runs.rundir import dumps, staged_run_dir

        out = Path(out)
        with staged_run_dir(out) as tmp:
            (tmp / "compare.json").write_text(dumps(self.to_json()))
            (tmp / "compare.html").write_text(self.html())
        return out


def shared_curves(cards: list[Card]) -> list[tuple[str, str, str]]:
    """(section, name, metric) of every curve all cards have, in the first card's order."""
    def keys(card: Card) -> list[tuple[str, str, str]]:
        return [(section, item.name, metric) for section, items in (("spoke", card.spokes), ("lens", card.lenses))
                for item in items for metric in item.curves]

    common = set(keys(cards[0]))
    for card in cards[1:]:
        common &= set(keys(card))
    return [k for k in keys(cards[0]) if k in common]


def compare(*cards: Card | str | Path) -> Comparison:
    """Cards (``Card`` objects, ``card.json`` files or profile run directories), two or more."""
    loaded = [c if isinstance(c, Card) else Card.read(c) for c in cards]
    if len(loaded) < 2:
        raise ParameterError("cards", "compare needs at least two cards")
    out = Comparison(loaded)
    pairs = [(i, j) for i in range(len(loaded)) for j in range(i + 1, len(loaded))]
    for section, name, metric in shared_curves(loaded):
        curves = [c.curve(section, name, metric) for c in loaded]
        heads = [c.headline() for c in curves]
        tests = {f"{loaded[i].label} vs {loaded[j].label}": paired_difference(curves[i].items, curves[j].items)
                 for i, j in pairs}
        ps = list(tests.values())
        differs = None if any(p is None for p in ps) else min(ps) <= ALPHA / len(pairs)
        out.rows.append({"section": section, "name": name, "metric": metric, "differs": differs,
                         "p_difference": tests, "headlines": [h.__dict__ for h in heads]})
    return out

