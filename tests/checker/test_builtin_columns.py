"""The built-in columns (`id`, `created_at`, `updated_at`, `version`): readable everywhere, set by no one.

LANGUAGE.md: "Every record also has `id`, `created_at`, `updated_at` and `version`".
The checker types them (text, datetime, datetime, integer); the engine reads them from
the stored row, so a record not stored yet (a create, as its rules see it) has them empty.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl import check_text
from bpf_dsl.engine import MemoryData, start
from bpf_dsl.plugins import Registry
from bpf_dsl.service import Caller, Service
from bpf_dsl.storage import InstanceRow, RecordRow, open_storage

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ADMIN = Caller("root", frozenset({"admin"}))

MODEL = """
entity ticket {
    title: text
    stale: bool
    seen_version: integer
    own_id: text
    opened: datetime
}
"""

PROGRAM = MODEL + """
rule staleness on ticket {
    if days_between(created_at, now()) > 7 {
        set stale = true
    } else {
        set stale = false
    }
    set seen_version = version
    set own_id = id
    set opened = created_at
}

process triage on ticket {
    roles admin
    stage intake { step title }
    if days_between(created_at, today()) > 7 and updated_at >= created_at {
        stage escalate { step stale }
    }
    stage close { step title }
}
"""


def codes(text: str) -> list[tuple[str, int, int]]:
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    return [(d.code, d.span.line, d.span.column) for d in report.diagnostics]


def test_built_in_columns_read_in_rules_conditions_and_hooks() -> None:
    assert codes(PROGRAM) == []
    hooks = MODEL + """
entity note { about: lookup(ticket)  text: text  ticket_version: integer }
process p on ticket {
    stage a {
        step title
        on exit { set title = "ticket " + id }
    }
    stage b on note via about {
        create { text = id  ticket_version = version }
        step text
        on enter { call bpf.notify(role: "admin", message: ticket.id + " " + about.id) }
    }
}
rule lookups on note { if about.created_at < created_at and about.version > 0 { set text = about.id } }
"""
    assert codes(hooks) == []


def test_built_in_columns_have_their_types() -> None:
    assert codes(MODEL + "rule r on ticket { set seen_version = created_at }")[0][0] == "BPF037"
    assert codes(MODEL + "rule r on ticket { set stale = version }")[0][0] == "BPF037"
    assert codes(MODEL + 'rule r on ticket { if version = "1" { hide title } }')[0][0] == "BPF034"
    assert codes(MODEL + "rule r on ticket { if id contains \"x\" { hide title } }") == []


@pytest.mark.parametrize("action", ["set created_at = now()", "default version = 1", "hide updated_at",
                                    "lock id", "require version"])
def test_built_in_columns_cannot_be_set_or_changed(action: str) -> None:
    text = MODEL + f"rule r on ticket {{\n    {action}\n}}\n"
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    assert [(d.code, d.span.line) for d in report.diagnostics] == [("BPF026", 10)]
    d = report.diagnostics[0]
    assert "built-in column" in d.message and "only the server" in d.message
    assert d.hint and "read" in d.hint


def test_built_in_columns_cannot_be_set_by_hooks_or_create() -> None:
    text = MODEL + """
entity note { about: lookup(ticket)  text: text }
process p on ticket {
    stage a { step title  on exit { set updated_at = now() } }
    stage b on note via about { create { id = "n1"  text = "x" } step text }
    on finish { set ticket.version = 2 }
}
"""
    assert [c for c, _, _ in codes(text)] == ["BPF026", "BPF026", "BPF026"]


def test_a_condition_on_a_built_in_column_needs_no_step() -> None:
    # BPF094 is about fields users fill; the server fills the built-in columns.
    assert "BPF094" not in {c for c, _, _ in codes(PROGRAM)}


def test_engine_reads_built_in_columns_from_the_stored_row() -> None:
    program = bpf_dsl.load_source(PROGRAM, registry=Registry(entry_points=False))
    data = MemoryData(program.entities, program.rules, now=T0)
    # A record being created has no stored row yet: its rules read the four columns as empty.
    created = data.save("ticket", "T1", {"title": "printer"})
    assert created.values["stale"] is False
    assert created.values["seen_version"] is None and created.values["own_id"] is None
    assert created.values["opened"] is None
    # Nine days later, an update: the rules read the stored row's columns.
    data.now = T0 + dt.timedelta(days=9)
    updated = data.save("ticket", "T1", {"title": "printer on fire"})
    assert updated.values["stale"] is True
    assert updated.values["seen_version"] == 1 and updated.values["own_id"] == "T1"
    assert updated.values["opened"] == T0
    # A branch condition reads created_at of the instance's record.
    defn = program.processes["triage"]
    moved = start(defn, "I1", "T1", T0 + dt.timedelta(days=9), data, "ann", new_id=lambda: "X")
    from bpf_dsl.engine import active_path

    path = [s.name for s in active_path(defn, moved.state, data, T0 + dt.timedelta(days=9))]
    assert path == ["intake", "escalate", "close"]


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def _ok(result: Any) -> Any:
    assert isinstance(result, RecordRow | InstanceRow), result
    return result


def test_service_runs_a_rule_and_a_branch_reading_created_at(tmp_path: Path) -> None:
    program = bpf_dsl.load_source(PROGRAM, registry=Registry(entry_points=False))
    clock = _Clock()
    storage = open_storage(f"sqlite:///{tmp_path / 'bpf.db'}")
    try:
        svc = Service(program, storage, Registry(entry_points=False), clock=clock)
        row = _ok(svc.create_record(ADMIN, "ticket", {"title": "printer"}))
        assert row.values.get("stale") is False
        assert row.values.get("seen_version") is None and row.values.get("own_id") is None
        instance = svc.active_instance(ADMIN, row)
        assert instance is not None

        clock.now = T0 + dt.timedelta(days=9)
        row = _ok(svc.update_record(ADMIN, row.id, {"title": "printer on fire"}))
        assert row.values["stale"] is True
        assert row.values["seen_version"] == 1 and row.values["own_id"] == row.id
        assert row.values["opened"].startswith("2026-03-02T09:00:00")

        moved = _ok(svc.move_next(ADMIN, instance.id))
        assert moved.active_stage == "escalate"  # days_between(created_at, today()) > 7
    finally:
        storage.close()
