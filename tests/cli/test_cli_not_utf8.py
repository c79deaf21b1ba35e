"""A .bpf file that isn't UTF-8: `check` and `fmt` both answer BPF007 at the bad byte's line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import bpf


@pytest.mark.parametrize("command", ["check", "fmt"])
def test_a_file_that_is_not_utf8_is_bpf007_at_its_line_and_column(command: str, tmp_path: Path) -> None:
    path = tmp_path / "latin.bpf"
    original = 'role ok\nrole r "\xc3\xa9t\xe9"\n'.encode("latin-1")  # "ét" is UTF-8; the last é is Latin-1
    path.write_bytes(original)
    result = bpf(command, str(path), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"{path}:2:11: error BPF007" in out and "save the file as UTF-8" in out, out
    assert "Traceback" not in out and "codec" not in out
    assert path.read_bytes() == original  # fmt leaves it alone
