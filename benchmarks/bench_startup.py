"""Start-up of the CLI's listing and help commands against the floor of any click + rich CLI.

floor: ``python -c "import click, rich"`` (the two libraries every semhub command needs).
Each semhub contender is one whole process: ``semhub --help``, ``semhub plugins`` (every plugin
loaded and its registrations listed), ``semhub models`` and ``semhub analyze --help`` (the
options of every analysis). None of them may import torch or transformers; rounds alternate order.
    python benchmarks/bench_startup.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from side_by_side import run_rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    semhub = str(Path(sys.executable).with_name("semhub"))
    contenders = {
        "floor": lambda: [sys.executable, "-c", "import click, rich"],
        "--help": lambda: [semhub, "--help"],
        "plugins": lambda: [semhub, "plugins"],
        "models": lambda: [semhub, "models"],
        "analyze -h": lambda: [semhub, "analyze", "--help"],
    }
    _, medians = run_rounds(contenders, args.rounds)
    floor = medians["floor"]
    print("\n| command | median wall time | ratio to floor |\n|---|---|---|")
    for name, value in medians.items():
        label = "python -c \"import click, rich\"" if name == "floor" else f"semhub {name}"
        print(f"| `{label}` | {value:.2f} s | {value / floor:.2f} |")


if __name__ == "__main__":
    main()
