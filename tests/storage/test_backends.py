"""A backend is one description object; one migration runner serves them all; PostgreSQL's notifier works."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpf_dsl.errors import ConflictError, StorageError, TransientError, UnavailableError
from bpf_dsl.storage import SCHEMES, TOKENS_CHANNEL, Storage, open_storage
from bpf_dsl.storage.backend import Backend
from bpf_dsl.storage.migrate import migrate, newest
from bpf_dsl.storage.schema import MIGRATIONS, TYPES
from bpf_dsl.storage.sqlite import SQLITE
from tests.backends import PG_URL, database_url

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
ALL_VERSIONS = [version for version, _, _ in MIGRATIONS]


def postgres() -> Backend:
    from bpf_dsl.storage.postgres import POSTGRES

    return POSTGRES


@pytest.fixture
def fresh(db_url: str) -> Iterator[Storage]:
    """An empty database, opened without migrating it."""
    s = open_storage(db_url, migrate=False)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Storage]:
    """A fresh, migrated PostgreSQL schema (PostgreSQL-only tests)."""
    with database_url("postgres", tmp_path) as url:
        s = open_storage(url)
        try:
            yield s
        finally:
            s.close()


needs_postgres = pytest.mark.skipif(not PG_URL, reason="needs BPF_TEST_POSTGRES_URL")


def test_sqlite_is_described_as_embedded_single_writer_without_notifications() -> None:
    assert SQLITE.name == "sqlite" and SQLITE.placeholder == "?"
    assert SQLITE.inline_reads and SQLITE.single_writer
    assert SQLITE.group_commit and SQLITE.data_version == "PRAGMA data_version"
    assert not SQLITE.notifications and SQLITE.notify is None
    assert SQLITE.row_lock == ""  # BEGIN IMMEDIATE serialises the writers already
    assert SQLITE.migration_lock is None  # each migration in a BEGIN IMMEDIATE of its own
    assert "sqlite_master" in SQLITE.migrations_table
    assert SQLITE.json.param == "?" and SQLITE.json.compare == "json(?)"
    assert SQLITE.driver_errors == (sqlite3.Error,)


def test_postgres_is_described_as_shared_with_row_locks_and_notifications() -> None:
    import psycopg

    pg = postgres()
    assert pg.name == "postgres" and pg.placeholder == "%s"
    assert not pg.inline_reads and not pg.single_writer
    assert pg.group_commit and pg.data_version is None
    assert pg.notifications and pg.notify == "SELECT pg_notify(?, ?)"
    assert pg.row_lock == " FOR UPDATE"
    assert pg.migration_lock is not None and "pg_advisory_xact_lock" in pg.migration_lock
    assert "to_regclass" in pg.migrations_table
    assert pg.json.param == "?::jsonb"
    assert pg.driver_errors == (psycopg.Error,)


def test_backends_are_frozen_and_every_one_has_its_ddl_and_a_url_scheme() -> None:
    for backend in (SQLITE, postgres()):
        with pytest.raises(dataclasses.FrozenInstanceError):
            backend.name = "other"  # type: ignore[misc]
        assert backend.name in TYPES
        module = f"bpf_dsl.storage.{backend.name}"
        assert module in SCHEMES.values()


def test_the_translators_map_by_class_and_code() -> None:
    import psycopg.errors

    pg = postgres()
    unique = sqlite3.IntegrityError("UNIQUE constraint failed: records.id")
    unique.sqlite_errorcode = sqlite3.SQLITE_CONSTRAINT_UNIQUE
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
    not_db = sqlite3.DatabaseError("file is not a database")
    not_db.sqlite_errorcode = sqlite3.SQLITE_NOTADB
    assert type(SQLITE.translate(unique)) is ConflictError
    assert type(SQLITE.translate(busy)) is TransientError
    assert type(SQLITE.translate(not_db)) is UnavailableError
    assert type(SQLITE.translate(sqlite3.ProgrammingError("Cannot operate on a closed database."))) \
        is UnavailableError
    assert type(pg.translate(psycopg.errors.UniqueViolation("dup"))) is ConflictError
    for transient in (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected,
                      psycopg.errors.LockNotAvailable):
        assert type(pg.translate(transient("again"))) is TransientError
    for gone in (psycopg.errors.AdminShutdown("bye"), psycopg.OperationalError("lost"), psycopg.InterfaceError("x")):
        assert type(pg.translate(gone)) is UnavailableError
    assert type(pg.translate(psycopg.errors.SyntaxError("bad"))) is StorageError


def test_each_storage_exposes_its_backend_and_a_notifier_only_where_it_has_notifications(
        fresh: Storage, backend: str) -> None:
    assert fresh.backend.name == backend
    assert fresh.backend is (SQLITE if backend == "sqlite" else postgres())
    assert (fresh.notifier is not None) == fresh.backend.notifications


def test_the_one_migration_runner_applied_twice_is_idempotent(fresh: Storage) -> None:
    assert newest(fresh) is None  # not even the bookkeeping table yet
    assert migrate(fresh) == ALL_VERSIONS
    assert migrate(fresh) == []
    assert fresh.migrate() == []  # the storage's own migrate() is the same runner
    assert newest(fresh) == ALL_VERSIONS[-1]
    with fresh.read() as tx:
        assert tx.count_instances() == 0  # the schema is in place
        count = tx.q("SELECT count(*) FROM schema_migrations").fetchone()[0]  # type: ignore[attr-defined]
    assert count == len(ALL_VERSIONS)


def test_two_processes_migrating_at_once_apply_each_migration_once(db_url: str) -> None:
    storages = [open_storage(db_url, migrate=False) for _ in range(2)]
    results: list[list[int]] = []
    start = threading.Barrier(2)

    def run(storage: Storage) -> None:
        start.wait()
        results.append(migrate(storage))

    try:
        threads = [threading.Thread(target=run, args=(s,)) for s in storages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in storages:
            s.close()
    assert sorted(v for applied in results for v in applied) == ALL_VERSIONS  # each once, by one or the other


def test_the_migration_runner_leaves_nothing_when_a_migration_fails(fresh: Storage,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bpf_dsl.storage import migrate as runner

    broken = [*MIGRATIONS[:1], (2, "broken", ["CREATE TABLE users (name TEXT PRIMARY KEY)", "NOT SQL AT ALL"])]
    monkeypatch.setattr(runner, "MIGRATIONS", broken)
    with pytest.raises(StorageError):
        migrate(fresh)
    monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS)
    # Migration 2 left nothing behind (its users table neither): the real one applies cleanly.
    assert migrate(fresh) == (ALL_VERSIONS if fresh.backend.migration_lock else ALL_VERSIONS[1:])


@needs_postgres
def test_the_postgres_notifier_round_trip(pg: Storage) -> None:
    notifier = pg.notifier
    assert notifier is not None
    channel = f"bpf_test_{uuid.uuid4().hex[:12]}"
    heard: list[tuple[str, str]] = []
    got = threading.Event()

    def callback(ch: str, payload: str) -> None:
        heard.append((ch, payload))
        got.set()

    listening = notifier.listen([channel], callback)
    try:
        assert listening.wait(10), "LISTEN not in place"
        notifier.notify(channel, "hello")
        assert got.wait(10), "the notification never came"
        assert heard == [(channel, "hello")]
        assert "/" in notifier.namespace  # database/schema
        notifier.notify_all(channel, ["one", "two", "three"])  # a batch, in one round trip, in order
        deadline = time.monotonic() + 10
        while len(heard) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard[1:] == [(channel, "one"), (channel, "two"), (channel, "three")]
    finally:
        listening.stop()


@needs_postgres
def test_a_revoked_token_is_notified_on_commit(pg: Storage) -> None:
    notifier = pg.notifier
    assert notifier is not None
    revoked: list[str] = []
    token_id = uuid.uuid4().hex
    got = threading.Event()

    def callback(channel: str, payload: str) -> None:
        revoked.append(payload)  # other tests on this server may revoke tokens too
        if payload == token_id:
            got.set()

    listening = notifier.listen([TOKENS_CHANNEL], callback)
    try:
        assert listening.wait(10)
        with pg.write() as tx:
            tx.insert_token(token_id, "ann", f"hash-{token_id}", NOW, None)
        with pg.write() as tx:
            assert tx.revoke_token(token_id, NOW)
        assert got.wait(10), f"heard {revoked}, not {token_id}"
    finally:
        listening.stop()


@needs_postgres
def test_a_transactions_notifications_go_out_with_its_commit_and_not_without_it(pg: Storage) -> None:
    notifier = pg.notifier
    assert notifier is not None
    channel = f"bpf_test_{uuid.uuid4().hex[:12]}"
    heard: list[str] = []
    done = threading.Event()

    def callback(_channel: str, payload: str) -> None:
        heard.append(payload)
        if payload == "last":
            done.set()

    listening = notifier.listen([channel], callback)
    try:
        assert listening.wait(10), "LISTEN not in place"
        with pytest.raises(RuntimeError), pg.write() as tx:
            tx.notify(channel, "rolled back")
            raise RuntimeError("the command failed")
        with pg.write() as tx:
            tx.notify(channel, "first")
            tx.notify(channel, "first")  # PostgreSQL folds equal payloads of one transaction into one
            tx.notify(channel, "last")
        assert done.wait(10), f"heard {heard}"
        assert heard == ["first", "last"]
    finally:
        listening.stop()


def test_sqlite_transactions_have_no_notifications(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        with pytest.raises(NotImplementedError), storage.write() as tx:
            tx.notify("bpf_events", "x")
    finally:
        storage.close()
