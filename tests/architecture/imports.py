"""Every import of the project's own code, read from the source with ``ast``: module-level,
function-level and ``TYPE_CHECKING`` imports alike (an import hidden in a function still
makes a cycle, it only moves where it breaks)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.paths import REPO

#: The packages whose imports are walked, and the folder each lives in.
ROOTS = {"bpf_dsl": REPO / "bpf_dsl", "bpf_server": REPO / "server" / "bpf_server"}


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it stands, and whether it is inside a function."""

    source: str
    target: str
    line: int
    nested: bool


def module_files() -> dict[str, Path]:
    """Every module of the walked packages, by dotted name."""
    found: dict[str, Path] = {}
    for root, folder in ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [root, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _nested_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The imports of the project's own modules in one file (absolute and relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = _nested_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[Import] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from pkg import sub` imports the module pkg.sub; `from pkg import name` imports pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            if target in modules and target != name:
                out.append(Import(name, target, node.lineno, node.lineno in nested))
    return out


def import_graph() -> dict[str, list[Import]]:
    """Every walked module and the imports it makes of the others."""
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted({i.target for i in graph[start]})))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted({i.target for i in graph[child]}))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found
