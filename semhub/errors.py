"""One exception type for every mistake a user can make.

The CLI turns it into a one-line message and exit status 2. A failure inside an analysis
(a plugin's bug, running out of memory) is a ``RunError``: one line naming the analysis and
its plugin, exit status 1, the traceback with ``SEMHUB_DEBUG=1``.
"""
from __future__ import annotations


class SemhubError(Exception):
    """A problem with the user's input (data, options, model id), not with semhub."""


class DataError(SemhubError):
    """Malformed aligned data; the message names the file and line."""

    def __init__(self, path: object, line: int | None, message: str):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


class RunError(SemhubError):
    """An analysis failed while running (not the user's input): exit status 1."""

    exit_code = 1
