"""GGUF checkpoints (the embedded models ship as GGUF): a de-quantised safetensors copy, built once into
the cache (``cached_build``), so every later load is a plain transformers load."""
from __future__ import annotations

import struct
from pathlib import Path

from semhub.backbone.source import ModelSource
from semhub.cache import cache_root, cached_build
from semhub.errors import first_line


def dequantized_copy(source: ModelSource) -> Path:
    """A cached, de-quantised safetensors copy of a GGUF model; built once, atomically."""
    name = Path(str(source.gguf_file))
    if source.sha256:
        key = source.sha256
    else:
        stat = (source.directory() / name).stat()
        key = f"{stat.st_size}-{int(stat.st_mtime)}"
    folder = source.directory()

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=source.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=source.gguf_file, dtype=torch.float32)
        # transformers refuses to save a model that still points at its GGUF quantizer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)

    path = folder / name
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            from semhub.errors import DataError

            raise DataError(path, None, "not a GGUF file (it does not start with the GGUF magic bytes)")
    try:
        return cached_build(cache_root() / "dequantized" / f"{name.stem}-{key[:16]}", build, str(path))
    except (ValueError, KeyError, OSError, struct.error) as exc:  # struct: a truncated GGUF header
        from semhub.errors import DataError

        raise DataError(path, None, f"cannot read this GGUF file ({type(exc).__name__}: {first_line(exc)})") from None
