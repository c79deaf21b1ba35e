"""Record owners (migration 6), on every backend: written, read back, assigned, listed by owner, and given to
the records stored before the migration (the user of their first stage visit, else the system)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpf_dsl.storage import InstanceRow, RecordRow, Storage, open_storage, run_migrations
from bpf_dsl.storage.migrate import _apply, _sql
from bpf_dsl.storage.schema import MIGRATIONS
from bpf_dsl.storage.sql import dumps, ts
from tests.backends import BACKENDS, database_url

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def record(owner: str = "", entity: str = "lead", **values: object) -> RecordRow:
    return RecordRow(str(uuid.uuid4()), entity, dict(values), 1, NOW, NOW, None, owner, owner)


def test_owner_and_created_by_round_trip_through_every_write(storage: Storage) -> None:
    one, many = record("ann", topic="one"), [record("bob", topic="a"), record("cy", topic="b")]
    with storage.write() as tx:
        tx.insert_record(one)
        tx.insert_records(many)
    with storage.read() as tx:
        assert tx.get_record(one.id) == one
        assert tx.get_records([r.id for r in many]) == {r.id: r for r in many}
    with storage.write() as tx:
        assert tx.assign_record(one.id, "dee", 1, NOW) is True
        assert tx.assign_record(one.id, "eve", 1, NOW) is False  # compare-and-set: a stale version changes nothing
        got = tx.get_record(one.id)
        assert got is not None and (got.owner, got.created_by, got.version) == ("dee", "ann", 2)
        assert tx.update_record(one.id, {"topic": "x"}, 2, NOW)  # values change, the owner stays
    with storage.read() as tx:
        found = tx.get_instance_with_records("none")
        assert found is None
        got = tx.get_record(one.id)
        assert got is not None and got.owner == "dee"
        assert tx.row_versions([one.id], [], []).records[one.id] == (3, None)


def test_lists_by_owner_and_searches_without_the_fields_left_out(storage: Storage) -> None:
    rows = [record("ann", topic="fleet", secret="fleet deal"), record("bob", topic="other", secret="fleet"),
            record("ann", topic="third")]
    with storage.write() as tx:
        tx.insert_records(rows)
    with storage.read() as tx:
        mine = tx.list_records("lead", {}, None, None, 10, None, owner="ann")
        assert mine.total == 2 and {r.id for r in mine.items} == {rows[0].id, rows[2].id}
        assert tx.list_records("lead", {}, None, None, 10, None, "fleet").total == 2
        assert tx.list_records("lead", {}, None, None, 10, None, "fleet", unsearched=["secret"]).total == 1
        assert tx.list_records("lead", {}, None, None, 10, None, "fleet", owner="bob", unsearched=["secret"]).total == 0
        assert tx.list_records("lead", {}, None, None, 10, None, "fleet", owner="bob").total == 1
        with pytest.raises(ValueError):
            tx.list_records("lead", {}, None, None, 10, None, "x", unsearched=["bad name'"])
        assert tx.user_exists("ann") is False
    with storage.write() as tx:
        tx.upsert_user("ann", ["hr"], NOW)
    with storage.read() as tx:
        assert tx.user_exists("ann") is True


@pytest.fixture(params=BACKENDS)
def before_owners(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A database migrated up to 5 (no owners yet), opened without migrating."""
    with database_url(request.param, tmp_path) as url:
        s = open_storage(url, migrate=False)
        try:
            with s.write() as tx:
                raw = _sql(tx)
                raw.q("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                for version, name, sql in MIGRATIONS:
                    if version < 6:
                        _apply(raw, version, name, sql)
            yield s
        finally:
            s.close()


def test_migration_6_gives_stored_records_the_user_of_their_first_visit(before_owners: Storage) -> None:
    s = before_owners
    lead, opp, lonely = (str(uuid.uuid4()) for _ in range(3))
    inst = str(uuid.uuid4())
    with s.write() as tx:
        raw = _sql(tx)
        j = s.backend.json.param
        for rid, entity in ((lead, "lead"), (opp, "opportunity"), (lonely, "lead")):
            raw.q("INSERT INTO records (id, entity, data, version, created_at, updated_at) "
                  f"VALUES (?, ?, {j}, 1, ?, ?)", (rid, entity, dumps({}), ts(NOW), ts(NOW)))
        raw.q(f"INSERT INTO instances (id, record_id, process, definition_version, status, active_stage, traversed, "
              f"bound, actions_done, stage_started_at, created_at, updated_at, version) VALUES "
              f"(?, ?, 'p', 'v', 'active', 'b', {j}, {j}, {j}, ?, ?, ?, 1)",
              (inst, lead, dumps(["a", "b"]), dumps({"lead": lead, "opportunity": opp}), dumps([]), ts(NOW), ts(NOW),
               ts(NOW)))
        visit = ("INSERT INTO stage_visits (instance_id, process, stage, entity, record_id, entered_at, by_user) "
                 "VALUES (?, 'p', ?, ?, ?, ?, ?)")
        raw.q(visit, (inst, "a", "lead", lead, ts(NOW), "ann"))          # the lead's first visit: ann started it
        raw.q(visit, (inst, "b", "opportunity", opp, ts(NOW), "bob"))    # bob moved on, onto the opportunity
        raw.q(visit, (inst, "a", "lead", lead, ts(NOW), "cy"))
        raw.q("INSERT INTO instance_records (record_id, instance_id) VALUES (?, ?)", (opp, inst))
    assert 6 in run_migrations(s)
    with s.read() as tx:
        owners = {rid: (r.owner, r.created_by) for rid, r in tx.get_records([lead, opp, lonely]).items()}
    assert owners == {lead: ("ann", "ann"), opp: ("bob", "bob"), lonely: ("system", "system")}


def test_a_new_instance_row_needs_no_owner(storage: Storage) -> None:
    r = record("ann")
    i = InstanceRow(str(uuid.uuid4()), r.id, "p", "v1", "active", "a", ("a",), {"lead": r.id}, NOW, NOW, NOW, None, 1)
    with storage.write() as tx:
        tx.insert_record(r)
        tx.insert_instance(i)
    with storage.read() as tx:
        found = tx.get_instance_with_records(i.id)
        assert found is not None and found[1] == {r.id: r}
