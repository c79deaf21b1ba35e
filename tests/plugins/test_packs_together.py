"""Sales, service and marketing imported together into one project: ``bpf check`` finds it clean and
``bpf serve --demo`` serves it with every pack's sample records (SQLite; PostgreSQL too when
BPF_TEST_POSTGRES_URL is set), as a user would run them, in subprocesses."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.server.helpers import serve_process

from .helpers import PACKS, PLUGINS, program, subprocess_env, write_dist

BPF = [sys.executable, "-m", "bpf_dsl.cli"]
PROJECT = "import sales\nimport service\nimport marketing\n"
QUERY = """{
  me { user }
  processes { name }
  %s
}"""


@pytest.fixture
def packs_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``bpf`` subprocess that has the four packs installed.

    When this venv lacks them (CI may install bpf alone), a ``*.dist-info`` per pack on PYTHONPATH is what
    pip would leave.
    """
    installed = {ep.name for ep in importlib.metadata.entry_points(group="bpf.plugins")}
    if installed.issuperset(PACKS):
        return dict(os.environ)
    site = tmp_path / "site"
    for pack in PACKS:
        write_dist(site, f"bpf-{pack}", "0.1.0", {pack: f"bpf_{pack}:PACK"})
    env = subprocess_env(site, *(PLUGINS / p for p in PACKS))
    return env


def bpf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BPF, *args], capture_output=True, text=True, env=env, timeout=180)


def test_the_three_packs_check_clean_and_serve_with_demo(packs_env: dict[str, str], tmp_path: Path,
                                                         db_url: str) -> None:
    project = tmp_path / "together"
    project.mkdir()
    (project / "project.bpf").write_text(PROJECT)

    checked = bpf(packs_env, "check", str(project))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 errors, 0 warnings" in checked.stdout + checked.stderr

    made = bpf(packs_env, "token", "create", "--user", "tester", "--role", "admin", "--db", db_url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1].strip()

    # What the demo should hold: every pack's processes, and at least each pack's samples per entity (the
    # actions the samples run make more: accounts when leads are qualified, leads when prospects are handed off).
    reg, prog = program("sales", "service", "marketing")
    samples = Counter(s.entity for specs in reg.samples.values() for s in specs)
    assert set(reg.samples) == set(PACKS)
    totals = "\n  ".join(f'{e}: records(entity: "{e}", first: 1) {{ total }}' for e in sorted(samples))

    # The demo loads every pack's samples before it listens: on a busy PostgreSQL that takes a while.
    with serve_process(db_url, str(project), extra=("--demo",), env=packs_env, timeout=300) as url:
        answer = httpx.post(f"{url}/graphql", json={"query": QUERY % totals},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert not body.get("errors"), body["errors"]
    data = body["data"]
    assert data["me"]["user"] == "tester"
    assert sorted(p["name"] for p in data["processes"]) == sorted(prog.processes)
    short = {e: (data[e]["total"], n) for e, n in samples.items() if data[e]["total"] < n}
    assert not short, f"entities with fewer records than samples (served, samples): {short}"
    assert {"case", "opportunity", "campaign", "event", "prospect", "work_order", "knowledge_article"} <= set(samples)
