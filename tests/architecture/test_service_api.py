"""The service's public API is its package's ``__all__``, exactly; the server imports from it (and the errors) only."""

from __future__ import annotations

import ast

import bpf_dsl.service
from tests.architecture.imports import ROOTS
from tests.paths import REPO


def test_the_service_exports_exactly_its_all() -> None:
    tree = ast.parse((REPO / "bpf_dsl" / "service" / "__init__.py").read_text(encoding="utf-8"))
    imported = {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom)
                for a in node.names if node.module != "__future__"}
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    assert set(bpf_dsl.service.__all__) == imported | defined
    assert len(bpf_dsl.service.__all__) == len(set(bpf_dsl.service.__all__))


def test_the_server_imports_only_the_service_api_and_the_errors() -> None:
    wrong, used = [], set()
    for path in sorted(ROOTS["bpf_server"].rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                wrong += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names
                          if a.name.startswith("bpf_dsl")]
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("bpf_dsl"):
                if node.module == "bpf_dsl.service":
                    used |= {a.name for a in node.names}
                elif node.module != "bpf_dsl.errors":
                    wrong.append(f"{path.name}:{node.lineno} from {node.module}")
    assert not wrong, "\n".join(wrong)
    assert used <= set(bpf_dsl.service.__all__), sorted(used - set(bpf_dsl.service.__all__))
