"""Load a backbone from a named model, a local directory, a GGUF file or a hub id.

GGUF files are de-quantised by transformers once and cached as safetensors in the user
cache dir, so the embedded default loads in seconds after the first run.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


from semhub.backbone.gguf import dequantized_copy
from semhub.backbone.placement import check_offload_folder, check_placed_modules, parse_device_map
from semhub.backbone.source import ModelSource
from semhub.cache import file_sha256, folder_digest
from semhub.errors import ParameterError, SemhubError, first_line

DTYPES = ("auto", "float32", "float16", "bfloat16")


def load_failure(exc: BaseException) -> str:
    """One line for why transformers could not load a checkpoint: the refused pickle global, the
    safetensors complaint, or the first line of the message."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    refused = next((line for line in lines if "unsupported GLOBAL" in line), None)
    if refused:
        return (f"a pickled weight file was refused ({refused.rstrip('.')}); weights are only read with "
                "torch.load(weights_only=True): convert them to safetensors")
    name = type(exc).__name__
    first = first_line(exc)
    return first if name in ("OSError", "ValueError") else f"{name}: {first}"


def _torch_dtype(dtype: str) -> Any:
    import torch

    if dtype not in DTYPES:
        raise SemhubError(f"--dtype: unknown dtype {dtype!r} (choose from {', '.join(DTYPES)})")
    return "auto" if dtype == "auto" else getattr(torch, dtype)


def resolve_class(spec: str) -> Any:
    """A registry ``loader``/``processor``: a transformers class name, or ``module:Class`` from a plugin."""
    import importlib

    import transformers

    module, _, name = spec.rpartition(":")
    try:
        return getattr(importlib.import_module(module) if module else transformers, name)
    except (ImportError, AttributeError):
        raise SemhubError(f"registry: cannot import {spec!r} (is its plugin installed?)") from None


def _tokenizer(location: str, common: dict[str, Any], family) -> Any:
    """The model's tokenizer; a family that reads no text and has none (DINOv2: pixels only) gets None."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(location, **common)
    except (OSError, ValueError, TypeError, KeyError):
        if "text" in family.modalities or family.processor is None:
            raise
        return None


def _load_config(location: str, common: dict[str, Any]) -> Any:
    """AutoConfig, first importing a plugin's model module when the model type is one it defines."""

    from transformers import AutoConfig

    from semhub.backbone.registry import families

    from semhub.files import read_json_object

    config_file = Path(location) / "config.json"
    if config_file.is_file():
        read_json_object(config_file, "a model's JSON config")  # bounded, an object: before transformers reads it
    try:
        return AutoConfig.from_pretrained(location, **common)
    except ValueError:
        config_file = Path(location) / "config.json"
        if not config_file.is_file():
            raise
        model_type = read_json_object(config_file, "a model's JSON config").get("model_type")
        fam = next((f for f in families().values() if model_type in f.model_types and ":" in f.loader), None)
        if fam is None:
            raise
        resolve_class(fam.loader)  # importing the module registers its config class with AutoConfig
        return AutoConfig.from_pretrained(location, **common)


def resolve_source(model: str) -> tuple[ModelSource | None, str]:
    """A named model or local path -> ModelSource; a hub id -> (None, id)."""
    from semhub.plugins import catalog

    named = catalog.models()
    if model in named:
        return named[model].resolver(), model
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(path.parent, path.name), str(path)
    if path.is_dir():
        return ModelSource(path), str(path)
    if path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ParameterError("model", f"{model!r} is not a model directory, a .gguf file, a known name or a hub id")
    return None, model


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def check_loaded_weights(info: dict[str, Any], model: str) -> None:
    """transformers fills weights a checkpoint lacks, or holds in another shape, with random values and
    only warns; semhub refuses: a partly random model would be measured as if it were the real one."""
    missing, mismatched = sorted(info.get("missing_keys") or ()), sorted(info.get("mismatched_keys") or ())
    if mismatched:
        key, stored, wanted = mismatched[0]
        raise ParameterError("model", f"{model}: {len(mismatched)} weight(s) of the checkpoint do not have the shape its "
                          f"config.json describes (e.g. {key}: {tuple(stored)} stored, {tuple(wanted)} expected)")
    if missing:
        raise ParameterError("model", f"{model}: the checkpoint lacks {len(missing)} weight(s) the model needs "
                          f"(e.g. {missing[0]}); they would be random")


