"""semhub's cache folder: where converted models, content digests, hub data and default lenses live,
and ``cached_build``, the one way anything is built into it (once, atomically)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import platformdirs

from semhub.errors import ParameterError, SemhubError
from semhub.files import atomic_folder, atomic_write


def hub_offline() -> bool:
    """huggingface_hub's own verdict (HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE), as transformers and datasets see it."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def cache_root() -> Path:
    """semhub's cache folder (``SEMHUB_CACHE_DIR``, else the platform's): converted models, digests,
    hub data. One that cannot be used is one line naming where it came from, never a later traceback."""
    from semhub.places import check_folder

    given = os.environ.get("SEMHUB_CACHE_DIR")
    root = Path(given or platformdirs.user_cache_dir("semhub"))
    try:
        return check_folder(root, "cache", writable=False)  # a read-only cache still serves what it holds
    except ParameterError as exc:
        raise SemhubError(f"{'SEMHUB_CACHE_DIR' if given else 'the cache folder'}: {exc.problem}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_digest(path: Path) -> str:
    """A file's SHA-256, computed once per (path, size, mtime, inode): later loads of an unchanged
    file read the recorded digest, while a replaced file (new size, mtime or inode) is hashed again."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}".encode()).hexdigest()
    record = cache_root() / "digests" / key
    try:
        known = record.read_text().strip()
        if len(known) == 64:
            return known
    except OSError:
        pass
    digest = file_sha256(path)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(record, digest)
    except OSError:
        pass  # a read-only cache: the digest is still right, only not remembered
    return digest


def folder_digest(folder: Path) -> str:
    """The identity of a local model folder by content: the SHA-256 over every file's name and digest,
    so a store, a resume and a manifest can tell two checkpoints in the same folder apart."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{content_digest(path)}\n".encode())
    return digest.hexdigest()


def cached_build(target: Path, build: Callable[[Path], None], stamp: str) -> Path:
    """``target`` built once by ``build(folder)``: into a staging sibling (``files.atomic_folder``), marked
    complete, then renamed, so a killed conversion never leaves a folder that looks finished. Later calls
    return at once."""
    def complete(folder: Path) -> bool:
        return (folder / "semhub-complete").exists()

    if complete(target):
        return target
    with atomic_folder(target, replace=True, keep=complete) as tmp:
        build(tmp)
        (tmp / "semhub-complete").write_text(stamp + "\n")
    return target
