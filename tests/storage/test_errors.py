"""The drivers' errors become bpf's at the storage's door, on every backend, with the driver's error as the cause.

And nothing outside ``bpf_dsl/storage`` imports a driver: the rest of bpf sees only
:mod:`bpf_dsl.errors` (``ConflictError``, ``IntegrityError``, ``TransientError``, ``UnavailableError``).
"""

from __future__ import annotations

import ast
import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bpf_dsl.errors import ConflictError, IntegrityError, StorageError, TransientError, UnavailableError
from bpf_dsl.storage import RecordRow, Storage, open_storage
from tests.architecture.imports import module_files
from tests.backends import PG_URL, database_url

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
DRIVERS = {"sqlite3", "psycopg", "psycopg_pool"}


needs_postgres = pytest.mark.skipif(not PG_URL, reason="needs BPF_TEST_POSTGRES_URL")


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    s = open_storage(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL schema's URL (PostgreSQL-only tests)."""
    with database_url("postgres", tmp_path) as url:
        yield url


@pytest.fixture
def pg(pg_url: str) -> Iterator[Storage]:
    s = open_storage(pg_url)
    try:
        yield s
    finally:
        s.close()


def record(entity: str = "lead") -> RecordRow:
    return RecordRow(str(uuid.uuid4()), entity, {"topic": "x"}, 1, NOW, NOW)


def driver_error(backend: str) -> type[Exception]:
    """The base class of the backend's driver's exceptions."""
    if backend == "sqlite":
        return sqlite3.Error
    import psycopg

    return psycopg.Error


def test_a_duplicate_key_is_a_conflict(storage: Storage, backend: str) -> None:
    row = record()
    with storage.write() as tx:
        tx.insert_record(row)
    with pytest.raises(ConflictError) as caught, storage.write() as tx:
        tx.insert_record(row)
    assert isinstance(caught.value.__cause__, driver_error(backend))
    if backend == "postgres":
        import psycopg.errors

        assert isinstance(caught.value.__cause__, psycopg.errors.UniqueViolation)
    with storage.read() as tx:  # the failed transaction rolled back; the first row is there once
        assert tx.get_record(row.id) is not None


def test_a_missing_value_is_an_integrity_error_not_a_conflict(storage: Storage, backend: str) -> None:
    with pytest.raises(IntegrityError) as caught, storage.write() as tx:
        tx.insert_record(record(entity=None))  # type: ignore[arg-type]  # records.entity is NOT NULL
    assert not isinstance(caught.value, ConflictError)
    assert isinstance(caught.value.__cause__, driver_error(backend))


def test_a_locked_sqlite_file_is_transient(tmp_path: Path) -> None:
    path = f"{tmp_path}/bpf.db"
    storage = open_storage(f"sqlite:///{path}")
    try:
        with storage.read() as tx:  # this thread's connection: wait a moment, not the minute it waits in service
            tx.q("PRAGMA busy_timeout = 50")  # type: ignore[attr-defined]
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another connection holds the file's write lock
            with pytest.raises(TransientError) as caught, storage.write() as tx:
                tx.insert_record(record())
            other.execute("ROLLBACK")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        with storage.write() as tx:  # the lock is free again: the same storage writes
            tx.insert_record(record())
    finally:
        storage.close()


@needs_postgres
def test_a_postgres_lock_not_available_is_transient(pg: Storage, pg_url: str) -> None:
    import psycopg
    import psycopg.errors

    row = record()
    with pg.write() as tx:
        tx.insert_record(row)
    with psycopg.connect(pg_url) as other:  # holds the row's lock in an open transaction
        other.execute("SELECT id FROM records WHERE id = %s FOR UPDATE", (row.id,))
        with pytest.raises(TransientError) as caught, pg.write() as tx:
            tx.q("SET LOCAL lock_timeout = '50ms'")  # type: ignore[attr-defined]
            tx.get_record(row.id, lock=True)
        other.rollback()
    assert isinstance(caught.value.__cause__, psycopg.errors.LockNotAvailable)


@needs_postgres
def test_a_killed_postgres_connection_is_unavailable_and_the_pool_recovers(pg: Storage, pg_url: str) -> None:
    import psycopg

    with pytest.raises(UnavailableError) as caught, pg.write() as tx:
        pid = tx.q("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[attr-defined]
        with psycopg.connect(pg_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))  # returns once it is gone
        tx.insert_record(record())
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    # The pool drops the broken connection: the next command gets a live one.
    row = record()
    with pg.write() as tx:
        tx.insert_record(row)
    with pg.read() as tx:
        assert tx.get_record(row.id) is not None


@needs_postgres
def test_idle_pooled_connections_the_server_ended_are_replaced_and_live_ones_cost_no_round_trip(pg_url: str) -> None:
    import psycopg

    from bpf_dsl.storage.postgres import PostgresStorage, idle_connection_alive

    pg = PostgresStorage(pg_url, min_size=1, max_size=1)  # one connection: the next request gets the same
    try:
        with pg.pool.connection() as conn:
            pid = conn.info.backend_pid
        with pg.pool.connection() as conn:  # handed out again after the check
            assert conn.info.backend_pid == pid
            idle_connection_alive(conn)  # a live idle connection: nothing to read, nothing sent
            assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with psycopg.connect(pg_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))  # returns once it is gone
        with pytest.raises(psycopg.OperationalError):
            idle_connection_alive(conn)  # the same connection, idle in the pool: its socket says it was ended
        with pg.pool.connection() as fresh:  # the pool's check threw it away and made another
            assert fresh.info.backend_pid != pid
            assert fresh.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.close()


def test_every_storage_error_keeps_the_driver_error_and_says_what_it_said(storage: Storage, backend: str) -> None:
    row = record()
    with storage.write() as tx:
        tx.insert_record(row)
    with pytest.raises(StorageError) as caught, storage.write() as tx:
        tx.insert_record(row)
    assert str(caught.value) == str(caught.value.__cause__)


def _imports(path: str, tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):  # every node: imports inside functions and TYPE_CHECKING blocks too
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.lineno, node.module.split(".")[0]


def test_no_module_outside_storage_imports_a_database_driver() -> None:
    wrong = []
    modules = module_files()
    for name, path in modules.items():
        if name == "bpf_dsl.storage" or name.startswith("bpf_dsl.storage."):
            continue
        for line, top in _imports(str(path), ast.parse(path.read_text(encoding="utf-8"))):
            if top in DRIVERS:
                wrong.append(f"{name}:{line} imports {top}")
    assert not wrong, "only bpf_dsl.storage may import a database driver:\n" + "\n".join(wrong)
    assert "bpf_dsl.storage.sqlite" in modules and "bpf_server.events" in modules  # the walk sees both packages


def test_the_import_walk_sees_a_driver_imported_in_a_function() -> None:
    tree = ast.parse("def f():\n    if True:\n        import psycopg.errors\n    from sqlite3 import connect\n")
    assert sorted(top for _, top in _imports("x.py", tree)) == ["psycopg", "sqlite3"]