def load_backbone(
    model: str | None = None,
    *,
    device: str | None = None,
    dtype: str = "auto",
    device_map: str | dict | None = None,
    offload_folder: str | Path | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    stack: str | None = None,
):
    """Load any registered architecture (hub id, local dir, GGUF file, or a registered name).

    The family's ``loader`` picks the transformers class (a causal LM by default; a
    vision-language or speech model for other families) and ``processor`` the class that
    turns images or audio into model inputs; ``stack`` picks which block stack to read.
    ``device_map`` (accelerate) spreads a model over GPUs, CPU and ``offload_folder``.
    """
    from semhub.backbone.adapter import Backbone
    from semhub.backbone.registry import family_for

    if model is not None and not str(model).strip():
        raise ParameterError("model", "is empty: give a registered name, a local folder or a hub id")
    if model is None:
        from semhub.plugins.catalog import default_model

        model = default_model("text")
        if model is None:
            raise ParameterError("model", "no default model is registered (is the embedded-models plugin loaded?)")
    if device:
        import torch

        try:
            kind = torch.device(device).type
        except (RuntimeError, ValueError):
            raise SemhubError(f"--device: {device!r} is not a device (e.g. cpu, cuda, cuda:1, mps)") from None
        if kind == "meta":
            raise ParameterError("device", "'meta' holds no weights, only shapes: give cpu, cuda, cuda:1, mps...")
    device_map = parse_device_map(device_map)
    check_offload_folder(offload_folder, device_map)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # semhub shows its own progress; keep stderr for errors
    source, display = resolve_source(model)
    if revision is not None and source is not None:
        raise ParameterError("revision", f"only a hub id has revisions; {display} is a local or built-in model")
    torch_dtype = _torch_dtype(dtype)
    fingerprint: dict[str, Any] = {"model": display}
    if source is not None and source.gguf_file:
        location = str(dequantized_copy(source))
        fingerprint["gguf_sha256"] = source.sha256 or file_sha256(source.directory() / source.gguf_file)
        torch_dtype = "float32" if dtype == "auto" else torch_dtype
    elif source is not None:
        location = str(source.directory())
        if source.path is not None and not source.sha256 and not source.extra:
            fingerprint["content_sha256"] = folder_digest(source.path)  # a user's folder: identified by content
    else:
        location = model
        fingerprint["revision"] = revision or "main"
    fingerprint.update(source.extra if source else {})

    common = {"trust_remote_code": trust_remote_code, "revision": revision}
    try:
        config = _load_config(location, common)
        family = family_for(config)
        processor = resolve_class(family.processor).from_pretrained(location, **common) if family.processor else None
        tokenizer = getattr(processor, "tokenizer", None) or _tokenizer(location, common, family)
        placement = {"device_map": device_map}
        if offload_folder is not None:
            placement["offload_folder"] = str(offload_folder)
        with _quiet_transformers():  # semhub's one line replaces its load report
            hf_model, info = resolve_class(family.loader).from_pretrained(
                location, dtype=torch_dtype, output_loading_info=True, ignore_mismatched_sizes=True,
                **placement, **common)
    except SemhubError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt, truncated or refused weight file: one line
        if os.environ.get("SEMHUB_DEBUG"):
            raise
        raise ParameterError("model", f"cannot load {model!r}: {load_failure(exc)}") from None
    check_loaded_weights(info, display)
    check_placed_modules(hf_model, device_map)
    if device and device_map is None:
        try:
            hf_model.to(device)
        except (RuntimeError, AssertionError, ValueError) as exc:
            raise SemhubError(f"--device: cannot use {device!r}: {first_line(exc)}") from None
    hf_model.eval()
    if tokenizer is not None and tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    commit = getattr(config, "_commit_hash", None)
    if commit:
        fingerprint["revision"] = commit
    backbone = Backbone(hf_model, tokenizer, family, display, fingerprint, processor=processor)
    backbone = backbone.using(stack) if stack else backbone
    from semhub.backbone.checks import check_backbone

    check_backbone(backbone)  # a registry entry pointing at the wrong module fails here, naming the part
    return backbone
