"""What a run reads: the model and data a modality defaults to, the views to compare, and whether
the model reads them. Defaults come from the spokes (``default_model``, ``default_dataset``), so the
core names no plugin's model or dataset."""
from __future__ import annotations

import re
from pathlib import Path

from semhub.data.aligned import AlignedDataset, load_aligned, romanised_view
from semhub.data.hf_datasets import is_hub, load_hub
from semhub.contract.spoke import optional
from semhub.errors import ParameterError, SemhubError
from semhub.plugins import catalog


def model_for(modality: str, model: str | None) -> str:
    """``model``, else the modality's default; a modality with no built-in model is a clear error
    listing the registry families that read it and the command to run one."""
    spoke = catalog.spoke_of(modality)
    if spoke is None:
        known = ", ".join(sorted({s.modality for s in catalog.spokes().values()}))
        raise ParameterError("modality", f"no spoke reads {modality!r} (loaded: {known}){catalog.failure_note()}")
    model = model or catalog.default_model(modality)  # an empty name was refused by ModelSpec.check
    if model is not None:
        return model
    kind = optional(spoke, "input_kind")
    from semhub.backbone.registry import families

    fams = families()
    readers = [f for f in fams.values() if kind in f.modalities]
    names = [f"{f.name} ({f.examples[0]})" if f.examples else f.name for f in readers]
    suggested = optional(spoke, "suggested_model") or next((f.examples[0] for f in readers if f.examples), "MODEL")
    raise ParameterError("modality", f"{modality}: no built-in model compares {modality} with text in one network (a {modality}-only one "
                         "pairs with a language model through --model-b: see `semhub models`); "
                         f"supported families: {', '.join(names) or 'none'}; on a machine that has one, run: "
                         f"semhub analyze --modality {modality} --model {suggested}")


def default_dataset(modality: str = "text") -> str:
    """The built-in data for a modality: its spoke's ``default_dataset``."""
    if catalog.spoke_of(modality) is None:
        known = ", ".join(sorted({s.modality for s in catalog.spokes().values()}))
        raise ParameterError("modality", f"no spoke reads {modality!r} (loaded: {known or 'none'}){catalog.failure_note()}")
    name = catalog.declared(modality, "default_dataset")
    if not name:
        raise ParameterError("data", f"no built-in data for modality {modality!r}; pass data")
    return name


def dataset(data: str | Path | None = None, limit: int | None = None, views: list[str] | None = None,
            modality: str = "text") -> AlignedDataset:
    """A built-in dataset by name (default: the modality's built-in data; a recipe as ``NAME[@SPLIT]``),
    a hub dataset (``hf:NAME[:CONFIG][@SPLIT][#VIEW=COLUMN,...]``: ``semhub.data.hf_datasets``) or a
    JSONL/TSV path.

    ``views`` names the two columns of a header-less TSV, and the views a recipe builds.
    """
    name = str(data) if data is not None else default_dataset(modality)
    builtin = catalog.datasets()
    recipe, _, split = name.partition("@")
    if name in builtin and builtin[name].path is not None:
        ds = load_aligned(builtin[name].path)
    elif recipe in builtin and builtin[recipe].loader is not None:
        return builtin[recipe].loader(views, split or None, limit).head(limit)
    elif is_hub(name):
        return load_hub(name, limit).head(limit)
    elif data is None:
        raise SemhubError(f"built-in dataset {name!r} is not loaded (is its plugin disabled? see `semhub plugins`)"
                          f"{catalog.failure_note()}")
    else:
        try:
            ds = load_aligned(name, views)
        except SemhubError as exc:  # e.g. a dataset a broken plugin would have registered: say so
            if not catalog.failure_note():
                raise
            raise SemhubError(f"{exc}{catalog.failure_note()}") from None
    return ds.head(limit)


def modality_of(view: str) -> str | None:
    """The modality of the spoke that reads ``view``; None for a column no loaded spoke claims
    (ids, labels...), which is simply not compared."""
    try:
        return catalog.spoke_for_view(view).modality
    except SemhubError:
        return None


