"""The code spoke: AST probes, validation, the folder loader."""
from __future__ import annotations

import json

from semhub_code import CodeSpoke, call_arg_chars, code_rows, list_comma_chars

SOURCE = "def f(xs):\n    ys = [1, 2,\n          3]\n    return max(len(xs), 4)"


def test_list_commas_and_call_arguments_from_the_ast():
    commas = list_comma_chars(SOURCE)
    assert [SOURCE[i] for i in commas] == [",", ","] and SOURCE[commas[1] - 1] == "2"
    args = call_arg_chars(SOURCE)
    assert [SOURCE[i] for i in args] == ["(", "(", ","]  # max(, len(, and the comma before 4


def test_code_view_is_validated(cli_run, tmp_path, tmp_path_factory):
    assert CodeSpoke().validate("def f(:", tmp_path).startswith("not valid Python (line 1")
    data = tmp_path / "c.jsonl"
    data.write_text('{"code": "x = 1", "en": "set x"}\n{"code": "def (", "en": "broken"}\n')
    code, _, err = cli_run("analyze", "--data", str(data), "--views", "code,en")
    assert code == 2 and ":2: view 'code': not valid Python" in err


def test_make_code_data_from_a_folder(cli_run, tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "m.py").write_text('def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n'
                              'def hidden(x):\n    return x\n')
    (src / "broken.py").write_text("def (\n")
    assert code_rows(src) == [{"id": "m.py:add", "code": "def add(a, b):\n    return a + b", "en": "Add two numbers."}]
    out = tmp_path / "code.jsonl"
    code, stdout, _ = cli_run("make-code-data", str(src), "--out", str(out))
    assert code == 0 and json.loads(out.read_text())["en"] == "Add two numbers."
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli_run("make-code-data", str(empty), "--out", str(out))
    assert code == 2 and "no documented top-level function" in err


def test_range_argument_parser_and_scorers():
    from semhub.steering.generate import Generation
    from semhub_code.steering import SCORERS, prompts, range_args

    assert range_args("n):\n    pass") == ["n"]
    assert range_args("0, len(xs), 2):") == ["0", "len(xs)", "2"]
    assert range_args("n") is None
    gen = Generation(prompts()[:3], ["0, n):", "n):", "1, f(a, b)):"], [[], [], []])
    by_name = {s.name: s.score(gen, None) for s in SCORERS}
    assert by_name == {"range-starts-at-zero": [1.0, 0.0, 0.0], "range-has-start": [1.0, 0.0, 1.0]}
    assert all(p.endswith("range(") for p in prompts())


def test_code_nested_beyond_the_parser_is_skipped_or_refused_in_one_line(tmp_path, cli_run):
    """An expression nested 200,000 deep: make-code-data skips its file (it was a MemoryError), and as a
    data value the code spoke refuses it as bad input."""
    deep = "def f():\n    \"\"\"Deep.\"\"\"\n    return " + "(" * 200_000 + "1" + ")" * 200_000 + "\n"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "deep.py").write_text(deep)
    (tmp_path / "src" / "ok.py").write_text('def g(x):\n    """Add one."""\n    return x + 1\n')
    code, out, err = cli_run("make-code-data", str(tmp_path / "src"), "--out", str(tmp_path / "c.jsonl"))
    assert code == 0, err
    assert [json.loads(line)["id"] for line in (tmp_path / "c.jsonl").read_text().splitlines()] == ["ok.py:g"]
    from semhub_code import CodeSpoke

    problem = CodeSpoke().validate(deep, tmp_path)  # a one-line problem (the parser's own, or ours)
    assert problem.startswith(("nested too deeply", "not valid Python (line")) and "\n" not in problem
