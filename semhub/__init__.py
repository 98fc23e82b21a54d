"""semhub: does this model think in one shared space across languages and modalities?

The public API, for scripts and for plugins (plugins import only from here):

    import semhub
    run = semhub.analyze("similarity", views=["en", "zh"], limit=40)
    run.write("runs/en-zh")

Names resolve lazily (PEP 562), so ``import semhub`` (and the CLI's ``--help``) stays fast and
imports neither torch nor transformers until something that needs them is used.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    # the pipeline
    "analyze": "semhub.runs.pipeline", "patchscope": "semhub.runs.patching", "steer": "semhub.runs.pipeline", "reproduce": "semhub.runs.pipeline",
    "Progress": "semhub.runs.pipeline", "Run": "semhub.runs.run",
    "RunContext": "semhub.runs.context", "RunSettings": "semhub.runs.context", "make_context": "semhub.runs.context",
    "dataset": "semhub.runs.inputs", "require_text": "semhub.runs.inputs",
    # the contracts
    "Analysis": "semhub.contract.analysis", "Options": "semhub.contract.options", "option": "semhub.contract.options",
    "Result": "semhub.contract.result", "RecordsResult": "semhub.contract.result", "CurvesResult": "semhub.contract.result",
    "Summary": "semhub.contract.result", "Scorer": "semhub.contract.steering", "SteeringPreset": "semhub.contract.steering",
    "Experiment": "semhub.contract.steering", "NamedModel": "semhub.contract.named", "NamedDataset": "semhub.contract.named",
    "Spoke": "semhub.contract.spoke", "Encoded": "semhub.contract.spoke", "FileSpoke": "semhub.contract.spoke",
    "allow_outside_paths": "semhub.contract.spoke", "InputSettings": "semhub.contract.spoke",
    "encoding": "semhub.contract.spoke", "input_settings": "semhub.contract.spoke", "PaperSetting": "semhub.contract.analysis",
    "LensKind": "semhub.contract.lens", "build_lens": "semhub.readout.kinds",
    "train_lens": "semhub.runs.lens_training", "TrainedLens": "semhub.runs.lens_training", "TunedLens": "semhub.readout.tuned", "load_tuned_lens": "semhub.readout.tuned",
    "Template": "semhub.data.templates", "load_template": "semhub.data.templates", "hookimpl": "semhub.plugins.hookspecs",
    "SemhubError": "semhub.errors", "DataError": "semhub.errors", "ParameterError": "semhub.errors",
    # models
    "profile": "semhub.cards.profile", "compare": "semhub.cards.compare", "Card": "semhub.cards.card",
    "Comparison": "semhub.cards.compare",
    "load": "semhub.backbone.loading", "Backbone": "semhub.backbone.adapter", "ModelSource": "semhub.backbone.loading",
    "check_out_dir": "semhub.places", "check_out_file": "semhub.places",
    "cache_root": "semhub.backbone.loading", "file_sha256": "semhub.backbone.loading", "cached_build": "semhub.backbone.loading",
    # data
    "AlignedDataset": "semhub.data.aligned", "load_aligned": "semhub.data.aligned", "write_aligned": "semhub.data.aligned",
    "HubTable": "semhub.data.hub", "HubColumn": "semhub.data.hub", "load_table": "semhub.data.hub",
    "join_tables": "semhub.data.hub", "hub_columns": "semhub.data.hub",
    # read-out
    "capture": "semhub.readout.capture", "pool": "semhub.readout.capture", "run_layers": "semhub.readout.capture",
    "Lens": "semhub.readout.lens", "read_lens": "semhub.readout.sites", "LensReading": "semhub.readout.sites",
    "last_site": "semhub.readout.sites", "InspectionPrompt": "semhub.readout.inspection",
    "inspect_states": "semhub.readout.patchscope", "source_states": "semhub.readout.patchscope",
    "PatchReadout": "semhub.readout.patchscope", "patch_hooks": "semhub.steering.apply",
    "encode_values": "semhub.readout.collect", "view_batches": "semhub.readout.collect",
    "view_states": "semhub.readout.collect",
    "parse_layer_spec": "semhub.readout.layers", "parse_layers": "semhub.readout.layers",
    "spoke_for_view": "semhub.plugins.catalog",
    # analyses' building blocks
    "similarity": "semhub.analyses.similarity", "lens_view": "semhub.analyses.lens_view",
    "LogitLensResult": "semhub.analyses.logit_lens", "mean_ci": "semhub.analyses.stats", "item_statistics": "semhub.analyses.stats",
    "summarise": "semhub.analyses.stats", "upper_peak": "semhub.analyses.stats",
    "score_token_sets": "semhub.analyses.token_sets", "word_token_ids": "semhub.analyses.token_sets",
    # steering
    "SteerSpec": "semhub.steering.run", "SteeringVector": "semhub.steering.vectors",
    "from_contrast": "semhub.steering.vectors", "from_prompt_pair": "semhub.steering.vectors",
    "from_unembedding": "semhub.steering.vectors", "generate": "semhub.steering.generate", "Generation": "semhub.steering.generate",
    "steer_hooks": "semhub.steering.apply",
    # figures
    "pyplot": "semhub.runs.plots", "save_figure": "semhub.runs.plots",
}
_RENAMED = {"load": "load_backbone", "steer_hooks": "steer", "patch_hooks": "patch"}

__all__ = sorted(["__version__", *_EXPORTS])


def _version() -> str:
    """Read from the installed metadata on first use (not at import: the CLI starts faster)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("semhub")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'semhub' has no attribute {name!r}")
    value = getattr(import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
