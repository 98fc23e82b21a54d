"""An on-disk activation store: pooled per-layer states as safetensors shards plus a manifest.

Capture streams shard by shard (``shard_rows`` dataset rows per view), so memory stays bounded
for any N; each shard is written to a temporary name and renamed, so a killed run leaves only
complete shards, and ``--resume`` computes just the missing ones. A shard's contents depend only
on its rows and the options in the manifest, so a resumed store is bit-identical to one written
in a single run. Analyses read the store one layer at a time (``StoredStates[:, k]``), without
the model.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from semhub.errors import DataError, ParameterError, SemhubError, first_line
from semhub.files import atomic_file, atomic_write, read_json_object

VERSION = 1
MANIFEST = "store.json"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1 << 40


SPEC_FIELDS = (
    ("rows", _count, "a count"),
    ("shard_rows", lambda v: _count(v) and v >= 1, "a positive count"),
    ("d_model", lambda v: _count(v) and v >= 1, "a positive count"),
    ("views", lambda v: isinstance(v, list) and all(isinstance(x, str) and x and "/" not in x and not x.startswith(".")
                                                    for x in v), "a list of view names"),
    ("layers", lambda v: isinstance(v, list) and all(_count(x) for x in v), "a list of layer indices"),
    ("store_dtype", lambda v: isinstance(v, str) and v in DTYPES, f"one of {', '.join(DTYPES)}"),
    ("model", lambda v: isinstance(v, dict) and isinstance(v.get("name"), str), "an object with a name"),
    ("data", lambda v: isinstance(v, str), "a path"),
    ("data_sha256", lambda v: isinstance(v, str), "a digest"),
    ("pooling", lambda v: isinstance(v, str), "a pooling name"),
    ("batch_size", lambda v: _count(v) and v >= 1, "a positive count"),
    ("final_norm", lambda v: isinstance(v, bool), "true or false"),
)
"""What a store manifest's fields must be, checked on every read: a corrupt store fails naming its file."""


def shard_rows(n: int, size: int) -> list[list[int]]:
    """Rows ``[k * size, (k + 1) * size)``: the unit of capture for every engine and of resumption."""
    return [list(range(start, min(start + size, n))) for start in range(0, n, size)]


def _content_only(old: dict[str, Any], new: dict[str, Any], key: str) -> bool:
    """The two specs' ``key`` entries differ only in content digests (same names, other bytes)."""
    a, b = old.get(key), new.get(key)
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    digests = {k for k in set(a) | set(b) if k.endswith("sha256")}
    return {k: v for k, v in a.items() if k not in digests} == {k: v for k, v in b.items() if k not in digests}


def _check_shard(path: Path, shape: tuple[int, int, int]) -> None:
    from safetensors import safe_open

    if path.is_symlink() or not path.is_file():
        raise DataError(path, None, "is not a regular file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            if list(fh.keys()) != ["states"]:
                raise DataError(path, None, f"holds {list(fh.keys())[:4]}, expected one tensor 'states'")
            part = fh.get_slice("states")
            got, dtype = tuple(part.get_shape()), part.get_dtype()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors' own errors on a corrupt or truncated file
        raise DataError(path, None, f"not a readable shard ({first_line(exc)})") from None
    if got != shape or dtype not in ("F32", "F16", "BF16"):
        raise DataError(path, None, f"holds {dtype} {list(got)}, expected {list(shape)} states of this store")


IMPORTED = time.time()  # before this process wrote any shard: older temporary files are another run's


@dataclass
class StoredStates:
    """(N, layers, D) states of one view on disk; ``[:, k]`` loads layer k only (float32)."""

    shards: list[Path]
    shape: tuple[int, int, int]
    fresh_layers = True  # each [:, k] is a new buffer its caller may overwrite (similarity works in place)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> torch.Tensor:
        from safetensors import safe_open

        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None) and isinstance(key[1], int)):
            return self.load()[key]
        out = torch.empty(self.shape[0], self.shape[2])  # filled shard by shard: one N x D buffer, no concat copy
        row = 0
        for shard in self.shards:
            with safe_open(str(shard), framework="pt") as fh:
                part = fh.get_slice("states")[:, key[1]]
            out[row:row + len(part)] = part
            row += len(part)
        return out

    def load(self) -> torch.Tensor:
        from safetensors.torch import load_file

        return torch.cat([load_file(str(s))["states"].float() for s in self.shards])


