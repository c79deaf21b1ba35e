"""The scenario example of docs/language.md runs as the page says: the .bpf file and the .bpft file shown, and
the report of `bpf test --coverage` on them, character for character."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bpf_dsl.parser.scenarios import parse_scenarios
from tests.paths import REPO

SECTION = (REPO / "docs" / "language.md").read_text(encoding="utf-8").split("## Testing processes: scenarios", 1)[1]
SECTION = SECTION.split("\n## ", 1)[0]


def _block(language: str) -> str:
    found = re.findall(rf"^```{language}\n(.*?)^```", SECTION, re.MULTILINE | re.DOTALL)
    assert len(found) == 1, language
    return str(found[0])


def test_the_example_scenarios_pass_with_the_coverage_shown(tmp_path: Path) -> None:
    (tmp_path / "tickets.bpf").write_text(_block("bpf"), encoding="utf-8")
    (tmp_path / "tickets.bpft").write_text(_block("bpft"), encoding="utf-8")
    parse_scenarios(_block("bpft"), "tickets.bpft")
    shown = re.search(r"^```\n\$ bpf test --coverage\n(.*?)^```", SECTION, re.MULTILINE | re.DOTALL)
    assert shown is not None
    done = subprocess.run([sys.executable, "-m", "bpf_dsl.cli", "test", "--coverage"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == shown.group(1)
