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


def _on_sigint(_signum, _frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the abort runs to its end
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _on_sigterm(_signum, _frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from semhub.errors import Terminated

    raise Terminated


def run() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the shell ignores it (`&`)
        signal.signal(signal.SIGINT, _on_sigint)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from semhub.cli import main

        main()
    except KeyboardInterrupt as exc:
        terminated = type(exc).__name__ == "Terminated"
        sys.stderr.write("Terminated.\n" if terminated else "Aborted.\n")
        sys.exit(143 if terminated else 130)


if __name__ == "__main__":
    run()
