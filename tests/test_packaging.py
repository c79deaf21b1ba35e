"""The wheel carries the grammar, and an installed copy finds it there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("pip") is None and not (Path(sys.executable).parent / "pip").exists(),
                    reason="pip is needed to build the wheel")
def test_wheel_ships_the_grammar(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="hatchling (a dev dependency) builds the wheel offline")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(REPO)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("bpf-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "bpf_dsl/grammar/bpf.lark" in names
        assert z.read("bpf_dsl/grammar/bpf.lark") == (REPO / "grammar" / "bpf.lark").read_bytes()
        z.extractall(tmp_path / "site")
    # The unpacked wheel, alone on the path, parses with its own copy of the grammar.
    probe = ("import bpf_dsl.grammar as g, bpf_dsl; print(g.grammar_path()); "
             "print(bpf_dsl.parse('entity a { x: text }').declarations[0].name)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(str(tmp_path / "site")) and lines[1] == "a"
