"""StoreSpec: where pooled states stream (an activation store) and whether a run reads a finished one."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from semhub.contract.options import option
from semhub.errors import ParameterError
from semhub.specs.ingredient import Ingredient

STORE_DTYPES = ("float32", "float16", "bfloat16")
MAX_SHARD_ROWS = 10_000_000  # rows of one shard; a shard is held in memory while it is written


@dataclass
class StoreSpec(Ingredient):
    """The activation store of a run.

    Attributes:
        store: stream pooled states into this folder (safetensors shards): bounded memory for any N.
        resume: continue the store a killed run left behind (identical results).
        store_dtype: precision of stored states.
        shard_rows: dataset rows per shard (the unit of resumption).
        from_store: run a state analysis on a finished store, without loading the model.
    """

    main = "store"
    store: Path | None = option(None, help="Stream pooled states into this activation store (safetensors shards): "
                                           "bounded memory for any N.")
    resume: bool = option(False, help="Continue the --store a killed run left behind (identical results).")
    store_dtype: str = option("float32", choices=STORE_DTYPES, help="Precision of stored states (half the disk "
                                                                     "with float16).")
    shard_rows: int = option(1024, min=1, max=MAX_SHARD_ROWS, help="Dataset rows per store shard (the unit of resumption).")
    from_store: Path | None = option(None, help="Run a state analysis (similarity...) on a finished store, "
                                                "without loading the model.")

    def check(self) -> None:
        if self.resume and self.store is None:
            raise ParameterError("resume", "needs store (the activation store to continue)")
        if self.store_dtype not in STORE_DTYPES:
            raise ParameterError("store_dtype", f"{self.store_dtype!r} (choose from {', '.join(STORE_DTYPES)})")
