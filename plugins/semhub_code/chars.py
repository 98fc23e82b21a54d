"""Character positions in source text from the AST's (line, byte column): shared by the spoke and the role lens."""
from __future__ import annotations


def char_index(source: str, line: int, col: int) -> int:
    """AST (1-based line, UTF-8 byte column) -> character index into ``source``."""
    lines = source.splitlines(keepends=True)
    head = sum(len(x) for x in lines[: line - 1])
    return head + len(lines[line - 1].encode("utf-8")[:col].decode("utf-8", errors="ignore"))
