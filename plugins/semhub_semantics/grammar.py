"""A small COGS-style grammar: English sentences and their logical forms (written for semhub).

Logical forms follow COGS: definite nouns are "* noun ( x _ i )" presuppositions before ";",
indefinites and events are conjuncts joined by "AND", and x _ i is the position of the word
in the sentence. Each row also has the paper's stronger baselines: the LF with agent and
theme swapped (same words, another meaning) and the LF with its conjuncts shuffled (same
meaning, another order).
"""
from __future__ import annotations

import random

NAMES = ["Emma", "Liam", "Noah", "Olivia", "Ava", "Mia", "Lucas", "Sofia", "Ethan", "Chloe"]
NOUNS = ["cat", "dog", "girl", "boy", "teacher", "doctor", "baker", "farmer", "child", "bird"]
VERBS = [("saw", "see"), ("liked", "like"), ("helped", "help"), ("found", "find"), ("called", "call"),
         ("admired", "admire"), ("followed", "follow"), ("visited", "visit")]
INTRANSITIVE = [("slept", "sleep"), ("smiled", "smile"), ("laughed", "laugh"), ("ran", "run")]


def _lf(pre: list[str], conj: list[str]) -> str:
    body = " AND ".join(conj)
    return (" ; ".join(pre) + " ; " + body) if pre else body


def generate(n: int = 200, seed: int = 0) -> list[dict[str, str]]:
    """Rows with ``en``, ``semantics``, ``semantics_swapped`` and ``semantics_shuffled``."""
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n:
        kind = rng.choice(["name_name", "the_name", "name_the", "the_the", "a_intrans"])
        past, lemma = rng.choice(VERBS)
        a, b = rng.sample(NAMES, 2)
        m, k = rng.sample(NOUNS, 2)
        if kind == "name_name":  # Emma saw Liam .
            en = f"{a} {past} {b} ."
            pre, agent, theme, ev = [], a, b, 1
        elif kind == "the_name":  # The cat saw Liam .
            en = f"The {m} {past} {b} ."
            pre, agent, theme, ev = [f"* {m} ( x _ 1 )"], "x _ 1", b, 2
        elif kind == "name_the":  # Emma saw the dog .
            en = f"{a} {past} the {k} ."
            pre, agent, theme, ev = [f"* {k} ( x _ 3 )"], a, "x _ 3", 1
        elif kind == "the_the":  # The cat saw the dog .
            en = f"The {m} {past} the {k} ."
            pre, agent, theme, ev = [f"* {m} ( x _ 1 )", f"* {k} ( x _ 4 )"], "x _ 1", "x _ 4", 2
        else:  # A cat slept .
            ipast, ilemma = rng.choice(INTRANSITIVE)
            en = f"A {m} {ipast} ."
            conj = [f"{m} ( x _ 1 )", f"{ilemma} . agent ( x _ 2 , x _ 1 )"]
            row = {"en": en, "semantics": _lf([], conj), "semantics_swapped": None, "semantics_shuffled": None}
            if en in seen:
                continue
            seen.add(en)
            row["semantics_shuffled"] = _lf([], conj[::-1])
            row["semantics_swapped"] = _lf([], [f"{m} ( x _ 2 )", f"{ilemma} . agent ( x _ 1 , x _ 2 )"])
            rows.append(row)
            continue
        if en in seen:
            continue
        seen.add(en)
        conj = [f"{lemma} . agent ( x _ {ev} , {agent} )", f"{lemma} . theme ( x _ {ev} , {theme} )"]
        swapped = [f"{lemma} . agent ( x _ {ev} , {theme} )", f"{lemma} . theme ( x _ {ev} , {agent} )"]
        rows.append({"en": en, "semantics": _lf(pre, conj), "semantics_swapped": _lf(pre, swapped),
                     "semantics_shuffled": _lf(pre[::-1], conj[::-1])})
    for i, row in enumerate(rows, 1):
        row["id"] = f"s{i:03d}"
    return rows
