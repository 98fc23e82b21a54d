"""The ``semhub`` executable's entry point: Ctrl-C is one line from the first instruction on.

It lives outside ``semhub.cli`` so that a Ctrl-C while click, rich or torch are still being
imported (start-up) ends as ``Aborted.`` with exit status 130, like one during a run; and a
second Ctrl-C while the first is being handled is ignored, so the abort (removing a staged run
folder, closing a store) is never cut short into a traceback. SIGTERM (``timeout``, a scheduler) is
the same abort: ``Terminated.``, exit status 143.
"""
from __future__ import annotations

import signal
import sys

_received: list[str] = []  # the signals that asked for the abort, in order



def _on_sigint(_signum, frame) -> None:
    _received.append("SIGINT")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the abort runs to its end
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _deliver(KeyboardInterrupt, frame)


def _on_sigterm(_signum, frame) -> None:
    _received.append("SIGTERM")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from semhub.errors import Terminated

    _deliver(Terminated, frame)


def _deliver(exc_type: type, frame, tries: int = 0) -> None:
    """Raise the abort, unless the signal arrived where raising is unsafe: inside an import (a C++
    extension half-initialised: pybind11 aborts the process, numpy cannot be imported again) or a
    ``__del__`` (Python prints the exception and carries on). There, try again 20 ms later, for 5 s at
    most."""
    if tries < 250 and _unsafe(frame):
        signal.signal(signal.SIGALRM, lambda _s, later: _deliver(exc_type, later, tries + 1))
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        return
    raise exc_type


def _unsafe(frame) -> bool:
    """Whether ``frame`` or a frame below it is an import under way or a ``__del__``."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def run() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the shell ignores it (`&`)
        signal.signal(signal.SIGINT, _on_sigint)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from semhub.cli import main

        main()
    except KeyboardInterrupt as exc:
        _abort(type(exc).__name__ == "Terminated")
    except BaseException as exc:
        # A library caught the interrupt raised inside its import and failed another way (transformers
        # turns it into "could not import module"; numpy cut short cannot be imported again): the run
        # still ends as the abort the user asked for.
        if not _received or (isinstance(exc, SystemExit) and exc.code in (130, 143)):
            raise
        _abort(_received[0] == "SIGTERM")


def _abort(terminated: bool) -> None:
    sys.stderr.write("Terminated.\n" if terminated else "Aborted.\n")
    sys.exit(143 if terminated else 130)


if __name__ == "__main__":
    run()
