"""Where a model's weights go: ``--device-map`` parsed once (a strategy, a device, or module -> device,
inline JSON or a file), checked against the model's modules after loading, and the offload folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from semhub.errors import ParameterError, SemhubError


DEVICE_MAP_STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")


def parse_device_map(spec: str | dict | None) -> str | dict | None:
    """``--device-map``: an accelerate strategy, one device, or a JSON object (inline or a file).

    A JSON object places modules by name (``{"model.layers.0": 0, "model.layers.1": "cpu",
    "model.layers.2": "disk", ...}``); "disk" needs ``--offload-folder``.
    """
    if spec is None or isinstance(spec, dict):
        return spec
    text = spec.strip()
    if text in DEVICE_MAP_STRATEGIES:
        return text
    source = "--device-map"
    if not text.startswith("{") and Path(text).suffix == ".json":
        from semhub.files import read_text

        text, source = read_text(Path(text), "a JSON file of module -> device"), f"--device-map: {spec}"
    if text.lstrip().startswith("{"):
        try:
            placement = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SemhubError(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(placement, dict) or not placement or any(
                not isinstance(v, (str, int)) or isinstance(v, bool) for v in placement.values()):
            raise SemhubError(f"{source}: expected an object of module name -> device (e.g. 0, \"cpu\", \"disk\")")
        return placement
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError):
        raise SemhubError(f"--device-map: {spec!r} is not {', '.join(DEVICE_MAP_STRATEGIES)}, a device, "
                          "or a JSON object of module -> device") from None
    return text


def check_placed_modules(model: Any, device_map: Any) -> None:
    """A device map's keys must name this model's modules: one that names none is a typo that would
    otherwise be ignored, leaving the model somewhere the user did not ask for."""
    if not isinstance(device_map, dict):
        return
    names = [name for name, _ in model.named_modules() if name]
    unknown = [key for key in device_map if key and key not in set(names)]
    if unknown:
        examples = ", ".join(names[:3])
        raise ParameterError("device_map", f"no module {unknown[0]!r} in this model (its modules are named like "
                                           f"{examples})")


def check_offload_folder(folder: str | Path | None, device_map: Any) -> None:
    """An offload folder is used only with a device map, and must be a folder accelerate can create."""
    if folder is None:
        return
    if device_map is None:
        raise SemhubError("--offload-folder: only used with --device-map")
    from semhub.places import check_folder

    check_folder(folder, "offload_folder")
