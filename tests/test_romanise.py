"""Romanised views: the script control (``zh_latn``, ``ja_latn``, ``ru_latn``...)."""
from __future__ import annotations

import json

import pytest

import semhub
from semhub.default_plugins.text.romanise import romanise


@pytest.mark.parametrize("language, text, expected", [
    ("zh", "我们在银行工作。", "women zai yinhang gongzuo."),  # 行 read hang in 银行: the phrase dictionary
    ("zh", "这很重要", "zhe hen zhongyao"),  # 重 read zhong, not chong
    ("ja", "猫はテーブルの上で寝ています。", "Neko wa teeburu no ue de nete imasu."),  # は as wa; no English
    ("ru", "Кошка спит на столе.", "Koshka spit na stole."),
    ("el", "Η γάτα κοιμάται.", "E gata koimatai."),
])
def test_each_script_is_romanised_by_its_readers_conventions(language, text, expected):
    assert romanise(language, text) == expected


def test_a_romanised_view_is_derived_from_its_source_and_compared(tmp_path):
    from conftest import save_tiny_lm

    tiny = save_tiny_lm(tmp_path / "tiny")
    rows = [{"en": "the cat sleeps", "zh": "猫在睡觉"}, {"en": "the bank is open", "zh": "银行开着"},
            {"en": "we work", "zh": "我们工作"}, {"en": "it is important", "zh": "这很重要"}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    inputs = semhub.DataSpec(data=str(data), views=["en", "zh", "zh_latn"]).resolve()
    assert inputs.dataset.columns["zh_latn"] == [romanise("zh", r["zh"]) for r in rows]
    assert inputs.dataset.columns["zh_latn"][1] == "yinhang kaizhe"
    run = semhub.analyze("similarity", model=str(tiny), data=str(data), views=["en", "zh", "zh_latn"],
                         permutations=20, n_boot=0)
    pairs = [(r["a"], r["b"]) for r in run.result.records]
    assert pairs == [("en", "zh"), ("en", "zh_latn")]
    romanised = run.result.records[1]
    assert "lexical" in romanised["surface"]  # the bag of tokens reads the romanised text


def test_a_spoke_whose_derive_raises_is_one_line_naming_it(tmp_path, monkeypatch, cli_run):
    spoke = semhub.spoke_for_view("zh_latn")

    def broken(view, values):
        raise KeyError("boom")

    monkeypatch.setattr(spoke, "derive", broken)
    data = tmp_path / "d.jsonl"
    data.write_text('{"en": "the cat", "zh": "猫"}\n{"en": "the dog", "zh": "狗"}\n', encoding="utf-8")
    code, _, err = cli_run("analyze", "--data", str(data), "--views", "en,zh_latn", "--model",
                           str(tmp_path / "never-loaded"), "--out", str(tmp_path / "run"))
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "raised KeyError while deriving view 'zh_latn' from 'zh'" in lines[0]
