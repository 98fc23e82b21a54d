"""The semantic-role lens (the paper's 3.2): before an argument is written, does the state predict
the parameter it fills (its semantic role) more than the argument's own text?

As ``coding/logit_lens_semantic_role.py``: for every call of a plain name with positional arguments,
argument i is read at the token ending exactly at "(" (i = 0) or at the "," before it. Its role is
the callee's i-th parameter: from ``inspect.signature`` for builtins (with the paper's table for
those it cannot inspect; range, max, min, dict, zip and type, whose overloads differ, are left
out), or from the program's own ``def``. An argument is skipped when its role equals its text, when
it starts with "(", when the role is obj/object, or when both first tokens coincide. Per layer:
log p(first token of " role") - log p(first token of " argument").
"""
from __future__ import annotations

import ast
import builtins
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import semhub
from semhub import RecordsResult
from semhub_code.chars import char_index

OVERLOADED = {"range", "max", "min", "dict", "zip", "type"}
UNINSPECTABLE = {  # builtins.pyi, where inspect.signature raises ValueError
    "bool": ["o"], "int": ["x", "base"], "float": ["x"], "filter": ["function", "iterable"],
    "map": ["func", "iter1", "iter2"], "next": ["i", "default"], "iter": ["object", "sentinel"],
    "set": ["iterable"], "str": ["object", "encoding", "errors"],
}
SITES = "role_sites"


@dataclass
class Argument:
    """One probed argument: read where ``key`` (a character index: its "(" or ",") ends a token."""

    key: int
    callee: str
    index: int
    role: str
    surface: str


def role_of(callee: str, index: int, tree: ast.AST) -> str | None:
    """The parameter argument ``index`` of ``callee`` fills, or None when it is not known."""
    if callee in dir(builtins):
        if callee in OVERLOADED:
            return None
        try:
            names = list(inspect.signature(getattr(builtins, callee)).parameters)
        except (ValueError, TypeError):
            names = UNINSPECTABLE.get(callee, [])
        return names[index] if index < len(names) else None
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == callee]
    if len(defs) != 1:
        return None  # unknown (an import) or overloaded
    params = defs[0].args.args
    return params[index].arg if index < len(params) else None


def arguments(source: str) -> list[Argument]:
    """Every positional argument of a plain-name call whose role is known and differs from its text."""
    tree = ast.parse(source)
    out = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.args):
            continue
        for i, arg in enumerate(call.args):
            before = call.args[i - 1] if i else call.func
            key = char_index(source, before.end_lineno, before.end_col_offset)
            while key < len(source) and source[key] in " )":
                key += 1
            if key >= len(source) or source[key] not in "(,":
                continue
            role = role_of(call.func.id, i, tree)
            surface = ast.unparse(arg)
            if role is None or role == surface or surface.startswith("(") or role in ("obj", "object"):
                continue
            out.append(Argument(key, call.func.id, i, role, surface))
    return sorted(out, key=lambda a: a.key)


def plot_roles(result: "CodeRolesResult", path: Path) -> Path:
    """The paper's figure: the sign of the difference per (layer, argument), and the share per layer."""
    import numpy as np

    plt = semhub.pyplot()
    from matplotlib.colors import ListedColormap

    rec = result.records[0]
    diff = np.asarray(rec["difference"])  # (arguments, layers)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 5.2), constrained_layout=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    top.imshow((diff > 0).T, origin="lower", aspect="auto", cmap=ListedColormap(["#6b8a97", "#e29dbc"]),
               vmin=0, vmax=1, interpolation="nearest",
               extent=(-0.5, diff.shape[0] - 0.5, rec["layers"][0] - 0.5, rec["layers"][-1] + 0.5))
    top.set_ylabel("layer")
    top.set_xlabel(f"{diff.shape[0]} function arguments (pink: closer to the role, grey: to the argument)")
    bottom.plot(rec["layers"], rec["role_wins"], marker="o", ms=3)
    bottom.axhline(0.5, color="grey", lw=0.8, ls="--")
    bottom.set_ylim(0, 1)
    bottom.set_xlabel("layer")
    bottom.set_ylabel("share closer to role")
    top.set_title(f"{result.options.get('model', '')}: semantic role vs surface argument", fontsize=10)
    return semhub.save_figure(fig, path)