class ActivationStore:
    """A folder: ``store.json`` (what was captured, from which model and data) and
    ``<view>/shard-NNNNN.safetensors`` (rows ``[k * shard_rows, (k + 1) * shard_rows)``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def manifest(self) -> dict[str, Any]:
        if self.manifest_path.is_symlink() or (self.manifest_path.exists() and not self.manifest_path.is_file()):
            raise DataError(self.manifest_path, None, "is not a regular file")
        if not self.manifest_path.is_file():
            raise SemhubError(f"--from-store: {self.root} is not an activation store (no {MANIFEST})")
        # a store manifest is a few kB: never read a giant file whole
        spec = read_json_object(self.manifest_path, "an activation store's manifest", limit=1 << 24)
        for key, ok, what in SPEC_FIELDS:
            if key in spec and not ok(spec[key]):
                raise DataError(self.manifest_path, None, f"{key!r} must be {what}, got {spec[key]!r:.60}")
        return spec

    def require(self, *keys: str) -> dict[str, Any]:
        """The manifest, with ``keys`` present (a store another tool wrote, or truncated, is named)."""
        spec = self.manifest()
        missing = [k for k in keys if k not in spec]
        if missing:
            raise DataError(self.manifest_path, None, f"lacks {', '.join(missing)}: not a complete store manifest")
        return spec

    def check_place(self, resume: bool) -> None:
        """Whether a store can be made (or, with ``resume``, continued) here: run before the model loads."""
        from semhub.places import check_folder

        root = check_folder(self.root, "store")
        if self.manifest_path.exists():
            if not resume:
                raise ParameterError("store", f"{root} already holds a store; pass --resume to continue it "
                                              "or choose another folder")
            self.manifest()
        elif root.exists() and any(root.iterdir()):
            raise ParameterError("store", f"{root} exists and is not an activation store")

    def clean_stale(self) -> list[Path]:
        """Remove the half-written shards (``.shard-*.tmp``) of killed runs: those older than this
        process, so a live writer's file is never touched; one line says so."""
        stale = [p for p in self.root.glob("*/.shard-*.tmp") if p.is_file() and p.stat().st_mtime < IMPORTED]
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            import sys

            sys.stderr.write(f"semhub: removed {len(stale)} half-written shard(s) left by killed runs in {self.root}\n")
        return stale

    def open(self, spec: dict[str, Any], resume: bool) -> None:
        """Create the store for ``spec`` or, with ``resume``, check that it was made with the same one."""
        spec = {"version": VERSION, **spec}
        self.check_place(resume)
        if self.manifest_path.exists():
            self.clean_stale()
            old = self.manifest()
            diff = sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k))
            if diff:
                why = {"model": "another model (its files' content differs)" if _content_only(old, spec, "model")
                       else None, "data_sha256": "another data file (its content differs)"}
                named = [why.get(k) or k for k in diff if k != "data" or "data_sha256" not in diff]
                raise SemhubError(f"--resume: {self.root} was made with other settings ({', '.join(named)} differ)"
                                  "; refusing to mix them in one store")
            return
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.manifest_path, json.dumps(spec, indent=1) + "\n")

    def shard_path(self, view: str, index: int) -> Path:
        return self.root / view / f"shard-{index:05d}.safetensors"

    def missing(self, view: str) -> list[tuple[int, list[int]]]:
        """(shard index, its rows) for every shard of ``view`` not yet on disk."""
        spec = self.manifest()
        n, size = int(spec["rows"]), int(spec["shard_rows"])
        (self.root / view).mkdir(exist_ok=True)
        return [(k, rows) for k, rows in enumerate(shard_rows(n, size)) if not self.shard_path(view, k).exists()]

    def write(self, view: str, index: int, states: torch.Tensor) -> None:
        """One shard, atomically: a killed run leaves it whole or absent."""
        from safetensors.torch import save_file

        name = self.manifest()["store_dtype"]
        stored = states.to(DTYPES[name]).contiguous()
        if name == "float16" and bool(torch.isinf(stored).any()) and bool(torch.isfinite(states).all()):
            big = float(states.abs().max())
            raise SemhubError(f"--store-dtype float16: pooled states reach {big:.3g}, beyond float16's 65504; "
                              "use --store-dtype bfloat16 or float32")
        states = stored
        with atomic_file(self.shard_path(view, index)) as tmp:  # .shard-*.tmp until renamed into place
            save_file({"states": states}, str(tmp))

    def states(self, view: str) -> StoredStates:
        """A complete view's states; every shard's header is checked first (name, shape, dtype), so a
        corrupt, truncated or foreign shard fails naming its file before any analysis reads it."""
        spec = self.require("rows", "shard_rows", "views", "layers", "d_model")
        n, size = spec["rows"], spec["shard_rows"]
        shards = [self.shard_path(view, i) for i in range(len(shard_rows(n, size)))]
        missing = [s.name for s in shards if not s.exists()]
        if view not in spec["views"] or missing:
            raise SemhubError(f"{self.root}: view {view!r} is not complete in this store "
                              f"({len(missing)} shard(s) missing; rerun with --store {self.root} --resume)")
        for shard, rows in zip(shards, shard_rows(n, size)):
            _check_shard(shard, (len(rows), len(spec["layers"]), spec["d_model"]))
        return StoredStates(shards, (n, len(spec["layers"]), spec["d_model"]))
