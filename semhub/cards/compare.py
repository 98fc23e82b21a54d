"""``semhub.compare``: several hub cards side by side (models, revisions, dtypes) on a relative-depth
axis. Headline numbers go in one table; a difference is flagged when the cards' 95% intervals at
their peaks do not overlap (metrics without intervals, the alignment indices, are shown unflagged).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semhub.cards.card import Card
from semhub.errors import ParameterError

SCHEMA = "semhub-compare/1"


def _overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    if not a or not b:
        return None
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass
class Comparison:
    """Cards and what they share.

    Attributes:
        cards: the compared cards, in the order given.
        rows: per (section, name, metric) present in every card: each card's headline and ``differs``
            (True: some pair of cards has non-overlapping 95% intervals at the peak; None: no intervals).
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
    for section, name, metric in shared_curves(loaded):
        heads = [c.curve(section, name, metric).headline() for c in loaded]
        intervals = [h.ci95 for h in heads]
        verdicts = [_overlap(a, b) for i, a in enumerate(intervals) for b in intervals[i + 1:]]
        differs = None if any(v is None for v in verdicts) else not all(verdicts)
        out.rows.append({"section": section, "name": name, "metric": metric, "differs": differs,
                         "headlines": [h.__dict__ for h in heads]})
    return out

