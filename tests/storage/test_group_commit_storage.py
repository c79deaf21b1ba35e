"""What group commit and kept answers ask of a backend: savepoints, kept stage counters, row versions, the write
session, the generation. Both backends, the same test code."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bpf_dsl.errors import ConflictError
from bpf_dsl.storage import Storage, open_storage
from tests.storage.test_contract import NOW, instance, record


def test_a_savepoint_rolls_back_its_block_alone(storage: Storage) -> None:
    kept, dropped, again = record(), record(), record()
    session = storage.session()
    try:
        tx = session.begin()
        assert tx is not None
        with tx.savepoint():
            tx.insert_record(kept)
        with pytest.raises(ConflictError), tx.savepoint():
            tx.insert_record(dropped)
            tx.insert_record(kept)  # a key taken: the block fails, and its first insert goes with it
        with tx.savepoint():
            tx.insert_record(again)
        assert not tx.lost
        session.commit()
    finally:
        session.close()
    with storage.read() as tx:
        assert set(tx.get_records([kept.id, dropped.id, again.id])) == {kept.id, again.id}


def test_a_write_that_fails_unseen_fails_its_own_block(storage: Storage) -> None:
    """Writes whose results nobody reads may be sent without waiting (PostgreSQL's session pipelines them): a
    failing one fails the block that sent it, at its next read or at the block's end, never a later block."""
    kept, dropped, read_after, again = record(), record(), record(), record()
    session = storage.session()
    try:
        tx = session.begin()
        assert tx is not None
        with tx.savepoint():
            tx.insert_record(kept)
        with pytest.raises(ConflictError), tx.savepoint():
            tx.insert_record(kept)  # taken: unseen until the block's end where it is pipelined
            tx.insert_record(dropped)
        with pytest.raises(ConflictError), tx.savepoint():
            tx.insert_record(read_after)
            tx.insert_record(kept)
            tx.get_record(kept.id)  # the read waits for what was sent before it: the failure shows here
        with tx.savepoint():
            tx.insert_record(again)
            assert tx.get_record(again.id) is not None
        assert not tx.lost
        session.commit()
    finally:
        session.close()
    with storage.read() as tx:
        assert set(tx.get_records([kept.id, dropped.id, read_after.id, again.id])) == {kept.id, again.id}


def test_kept_stage_counts_are_written_once_and_rolled_back_with_their_savepoint(storage: Storage) -> None:
    owner = record()
    with storage.write() as tx:
        tx.insert_record(owner)
    rows = [instance(owner.id, process=f"p{n}") for n in range(3)]
    session = storage.session()
    try:
        tx = session.begin()
        assert tx is not None
        tx.keep_counts()
        with tx.savepoint():
            tx.insert_instance(rows[0])
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.insert_instance(rows[1])
            raise RuntimeError("this command fails")
        with tx.savepoint():
            tx.insert_instance(rows[2])
        tx.write_counts()
        session.commit()
    finally:
        session.close()
    with storage.read() as tx:
        assert {p: tx.stage_counts(p) for p in ("p0", "p1", "p2")} == {"p0": {"a": 1}, "p1": {}, "p2": {"a": 1}}


def test_row_versions_tell_what_changed(storage: Storage) -> None:
    lead, other = record(), record()
    row = instance(lead.id)
    linked = instance(other.id, process="q")
    with storage.write() as tx:
        for r in (lead, other):
            tx.insert_record(r)
        tx.insert_instance(row)
        tx.insert_instance(linked)
        tx.link_record(lead.id, linked.id)
    with storage.read() as tx:
        seen = tx.row_versions([lead.id, "gone"], [row.id, "gone"], [lead.id, other.id])
    assert seen.records == {lead.id: (1, None)}
    assert seen.instances == {row.id: 1}
    assert seen.involving == {lead.id: {(row.id, 1), (linked.id, 1)}, other.id: {(linked.id, 1)}}
    with storage.write() as tx:
        tx.update_record(lead.id, {"topic": "x"}, 1, NOW)
        tx.set_active_instance(other.id, linked.id)
    with storage.read() as tx:
        again = tx.row_versions([lead.id, other.id], [], [])
        nothing = tx.row_versions([], [], [])
    assert again.records == {lead.id: (2, None), other.id: (1, linked.id)}
    assert (nothing.records, nothing.instances, nothing.involving) == ({}, {}, {})


def test_the_generation_changes_when_another_connection_commits(storage: Storage, tmp_path: Path) -> None:
    first = storage.generation()
    if storage.backend.data_version is None:
        assert first is None  # nothing cheap tells: kept answers are checked row by row
        return
    assert storage.generation() == first  # nothing written in between
    other = open_storage(storage.url)
    try:
        with other.write() as tx:
            tx.insert_record(record())
    finally:
        other.close()
    second = storage.generation()
    assert second != first
    session = storage.session()  # the writer's own connection counts as another one
    try:
        tx = session.begin()
        assert tx is not None
        tx.insert_record(record())
        session.commit()
    finally:
        session.close()
    assert storage.generation() != second


def test_a_session_that_must_not_wait_says_so_while_another_holds_the_lock(storage: Storage) -> None:
    if not storage.backend.single_writer:
        return  # PostgreSQL's BEGIN takes no lock: statements wait for the rows they lock
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with storage.write():
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    session = storage.session()
    try:
        assert holding.wait(30)
        assert session.begin(wait=False) is None
        release.set()
        thread.join(30)
        assert session.begin(wait=False) is not None
        session.rollback()
    finally:
        release.set()
        session.close()