def default_views(ds: AlignedDataset, modality: str, dominant: str = "en", minimum: int = 2) -> list[str]:
    """Text: every text view, the dominant language first. Another modality with views per language
    (``audio_en``, ``audio_es``...): those, the dominant one first. Otherwise its first view against
    the dominant-language text (``en`` vs ``arithmetic``)."""
    views = [v for v in ds.views if modality_of(v) == modality]
    per_language = [v for v in views if re.fullmatch(r"[a-z]+_[a-z]{2,3}", v)]  # audio_en, audio_es...
    if modality != "text" and len(per_language) >= 2:
        views = per_language
    elif modality != "text" and views:
        views = views[:1] + [v for v in ds.views if v == dominant and modality_of(v) == "text"]
    first = [v for v in views if v == dominant or v.endswith(f"_{dominant}")][:1]
    views = first + [v for v in views if v not in first]
    if len(views) < minimum:
        count = "two" if minimum == 2 else str(minimum)
        raise ParameterError("modality", f"{modality}: {ds.path} has fewer than {count} {modality} views ({', '.join(ds.views)})")
    return views


def check_inputs(backbone, views: list[str]) -> None:
    """Every view's spoke feeds what the model reads: a tokenizer-based spoke (text, code...) needs a
    family that reads text; an audio or image spoke needs that modality in the family's ``modalities``."""
    reads = backbone.family.modalities
    for view in views:
        kind = optional(catalog.spoke_for_view(view), "input_kind")
        if kind not in reads:
            raise ParameterError("views", f"view {view!r} needs a model that reads {kind}; "
                                 f"{backbone.name} ({backbone.family.name}) reads {', '.join(reads)}")


def require_text(backbone, parameter: str = "model") -> None:
    """Commands that tokenize and write text (steer, patchscope, train-lens, lens) need a family that
    reads text; a vision or speech encoder is refused by name, not met by a traceback inside it."""
    reads = backbone.family.modalities
    if "text" not in reads or backbone.tokenizer is None:
        raise ParameterError(parameter, f"{backbone.name} ({backbone.family.name}) reads {', '.join(reads)}; "
                                        "this needs a model that reads text (a language model)")


def check_readout(readout: str | None, views: list[str], columns: list[str]) -> None:
    """A ``readout`` must mean something to a spoke of the views: one that lists ``readouts`` and,
    when it has one, accepts it through ``check_readout(readout, views, columns)`` (else: is one of
    the names it lists). ``columns`` are the data's, for read-outs that read other columns."""
    if readout is None:
        return
    spokes = {s.name: s for s in (catalog.spoke_for_view(v) for v in views) if optional(s, "readouts")}
    if not spokes:
        raise ParameterError("readout", f"none of the views' spokes takes a read-out ({', '.join(views)})")
    for spoke in spokes.values():
        check = optional(spoke, "check_readout")
        problem = check(readout, views, columns) if callable(check) else (None if readout in spoke.readouts else
                                                           f"{readout!r} is not one of {', '.join(spoke.readouts)}")
        if problem:
            raise ParameterError("readout", f"spoke {spoke.name!r}: {problem}")


def check_rows(ds: AlignedDataset) -> None:
    """Every analysis compares rows (or needs more than one): a one-row dataset is refused early."""
    if len(ds) < 2:
        raise SemhubError(f"{ds.path}: has {len(ds)} row(s); an analysis needs at least two")


def romanised_controls(ds: AlignedDataset, views: list[str]) -> list[str]:
    """The ``<lang>_latn`` views ``--controls`` adds: one for each compared text view (after the first)
    whose text is mostly in another script than Latin, where a spoke claims the romanised view."""
    import unicodedata

    def latin_share(values: list) -> float:
        letters = [c for v in values[:200] if isinstance(v, str) for c in v if c.isalpha()]
        return sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) / max(1, len(letters))

    out = []
    for view in views[1:]:
        control = romanised_view(view)
        if control in views or view not in ds.columns or optional(catalog.spoke_for_view(view), "input_kind") != "text":
            continue
        try:
            catalog.spoke_for_view(control)
        except SemhubError:
            continue  # no spoke romanises this view's name (not a language code)
        if latin_share(ds.columns[view]) < 0.5:
            out.append(control)
    return out
