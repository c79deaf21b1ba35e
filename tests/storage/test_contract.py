"""The storage contract, run against every backend: the same test code on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from bpf_dsl.storage import InstanceRow, RecordRow, Storage

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)




def record(entity: str = "lead", **values: object) -> RecordRow:
    return RecordRow(str(uuid.uuid4()), entity, dict(values), 1, NOW, NOW)


def instance(record_id: str, process: str = "p", stage: str = "a") -> InstanceRow:
    return InstanceRow(str(uuid.uuid4()), record_id, process, "v1", "active", stage, (stage,), {"lead": record_id},
                       NOW, NOW, NOW, None, 1)


def test_migrations_are_idempotent(storage: Storage) -> None:
    assert storage.migrate() == []
    assert storage.ping()


def test_records_round_trip_and_compare_and_set(storage: Storage) -> None:
    r = record(topic="Deal", budget=12.5, ok=True, tags=["a", "b"], when="2026-01-31")
    with storage.write() as tx:
        tx.insert_record(r)
    with storage.write() as tx:
        got = tx.get_record(r.id)
        assert got is not None and got.values == r.values and got.version == 1
        assert tx.update_record(r.id, {"topic": "New"}, 1, NOW) is True
        assert tx.update_record(r.id, {"topic": "Stale"}, 1, NOW) is False  # stale version changes nothing
    with storage.read() as tx:
        got = tx.get_record(r.id)
        assert got is not None and got.values == {"topic": "New"} and got.version == 2


def test_a_failed_transaction_leaves_nothing(storage: Storage) -> None:
    r = record(topic="x")
    with pytest.raises(RuntimeError), storage.write() as tx:
        tx.insert_record(r)
        raise RuntimeError("boom")
    with storage.read() as tx:
        assert tx.get_record(r.id) is None


def test_where_filters_and_paging(storage: Storage) -> None:
    rows = [record(topic=f"t{i}", n=i, hot=i % 2 == 0, owner="ann" if i < 5 else None) for i in range(12)]
    with storage.write() as tx:
        for r in rows:
            tx.insert_record(r)
        tx.insert_record(record("account", name="acme"))
    with storage.read() as tx:
        assert tx.list_records("lead", {}, None, None, 50, None).total == 12
        assert tx.list_records("lead", {"hot": True}, None, None, 50, None).total == 6
        assert tx.list_records("lead", {"n": 3}, None, None, 50, None).items[0].values["topic"] == "t3"
        assert tx.list_records("lead", {"owner": "ann", "hot": False}, None, None, 50, None).total == 2
        seen: list[str] = []
        cursor = None
        while True:
            page = tx.list_records("lead", {}, None, None, 5, cursor)
            seen += [r.id for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(r.id for r in rows) and len(seen) == 12


def test_instances_history_and_counts(storage: Storage) -> None:
    r = record(topic="x")
    inst = instance(r.id)
    with storage.write() as tx:
        tx.insert_record(r)
        tx.insert_instance(inst)
        tx.set_active_instance(r.id, inst.id)
        tx.open_visit(inst.id, "p", "a", "lead", r.id, NOW, "ann")
    moved = InstanceRow(inst.id, r.id, "p", "v1", "active", "b", ("a", "b"), {"lead": r.id}, NOW, NOW,
                        NOW + dt.timedelta(seconds=5), None, 2)
    with storage.write() as tx:
        assert tx.update_instance(moved, 1)
        tx.close_visit(inst.id, NOW + dt.timedelta(seconds=90))
        tx.open_visit(inst.id, "p", "b", "lead", r.id, NOW + dt.timedelta(seconds=90), "bob")
        assert not tx.update_instance(moved, 1)  # the second writer with the same expected version loses
    with storage.read() as tx:
        got = tx.get_instance(inst.id)
        assert got is not None and got.traversed == ("a", "b") and got.version == 2
        visits = tx.visits(inst.id)
        assert [(v.stage, v.by) for v in visits] == [("a", "ann"), ("b", "bob")]
        assert visits[0].exited_at == NOW + dt.timedelta(seconds=90) and visits[1].exited_at is None
        assert tx.stage_counts("p") == {"b": 1}
        assert tx.stage_durations("p") == {"a": [90.0]}
        assert tx.transitions("p") == {("a", "b"): 1}
        assert tx.list_records("lead", {}, None, "b", 10, None).total == 1
        assert tx.list_records("lead", {}, "p", "a", 10, None).total == 0
        assert tx.get_record(r.id).active_instance_id == inst.id  # type: ignore[union-attr]


def test_one_instance_per_process_per_record(storage: Storage) -> None:
    r = record(topic="x")
    with storage.write() as tx:
        tx.insert_record(r)
        tx.insert_instance(instance(r.id))
    with pytest.raises(Exception), storage.write() as tx:  # noqa: B017 - each driver raises its own IntegrityError
        tx.insert_instance(instance(r.id))


def test_delete_removes_instances_and_history(storage: Storage) -> None:
    r = record(topic="x")
    inst = instance(r.id)
    with storage.write() as tx:
        tx.insert_record(r)
        tx.insert_instance(inst)
        tx.open_visit(inst.id, "p", "a", "lead", r.id, NOW, "ann")
        tx.append_event(inst.id, "started", "a", NOW, "ann", {})
    with storage.write() as tx:
        assert not tx.delete_record(r.id, 7)
        assert tx.delete_record(r.id, 1)
    with storage.read() as tx:
        assert tx.get_record(r.id) is None and tx.get_instance(inst.id) is None
        assert tx.visits(inst.id) == [] and tx.events(inst.id) == []


def test_related_and_unique(storage: Storage) -> None:
    lead = record(topic="x")
    opps = [record("opportunity", name=f"o{i}", originating_lead=lead.id) for i in range(3)]
    with storage.write() as tx:
        tx.insert_record(lead)
        for o in opps:
            tx.insert_record(o)
    with storage.read() as tx:
        assert sorted(tx.related("opportunity", "originating_lead", lead.id)) == sorted(o.id for o in opps)
        assert tx.find_unique("opportunity", "name", "o1", None) == opps[1].id
        assert tx.find_unique("opportunity", "name", "o1", opps[1].id) is None


def test_kept_stage_counts_match_the_instances(storage: Storage) -> None:
    import random

    rnd = random.Random(7)
    records = [record(topic=f"t{i}") for i in range(40)]
    rows: dict[str, InstanceRow] = {}
    with storage.write() as tx:
        for r in records:
            tx.insert_record(r)
            inst = instance(r.id, process=rnd.choice(["p", "q"]), stage="a")
            tx.insert_instance(inst)
            rows[inst.id] = inst
    for _ in range(200):
        inst = rows[rnd.choice(list(rows))]
        stage = rnd.choice(["a", "b", "c"])
        status = rnd.choice(["active", "active", "finished"])
        moved = InstanceRow(inst.id, inst.record_id, inst.process, "v1", status, stage, (stage,), inst.bound,
                            NOW, NOW, NOW, None, inst.version + 1)
        with storage.write() as tx:
            assert tx.update_instance(moved, inst.version)
            assert not tx.update_instance(moved, inst.version)  # a lost race changes no counter
        rows[inst.id] = moved
    with storage.write() as tx:
        for r in records[:10]:
            assert tx.delete_record(r.id, 1)
    kept = {r.id for r in records[10:]}
    for process in ("p", "q"):
        expected: dict[str, int] = {}
        for row in rows.values():
            if row.process == process and row.status == "active" and row.record_id in kept:
                expected[row.active_stage] = expected.get(row.active_stage, 0) + 1
        with storage.read() as tx:
            assert tx.stage_counts(process) == expected
