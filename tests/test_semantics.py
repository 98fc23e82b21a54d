"""The semantics spoke: the COGS-style grammar, its baselines, and validation."""
from __future__ import annotations

import semhub
from semhub_semantics import SemanticsSpoke
from semhub_semantics.grammar import generate


def test_shipped_dataset_is_the_deterministic_generation():
    ds = semhub.dataset("semantics")
    rows = generate()
    assert len(ds) == 200 and ds.columns["semantics"] == [r["semantics"] for r in rows]
    assert set(ds.views) == {"en", "semantics", "semantics_swapped", "semantics_shuffled"}


def test_logical_forms_and_baselines():
    rows = {r["en"]: r for r in generate(400)}
    row = next(r for en, r in rows.items() if en.startswith("The ") and " the " in en)
    words = row["en"].split()
    assert f"* {words[1]} ( x _ 1 )" in row["semantics"] and f"* {words[4]} ( x _ 4 )" in row["semantics"]
    assert "agent ( x _ 2 , x _ 1 )" in row["semantics"] and "agent ( x _ 2 , x _ 4 )" in row["semantics_swapped"]
    # swapping keeps the words, shuffling keeps the conjuncts
    assert sorted(row["semantics"].split()) == sorted(row["semantics_swapped"].split())
    assert set(row["semantics"].replace(";", "AND").split(" AND ")) == \
        set(row["semantics_shuffled"].replace(";", "AND").split(" AND "))


def test_validation(tmp_path):
    spoke = SemanticsSpoke()
    assert spoke.validate("cat ( x _ 1 )", tmp_path) is None
    assert spoke.validate("cat ( x _ 1", tmp_path) == "unbalanced parentheses in the logical form"
    assert spoke.validate(" ", tmp_path) == "logical form is empty"
