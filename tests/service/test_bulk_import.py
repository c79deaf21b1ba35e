"""Bulk import in batches writes what creating the rows one by one wrote, on every backend.

The reference is the import as it was before batches: each row through the service's
own create path (``_insert_record``, then ``_start_instance``), all the rows of a batch
in one transaction. The batch path (:class:`bpf_dsl.service.bulk.Importer`) gathers a
batch's rows and writes them with one ``executemany`` per table; both are run on
databases of their own with the same clock, and everything they wrote is compared,
ids aside (the rows are told apart by their ``code``): records, values, versions,
times, active instances, instances, visits, history events, stage counters, and the
events published after commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bpf_dsl.plugins import Registry, hookimpl
from bpf_dsl.service import Caller, ProcessEvent, Service
from bpf_dsl.service.bulk import Importer, RowError, import_batch, read_rows
from bpf_dsl.service.core import _Work
from bpf_dsl.service.data import TxData
from bpf_dsl.service.values import parse_input
from bpf_dsl.storage import Tx, open_storage
from tests.backends import database_url

from .conftest import Clock, program, registry

ANN = Caller("ann", frozenset({"sales"}))

MODEL = """
role sales

entity account "Account" {
    code: text required unique
    name: text
}

entity deal "Deal" {
    code: text required unique
    amount: money min 0
    seats: integer min 1 max 500
    hot: bool default false
    region: choice(north "North", south "South") default north
    tags: choices(a, b, c)
    account: lookup(account)
    parent: lookup(deal)
    note: text
}

process pipeline "Pipeline" on deal {
    order 1
    roles sales
    stage qualify "Qualify" {
        step code
        step amount required
    }
    stage develop "Develop" { step seats }
}

process other "Other" on deal {
    order 2
    roles sales
    stage only "Only" { step note }
}

rule big_deals on deal {
    if amount >= 1000 {
        require seats
        set hot = true
    }
}

rule few_seats on deal {
    if seats > 100 {
        error seats "more than 100 seats needs a manager"
    }
}

entity lead "Lead" {
    code: text required
    status: choice(fresh, working) default fresh
    note: text
}

process intake "Intake" on lead {
    roles sales
    on start {
        call bpf.notify(role: "sales", message: "a lead came in")
    }
    stage triage "Triage" {
        step note
        on enter {
            set status = working
        }
    }
}
"""


def _db(stack: ExitStack, backend: str, folder: Path) -> str:
    folder.mkdir()
    return stack.enter_context(database_url(backend, folder))


@pytest.fixture
def two(backend: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[Service, Service]]:
    """Two services over databases of their own (same backend, same clock): the batch path's, the reference's."""
    with ExitStack() as stack:
        services = []
        for name in ("batch", "reference"):
            storage = open_storage(_db(stack, backend, tmp_path / name))
            stack.callback(storage.close)
            services.append(Service(program(MODEL), storage, registry(), clock=clock))
        yield services[0], services[1]


def row_by_row(svc: Service, caller: Caller, entity: str, rows: list[tuple[int, Any]]) -> None:
    """The reference: each row created through the service's own create path, the batch in one transaction."""
    spec = svc.program.entities[entity]
    chosen = svc.visible_processes(caller, entity)[0]

    def command(tx: Tx, data: TxData, work: _Work) -> None:
        for _, given in rows:
            raw = dict(given)
            record_id = raw.pop("id", None)
            values, errors = parse_input(spec, raw)
            assert not errors
            row = svc._insert_record(data, entity, values, enforce_locks=False, record_id=record_id)
            svc._start_instance(tx, data, work, caller, chosen, row.id, make_active=True)

    assert svc._run(command) is None


def picture(svc: Service) -> dict[str, Any]:
    """Everything stored, every id replaced by the ``code`` of its record (or by its instance's record and process)."""
    with svc.storage.read() as tx:
        records = [r for entity in svc.program.entities
                   for r in tx.list_records(entity, {}, None, None, 1000, None, newest_first=False).items]
        code = {r.id: r.values["code"] for r in records}
        instances = tx.running_instances(None)
        name = {i.id: (code[i.record_id], i.process) for i in instances}

        def plain(value: Any) -> Any:
            return code.get(value, name.get(value, value)) if isinstance(value, str) else value

        out: dict[str, Any] = {
            "records": {code[r.id]: (r.entity, {k: plain(v) for k, v in r.values.items()}, r.version, r.created_at,
                                     r.updated_at, plain(r.active_instance_id)) for r in records},
            "instances": {name[i.id]: (i.definition_version, i.status, i.active_stage, i.traversed,
                                       {e: plain(rid) for e, rid in i.bound.items()}, i.stage_started_at,
                                       i.created_at, i.updated_at, i.completed_at, i.version, i.actions_done)
                          for i in instances},
            "visits": {name[i.id]: [(v.process, v.stage, v.entity, plain(v.record_id), v.entered_at, v.exited_at, v.by)
                                    for v in tx.visits(i.id)] for i in instances},
            "events": {name[i.id]: [(e.kind, e.stage, e.at, e.by, e.data) for e in tx.events(i.id)]
                       for i in instances},
            "counts": {p: tx.stage_counts(p) for p in svc.program.processes},
        }
    return out


