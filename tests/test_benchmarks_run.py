"""The benchmarks still run against the code as it is now, in a few seconds each.

They measure nothing here (timings are never asserted in tests): they run tiny, as
whole processes, and their JSON must hold the figures they print. A benchmark whose
model or SQL fell behind the code (a field named like a new built-in column, a column
added to a table) once failed only when someone ran it; now the suite says so.
``server.py`` needs wrk, ``engine.py`` its peers and ``jobs.py`` and ``access.py`` a
server under load (the ``bench`` extra and Debian's wrk, which the test command doesn't
install): those are run as bench/README.md says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO


def _run(tmp_path: Path, script: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args, "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize(("script", "args", "keys"), [
    ("storage.py", ["--rows", "2000", "--seconds", "0.2", "--repeat", "1", "--slices", "2", "--pool", "5000",
                    "--ops", "20", "--count-repeat", "1"], ["durable", "rows"]),
    ("import.py", ["--rows", "300", "--rounds", "1"], ["ours", "bare", "ratio"]),
    ("compile.py", ["--lines", "200", "--repeat", "1", "--no-earley"], ["seconds", "lines"]),
])
def test_a_benchmark_runs_small(tmp_path: Path, script: str, args: list[str], keys: list[str]) -> None:
    if script == "storage.py":
        args = [*args, "--cache-dir", str(tmp_path / "cache")]
    # storage.py's pool (5,000 instances, 3 moves each) outlasts 0.2 s of moves at any speed this machine has.
    found = _run(tmp_path, script, *args)
    assert set(keys) <= set(found), sorted(found)
