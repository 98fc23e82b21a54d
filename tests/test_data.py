"""Aligned-data loading: formats, and errors that name the file and the line."""
from __future__ import annotations

import json

import pytest

from semhub.data.aligned import load_aligned, parse_views
from semhub.errors import DataError, SemhubError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_roundtrip(tmp_path):
    rows = [{"id": "a", "en": "cat", "zh": "猫"}, {"id": "b", "en": "dog", "zh": "狗"}]
    path = write(tmp_path, "d.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    ds = load_aligned(path)
    assert ds.ids == ["a", "b"] and ds.views == ["en", "zh"]
    assert ds.columns["zh"] == ["猫", "狗"] and ds.lines == [1, 2]
    assert len(ds.sha256) == 64 and ds.base_dir == tmp_path


def test_tsv_with_header(tmp_path):
    ds = load_aligned(write(tmp_path, "p.tsv", "en\tes\nhello\thola\nbye\tadiós\n"))
    assert ds.views == ["en", "es"] and ds.columns["es"] == ["hola", "adiós"] and ds.lines == [2, 3]


@pytest.mark.parametrize(
    "name,text,where,message",
    [
        ("bad.jsonl", '{"id": 1, "en": "a"}\n{"id": 2, "en": \n', ":2:", "invalid JSON"),
        ("arr.jsonl", '{"id": 1, "en": "a"}\n[1, 2]\n', ":2:", "expected a JSON object"),
        ("empty.jsonl", '{"id": 1, "en": "a"}\n{"id": 2, "en": "  "}\n', ":2:", "view 'en' is empty"),
        ("num.jsonl", '{"id": 1, "en": 5}\n', ":1:", "must be a string"),
        ("dup.jsonl", '{"id": 1, "en": "a"}\n{"id": 1, "en": "b"}\n', ":2:", "duplicate id '1' (first on line 1)"),
        ("blank.jsonl", "\n\n", "blank.jsonl:", "no rows"),
        ("noview.jsonl", '{"id": 1}\n', ":1:", "row has no views"),
        ("h.tsv", "hello world\tsecond thing\n", ":1:", "header line"),
        ("hh.tsv", "en\ten\na\tb\n", ":1:", "names view 'en' twice"),
        ("cols.tsv", "en\tzh\na\tb\nc\n", ":3:", "expected 2 tab-separated fields, got 1"),
        ("x.csv", "en,zh\n", "x.csv:", "unknown data format"),
    ],
)
def test_malformed_data_names_file_and_line(tmp_path, name, text, where, message):
    path = write(tmp_path, name, text)
    with pytest.raises(DataError) as info:
        load_aligned(path)
    assert where in str(info.value) and message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_headerless_tsv_takes_view_names_from_caller(tmp_path):
    path = write(tmp_path, "p.tsv", "Hello\tHola\nbye\tadiós\n")
    ds = load_aligned(path, ["en", "es"])
    assert ds.columns == {"en": ["Hello", "bye"], "es": ["Hola", "adiós"]} and ds.lines == [1, 2]
    with_header = load_aligned(write(tmp_path, "q.tsv", "es\ten\nhola\thello\n"), ["en", "es"])
    assert with_header.columns == {"es": ["hola"], "en": ["hello"]}


def test_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"en": "ok"}\n{"en": "\xff"}\n')
    with pytest.raises(DataError, match=r"b\.jsonl:2: not valid UTF-8"):
        load_aligned(path)


def test_missing_file_and_missing_view(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_aligned(tmp_path / "nope.jsonl")
    ds = load_aligned(write(tmp_path, "d.jsonl", '{"id": 1, "en": "a", "zh": "b"}\n{"id": 2, "en": "c"}\n'))
    with pytest.raises(DataError, match="no view 'fr'"):
        ds.require(["en", "fr"])
    with pytest.raises(DataError, match=r"d\.jsonl:2: row has no view 'zh'"):
        ds.require(["en", "zh"])


def test_parse_views():
    assert parse_views("en, zh,audio_es") == ["en", "zh", "audio_es"]
    assert parse_views("code") == ["code"]  # one view: the analysis decides whether that is enough
    for bad in ("en,en", ",,", "en,z h", ""):
        with pytest.raises(SemhubError):
            parse_views(bad)


def test_builtin_sample_is_aligned_in_eight_languages():
    import semhub

    ds = semhub.dataset()
    assert len(ds) >= 120
    assert {"en", "zh", "es", "fr", "de", "ja", "ru", "ar"} <= set(ds.views)
    ds.require(ds.views)
    for view in ds.views:
        assert len(set(ds.columns[view])) == len(ds)  # no duplicated sentences
    lengths = [len(s.split()) for s in ds.columns["en"]]
    assert min(lengths) <= 5 and max(lengths) >= 15


def test_line_separators_inside_json_strings_do_not_split_rows(tmp_path):
    """U+2028, U+2029 and U+0085 are legal raw inside JSON strings (json.dumps(..., ensure_ascii=False))."""
    import json as _json

    from semhub.data.aligned import load_aligned

    rows = [{"id": "a", "en": "one\u2028two", "fr": "un\u0085deux"}, {"id": "b", "en": "three\u2029", "fr": "trois"}]
    path = tmp_path / "seps.jsonl"
    path.write_text("".join(_json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    ds = load_aligned(path)
    assert ds.columns["en"] == ["one\u2028two", "three\u2029"] and ds.lines == [1, 2]


def test_cr_only_and_crlf_files_are_lines(tmp_path):
    from semhub.data.aligned import load_aligned

    for name, sep in (("cr.jsonl", "\r"), ("crlf.jsonl", "\r\n")):
        path = tmp_path / name
        path.write_bytes(sep.join(['{"en": "a cat", "fr": "un chat"}', '{"en": "a dog", "fr": "un chien"}', ""]).encode())
        ds = load_aligned(path)
        assert ds.columns["fr"] == ["un chat", "un chien"] and ds.lines == [1, 2]
