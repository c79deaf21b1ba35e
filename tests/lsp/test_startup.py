"""`bpf lsp` is the only command that imports the language server's libraries: `bpf --help`, `bpf check` and
`bpf test` start without pygls and lsprotocol (the lazy CLI stays lazy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.test_cli_startup import imported_by

LSP_LIBRARIES = ("pygls", "lsprotocol", "cattrs", "bpf_dsl.lsp")


def _found(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in LSP_LIBRARIES))


@pytest.mark.parametrize("args", [("--help",), ("check", "clean.bpf"), ("test", "clean.bpft"), ("lsp", "--help")])
def test_only_bpf_lsp_imports_the_language_server(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "clean.bpf").write_text("entity lead {\n    topic: text required\n}\n", encoding="utf-8")
    (tmp_path / "clean.bpft").write_text('scenario "a lead" {\n    create lead { topic = "x" }\n}\n',
                                         encoding="utf-8")
    env = {**os.environ, "BPF_CACHE_DIR": str(tmp_path / "cache")}
    result, modules = imported_by(tmp_path, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not _found(modules)
