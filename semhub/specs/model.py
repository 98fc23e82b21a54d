"""ModelSpec: which model a run loads and where it is placed. Every entry point that loads a model
(analyze, steer, patchscope, train_lens, profile, reproduce) takes one; the CLI's model flags are
generated from its fields."""
from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any

from semhub.backbone.loading import DTYPES
from semhub.contract.options import option
from semhub.errors import ParameterError
from semhub.specs.ingredient import Ingredient


@dataclass
class ModelSpec(Ingredient):
    """A model to load.

    Attributes:
        model: a registered name, a local folder, a ``.gguf`` file or a Hugging Face hub id; None: the
            modality's default model.
        revision: a hub revision (branch, tag or commit); refused for a local model.
        trust_remote_code: allow model code from the hub.
        stack: the block stack to read in an encoder-decoder (Whisper: encoder, decoder).
        device: cpu, cuda, cuda:1, mps...; None: transformers' choice (the CPU here).
        dtype: the weights' precision (``DTYPES``); None: "not given" (``auto``, or what ``--paper`` sets).
        device_map: spread the model over devices (accelerate): a strategy, a device, or module -> device
            (a dict, inline JSON or a .json file).
        offload_folder: with ``device_map``, where weights placed on "disk" are kept.
    """

    main = "model"
    model: str | None = option(None, help="Registered name (default: the modality's model), local dir, .gguf file, "
                                          "or HF hub id.")
    revision: str | None = option(None, help="Hub revision (branch, tag or commit).")
    trust_remote_code: bool = option(False, help="Allow model code from the hub (off by default).")
    stack: str | None = option(None, help="Which block stack to read in an encoder-decoder (Whisper: encoder, decoder).")
    device: str | None = option(None, help="cpu, cuda, cuda:1, mps...")
    dtype: str | None = option(None, choices=DTYPES, help="Weights' precision [default: auto, the checkpoint's; "
                                                          "--paper: float32].")
    device_map: str | None = option(None, help="Spread the model over devices (accelerate): auto, balanced, "
                                               "sequential, a device, or a JSON object (inline or a .json file) of "
                                               "module -> device.")
    offload_folder: Path | None = option(None, help="With --device-map: where weights placed on \"disk\" (or that "
                                                    "fit nowhere else) are kept.")

    def check(self) -> None:
        """Everything that can be refused before the model loads: an empty name, an unknown dtype, a
        malformed device map (parsed once here: ``device_map`` holds the parsed form afterwards), an
        offload folder without a device map or in a place that cannot be a folder."""
        from semhub.backbone.placement import check_offload_folder, parse_device_map

        if self.model is not None and not str(self.model).strip():
            raise ParameterError("model", "is empty: give a registered name, a local folder or a hub id")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ParameterError("dtype", f"unknown dtype {self.dtype!r} (choose from {', '.join(DTYPES)})")
        self.device_map = parse_device_map(self.device_map)
        check_offload_folder(self.offload_folder, self.device_map)

    def load(self, default: str | None = None, *, dtype: str | None = None) -> Any:
        """The loaded ``Backbone`` (``default`` when no model was named; ``dtype`` when the spec gives none)."""
        from semhub.backbone.loading import load_backbone

        return load_backbone(self.model or default, stack=self.stack, device=self.device,
                             dtype=self.dtype or dtype or "auto", device_map=self.device_map,
                             offload_folder=self.offload_folder, revision=self.revision,
                             trust_remote_code=self.trust_remote_code)

    def placement(self) -> dict[str, Any]:
        """Where the weights went, as manifests record it."""
        return {"device": self.device, "dtype": self.dtype, "device_map": self.device_map,
                "offload_folder": str(self.offload_folder) if self.offload_folder else None}
