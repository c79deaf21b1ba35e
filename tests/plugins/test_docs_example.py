"""docs/plugins.md's worked example works as written: the files are built from the page and run.

Every code block of the page whose first line is ``# tickets-pack/PATH`` is written
to PATH. The pack is then used in-process (registry, check, samples, the action,
the function, the veto) and through the real CLI with a dist-info on PYTHONPATH.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import bpf_dsl
from bpf_dsl.check import check_packs
from bpf_dsl.plugins import Registry
from bpf_dsl.service import Service
from bpf_dsl.service.samples import load_samples
from bpf_dsl.storage import open_storage

from .helpers import ADMIN, REPO, T0, Walk, ok, records, refused, subprocess_env, write_dist

DOC = REPO / "docs" / "plugins.md"
BLOCK = re.compile(r"^```\w*\n# (tickets-pack/\S+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def files() -> dict[str, str]:
    return {path: f"# {path}\n{body}" for path, body in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def tickets(tmp_path: Path) -> Iterator[tuple[Path, ModuleType]]:
    for path, text in files().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    sys.path.insert(0, str(tmp_path / "tickets-pack"))
    try:
        import bpf_tickets

        yield tmp_path / "tickets-pack", bpf_tickets
    finally:
        sys.path.remove(str(tmp_path / "tickets-pack"))
        sys.modules.pop("bpf_tickets", None)


def test_the_page_has_the_whole_pack() -> None:
    assert set(files()) == {"tickets-pack/pyproject.toml", "tickets-pack/bpf_tickets/__init__.py",
                            "tickets-pack/bpf_tickets/tickets.bpf", "tickets-pack/bpf_tickets/template/project.bpf"}
    project = tomllib.loads(files()["tickets-pack/pyproject.toml"])["project"]
    assert project["entry-points"]["bpf.plugins"] == {"tickets": "bpf_tickets"}


def test_the_example_pack_in_process(tickets: tuple[Path, ModuleType], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, module = tickets
    reg = Registry([("tickets", "0.1.0", module)], entry_points=False)
    assert reg.failures == [] and check_packs(reg) == []
    assert reg.templates["tickets"].files.keys() == {"project.bpf"}
    program = bpf_dsl.load_source("import tickets\n", "<t>", reg)
    svc = Service(program, open_storage(f"sqlite:///{tmp_path / 't.db'}"), reg, clock=lambda: T0)

    assert load_samples(svc, reg, strict=True) == 3
    by_subject = {r.values["subject"]: r for r in records(svc, "ticket")}
    assert by_subject["Cannot log in"].values["team"] == "engineering"  # the sample ran the action step
    assert by_subject["Cannot log in"].values["due_in_hours"] == 4  # the rule, through tickets.sla_hours
    assert svc.instances_of(ADMIN, by_subject["Copy of the March invoice"].id)[0].status == "finished"

    w = Walk(svc, ok(svc.create_record(ADMIN, "ticket", {"subject": "Printer on fire", "priority": "low"})))
    assert w.values()["due_in_hours"] == 72
    assert refused(w.run("send_to_engineering"), "CANCELLED").message == "tickets.assign: pick the customer first"
    w.fill({"customer": records(svc, "customer")[0].id})
    ok(w.run("send_to_engineering"))
    assert w.notifications() == [{"role": "engineering", "message": "New ticket for you: Printer on fire"}]
    ok(w.next())
    w.fill({"answer": "Extinguished"})
    monkeypatch.setenv("TICKETS_FREEZE", "1")
    assert refused(w.finish(), "CANCELLED").message == "support is frozen today: no ticket is closed"
    monkeypatch.delenv("TICKETS_FREEZE")
    ok(w.finish())


def test_the_example_pack_through_the_cli(tickets: tuple[Path, ModuleType], tmp_path: Path) -> None:
    folder, _ = tickets
    site = tmp_path / "site"
    write_dist(site, "bpf-tickets", "0.1.0", {"tickets": "bpf_tickets"})
    env = subprocess_env(site, folder)

    def bpf(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bpf_dsl.cli", *args], capture_output=True, text=True, env=env,
                              timeout=120)

    listing = bpf("plugins")
    assert ("tickets 0.1.0\n  templates: tickets\n  modules: tickets\n  actions: tickets.assign\n"
            "  functions: tickets.sla_hours\n  samples: 3 records\n") in listing.stdout
    assert bpf("init", str(tmp_path / "desk"), "--template", "tickets").returncode == 0
    checked = bpf("check", str(tmp_path / "desk"))
    assert checked.returncode == 0 and "0 errors, 0 warnings" in checked.stderr, checked.stdout + checked.stderr
    (tmp_path / "wrong.bpf").write_text(
        'import tickets\nprocess p on ticket {\n    stage s {\n        action "Go" call tickets.assign(team: 3)\n'
        '    }\n}\n')
    wrong = bpf("check", str(tmp_path / "wrong.bpf"))
    assert wrong.returncode == 1
    assert f"{tmp_path / 'wrong.bpf'}:4:47: error BPF062: the argument `team` of `tickets.assign` must be " \
           "text, not an integer" in wrong.stdout
