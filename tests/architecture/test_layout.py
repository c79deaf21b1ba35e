"""The shape of the code holds: no import cycles (function-level and TYPE_CHECKING imports
included), the facade only re-exports, the pipeline's top level stays small, and the
third-party libraries are imported only where docs/architecture.md says."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib

import pytest

import bpf_dsl
from tests.architecture.imports import ROOTS, Import, cycles, import_graph, imports_of, module_files
from tests.paths import REPO


def test_no_module_takes_part_in_an_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    detail = []
    for group in found:
        members = set(group)
        for module in group:
            detail += [f"  {i.source}:{i.line} -> {i.target}{' (in a function)' if i.nested else ''}"
                       for i in graph[module] if i.target in members]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path: pytest.TempPathFactory) -> None:
    # The walker must see imports inside functions, or the test above proves nothing.
    graph = {"a": [Import("a", "b", 1, False)], "b": [Import("b", "c", 1, False)], "c": [Import("c", "a", 9, True)],
             "d": [Import("d", "a", 1, False)]}
    assert cycles(graph) == [["a", "b", "c"]]
    modules = module_files()
    nested = [i for name, path in modules.items() for i in imports_of(name, path, modules) if i.nested]
    assert nested, "no function-level import found at all: the walker is blind to them"


def test_the_facade_only_re_exports_with_an_exact_all() -> None:
    # The shape, in order: the docstring; `from typing import TYPE_CHECKING`; the real imports under
    # `if TYPE_CHECKING:` (for type checkers and editors); the table `_EXPORTS` (name -> module); the
    # PEP 562 `__getattr__` (and `__dir__`) that import a name's module on first use; `__all__`.
    tree = ast.parse((REPO / "bpf_dsl" / "__init__.py").read_text(encoding="utf-8"))
    shape: list[str] = []
    typed: dict[str, str] = {}
    table: dict[str, str] = {}
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            shape.append("docstring")
        elif isinstance(node, ast.ImportFrom) and node.module == "typing" and \
                [a.name for a in node.names] == ["TYPE_CHECKING"]:
            shape.append("typing")
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" \
                and not node.orelse:
            for inner in node.body:
                assert isinstance(inner, ast.ImportFrom) and inner.module, f"line {inner.lineno}: only imports here"
                typed |= {a.asname or a.name: inner.module for a in inner.names}
            shape.append("imports")
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_EXPORTS"]:
            table = ast.literal_eval(node.value)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())
            shape.append("table")
        elif isinstance(node, ast.FunctionDef) and node.name in ("__getattr__", "__dir__"):
            shape.append(node.name)
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            shape.append("__all__")
        else:
            raise AssertionError(f"line {node.lineno}: the facade holds only its docstring, the TYPE_CHECKING "
                                 "imports, the _EXPORTS table, __getattr__, __dir__ and __all__")
    assert [s for s in shape if s != "__dir__"] == ["docstring", "typing", "imports", "table", "__getattr__",
                                                    "__all__"], shape
    assert len(bpf_dsl.__all__) == len(set(bpf_dsl.__all__))
    assert set(bpf_dsl.__all__) == set(table) == set(typed)
    assert table == typed, "the table and the TYPE_CHECKING imports name different modules"
    for name, module in table.items():  # every name resolves, to what its module holds
        assert getattr(bpf_dsl, name) is getattr(importlib.import_module(module), name), name
    assert set(bpf_dsl.__all__) <= set(dir(bpf_dsl))
    with pytest.raises(AttributeError):
        _ = bpf_dsl.no_such_name  # type: ignore[attr-defined]


def test_importing_the_facade_imports_nothing_else() -> None:
    # `bpf --help` imports bpf_dsl as its package: the facade must not pull the pipeline in.
    code = "import sys, bpf_dsl; print(sorted(m for m in sys.modules if m.startswith('bpf_dsl')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['bpf_dsl']"


def test_the_package_top_level_reads_as_the_pipeline() -> None:
    top = sorted(p.stem for p in (REPO / "bpf_dsl").glob("*.py") if not p.stem.startswith("_"))
    packages = sorted(p.name for p in (REPO / "bpf_dsl").iterdir() if (p / "__init__.py").is_file())
    assert len(top) <= 12, f"{len(top)} top-level modules: {top}"
    assert {"tools", "cli", "parser", "checker", "engine", "service", "storage", "plugins"} <= set(packages)


# Which of our modules may import a third-party library (the prefix of their dotted names).
ONLY_IN = {
    "lark": ("bpf_dsl.parser",),
    "strawberry": ("bpf_server",),
    "starlette": ("bpf_server",),
    "uvicorn": ("bpf_server",),
    "graphql": ("bpf_server",),
    "pygments": ("bpf_dsl.tools.highlight",),
    "platformdirs": ("bpf_dsl.check",),
    "pygls": ("bpf_dsl.lsp",),
    "lsprotocol": ("bpf_dsl.lsp",),
}


def _third_party(path_text: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path_text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_third_party_libraries_are_imported_only_where_they_belong() -> None:
    wrong = []
    for name, path in module_files().items():
        for line, library in _third_party(path.read_text(encoding="utf-8")):
            allowed = ONLY_IN.get(library)
            if allowed is not None and not name.startswith(allowed):
                wrong.append(f"{name}:{line} imports {library} (only {', '.join(allowed)} may)")
    assert not wrong, "\n".join(wrong)


def test_the_version_is_written_once_in_step_with_pyproject() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert bpf_dsl.__version__ == pyproject["project"]["version"]


def test_the_walked_packages_are_the_installed_ones() -> None:
    assert set(ROOTS) == {"bpf_dsl", "bpf_server"}
    assert all((folder / "__init__.py").is_file() for folder in ROOTS.values())
