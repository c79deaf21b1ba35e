"""The batch writes of a transaction store what the single-row writes store, on every backend.

``insert_records``, ``insert_instances`` (with the stage counters), ``open_visits`` and
``append_events`` are run on one database, the single-row methods on another, with the
same rows; both are read back and compared, the raw stored text included (what an
export or a migration would see). ``existing_record_ids`` says which ids are taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpf_dsl.errors import ConflictError
from bpf_dsl.storage import InstanceRow, RecordRow, Storage, open_storage
from tests.backends import BACKENDS, database_url

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


@pytest.fixture(params=BACKENDS)
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    """Two empty databases of one backend."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with database_url(request.param, tmp_path / "a") as a, database_url(request.param, tmp_path / "b") as b:
        first, second = open_storage(a), open_storage(b)
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def rows() -> tuple[list[RecordRow], list[InstanceRow], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    records = [RecordRow(f"r{i:02}", "lead", {"topic": f"t{i}", "n": i, "tags": ["a", "b"], "note": "é\u2028"}, 1,
                         NOW, LATER if i % 2 else NOW, f"i{i:02}") for i in range(12)]
    instances = [InstanceRow(f"i{i:02}", f"r{i:02}", "p" if i % 3 else "q", "v1", "active", "a" if i % 4 else "b",
                             ("a",) if i % 4 else ("a", "b"), {"lead": f"r{i:02}"} if i % 5 else {"lead": f"r{i:02}",
                                                                                                  "deal": "d1"},
                             NOW, NOW, LATER, None, 1 + i % 2, ("x",) if i == 7 else ()) for i in range(12)]
    visits = [(f"i{i:02}", "p", "a", "lead", f"r{i:02}", NOW if i % 2 else LATER, "ann") for i in range(12)]
    events = [(f"i{i:02}", "started", "a" if i % 2 else None, NOW, "ann", {"why": i} if i % 3 == 0 else {})
              for i in range(12)]
    return records, instances, visits, events


def stored(storage: Storage) -> dict[str, Any]:
    """Every row of the tables the batch methods write, as stored (ids of serial columns left out)."""
    with storage.read() as tx:
        q = tx.q  # type: ignore[attr-defined]
        return {
            "records": [tuple(r) for r in q("SELECT * FROM records ORDER BY id").fetchall()],
            "instances": [tuple(r) for r in q("SELECT * FROM instances ORDER BY id").fetchall()],
            "visits": [tuple(r) for r in q("SELECT instance_id, process, stage, entity, record_id, entered_at, "
                                           "exited_at, by_user FROM stage_visits ORDER BY id").fetchall()],
            "events": [tuple(r) for r in q("SELECT instance_id, kind, stage, at, by_user, data FROM instance_events "
                                           "ORDER BY id").fetchall()],
            "counts": [tuple(r) for r in q("SELECT * FROM stage_counts ORDER BY process, status, active_stage, "
                                           "shard").fetchall()],
            "p": tx.stage_counts("p"),
        }


def test_batch_writes_store_what_single_writes_store(two: tuple[Storage, Storage]) -> None:
    batched, single = two
    records, instances, visits, events = rows()
    with batched.write() as tx:
        tx.insert_records(records[:5])  # two batches: the counters add up across them
        tx.insert_instances(instances[:5])
        tx.insert_records(records[5:])
        tx.insert_instances(instances[5:])
        tx.open_visits(visits)
        tx.append_events(events)
        tx.insert_records([])
        tx.insert_instances([])
    with single.write() as tx:
        for r in records:
            tx.insert_record(r)
        for i in instances:
            tx.insert_instance(i)
        for v in visits:
            tx.open_visit(*v)
        for e in events:
            tx.append_event(*e)
    got = stored(batched)
    assert got == stored(single)
    assert len(got["records"]) == 12 and sum(got["p"].values()) == 8


def test_existing_record_ids_and_a_taken_id_in_a_batch(two: tuple[Storage, Storage]) -> None:
    storage, _ = two
    records, *_ = rows()
    with storage.write() as tx:
        tx.insert_records(records[:3])
    with storage.read() as tx:
        assert tx.existing_record_ids(["r00", "r02", "r05", "r00", "nope"]) == {"r00", "r02"}
        assert tx.existing_record_ids([]) == set()
    with pytest.raises(ConflictError), storage.write() as tx:
        tx.insert_records(records[2:5])  # r02 is taken: the whole statement fails, and the transaction with it
    with storage.read() as tx:
        assert tx.existing_record_ids([r.id for r in records]) == {"r00", "r01", "r02"}
