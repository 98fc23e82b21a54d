"""The Python API; the CLI is a thin layer over it.

    import semhub
    bb = semhub.load()                                 # the embedded default model
    res = semhub.similarity(bb, views=["en", "zh"])     # built-in multilingual sample
    res.plot("similarity.png"); res.to_json()
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from semhub import catalog
from semhub.backbone import Backbone, load_backbone
from semhub.capture import POOLINGS, check_layers
from semhub.collect import validate_views
from semhub.data import AlignedDataset, load_aligned
from semhub.errors import SemhubError

DEFAULT_DATASET = "multilingual"
# The paper's code: last token, raw vectors, embeddings dropped, HF's post-norm last layer, raw lens.
PAPER_SETTING = {"pooling": "last", "center": False, "drop_embeddings": True, "final_norm": True, "lens_norm": False}


def load(model: str | None = None, **kwargs: Any) -> Backbone:
    """Load a backbone: a registered name (default ``gemma3-270m``), a local path, a .gguf file or a hub id."""
    return load_backbone(model, **kwargs)


def default_model(modality: str = "text") -> str | None:
    """The model a modality runs on by default: a spoke's ``default_model`` (e.g. whisper-base for audio)."""
    for spoke in catalog.spokes().values():
        if spoke.modality == modality and getattr(spoke, "default_model", None):
            return spoke.default_model
    return None


def model_for(modality: str, model: str | None) -> str | None:
    """``--model``, else the modality's default; a modality with no built-in model is a clear error
    listing the registry families that read it and the command to run one."""
    model = model or default_model(modality)
    spoke = next((s for s in catalog.spokes().values() if s.modality == modality), None)
    kind = getattr(spoke, "input_kind", "text")
    if model is not None or kind == "text":  # tokenizer spokes (code, arithmetic...) run on the default LM
        return model
    from semhub.registry import families

    fams = [f"{f.name} ({f.examples[0]})" if f.examples else f.name
            for f in families().values() if kind in f.modalities]
    suggested = getattr(spoke, "suggested_model", None) or (fams and families()[fams[0].split()[0]].examples[0])
    raise SemhubError(f"--modality {modality}: no {modality} model is built in (semhub ships no such weights); "
                      f"supported families: {', '.join(fams) or 'none'}; on a machine that has one, run: "
                      f"semhub analyze --modality {modality} --model {suggested}")


def default_dataset(modality: str = "text") -> str:
    """The built-in data for a modality: the multilingual sample for text, else a spoke's ``default_dataset``."""
    if modality != "text":
        for spoke in catalog.spokes().values():
            if spoke.modality == modality and getattr(spoke, "default_dataset", None):
                return spoke.default_dataset
    return DEFAULT_DATASET


def dataset(data: str | Path | None = None, limit: int | None = None, views: list[str] | None = None,
            modality: str = "text") -> AlignedDataset:
    """A built-in dataset by name (default: the modality's built-in data) or a JSONL/TSV path.

    ``views`` names the two columns of a header-less TSV.
    """
    name = str(data) if data is not None else default_dataset(modality)
    builtin = catalog.datasets()
    if name in builtin:
        ds = load_aligned(builtin[name].path)
    elif data is None:
        raise SemhubError(f"built-in dataset {name!r} is not loaded (is its plugin disabled? see `semhub plugins`)")
    else:
        ds = load_aligned(name, views)
    return ds.head(limit)


def default_views(ds: AlignedDataset, modality: str, dominant: str = "en") -> list[str]:
    """Text: every text view, the dominant language first. Another modality with views per language
    (``audio_en``, ``audio_es``...): those, the dominant one first. Otherwise its first view against
    the dominant-language text (``en`` vs ``arithmetic``)."""
    def modality_of(view: str) -> str | None:
        try:
            return catalog.spoke_for_view(view).modality
        except SemhubError:  # a column no loaded spoke claims (ids, labels...) is simply not compared
            return None

    views = [v for v in ds.views if modality_of(v) == modality]
    per_language = [v for v in views if re.fullmatch(r"[a-z]+_[a-z]{2,3}", v)]  # audio_en, audio_es...
    if modality != "text" and len(per_language) >= 2:
        views = per_language
    elif modality != "text" and views:
        views = views[:1] + [v for v in ds.views if v == dominant and modality_of(v) == "text"]
    first = [v for v in views if v == dominant or v.endswith(f"_{dominant}")][:1]
    views = first + [v for v in views if v not in first]
    if len(views) < 2:
        raise SemhubError(f"--modality {modality}: {ds.path} has fewer than two {modality} views ({', '.join(ds.views)})")
    return views


