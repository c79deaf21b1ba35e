"""Shared by the command-line tests: run `bpf` as a real subprocess, read a database's tables, a small model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bpf_dsl.storage import open_storage

BPF = [sys.executable, "-m", "bpf_dsl.cli"]

MODEL = """
role sales
entity lead {
    topic: text required
    budget: money min 0
    hot: bool default true
    note: text default "fresh"
    tags: choices(a, b, c)
}
process flow on lead {
    roles sales
    stage one { step topic }
    stage two { step budget }
}
"""


def bpf(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
        **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``bpf ARGS`` in ``cwd``; stdout and stderr captured unless given."""
    kwargs.setdefault("capture_output", "stdout" not in kwargs)
    if "stdout" in kwargs:
        kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([*BPF, *args], text=True, cwd=cwd, env=env, timeout=timeout, check=False, **kwargs)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `bpf: error: ...` line of a failed run (asserting there is only that on stderr)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bpf: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Every row of a query, on either backend."""
    storage = open_storage(url)
    try:
        with storage.read() as tx:
            return [tuple(r) for r in tx.q(sql).fetchall()]  # type: ignore[attr-defined]
    finally:
        storage.close()


def write_model(folder: Path, text: str = MODEL, name: str = "model.bpf") -> Path:
    """A .bpf file in ``folder``."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
