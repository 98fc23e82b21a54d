"""What an analysis sees: ``RunContext`` (backbone, data, views, layers, the run's ``RunSettings``,
the analysis's own typed options, lazy state capture); ``build_context`` (from resolved inputs: nothing
validated twice) and ``make_context`` (from raw data, for callers outside a run)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from semhub.contract.options import Options, check_seed
from semhub.data.aligned import AlignedDataset
from semhub.errors import DataError, ParameterError, SemhubError
from semhub.readout.capture import POOLINGS
from semhub.readout.layers import parse_layers
from semhub.specs.calibration import CalibrationSpec
from semhub.specs.data import Inputs
from semhub.specs.inputs import check_inputs
from semhub.specs.store import MAX_SHARD_ROWS, STORE_DTYPES

MAX_BOOTSTRAP = 100_000  # resamples: more adds nothing to a 95% interval and only costs memory


@dataclass
class RunSettings:
    """The settings every analysis shares (``ctx.settings``); each is a keyword of ``semhub.analyze``.

    Attributes:
        modality: which spoke's views are compared when ``views`` is not given.
        pooling: ``mean`` over content positions, or the ``last`` one.
        center: subtract each view's mean state per layer before cosines.
        final_norm: apply the final norm at the last layer (as HF ``hidden_states[L]``).
        lens_norm: the logit lens applies the final norm before the unembedding (False: the paper's raw lens).
        lens: the lens every lens analysis reads through (``logit``, ``tuned``, or a plugin's: ``semhub.LensKind``).
        lens_path: the lens's trained parameters (a tuned-lens folder), or None for its default.
        bos: text is encoded with the tokenizer's special tokens (BOS); False: without (``InputSettings``).
        readout: where a spoke reads its inputs (``InputSettings.readout``), None: each spoke's default.
        template: a text template's name or TOML file (``semhub.data.templates``) added to text views, or None.
        batch_size: inputs per forward pass.
        limit: use only the first N rows (None: all).
        n_boot: bootstrap resamples for 95% intervals (0: none).
        seed: seeds the bootstrap and any sampling.
        shard_rows: dataset rows per capture shard (the unit of an activation store's resumption).
        store: the activation store states stream into, or None (in memory).
        store_dtype: precision of stored states.
        calibration: the permutation null every state metric is calibrated against (``CalibrationSpec``).
    """

    modality: str = "text"
    pooling: str = "mean"
    center: bool = True
    final_norm: bool = False
    lens_norm: bool = True
    lens: str = "logit"
    lens_path: str | None = None
    bos: bool = True
    readout: str | None = None
    template: str | None = None
    batch_size: int = 16
    limit: int | None = None
    n_boot: int = 1000
    seed: int = 0
    shard_rows: int = 1024
    store: str | None = None
    store_dtype: str = "float32"
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)

    def __post_init__(self) -> None:
        if isinstance(self.calibration, dict):  # from to_dict(), or a manifest
            self.calibration = CalibrationSpec(**self.calibration)

    def check(self) -> None:
        if self.pooling not in POOLINGS:
            raise ParameterError("pooling", f"unknown {self.pooling!r} (choose from {', '.join(POOLINGS)})")
        for name in ("batch_size", "shard_rows"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(name, f"must be at least 1, got {getattr(self, name)}")
        if int(self.shard_rows) > MAX_SHARD_ROWS:
            raise ParameterError("shard_rows", f"must be at most {MAX_SHARD_ROWS:,}, got {self.shard_rows}")
        if self.limit is not None and int(self.limit) < 2:
            raise ParameterError("limit", f"must be at least 2, got {self.limit}")
        if not 0 <= int(self.n_boot) <= MAX_BOOTSTRAP:
            raise ParameterError("n_boot", f"must be from 0 to {MAX_BOOTSTRAP}, got {self.n_boot}")
        check_seed(self.seed)
        self.calibration.check()
        if self.store_dtype not in STORE_DTYPES:
            raise ParameterError("store_dtype", f"{self.store_dtype!r} (choose from {', '.join(STORE_DTYPES)})")
        from semhub.lens.kinds import check_lens

        check_lens(self.lens, norm=self.lens_norm, path=self.lens_path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def input_settings(self):
        """What spokes read while this run encodes (``semhub.input_settings()``)."""
        from semhub.contract.spoke import InputSettings

        return InputSettings(bos=self.bos, readout=self.readout)


@dataclass
class RunContext:
    """What an analysis's ``run(ctx)`` reads.

    Attributes:
        backbone: the loaded model, or None when the run reads a finished store (``needs_model = False``).
        dataset: the aligned rows (after ``limit``).
        views: the views to compare, the first against each other one.
        layers: the captured layer indices (``semhub.capture`` convention: 0 = embeddings).
        settings: the shared ``RunSettings``.
        options: this analysis's own options (an instance of its ``Options`` class).

    States: ``states(view)`` are the raw pooled states, the same under ``--center`` and ``--no-center``;
    ``centred(view)`` applies the run's ``center`` setting. Built-in analyses read ``states`` and centre
    as ``centred`` does where their statistic calls for it (cosines, retrieval; CKA centres by itself).
        on_batch: call with a number of units done, to advance the progress bar.
        timings: seconds per phase, recorded in the manifest.
        model_name: the model's display name (also without a backbone).
        partner: a second model's context (``model_b``): its own backbone, layers and store, reading
            the views after the first; None in a one-model run. Only ``cross_model`` analyses see one.
    """

    backbone: Any
    dataset: AlignedDataset
    views: list[str]
    layers: list[int]
    settings: RunSettings = field(default_factory=RunSettings)
    options: Options = field(default_factory=Options)
    on_batch: Callable[[int], None] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
    partner: "RunContext | None" = None
    _cache: dict[str, Any] = field(default_factory=dict)
    _engine: Any = None

    def __post_init__(self) -> None:
        if not self.model_name and self.backbone is not None:
            self.model_name = self.backbone.name

    @property
    def lens(self):
        """The run's lens (``settings.lens``), built once: what every lens analysis reads through."""
        if "lens" not in self._cache:
            if self.backbone is None:
                raise SemhubError("this run has no model (it reads a store): no lens can be read")
            from semhub.lens.kinds import build_lens

            s = self.settings
            self._cache["lens"] = build_lens(self.backbone, s.lens, norm=s.lens_norm, path=s.lens_path)
        return self._cache["lens"]

    @property
    def calibration(self):
        """The permutations every state metric of this run is calibrated with (``Calibration``), drawn once
        from the run's seed (within ``perm_groups`` when set); None with ``permutations`` 0."""
        spec = self.settings.calibration
        if not spec.permutations:
            return None
        if "calibration" not in self._cache:
            from semhub.analyses.calibration import Calibration, permutations

            perms = permutations(len(self.dataset), int(spec.permutations), int(self.settings.seed),
                                 spec.groups(self.dataset))
            self._cache["calibration"] = Calibration(perms, float(spec.alpha), spec.aggregate,
                                                     int(self.settings.seed), spec.perm_groups)
        return self._cache["calibration"]

    @property
    def store(self):
        from semhub.runs.store import ActivationStore

        return ActivationStore(self.settings.store) if self.settings.store else None

    @property
    def engine(self):
        """Where states are computed: this process by default, or what ``use_engine`` set (Ray)."""
        if self._engine is None:
            if self.backbone is None:
                raise SemhubError("this run has no model (it reads a store): only stored states can be read")
            from semhub.runs.engine import LocalEngine

            self._engine = LocalEngine(self.backbone, self.dataset, self.capture_spec())
        return self._engine

    def use_engine(self, engine) -> None:
        """Capture through ``engine`` (anything with ``map(view, shards)`` and ``close()``)."""
        self._engine = engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        if self.partner is not None:
            self.partner.close()

    def capture_spec(self):
        from semhub.runs.engine import CaptureSpec

        s = self.settings
        return CaptureSpec(tuple(self.layers), s.pooling, s.batch_size, bool(s.final_norm))

    def shards(self) -> list[list[int]]:
        from semhub.runs.store import shard_rows

        return shard_rows(len(self.dataset), int(self.settings.shard_rows))

    def states_by_layer(self, view: str):
        """What ``states(view)`` holds, indexable as ``[:, k]``: from an activation store (``store``),
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

    def centred(self, view: str):
        """``states(view)`` as the run's ``--center``/``--no-center`` says: with ``settings.center`` each
        layer's mean over the rows (computed in float64) is subtracted, without it the raw states are
        returned. The built-in similarity and retrieval centre exactly so; a plugin analysis that compares
        states across views reads this to honour the flag."""
        import torch

        states = self.states(view)
        if not self.settings.center:
            return states
        return states - states.sum(0, dtype=torch.float64).div(states.shape[0]).to(states.dtype)

    def states(self, view: str):
        """Pooled (N, len(layers), D) states of one view, captured once (shard by shard) and reused.
        Never centred, whatever ``--center`` says (``centred(view)`` applies it)."""
        if view in self._cache:
            return self._cache[view]
        if self.store is not None:
            self._cache[view] = self.states_by_layer(view).load()
            return self._cache[view]
        import torch

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
    backbone: Any,
    data: str | Path | AlignedDataset | None = None,
    views: list[str] | None = None,
    *,
    analysis: str | None = None,
    settings: RunSettings | None = None,
    options: Options | dict[str, Any] | None = None,
    layers: str | list[int] | None = None,
    drop_embeddings: bool = False,
    on_batch: Callable[[int], None] | None = None,
    resume: bool = False,
    **keywords: Any,
) -> RunContext:
    """Validate data, views and layers for ``backbone`` and open the activation store, if any: the
    context an analysis's ``run(ctx)`` reads (``semhub.analyze`` builds one; use this to call an
    analysis, or your own code, on a loaded model).

    ``data`` is a built-in name, a file, or an ``AlignedDataset``; ``views`` default to the
    modality's views in it. Keywords that are ``RunSettings`` fields (``pooling``, ``n_boot``...) set
    the settings; the others are options of ``analysis`` (a registered name). ``resume`` continues a
    store a killed run left behind.
    """
    base = (settings or RunSettings()).to_dict()
    owned: set[str] = set()  # an analysis option spelled like a calibration field keeps its keyword
    if analysis is not None:
        from semhub.contract.analysis import options_class
        from semhub.plugins import catalog

        owned = {s.name for s in options_class(catalog.lookup("analysis", catalog.analyses(), analysis)).specs()}
    mine = {k: keywords.pop(k) for k in CalibrationSpec.names() if k in keywords and k not in owned}
    if mine:
        base["calibration"] = CalibrationSpec.of(None, mine)
    names = set(base)
    settings = RunSettings(**{**base, **{k: (str(v) if k == "store" and v is not None else v)
                                         for k, v in keywords.items() if k in names}})
    rest = {k: v for k, v in keywords.items() if k not in names}
    if not isinstance(options, Options):
        if analysis is None and (rest or options):
            raise ParameterError(next(iter(rest or options)), "not a run setting; name the analysis (analysis=...) "
                                 "whose option it is")
        if analysis is not None:
            from semhub.contract.analysis import options_class
            from semhub.plugins import catalog

            options = options_class(catalog.lookup("analysis", catalog.analyses(), analysis)).build(
                {**(options or {}), **rest})
        else:
            options = Options()
    settings.check()
    from semhub.specs.data import DataSpec

    spec = DataSpec(data=data, views=views, modality=settings.modality, limit=settings.limit)
    from semhub.data.templates import load_template

    inputs = spec.resolve(minimum=1, dominant=backbone.family.dominant_language, template=load_template(settings.template))
    return build_context(backbone, inputs, settings=settings, options=options, layers=layers,
                         drop_embeddings=drop_embeddings, on_batch=on_batch, resume=resume)


def build_context(backbone, inputs: Inputs, *, settings: RunSettings, options: Options | None = None,
                  layers: str | list[int] | None = None, drop_embeddings: bool = False,
                  on_batch: Callable[[int], None] | None = None, resume: bool = False) -> RunContext:
    """The context of resolved ``inputs`` (``DataSpec.resolve``: already loaded and validated) on a loaded
    ``backbone``: only what needs the model is checked here (its inputs, its layers), the template is
    applied and the activation store, if any, opened."""
    ds, views, template = inputs.dataset, inputs.views, inputs.template
    if template is not None:
        ds = template.apply(ds, views)
    check_inputs(backbone, views)
    layer_list = parse_layers(layers, backbone.n_layers, drop_embeddings)
    if settings.store is not None:
        from semhub.runs.store import ActivationStore

        model = {k: v for k, v in backbone.describe().items() if k not in ("device", "attn_implementation")}
        ActivationStore(settings.store).open({
            "model": model, "data": str(ds.path), "data_sha256": ds.sha256, "rows": len(ds), "views": views,
            "layers": layer_list, "pooling": settings.pooling, "final_norm": settings.final_norm,
            "bos": settings.bos, "readout": settings.readout, "template": template.describe() if template is not None else None,
            "batch_size": settings.batch_size, "store_dtype": settings.store_dtype,
            "shard_rows": settings.shard_rows, "d_model": backbone.d_model}, resume)
    return RunContext(backbone, ds, views, layer_list, settings, options or Options(), on_batch)


def context_from_store(store: str | Path, views: list[str] | None = None, *, settings: RunSettings | None = None,
                       options: Options | None = None) -> RunContext:
    """A run context over a finished activation store, without the model (state analyses only)."""
    from semhub.runs.store import ActivationStore

    spec = ActivationStore(store).require("views", "data", "rows", "data_sha256", "pooling", "batch_size",
                                          "final_norm", "layers", "model")
    views = views or spec["views"]
    unknown = [v for v in views if v not in spec["views"]]
    if unknown:
        raise ParameterError("views", f"{', '.join(unknown)} not in the store (it holds {', '.join(spec['views'])})")
    store_obj = ActivationStore(store)
    shards = [len(list((store_obj.root / view).glob("shard-*.safetensors"))) for view in views]
    if spec["rows"] > min(shards, default=0) * spec["shard_rows"]:  # never trust a count to allocate by
        raise DataError(store_obj.manifest_path, None, f"claims {spec['rows']:,} rows, but the shards of "
                        f"{', '.join(views)} hold at most {min(shards, default=0) * spec['shard_rows']:,}")
    ds = AlignedDataset(Path(spec["data"]), [str(i) for i in range(spec["rows"])], {}, [], spec["data_sha256"])
    base = settings or RunSettings()
    settings = RunSettings(**{**base.to_dict(), "pooling": spec["pooling"], "batch_size": spec["batch_size"],
                              "final_norm": spec["final_norm"], "store": str(store),
                              "store_dtype": spec.get("store_dtype", "float32"), "limit": None})
    ctx = RunContext(None, ds, views, list(spec["layers"]), settings, options or Options(),
                     model_name=spec["model"]["name"])
    partner = partner_store(store)
    if (partner / "store.json").exists():  # a two-model store: model B's views in its own store inside
        ctx.partner = context_from_store(partner, settings=settings, options=options)
    return ctx


def partner_store(store: str | Path) -> Path:
    """Where a two-model run keeps the second model's states: a store of its own inside the first."""
    return Path(store) / "model-b"