def check_inputs(backbone: Backbone, views: list[str]) -> None:
    """Every view's spoke feeds what the model reads: a tokenizer-based spoke (text, code...) needs a
    family that reads text; an audio or image spoke needs that modality in the family's ``modalities``."""
    reads = backbone.family.modalities
    for view in views:
        kind = getattr(catalog.spoke_for_view(view), "input_kind", "text")
        if kind not in reads:
            raise SemhubError(f"--views: view {view!r} needs a model that reads {kind}; "
                              f"{backbone.name} ({backbone.family.name}) reads {', '.join(reads)}")


def parse_layer_spec(spec: str) -> list[int]:
    """``"6-13"``, ``"1,5,9"`` or a mix -> sorted layer list (syntax only; range checked later)."""
    layers: list[int] = []
    try:
        for part in spec.split(","):
            lo, _, hi = part.strip().partition("-")
            layers += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise SemhubError(f"--layers: cannot parse {spec!r} (expected e.g. 0-18 or 1,6,12)") from None
    if not layers:
        raise SemhubError(f"--layers: {spec!r} selects no layer")
    return sorted(set(layers))


def parse_layers(spec: str | None, n_layers: int, drop_embeddings: bool = False) -> list[int]:
    """``None`` -> all (0..L, or 1..L without embeddings); otherwise ``parse_layer_spec`` in range."""
    if spec is None:
        return list(range(1 if drop_embeddings else 0, n_layers + 1))
    return check_layers(parse_layer_spec(spec), n_layers)


@dataclass
class RunContext:
    """What an analysis sees: the backbone, the data, the views, the options, lazy capture."""

    backbone: Backbone
    dataset: AlignedDataset
    views: list[str]
    layers: list[int]
    options: dict[str, Any]
    on_batch: Callable[[int], None] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _cache: dict[str, torch.Tensor] = field(default_factory=dict)
    _engine: Any = None

    @property
    def model_name(self) -> str:
        return self.backbone.name if self.backbone is not None else self.options.get("model_name", "?")

    @property
    def store(self):
        from semhub.store import ActivationStore

        return ActivationStore(self.options["store"]) if self.options.get("store") else None

    @property
    def engine(self):
        """Where states are computed: this process by default, or what ``use_engine`` set (Ray)."""
        if self._engine is None:
            from semhub.engine import LocalEngine

            self._engine = LocalEngine(self.backbone, self.dataset, self.capture_spec())
        return self._engine

    def use_engine(self, engine) -> None:
        """Capture through ``engine`` (anything with ``map(view, shards)`` and ``close()``)."""
        self._engine = engine

    def capture_spec(self):
        from semhub.engine import CaptureSpec

        return CaptureSpec(tuple(self.layers), self.options["pooling"], self.options["batch_size"],
                           bool(self.options.get("final_norm", False)))

    def shards(self) -> list[list[int]]:
        from semhub.store import shard_rows

        return shard_rows(len(self.dataset), int(self.options.get("shard_rows", 1024)))

    def states_by_layer(self, view: str):
        """What ``states(view)`` holds, indexable as ``[:, k]``: from an activation store (``--store``),
        one layer at a time from disk, so memory stays bounded for any N."""
        store = self.store
        if store is None:
            return self.states(view)
        if self.backbone is not None:
            start = time.perf_counter()
            missing = store.missing(view)
            for (index, rows), states in zip(missing, self.engine.map(view, [rows for _, rows in missing])):
                store.write(view, index, states)
                if self.on_batch:
                    self.on_batch(len(rows))
            self.timings[f"capture_{view}_s"] = round(time.perf_counter() - start, 3)
        return store.states(view)

    def states(self, view: str) -> torch.Tensor:
        """Pooled (N, len(layers), D) states of one view, captured once (shard by shard) and reused."""
        if view in self._cache:
            return self._cache[view]
        if self.store is not None:
            self._cache[view] = self.states_by_layer(view).load()
            return self._cache[view]
        start = time.perf_counter()
        parts = []
        for rows, states in zip(self.shards(), self.engine.map(view, self.shards())):
            parts.append(states)
            if self.on_batch:
                self.on_batch(len(rows))
        self._cache[view] = torch.cat(parts)
        self.timings[f"capture_{view}_s"] = round(time.perf_counter() - start, 3)
        return self._cache[view]


