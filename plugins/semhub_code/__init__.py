"""The code spoke: Python source aligned with English descriptions.

Position groups (from the AST, mapped to tokens through character offsets):
- ``list_commas``: the comma after each non-final element of a list literal, when that comma
  is a token of its own (the paper's "do list commas read as ' and'?" probe);
- ``call_args``: the token ending at the "(" or "," before each positional argument of a
  call (the paper's semantic-role probe).
Built-in data: 64 snippets written for semhub (``snippets.jsonl``); ``semhub make-code-data``
turns a folder of the user's .py files into aligned data (function source vs docstring).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from semhub import hookimpl, spoke_for_view
from semhub_code.chars import char_index

DATA = Path(__file__).with_name("snippets.jsonl")


def list_comma_chars(source: str) -> list[int]:
    """Character positions of the commas separating list-literal elements."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List) and len(node.elts) > 1:
            for elt in node.elts[:-1]:
                i = char_index(source, elt.end_lineno, elt.end_col_offset)
                while i < len(source) and source[i] in " \t\n)":
                    i += 1
                if i < len(source) and source[i] == ",":
                    out.append(i)
    return sorted(out)


def call_arg_chars(source: str) -> list[int]:
    """Character positions of the "(" or "," just before each positional argument of a call."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for arg in node.args:
                i = char_index(source, arg.lineno, arg.col_offset) - 1
                while i >= 0 and source[i] in " \t\n":
                    i -= 1
                if i >= 0 and source[i] in "(,":
                    out.append(i)
    return sorted(out)


class CodeSpoke:
    name = "code"
    modality = "code"
    default_dataset = "code"

    def claims(self, view: str) -> bool:
        return view == "code"

    def validate(self, value: Any, base_dir: Path) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "code is empty"
        try:
            ast.parse(value)
        except SyntaxError as exc:
            return f"not valid Python (line {exc.lineno}: {exc.msg})"
        except (RecursionError, MemoryError):  # a pathological nesting: Python's parser gives up
            return "nested too deeply for Python's parser"
        return None

    def length_hint(self, value: Any) -> int:
        return len(value)

    def encode(self, values, backbone, base_dir):
        import torch

        enc = spoke_for_view("text_code").encode(values, backbone, base_dir)
        shape = enc.groups["content"].shape
        commas, args = torch.zeros(shape, dtype=torch.bool), torch.zeros(shape, dtype=torch.bool)
        if enc.offsets is not None:
            for b, source in enumerate(values):
                spans = enc.offsets[b].tolist()
                content = enc.groups["content"][b]
                for c in list_comma_chars(source):
                    for j, (s, e) in enumerate(spans):
                        if content[j] and s <= c < e and e == c + 1 and source[s:e].strip() == ",":
                            commas[b, j] = True
                for c in call_arg_chars(source):
                    for j, (s, e) in enumerate(spans):
                        if content[j] and e == c + 1:
                            args[b, j] = True
        enc.groups.update(list_commas=commas, call_args=args)
        return enc


MAX_SOURCE_BYTES = 1 << 20  # 1 MiB: larger .py files are generated tables, not documented functions


def code_rows(folder: Path) -> list[dict[str, str]]:
    """One row per documented top-level function: ``code`` (without its docstring) and ``en`` (its first line)."""
    rows = []
    for path in sorted(folder.rglob("*.py")):
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
            continue  # links, devices and giant generated files are not the code to learn from
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except (SyntaxError, RecursionError, MemoryError):  # not Python, or nested beyond the parser
            continue
        for node in tree.body:
            doc = ast.get_docstring(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
            if not doc:
                continue
            node.body = node.body[1:] or [ast.Pass()]
            rows.append({"id": f"{path.relative_to(folder)}:{node.name}", "code": ast.unparse(node),
                         "en": doc.strip().splitlines()[0]})
    return rows


@hookimpl
def semhub_register_spokes(register) -> None:
    register(CodeSpoke())


@hookimpl
def semhub_register_datasets(register) -> None:
    register("code", DATA, "64 Python functions with one-line English descriptions (written for semhub)")


@hookimpl
def semhub_register_analyses(register) -> None:
    from semhub_code.lens import CodeLensAnalysis
    from semhub_code.roles import CodeRolesAnalysis

    register(CodeLensAnalysis())
    register(CodeRolesAnalysis())


@hookimpl
def semhub_register_scorers(register) -> None:
    from semhub_code.steering import SCORERS

    for scorer in SCORERS:
        register(scorer)


@hookimpl
def semhub_register_steering_presets(register) -> None:
    from semhub_code.steering import preset

    register("code", preset, "range( prompts steered with W_U[start] - W_U[end] toward range(0, n)")


@hookimpl
def semhub_register_experiments(register) -> None:
    register("code-steering", "steer", {'preset': 'code', 'layers': [6, 12]},
             "W_U[' start'] - W_U[' end'] at '(' of range(: does range(n) become range(0, n)? (paper 3.3)")
    register("code-similarity", "analyze", {'modality': 'code'},
             "Python functions vs their English descriptions: Eq. 1 and retrieval@1 across layers")
    register("code-semantic-role", "analyze", {'modality': 'code', 'analysis': 'code-roles', 'views': ['code'],
                                               'paper': True},
             "before each call argument: the parameter's name vs the argument's own text under the lens (paper 3.2)")
    register("code-logit-lens", "analyze", {'modality': 'code', 'analysis': 'code-lens'},
             "at list commas, log p of ' and', ' or', ' not' and the next token under the lens (paper 3.1)")


@hookimpl
def semhub_register_commands(cli) -> None:
    import click

    @cli.command("make-code-data")
    @click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), required=True)
    def make_code_data(folder, out):
        """Aligned code data from a folder of .py files: each documented function vs its docstring."""
        from semhub import SemhubError, check_out_file, write_aligned

        out = check_out_file(out)
        rows = code_rows(folder)
        if not rows:
            raise SemhubError(f"{folder}: no documented top-level function found in any .py file")
        write_aligned(out, rows)
        click.echo(f"{len(rows)} functions written to {out}")