def heard(svc: Service) -> list[tuple[str, str, str | None]]:
    """The events the service publishes from now on: (kind, process, stage)."""
    got: list[tuple[str, str, str | None]] = []

    def listen(event: ProcessEvent) -> None:
        got.append((event.kind, event.process, event.stage))

    svc.subscribe(listen)
    return got


def accounts(svc: Service) -> dict[str, str]:
    """Two accounts, created through the API: code -> id."""
    out = {}
    for code in ("ACME", "INITECH"):
        row = svc.create_record(ANN, "account", {"code": code})
        out[code] = row.id  # type: ignore[union-attr]
    return out


def deals(account_ids: dict[str, str], start: int, count: int) -> list[tuple[int, Any]]:
    """Deal rows of every kind: defaults, a rule that sets and requires, choices, lookups, given ids."""
    rows: list[tuple[int, Any]] = []
    for i in range(start, start + count):
        row: dict[str, Any] = {"code": f"D{i}", "amount": i * 97 % 2000, "tags": ["c", "a"] if i % 3 else []}
        if row["amount"] >= 1000:
            row["seats"] = 1 + i % 50
        if i % 4 == 0:
            row["account"] = account_ids["ACME" if i % 8 else "INITECH"]
        if i % 5 == 1:
            row["region"] = "south"
        if i % 7 == 0:
            row["id"] = f"given-{i}"
        if i % 7 == 1 and i > 1:
            row["parent"] = f"given-{i - 1}"  # the row just before, in the same batch: not stored yet
        rows.append((i + 1, row))
    return rows


def test_batches_write_what_the_rows_one_by_one_wrote(two: tuple[Service, Service]) -> None:
    batch, reference = two
    published = {svc: heard(svc) for svc in two}
    ids = {svc: accounts(svc) for svc in two}
    importer = Importer(batch, ANN, "deal", start_process=True)
    for start in range(0, 60, 20):
        assert importer.batch(deals(ids[batch], start, 20)) == []
        row_by_row(reference, ANN, "deal", deals(ids[reference], start, 20))
    got, want = picture(batch), picture(reference)
    assert got == want
    assert len(got["records"]) == 62 and got["counts"]["pipeline"] == {"qualify": 60}
    assert got["records"]["D11"][1]["hot"] is True  # the rule set it (amount 1067)
    assert published[batch] == published[reference] and len(published[batch]) == 60


def test_a_start_that_runs_hooks_writes_what_the_service_writes(two: tuple[Service, Service]) -> None:
    batch, reference = two
    published = {svc: heard(svc) for svc in two}
    leads = [(n + 2, {"code": f"L{n}", "note": "x" if n % 2 else None}) for n in range(6)]
    assert Importer(batch, ANN, "lead", start_process=True).batch(leads) == []
    row_by_row(reference, ANN, "lead", leads)
    got = picture(batch)
    assert got == picture(reference)
    assert {values["status"] for _, values, *_ in got["records"].values()} == {"working"}  # the `on enter` set it
    assert [kind for kind, *_ in got["events"][("L0", "intake")]] == ["notification", "started"]
    assert published[batch] == published[reference]


def test_without_a_process_only_records_are_written(open_svc: Any) -> None:
    svc = open_svc(program(MODEL))
    assert import_batch(svc, ANN, "deal", [(2, {"code": "A", "amount": 5}), (3, {"code": "B"})], False) == []
    got = picture(svc)
    assert sorted(got["records"]) == ["A", "B"] and got["instances"] == {} and got["counts"]["pipeline"] == {}


