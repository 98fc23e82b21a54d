"""CalibrationSpec: how every state metric is calibrated against its permutation null."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from semhub.contract.options import option
from semhub.errors import DataError, ParameterError
from semhub.specs.ingredient import Ingredient

AGGREGATES = ("max", "mean")
MAX_PERMUTATIONS = 100_000


@dataclass
class CalibrationSpec(Ingredient):
    """The permutation null behind every calibrated score (Gröger, Wen & Brbić 2026, the definitions of
    the ``calibrated-similarity`` package): the rows of the second view are shuffled ``permutations``
    times, the same shuffle at every layer, and each metric is read again on the states already captured.

    Attributes:
        permutations: row shuffles K (0: no calibration, raw numbers only).
        alpha: the level of the critical value tau, the (1 - alpha) quantile of the observed and null
            scores together; a calibrated score is (observed - tau) / (1 - tau), clipped to [0, 1].
        aggregate: the layer aggregate headlines lead with (``max``: the best layer, ``mean``); both are
            calibrated and recorded.
        perm_groups: a data column (``lang``, ``category``) whose values group the rows: shuffles stay
            within a group, so what survives is more than the group identity (a block permutation).
        controls: run the analysis's controls beside it (``Analysis.controls``): romanised views of
            non-Latin text, shuffles within length bins, and with ``perm_groups`` the unrestricted null too.
    """

    permutations: int = option(200, min=0, max=MAX_PERMUTATIONS,
                               help="Row shuffles of the permutation null every state metric is calibrated "
                                    "against (0: raw numbers only).")
    alpha: float = option(0.05, min=1e-6, max=0.5, help="Level of the critical value tau of a calibrated score.")
    aggregate: str = option("max", choices=AGGREGATES, help="The layer aggregate headlines lead with (both are "
                                                            "calibrated).")
    perm_groups: str | None = option(None, help="A data column grouping the rows (e.g. lang): shuffle only "
                                                "within groups, a control for what the groups alone explain.")
    controls: bool = option(False, help="Run the analysis's controls beside it and report each next to it: "
                                        "romanised views of non-Latin text (zh_latn...), length-matched "
                                        "shuffles, and with --perm-groups the unrestricted null as well.")

    def check(self) -> None:
        if not 0 <= int(self.permutations) <= MAX_PERMUTATIONS:
            raise ParameterError("permutations", f"must be from 0 to {MAX_PERMUTATIONS:,}, got {self.permutations}")
        if not 0 < float(self.alpha) < 1:
            raise ParameterError("alpha", f"must be between 0 and 1, got {self.alpha}")
        least = math.ceil(1 / float(self.alpha)) - 1  # fewer, and tau is the observed score itself
        if 0 < int(self.permutations) < least:
            raise ParameterError("permutations", f"{self.permutations} shuffles cannot calibrate at alpha "
                                                 f"{self.alpha:g}: every calibrated score would be 0; give at "
                                                 f"least {least} (or 0 for raw numbers only)")
        if self.aggregate not in AGGREGATES:
            raise ParameterError("aggregate", f"{self.aggregate!r} (choose from {', '.join(AGGREGATES)})")
        if self.perm_groups is not None and not str(self.perm_groups).strip():
            raise ParameterError("perm_groups", "is empty: name a column of the data")

    def groups(self, dataset: Any) -> list[str] | None:
        """The group label of each row (``perm_groups``), or None; a missing column or value is a data error
        naming the file and line, and groups that leave nothing to shuffle are refused."""
        if self.perm_groups is None:
            return None
        column = dataset.columns.get(self.perm_groups)
        if column is None:
            if not dataset.columns:
                raise ParameterError("perm_groups", "a run from an activation store has no data columns to "
                                                    "group by; run on the data")
            raise DataError(dataset.path, None, f"no column {self.perm_groups!r} to group shuffles by "
                                                f"(--perm-groups; columns: {', '.join(dataset.columns)})")
        labels = []
        for value, line in zip(column, dataset.lines or [None] * len(column)):
            if value is None or isinstance(value, (dict, list)):
                raise DataError(dataset.path, line, f"column {self.perm_groups!r} (--perm-groups) needs a "
                                                    f"string or number in every row, got {value!r}")
            labels.append(str(value))
        if len(set(labels)) == len(labels):
            raise ParameterError("perm_groups", f"every row of column {self.perm_groups!r} is its own group: "
                                                "nothing can be shuffled")
        return labels
