"""Every arrow points down: the import graph read from the code (lazy imports inside functions included)
against the layer order written in docs/architecture.md, and no cycle at file or folder level."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"


def layer_order() -> list[str]:
    """The homes, bottom first, from the fenced block after '## Layers' in docs/architecture.md."""
    text = DOC.read_text()
    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    return [m.group(1) for line in block.splitlines() if (m := re.match(r"\s*\d+\s+(\S+)", line))]


def modules(base: Path, package_root: Path) -> dict[str, Path]:
    out = {}
    for path in base.rglob("*.py"):
        parts = path.relative_to(package_root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules ``name`` imports anywhere (absolute and relative, module- and function-level)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
                break
    return found


SEMHUB = modules(REPO / "semhub", REPO)
PLUGINS = modules(REPO / "plugins", REPO / "plugins")


def home(module: str, order: list[str]) -> str:
    """The longest home in the order that holds ``module`` (``semhub`` is the public facade itself)."""
    best = [h for h in order if module == h or (h != "semhub" and module.startswith(h + "."))]
    assert best, f"{module} is in no layer of docs/architecture.md"
    return max(best, key=len)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by depth-first search (one per back edge)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                found.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_documented_order_covers_every_module_once():
    order = layer_order()
    assert len(order) == len(set(order)) and len(order) >= 15
    for module in SEMHUB:
        home(module, order)


def upward(graph: dict[str, set[str]], order: list[str]) -> list[str]:
    rank = {h: i for i, h in enumerate(order)}
    found = []
    for name, deps in sorted(graph.items()):
        mine = home(name, order)
        for dep in sorted(deps):
            theirs = home(dep, order)
            if theirs != mine and rank[theirs] > rank[mine]:
                found.append(f"{name} -> {dep} ({theirs} is above {mine})")
    return found


def test_every_import_points_down_the_documented_order():
    graph = {name: imports(name, path, SEMHUB) for name, path in SEMHUB.items()}
    found = upward(graph, layer_order())
    assert not found, "imports against the layer order:\n" + "\n".join(found)


def test_the_checker_catches_upward_and_lazy_imports(tmp_path):
    """The check itself can fail: a lazy import inside a function of a low layer is an upward edge."""
    fake = tmp_path / "result.py"
    fake.write_text("def plot():\n    from semhub.runs.run import Run\n    from ..errors import SemhubError\n")
    deps = imports("semhub.contract.result", fake, SEMHUB)
    assert deps == {"semhub.runs.run", "semhub.errors"}
    assert upward({"semhub.contract.result": deps}, layer_order()) == [
        "semhub.contract.result -> semhub.runs.run (semhub.runs is above semhub.contract)"]


def test_no_cycle_between_files_or_folders():
    order = layer_order()
    files = {name: imports(name, path, SEMHUB) for name, path in SEMHUB.items()}
    files.update({name: imports(name, path, PLUGINS) for name, path in PLUGINS.items()})
    assert not cycles(files), cycles(files)
    folders: dict[str, set[str]] = {}
    for name, deps in files.items():
        mine = home(name, order) if name in SEMHUB else name.split(".")[0]
        for dep in deps:
            theirs = home(dep, order) if dep in SEMHUB else dep.split(".")[0]
            if theirs != mine:
                folders.setdefault(mine, set()).add(theirs)
    assert not cycles(folders), cycles(folders)


def test_plugins_use_only_the_public_api():
    """semhub's own plugins import ``semhub`` (the facade), never a module inside it, as a third party must."""
    inside = []
    for name, path in PLUGINS.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            inside += [f"{name} imports {n}" for n in names if n.startswith("semhub.")]
    assert not inside, inside
