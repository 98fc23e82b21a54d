"""DataSpec: what a run reads, and ``Inputs``: the same resolved and validated once, before any model
loads. ``semhub.analyze`` resolves a spec once and hands the ``Inputs`` to the run context, which
validates nothing twice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from semhub.contract.options import option
from semhub.contract.spoke import allow_outside_paths as allowing, outside_paths_allowed
from semhub.data.aligned import AlignedDataset
from semhub.errors import ParameterError
from semhub.specs.ingredient import Ingredient


@dataclass
class Inputs:
    """Resolved inputs: the rows (after ``limit``, derived views added, every value validated), the views
    to compare (the first against each other one) and the loaded text template (None: none)."""

    dataset: AlignedDataset
    views: list[str]
    template: Any = None


@dataclass
class DataSpec(Ingredient):
    """The data a run reads.

    Attributes:
        data: a built-in dataset name (``NAME[@SPLIT]`` for a recipe), ``hf:...`` (a Hugging Face dataset),
            a JSONL/TSV/TXT file, or an ``AlignedDataset``; None: the modality's built-in data.
        views: the views to compare, the first against each other one; None: the modality's views.
        modality: which spoke's views are compared when ``views`` is not given.
        limit: use only the first N rows (None: all).
        template: a text template's name (``paper``) or TOML file, added to text views; None: not given.
        bos: encode text with the tokenizer's BOS; None: not given (yes, unless ``--paper`` decides).
        allow_outside_paths: media paths in the data may point outside the data file's folder.
    """

    main = "data"
    data: str | None = option(None, help="Aligned JSONL/TSV file or built-in dataset name (default: the "
                                         "--modality's built-in data).")
    views: list[str] | None = option(None, help="Comma list; the first view is compared with each other one.")
    modality: str = option("text", help="Which spoke's views to compare when --views is not given.")
    limit: int | None = option(None, min=2, help="Use only the first N rows.")
    template: str | None = option(None, help="Text template: 'paper' (the similarity's suffixes) or a TOML file of "
                                             "per-language prefix/suffix.")
    bos: bool | None = option(None, help="Encode text with the tokenizer's BOS (--no-bos: add_special_tokens=False) "
                                         "[default: bos].")
    allow_outside_paths: bool = option(False, help="Let media paths in the data point outside the data file's folder "
                                                   "(off: a dataset cannot read any file).")

    def resolve(self, *, minimum: int = 2, dominant: str = "en", template: Any = None,
                needs: str = "") -> Inputs:
        """Load, pick the views, derive and validate them, once: every problem with the data is a one-line
        error before the model loads. ``minimum`` views are needed (``needs`` names who needs them);
        ``template`` is the loaded text template the run decided (``load_template``), applied by the context."""
        from semhub.readout.collect import derive_views, validate_views
        from semhub.specs.inputs import check_rows, dataset, default_views

        data = self.data
        with allowing(self.allow_outside_paths or outside_paths_allowed()):  # an enclosing block may allow them
            ds = data.head(self.limit) if isinstance(data, AlignedDataset) else \
                dataset(data, self.limit, self.views, self.modality)
            views = list(self.views) if self.views else default_views(ds, self.modality, dominant, minimum=minimum)
            if len(views) < minimum:
                raise ParameterError("views", f"{','.join(views)!r} needs at least "
                                              f"{'two' if minimum == 2 else minimum} views to compare{needs}")
            ds = derive_views(ds, views)
            validate_views(ds, views)  # bad data fails before the model loads
            check_rows(ds)
        if template is not None:
            template.check_views(views)
        return Inputs(ds, views, template)

    def given(self) -> dict[str, Any]:
        out = super().given()
        out["data"] = None if self.data is None else str(getattr(self.data, "path", self.data))
        return out