class CodeRolesResult(RecordsResult):
    key: ClassVar[str] = "code_roles"
    summary_title = "semantic-role lens: arguments whose role beats their own text"
    summary_columns = ("layer", "arguments", "closer to role", "mean log p role - argument")

    def plot(self, folder):
        return plot_roles(self, self.figure_path(folder))

    def summary_rows(self):
        rec = self.records[0]
        L = len(rec["layers"])
        return [(str(rec["layers"][k]), str(rec["n_arguments"]), f"{rec['role_wins'][k]:.2f}",
                 f"{rec['mean_difference'][k]:.2f}") for k in sorted({0, L // 4, L // 2, (3 * L) // 4, L - 1})]


def code_roles(ctx) -> CodeRolesResult:
    import numpy as np
    import torch

    bb = ctx.backbone
    if "code" not in ctx.dataset.columns:
        raise semhub.SemhubError(f"{ctx.dataset.path}: the semantic-role lens needs a 'code' view")
    first = {}

    def first_token(text: str) -> int:
        if text not in first:
            first[text] = semhub.word_token_ids(bb, [text])[0]
        return first[text]

    def batches():
        for rows, enc in semhub.view_batches(bb, ctx.dataset, "code", ctx.settings.batch_size):
            if enc.offsets is None:
                raise semhub.SemhubError("the semantic-role lens needs character offsets (a fast tokenizer)")
            mask = torch.zeros_like(enc.groups["content"], dtype=torch.bool)
            found = []
            for b, row in enumerate(rows):
                source = ctx.dataset.columns["code"][row]
                ends = {}
                for j, (s, e) in enumerate(enc.offsets[b].tolist()):
                    if enc.groups["content"][b, j] and e > s:
                        ends.setdefault(e - 1, j)
                for arg in arguments(source):
                    j = ends.get(arg.key)
                    if j is None or mask[b, j]:
                        continue  # "(" merged into the next token ("(["), or a site already taken
                    role_id, surface_id = first_token(arg.role), first_token(arg.surface)
                    if role_id == surface_id:
                        continue
                    mask[b, j] = True
                    found.append((b, j, arg, role_id, surface_id))
            enc.groups[SITES], enc.meta[SITES] = mask, found
            yield rows, enc

    def ids(enc) -> list[int]:
        return sorted({i for _, _, _, r, s in enc.meta[SITES] for i in (r, s)})

    diffs, args = [], []
    for reading in semhub.read_lens(bb, batches(), ctx.layers, sites=SITES, ids=ids, lens=ctx.lens,
                                    on_batch=ctx.on_batch):
        here = sorted((j, arg, r, s) for b, j, arg, r, s in reading.batch.meta[SITES] if b == reading.item)
        columns = {int(t): k for k, t in enumerate(reading.ids.tolist())}
        for p, (j, arg, r, s) in enumerate(here):
            lp = reading.logprobs[:, p]  # (layers, K)
            diffs.append((lp[:, columns[r]] - lp[:, columns[s]]).numpy())
            args.append({"row": ctx.dataset.ids[reading.row], "callee": arg.callee, "index": arg.index,
                         "role": arg.role, "argument": arg.surface})
    if not diffs:
        raise semhub.SemhubError(f"{ctx.dataset.path}: no call argument with a known role to probe")
    diff = np.stack(diffs)  # (arguments, layers)
    record = {"n_arguments": len(args), "layers": list(ctx.layers), "role_wins": (diff > 0).mean(0).tolist(),
              "mean_difference": diff.mean(0).tolist(), "difference": diff.round(4).tolist(), "arguments": args,
              "lens_norm": ctx.settings.lens_norm, "lens": ctx.lens.describe()}
    return CodeRolesResult([record], {"model": bb.name})


# --- the declarations: what semhub_register_analyses registers (__init__.py) ---


class CodeRolesAnalysis(semhub.Analysis):
    """The paper's 3.2: at the "(" or "," before an argument, the parameter's name vs the argument's text."""

    name = "code-roles"
    min_views = 1  # a probe of one view
    description = "semantic-role lens: log p(' parameter name') - log p(' argument text') before each call argument"
    plot_name = "code_roles.png"
    input_kinds = ("text",)

    def work(self, ctx) -> int:
        return len(ctx.dataset)

    def run(self, ctx):
        return code_roles(ctx)
