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
    "analyze": "semhub.runs.pipeline", "patchscope": "semhub.patchscopes.run", "steer": "semhub.runs.pipeline", "reproduce": "semhub.runs.pipeline",
    "Progress": "semhub.specs.progress", "Run": "semhub.runs.run",
    # the ingredients every entry point takes
    "ModelSpec": "semhub.specs.model", "DataSpec": "semhub.specs.data", "StoreSpec": "semhub.specs.store",
    "EngineSpec": "semhub.specs.engine", "CalibrationSpec": "semhub.specs.calibration", "Inputs": "semhub.specs.data", "build_context": "semhub.runs.context",
    "check_seed": "semhub.contract.options", "model_flags": "semhub.cli.params", "data_flags": "semhub.cli.params",
    "RunContext": "semhub.runs.context", "RunSettings": "semhub.runs.context", "make_context": "semhub.runs.context",
    "dataset": "semhub.specs.inputs", "require_text": "semhub.specs.inputs",
    # the contracts
    "Analysis": "semhub.contract.analysis", "Options": "semhub.contract.options", "option": "semhub.contract.options",
    "Result": "semhub.contract.result", "RecordsResult": "semhub.contract.result", "CurvesResult": "semhub.contract.result",
    "Summary": "semhub.contract.result", "Scorer": "semhub.contract.steering", "SteeringPreset": "semhub.contract.steering",
    "Experiment": "semhub.contract.steering", "NamedModel": "semhub.contract.named", "NamedDataset": "semhub.contract.named",
    "Spoke": "semhub.contract.spoke", "Encoded": "semhub.contract.spoke", "FileSpoke": "semhub.contract.spoke",
    "allow_outside_paths": "semhub.contract.spoke", "InputSettings": "semhub.contract.spoke",
    "encoding": "semhub.contract.spoke", "input_settings": "semhub.contract.spoke", "PaperSetting": "semhub.contract.analysis",
    "LensKind": "semhub.contract.lens", "build_lens": "semhub.lens.kinds",
    "train_lens": "semhub.lens.training", "TrainedLens": "semhub.lens.training", "TunedLens": "semhub.lens.tuned", "load_tuned_lens": "semhub.lens.tuned",
    "Template": "semhub.data.templates", "load_template": "semhub.data.templates", "hookimpl": "semhub.plugins.hookspecs",
    "SemhubError": "semhub.errors", "first_line": "semhub.errors", "DataError": "semhub.errors", "ParameterError": "semhub.errors",
    # models
    "profile": "semhub.cards.profile", "compare": "semhub.cards.compare", "Card": "semhub.cards.card",
    "Comparison": "semhub.cards.compare",
    "load": "semhub.backbone.loading", "Backbone": "semhub.backbone.adapter", "ModelSource": "semhub.backbone.source",
    "check_out_dir": "semhub.places", "check_out_file": "semhub.places",
    "cache_root": "semhub.cache", "file_sha256": "semhub.cache", "cached_build": "semhub.cache",
    # data
    "AlignedDataset": "semhub.data.aligned", "load_aligned": "semhub.data.aligned", "write_aligned": "semhub.data.aligned",
    "HubTable": "semhub.data.hf_datasets", "HubColumn": "semhub.data.hf_datasets", "load_table": "semhub.data.hf_datasets",
    "join_tables": "semhub.data.hf_datasets", "hub_columns": "semhub.data.hf_datasets",
    # read-out
    "capture": "semhub.readout.capture", "pool": "semhub.readout.capture", "run_layers": "semhub.backbone.convention",
    "Lens": "semhub.lens.logit", "read_lens": "semhub.lens.sites", "LensReading": "semhub.lens.sites",
    "last_site": "semhub.lens.sites", "InspectionPrompt": "semhub.patchscopes.inspection",
    "inspect_states": "semhub.patchscopes.states", "source_states": "semhub.patchscopes.states",
    "PatchReadout": "semhub.patchscopes.states", "patch_hooks": "semhub.steering.apply",
    "draw_concept_pairs": "semhub.patchscopes.concept_patching", "transfer_records": "semhub.patchscopes.concept_patching",
    "TransferResult": "semhub.patchscopes.concept_patching",
    "PATCH_ANSWERS": "semhub.patchscopes.concept_patching", "first_token_variants": "semhub.analyses.latent_language",
    "TranslationDirection": "semhub.patchscopes.concept_patching", "translation_prompt": "semhub.patchscopes.concept_patching",
    "patched_answer_probs": "semhub.patchscopes.concept_patching", "LANGUAGE_NAMES": "semhub.analyses.latent_language",
    "encode_values": "semhub.readout.collect", "view_batches": "semhub.readout.collect",
    "view_states": "semhub.readout.collect",
    "parse_layer_spec": "semhub.readout.layers", "parse_layers": "semhub.readout.layers",
    "spoke_for_view": "semhub.plugins.catalog", "register_plugin": "semhub.plugins.catalog",
    "unregister_plugin": "semhub.plugins.catalog",
    # analyses' building blocks
    "similarity": "semhub.analyses.similarity", "lens_view": "semhub.analyses.lens_view",
    "LogitLensResult": "semhub.analyses.logit_lens", "mean_ci": "semhub.analyses.stats", "item_statistics": "semhub.analyses.stats",
    "summarise": "semhub.analyses.stats", "upper_peak": "semhub.analyses.stats",
    "score_token_sets": "semhub.lens.token_sets", "word_token_ids": "semhub.lens.token_sets",
    # steering
    "SteerSpec": "semhub.steering.run", "SteeringVector": "semhub.steering.vectors",
    "from_contrast": "semhub.steering.vectors", "from_prompt_pair": "semhub.steering.vectors",
    "from_unembedding": "semhub.steering.vectors", "generate": "semhub.steering.generate", "Generation": "semhub.steering.generate",
    "steer_hooks": "semhub.steering.apply",
    # figures
    "pyplot": "semhub.plots", "save_figure": "semhub.plots",
}
_RENAMED = {"load": "load_backbone", "steer_hooks": "steer", "patch_hooks": "patch", "PATCH_ANSWERS": "WORDS",
            "first_token_variants": "variants", "TranslationDirection": "Direction", "translation_prompt": "prompt_for",
            "patched_answer_probs": "answer_probs", "LANGUAGE_NAMES": "NAMES"}

__all__ = sorted(["__version__", *_EXPORTS])


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from semhub.about import version

        globals()[name] = value = version()
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'semhub' has no attribute {name!r}")
    value = getattr(import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