def make_context(
    backbone: Backbone,
    data: str | Path | AlignedDataset | None = None,
    views: list[str] | None = None,
    *,
    modality: str = "text",
    pooling: str = "mean",
    center: bool = True,
    layers: str | list[int] | None = None,
    batch_size: int = 16,
    limit: int | None = None,
    seed: int = 0,
    final_norm: bool = False,
    drop_embeddings: bool = False,
    n_boot: int = 1000,
    on_batch: Callable[[int], None] | None = None,
    extra: dict[str, Any] | None = None,
    store: str | Path | None = None,
    resume: bool = False,
    store_dtype: str = "float32",
    shard_rows: int = 1024,
) -> RunContext:
    """Validate data, views and layers for ``backbone``; ``extra`` holds analysis-specific options.

    ``store`` streams captured states into an activation store (``semhub.store``) and reads
    them back from disk; ``resume`` continues one that a killed run left behind.
    """
    if pooling not in POOLINGS:
        raise SemhubError(f"pooling: unknown {pooling!r} (choose from {', '.join(POOLINGS)})")
    ds = data.head(limit) if isinstance(data, AlignedDataset) else dataset(data, limit)
    views = views or default_views(ds, modality, backbone.family.dominant_language)
    validate_views(ds, views)
    check_inputs(backbone, views)
    if len(ds) < 2:
        raise SemhubError(f"{ds.path}: similarity needs at least two rows")
    if isinstance(layers, list):
        layer_list = check_layers(layers, backbone.n_layers)
    else:
        layer_list = parse_layers(layers, backbone.n_layers, drop_embeddings)
    options = {"pooling": pooling, "center": center, "batch_size": batch_size, "seed": seed,
               "final_norm": final_norm, "n_boot": n_boot, "modality": modality, "limit": limit,
               "shard_rows": shard_rows, **(extra or {})}
    if store is not None:
        from semhub.store import DTYPES, ActivationStore

        if store_dtype not in DTYPES:
            raise SemhubError(f"--store-dtype: {store_dtype!r} (choose from {', '.join(DTYPES)})")
        model = {k: v for k, v in backbone.describe().items() if k not in ("device", "attn_implementation")}
        ActivationStore(store).open({
            "model": model, "data": str(ds.path), "data_sha256": ds.sha256, "rows": len(ds), "views": views,
            "layers": layer_list, "pooling": pooling, "final_norm": final_norm, "batch_size": batch_size,
            "store_dtype": store_dtype, "shard_rows": shard_rows, "d_model": backbone.d_model}, resume)
        options.update(store=str(store), store_dtype=store_dtype)
    return RunContext(backbone, ds, views, layer_list, options, on_batch)


def context_from_store(store: str | Path, views: list[str] | None = None, **options: Any) -> RunContext:
    """A run context over a finished activation store, without the model (state analyses only)."""
    from semhub.store import ActivationStore

    spec = ActivationStore(store).manifest()
    views = views or spec["views"]
    unknown = [v for v in views if v not in spec["views"]]
    if unknown:
        raise SemhubError(f"--views: {', '.join(unknown)} not in the store (it holds {', '.join(spec['views'])})")
    ds = AlignedDataset(Path(spec["data"]), [str(i) for i in range(spec["rows"])], {}, [], spec["data_sha256"])
    opts = {"pooling": spec["pooling"], "center": True, "batch_size": spec["batch_size"], "seed": 0,
            "final_norm": spec["final_norm"], "n_boot": 1000, "modality": "text", "limit": None, **options,
            "store": str(store), "model_name": spec["model"]["name"]}
    return RunContext(None, ds, views, list(spec["layers"]), opts)


def similarity(backbone: Backbone | None = None, data: Any = None, views: list[str] | None = None, **options: Any):
    """Per-layer cross-view similarity of ``views[0]`` against each other view (see ``make_context``)."""
    ctx = make_context(backbone or load(), data, views, **options)
    return catalog.analyses()["similarity"].run(ctx)
