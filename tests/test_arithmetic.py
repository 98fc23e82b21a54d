"""The arithmetic spoke: number words, the deterministic dataset, its CLI, and `semhub reproduce`."""
from __future__ import annotations

import json

import pytest

import semhub
from semhub_arithmetic import ArithmeticSpoke
from semhub_arithmetic.data import rows
from semhub_arithmetic.numbers import expression_words, spell

CASES = {
    21: ("twenty-one", "veintiuno", "二十一", "vingt et un", "einundzwanzig"),
    16: ("sixteen", "dieciséis", "十六", "seize", "sechzehn"),
    71: ("seventy-one", "setenta y uno", "七十一", "soixante et onze", "einundsiebzig"),
    80: ("eighty", "ochenta", "八十", "quatre-vingts", "achtzig"),
    97: ("ninety-seven", "noventa y siete", "九十七", "quatre-vingt-dix-sept", "siebenundneunzig"),
    10: ("ten", "diez", "十", "dix", "zehn"),
}


@pytest.mark.parametrize("n", sorted(CASES))
def test_number_words(n):
    assert tuple(spell(n, lang) for lang in ("en", "es", "zh", "fr", "de")) == CASES[n]


def test_expressions_and_the_papers_tuples():
    assert expression_words(3, "+", 2, "en") == "three plus two"
    assert expression_words(3, "*", 2, "zh") == "三乘以二"
    data = rows()
    assert len(data) == 1123  # 846 additions + 277 multiplications, as in the paper
    assert sum("+" in r["arithmetic"] for r in data) == 846
    row = next(r for r in data if r["id"] == "21+3")
    assert row["en"] == "twenty-one plus three" and row["arithmetic_answer"] == "24=21+" and row["answer"] == "3"
    assert rows(("-",), range(1, 3), 10)[0]["arithmetic_answer"].count("-") == 1


def test_shipped_dataset_is_the_deterministic_generation():
    ds = semhub.dataset("arithmetic")
    assert ds.ids == [r["id"] for r in rows()]
    assert ds.columns["es"] == [r["es"] for r in rows()]
    from semhub.specs.inputs import default_views

    assert default_views(ds, "arithmetic") == ["en", "arithmetic"]


def test_spoke_rejects_non_expressions(cli_run, tmp_path):
    assert ArithmeticSpoke().validate("3+4", tmp_path) is None
    data = tmp_path / "a.jsonl"
    data.write_text('{"arithmetic": "3+4", "en": "three plus four"}\n{"arithmetic": "three", "en": "x"}\n')
    code, _, err = cli_run("analyze", "--data", str(data), "--views", "arithmetic,en")
    assert code == 2 and ":2: view 'arithmetic': not an arithmetic expression" in err


def test_make_arithmetic_command(cli_run, tmp_path):
    out = tmp_path / "sub.jsonl"
    code, stdout, _ = cli_run("make-arithmetic", "--ops", "-", "--max-answer", "2", "--max-result", "9", "--out", str(out))
    assert code == 0 and "rows written" in stdout
    loaded = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["answer"] for r in loaded} == {"1", "2"} and all("-" in r["arithmetic"] for r in loaded)
    code, _, err = cli_run("make-arithmetic", "--ops", "/", "--out", str(out))
    assert code == 2 and err.startswith("Error: --ops")


def test_reproduce_lists_and_rejects(cli_run):
    code, out, _ = cli_run("reproduce", "--list")
    for name in ("multilingual-similarity", "multilingual-logit-lens", "language-trends", "arithmetic-similarity",
                 "arithmetic-logit-lens", "arithmetic-steering", "language-steering", "sentiment-steering"):
        assert name in out
    code, _, err = cli_run("reproduce", "nope")
    assert code == 2 and "unknown experiment 'nope'" in err
    code, _, err = cli_run("reproduce")
    assert code == 2 and "reproduce --list" in err
