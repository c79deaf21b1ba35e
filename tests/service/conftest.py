"""Fixtures for the service tests: a real database per test (SQLite, PostgreSQL), a fixed clock, and callers.

Every test that takes ``open_svc`` (or a ``service`` fixture built on it) runs once
per backend of :data:`tests.backends.BACKENDS`, with the same test code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.definition import Program
from bpf_dsl.plugins import Registry
from bpf_dsl.service import Caller, Service
from bpf_dsl.storage import InstanceRow, RecordRow, Storage, open_storage
from tests.paths import EXAMPLES

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

ADMIN = Caller("root", frozenset({"admin"}))


class Clock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float = 0, **kwargs: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds, **kwargs)
        return self.now


_programs: dict[str, Program] = {}


def registry() -> Registry:
    """The built-ins only: no installed pack may change what these tests see."""
    return Registry(entry_points=False)


def program(text: str) -> Program:
    """A compiled program (cached per text: programs are immutable and compiling is the slow part)."""
    if text not in _programs:
        _programs[text] = bpf_dsl.load_source(text, registry=registry())
    return _programs[text]


def example_program() -> Program:
    """Both spec examples as one program (their names don't collide)."""
    if "<examples>" not in _programs:
        paths = [str(p) for p in sorted(EXAMPLES.glob("*.bpf"))]
        assert len(paths) == 2, f"expected the two spec examples in {EXAMPLES}"
        _programs["<examples>"] = bpf_dsl.load(paths, registry())
    return _programs["<examples>"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


OpenSvc = Callable[..., Service]


@pytest.fixture
def open_svc(db_url: str, clock: Clock) -> Iterator[OpenSvc]:
    """``open_svc(program, registry=None)``: a service over this test's database, on the fixed clock."""
    opened: list[Storage] = []

    def make(prog: Program, reg: Registry | None = None) -> Service:
        storage = open_storage(db_url)
        opened.append(storage)
        return Service(prog, storage, reg or registry(), clock=clock)

    yield make
    for storage in opened:
        storage.close()


# -- assertions -----------------------------------------------------------------------------------------

def ok(result: Any) -> Any:
    """The row of a successful command (fails the test with the failure otherwise)."""
    assert isinstance(result, RecordRow | InstanceRow), result
    return result


def snapshot(svc: Service) -> dict[str, Any]:
    """Everything a command could have written: records, instances, their visits and events."""
    with svc.storage.read() as tx:
        records = {}
        for entity in svc.program.entities:
            page = tx.list_records(entity, {}, None, None, 500, None)
            assert page.next_cursor is None
            records.update({r.id: (r.entity, r.version, r.values, r.updated_at, r.active_instance_id)
                            for r in page.items})
        instances = {i.id: i for i in tx.running_instances(None)}
        visits = {i: [(v.stage, v.entered_at, v.exited_at, v.by) for v in tx.visits(i)] for i in instances}
        events = {i: [(e.kind, e.stage, e.at, e.by, e.data) for e in tx.events(i)] for i in instances}
    return {"records": records, "instances": instances, "visits": visits, "events": events}


def count(svc: Service, entity: str) -> int:
    """How many records of ``entity`` are stored."""
    return svc.list_records(ADMIN, entity).total


def events_of(svc: Service, instance_id: str) -> list[tuple[str, str | None, str, dict[str, Any]]]:
    """The status log of an instance: (kind, stage, by, data)."""
    with svc.storage.read() as tx:
        return [(e.kind, e.stage, e.by, e.data) for e in tx.events(instance_id)]
