"""The built-in lens kinds (``semhub.lens.kinds``), registered through ``semhub_register_lenses``
like a plugin's. A core plugin: always loaded, whatever SEMHUB_LOAD_PLUGINS says."""
from __future__ import annotations

from semhub.lens.kinds import JacobianLensKind, LogitLensKind, TunedLensKind
from semhub.plugins.hookspecs import hookimpl


@hookimpl
def semhub_register_lenses(register) -> None:
    register(LogitLensKind())
    register(TunedLensKind())
    register(JacobianLensKind())
