"""The Ray engine (``--engine ray``): a view's shards captured by Ray actors, each holding the model.

Workers run ``semhub.runs.engine.capture_rows`` on the same shards the local engine uses, with the
driver's torch thread count, so the merged states are bit-identical to the local engine's (on the
same hardware). ``--address`` joins an existing cluster (every node needs semhub and the model
installed); without it a local Ray instance is started. Install with ``pip install 'semhub[ray]'``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from semhub.data.aligned import AlignedDataset
from semhub.runs.engine import CaptureSpec, capture_rows
from semhub.errors import ParameterError, SemhubError, first_line


class CaptureWorker:
    """One Ray actor: loads the backbone once, captures shards on request."""

    def __init__(self, load_kwargs: dict[str, Any], threads: int):
        from semhub.backbone.loading import load_backbone

        torch.set_num_threads(threads)
        self.backbone = load_backbone(**load_kwargs)

    def capture(self, view: str, values: list[Any], base_dir: str, spec: CaptureSpec, outside: bool,
                inputs: Any = None) -> np.ndarray:
        from semhub.contract.spoke import InputSettings, allow_outside_paths, encoding

        ds = AlignedDataset(Path(base_dir) / "shard.jsonl", [str(i) for i in range(len(values))], {view: values},
                            list(range(1, len(values) + 1)))
        with allow_outside_paths(outside), encoding(inputs or InputSettings()):
            return capture_rows(self.backbone, ds, view, spec).numpy()


class RayEngine:
    """Shards dealt to ``workers`` actors in order; results come back in shard order."""

    def __init__(self, load_kwargs: dict[str, Any], dataset: AlignedDataset, spec: CaptureSpec, *,
                 workers: int = 2, address: str | None = None, gpus_per_worker: float = 0):
        try:
            import ray
            from ray.util import ActorPool
        except ImportError:
            raise SemhubError("--engine ray: Ray is not installed (pip install 'semhub[ray]')") from None
        started = not ray.is_initialized()
        if started:
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise SemhubError(f"--address: cannot join Ray at {address!r}: {first_line(exc)}") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if workers > cpus:  # an actor holds one CPU: the rest would wait for one forever
            if started:
                ray.shutdown()
            raise ParameterError("workers", f"{workers} actors need {workers} CPUs; the Ray cluster has {cpus}")
        self.dataset, self.spec = dataset, spec
        actor = ray.remote(num_cpus=1, num_gpus=gpus_per_worker)(CaptureWorker)
        self.actors = [actor.remote(load_kwargs, torch.get_num_threads()) for _ in range(workers)]
        self.pool = ActorPool(self.actors)

    def map(self, view: str, shards: list[list[int]]) -> Iterator[torch.Tensor]:
        from semhub.contract.spoke import input_settings, outside_paths_allowed

        values = self.dataset.columns[view]
        base, outside, inputs = str(self.dataset.base_dir), outside_paths_allowed(), input_settings()
        jobs = [[values[i] for i in rows] for rows in shards]
        for array in self.pool.map(lambda a, job: a.capture.remote(view, job, base, self.spec, outside, inputs), jobs):
            yield torch.from_numpy(array.copy())  # arrays from the object store are read-only

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