def test_a_bad_row_leaves_its_batch_unwritten_and_the_others_written(open_svc: Any) -> None:
    svc = open_svc(program(MODEL))
    importer = Importer(svc, ANN, "deal", start_process=True)
    good = [(n + 2, {"code": f"G{n}", "amount": n}) for n in range(4)]
    bad = [(6, {"code": "B0", "amount": 1}), (7, {"code": "B1", "amount": -5}), (8, {"code": "B2", "seats": 101}),
           (9, {"code": "B3", "region": "west"}), (10, {"code": "B4", "amount": 3})]
    later = [(11, {"code": "L0", "amount": 1})]
    assert importer.batch(good) == []
    problems = importer.batch(bad)
    assert [p.line for p in problems] == [7, 8, 9]
    assert "amount" in problems[0].describe() and "at least 0" in problems[0].describe()
    assert "more than 100 seats" in problems[1].describe()
    assert "Region must be one of: north, south" in problems[2].describe()
    assert importer.batch(later) == []
    got = picture(svc)
    assert sorted(got["records"]) == ["G0", "G1", "G2", "G3", "L0"]
    assert len(got["instances"]) == 5 and sum(len(v) for v in got["visits"].values()) == 5
    assert got["counts"]["pipeline"] == {"qualify": 5}


def test_a_duplicate_id_is_reported_with_its_line(open_svc: Any) -> None:
    svc = open_svc(program(MODEL))
    importer = Importer(svc, ANN, "deal", start_process=True)
    assert importer.batch([(2, {"id": "one", "code": "A", "amount": 1})]) == []
    problems = importer.batch([(3, {"id": "two", "code": "B", "amount": 1}),
                               (4, {"id": "one", "code": "C", "amount": 1}),
                               (5, {"id": "two", "code": "D", "amount": 1})])
    assert [p.describe() for p in problems] == ["line 4: id: a record with the id one exists",
                                                "line 5: id: the id two is on line 3 too"]
    assert sorted(picture(svc)["records"]) == ["A"]


def test_a_unique_value_twice_in_one_batch_is_refused_on_its_second_line(open_svc: Any) -> None:
    svc = open_svc(program(MODEL))
    importer = Importer(svc, ANN, "deal", start_process=True)
    assert importer.batch([(2, {"code": "A", "amount": 1})]) == []
    problems = importer.batch([(3, {"code": "B", "amount": 1}), (4, {"code": "A", "amount": 1}),
                               (5, {"code": "B", "amount": 1})])
    assert [p.describe() for p in problems] == [f"line {n}: code: Code must be unique; another deal has this value"
                                                for n in (4, 5)]
    assert sorted(picture(svc)["records"]) == ["A"]


def test_rows_read_from_csv_keep_their_line_numbers(open_svc: Any) -> None:
    svc = open_svc(program(MODEL))
    text = ["code,amount,hot,tags\n", "A,10,yes,a;b\n", "B,x,no,\n", "C,5,maybe,c\n"]
    rows = list(read_rows(text, "csv", svc.program.entities["deal"]))
    problems = Importer(svc, ANN, "deal", start_process=True).batch(rows)
    assert [p.line for p in problems] == [3, 4]
    assert picture(svc)["records"] == {}


class NoStarts:
    """A pack that refuses to start any process on the record ``veto-me``."""

    @hookimpl
    def bpf_before_change(self, change: Any) -> str | None:
        return "not this one" if change.kind == "started" and change.record_id == "veto-me" else None


def test_a_vetoed_start_is_a_bad_row(db_url: str, clock: Clock) -> None:
    storage = open_storage(db_url)
    try:
        svc = Service(program(MODEL), storage, Registry([("nostarts", "1", NoStarts())], entry_points=False),
                      clock=clock)
        rows: list[tuple[int, Any]] = [(2, {"code": "A", "amount": 1}),
                                       (3, {"id": "veto-me", "code": "B", "amount": 1})]
        problems = Importer(svc, ANN, "deal", start_process=True).batch(rows)
        assert [p.describe() for p in problems] == ["line 3: the record was not created: not this one"]
        assert picture(svc)["records"] == {}
        assert Importer(svc, ANN, "deal", start_process=True).batch(rows[:1]) == []
        assert sorted(picture(svc)["records"]) == ["A"]
    finally:
        storage.close()


def test_row_errors_from_reading_stay_in_their_batch(open_svc: Any) -> None:
    svc = open_svc(program(MODEL))
    bad = RowError(3, ())
    assert Importer(svc, ANN, "deal", start_process=True).batch([(2, {"code": "A", "amount": 1}), (3, bad)]) == [bad]
    assert picture(svc)["records"] == {}
