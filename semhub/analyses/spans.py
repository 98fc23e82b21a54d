"""Contiguous layer spans: where a condition keeps holding around a peak, or longest. Pure Python, so
cards and reports read them without importing torch. Every span semhub reports is one of these two."""
from __future__ import annotations


def run_around(holds: list[bool], index: int) -> tuple[int, int] | None:
    """(first, last) index of the contiguous run of ``holds`` around ``index``; None where it does not hold
    there (a card's 90%-of-peak span, the layers where a calibrated score stays significant, a report's
    significant layers)."""
    if not 0 <= index < len(holds) or not holds[index]:
        return None
    lo = hi = index
    while lo > 0 and holds[lo - 1]:
        lo -= 1
    while hi + 1 < len(holds) and holds[hi + 1]:
        hi += 1
    return lo, hi


def longest_run(layers: list[int], holds: list[bool]) -> list[int] | None:
    """[first, last] layer of the longest run of consecutive layers where ``holds`` (the first on a tie):
    a lens's range, which has no single peak to grow from."""
    best, start = None, None
    for i, ok in enumerate([*holds, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if best is None or i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    return None if best is None else [layers[best[0]], layers[best[1]]]
