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


class ParameterError(SemhubError):
    """A bad value for one named parameter. The library names the parameter (``max_positions: ...``);
    the CLI names its flag instead (``--max-positions: ...``)."""

    def __init__(self, parameter: str, problem: str):
        super().__init__(f"{parameter}: {problem}")
        self.parameter, self.problem = parameter, problem


class PluginError(SemhubError):
    """A plugin broke its contract (a scorer's length, a result's type): one line naming the plugin, exit 1."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM, as ``timeout`` and job schedulers send): the same clean
    abort as Ctrl-C (staged run folders removed, stores left resumable), exit status 143."""


def first_line(exc: BaseException, limit: int = 240, default: str | None = None) -> str:
    """The first non-blank line of an exception's text, at most ``limit`` characters: the one helper
    for quoting a library's error inside semhub's own one-line message. An empty text gives
    ``default`` (the exception's class name when None)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__ if default is None else default
    return lines[0][:limit]
