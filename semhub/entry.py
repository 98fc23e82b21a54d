"""The ``semhub`` executable's entry point: Ctrl-C is one line from the first instruction on.

It lives outside ``semhub.cli`` so that a Ctrl-C while click, rich or torch are still being
imported (start-up) ends as ``Aborted.`` with exit status 130, like one during a run; and a
second Ctrl-C while the first is being handled is ignored, so the abort (removing a staged run
folder, closing a store) is never cut short into a traceback.
"""
from __future__ import annotations

import signal
import sys


def _on_sigint(_signum, _frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the abort runs to its end
    raise KeyboardInterrupt


def run() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the shell ignores it (`&`)
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        from semhub.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("Aborted.\n")
        sys.exit(130)
