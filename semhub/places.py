"""Where semhub writes: run directories, output files and working folders are checked here before
any work, so a bad destination is one line at the start, never a traceback at the end."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from semhub.errors import ParameterError, SemhubError


def check_out_dir(out: Path, flag: str = "--out") -> None:
    """Refuse, before any work, a run directory that could not be written or would mix runs: a
    symbolic link (dangling or not), an existing file, a non-empty folder, a path under a file, or
    a folder that cannot be written in. ``flag`` is how the message names it (a command's argument)."""
    out = Path(out)
    _check_names(out, flag)
    if out.name in ("", ".", ".."):
        raise SemhubError(f"{flag}: {str(out)!r} names no new folder; give a folder name (e.g. runs/mine)")
    if out.is_symlink():
        raise SemhubError(f"{flag}: {out} is a symbolic link; give a plain folder")
    if out.exists() and not out.is_dir():
        raise SemhubError(f"{flag}: {out} already exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise SemhubError(f"{flag}: {out} already exists and is not empty")
    _check_parent(out, flag)


def check_folder(path: str | Path, parameter: str, *, writable: bool = True) -> Path:
    """Refuse, before any work, a folder semhub keeps or continues work in (a store, a profile's parts,
    offloaded weights) that it could not use: a dangling link, an existing file, a path under a file,
    or (``writable``) a place it cannot write in. An existing folder is fine (it may be resumed)."""
    path = Path(path)
    try:
        _check_names(path, "")
    except SemhubError as exc:
        raise ParameterError(parameter, str(exc).removeprefix(": ")) from None
    if path.is_symlink() and not path.exists():
        raise ParameterError(parameter, f"{path} is a dangling link")
    if path.exists() and not path.is_dir():
        raise ParameterError(parameter, f"{path} exists and is not a folder")
    try:
        _check_parent(path / "x" if path.is_dir() else path, "", writable=writable)
    except SemhubError as exc:
        raise ParameterError(parameter, str(exc).removeprefix(": ")) from None
    return path


def _check_names(out: Path, flag: str) -> None:
    """Every name on the way must fit the file system's limit (checked before anything stats the path,
    which would fail with "File name too long")."""
    try:
        limit = os.pathconf(Path(out).absolute().anchor or "/", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in Path(out).parts:
        if len(os.fsencode(part)) > limit:
            raise SemhubError(f"{flag}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes, over the "
                              f"file system's {limit}")


def _check_parent(out: Path, flag: str, *, writable: bool = True) -> None:
    """The nearest existing ancestor of ``out`` must be a folder (``writable``: one we can write in, tried
    by creating and removing a probe there: permissions say nothing of /proc, /sys or a read-only mount)."""
    parent = out.absolute().parent
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        raise SemhubError(f"{flag}: {parent} is a file (or a broken link), not a folder: cannot create {out}")
    if not writable:
        return
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SemhubError(f"{flag}: cannot write in {parent}")
    try:
        probe = tempfile.mkdtemp(prefix=".semhub-probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise SemhubError(f"{flag}: cannot write in {parent} ({exc.strerror or type(exc).__name__})") from None


def check_out_file(out: Path, *, option: str = "out", suffix: str | None = None,
                   suffixes: tuple[str, ...] = ()) -> Path:
    """Refuse, before any work, an output file that could not be written: a symbolic link, a folder,
    a path under a file, a name over the file system's limit, a folder that cannot be written in, or
    (``suffixes``) a kind of file the command cannot write. Returns the path to write (with ``suffix``
    added when it has none, so the message names the file actually written); missing folders on the
    way are created when it is written (``files.atomic_file``)."""
    given = Path(out)
    out = given.with_name(given.name + suffix) if suffix and not given.suffix else given
    flag = "--" + option.replace("_", "-")
    _check_names(out, flag)
    if suffixes and out.suffix.lower() not in suffixes:
        raise SemhubError(f"{flag}: {out} is not a {' / '.join(s.lstrip('.') for s in suffixes)} file")
    for path in {given, out}:
        if path.is_symlink():
            raise SemhubError(f"{flag}: {path} is a symbolic link; give a plain file")
        if path.is_dir():
            raise SemhubError(f"{flag}: {path} is a folder; give a file name")
    _check_parent(out, flag)
    return out
