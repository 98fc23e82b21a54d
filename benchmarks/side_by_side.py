"""Shared harness: time whole processes side by side, rounds in alternating order, medians."""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from typing import Callable


def bench_env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_rounds(contenders: dict[str, Callable[[], list[str]]], rounds: int) -> tuple[dict, dict]:
    """Wall times per contender (one process each), alternating the order every round; and medians.

    Alternating cancels most of the drift of a noisy machine between the first and last run.
    """
    env = bench_env()
    names = list(contenders)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            times[name].append(timed(contenders[name](), env))
            print(f"round {r + 1} {name:<10} {times[name][-1]:7.2f} s", flush=True)
    return times, {k: statistics.median(v) for k, v in times.items()}
