"""The whole command line as one click group, built-in and plugin commands attached: what the
documentation site's CLI reference (mkdocs-click) reads."""
from __future__ import annotations

from semhub.cli import _attach_commands, cli

_attach_commands()

__all__ = ["cli"]
