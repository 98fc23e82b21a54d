"""Code steering (the paper's 3.3): push `range(n)` toward `range(0, n)` with W_U[" start"] - W_U[" end"]."""
from __future__ import annotations

import math

BODIES = [
    ("n", "total = 0\n    for i in range("),
    ("items", "for i in range("),
    ("count", "result = []\n    for k in range("),
    ("n", "squares = [i * i for i in range("),
    ("size", "grid = []\n    for row in range("),
    ("steps", "position = 0\n    for step in range("),
    ("n", "return sum(i for i in range("),
    ("limit", "found = []\n    for x in range("),
    ("n", "return [0 for _ in range("),
    ("rounds", "score = 0\n    for r in range("),
    ("length", "text = ''\n    for j in range("),
    ("n", "values = list(range("),
]


def prompts() -> list[str]:
    return [f"def f({arg}):\n    {body}" for arg, body in BODIES]


def range_args(continuation: str) -> list[str] | None:
    """The arguments of the open `range(` call: text up to the matching ")" split at depth-1 commas."""
    depth, args, current = 1, [], ""
    for ch in continuation:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return [a for a in args if a]
        elif ch == "," and depth == 1:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    return None


class RangeScorer:
    """Reads the arguments of the open `range(` call; NaN if the call never closes."""

    def __init__(self, name: str, description: str, test):
        self.name, self.description, self.test = name, description, test

    def score(self, generation, backbone, **_):
        out = []
        for text in generation.continuations:
            args = range_args(text)
            out.append(math.nan if args is None else float(self.test(args)))
        return out


SCORERS = (
    RangeScorer("range-starts-at-zero", "1 if the `range(` call reads range(0, ...)",
                lambda args: len(args) >= 2 and args[0] == "0"),
    RangeScorer("range-has-start", "1 if the `range(` call has a start argument (two or more arguments)",
                lambda args: len(args) >= 2),
)


def preset(backbone):
    from semhub import SteerSpec, from_unembedding

    vector = from_unembedding(backbone, "start", "end")
    layer = (2 * backbone.n_layers) // 3
    # W_U rows are small next to mid-network residual norms (~1e3 on Gemma 3 270M): large coefficients
    spec = SteerSpec(prompts(), [layer], [100.0, 200.0, 500.0, 1000.0], [s.name for s in SCORERS], positions="last",
                     max_new_tokens=12, description="range( prompts, (W_U[start] - W_U[end]) at the last token")
    return vector, spec
