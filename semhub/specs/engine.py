"""EngineSpec: where states are computed (this process, or Ray workers that each hold the model)."""
from __future__ import annotations

from dataclasses import dataclass

from semhub.contract.options import option
from semhub.errors import ParameterError
from semhub.specs.ingredient import Ingredient

ENGINES = ("local", "ray")


@dataclass
class EngineSpec(Ingredient):
    """The capture engine.

    Attributes:
        engine: ``local`` (this process) or ``ray`` (shards over Ray actors; ``pip install 'semhub[ray]'``).
        address: with ray, the cluster to join (None: start a local one).
        workers: with ray, the number of actors (each loads the model once).
    """

    main = "engine"
    engine: str = option("local", choices=ENGINES, help="Capture states here, or shard them over Ray workers that "
                                                        "each hold the model.")
    address: str | None = option(None, help="--engine ray: the cluster to join (default: start a local one).")
    workers: int = option(2, min=1, help="--engine ray: actors.")

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise ParameterError("engine", f"{self.engine!r} (choose from {', '.join(ENGINES)})")
        if self.address is not None and self.engine != "ray":
            raise ParameterError("address", "needs engine ray (the cluster the Ray engine joins)")
