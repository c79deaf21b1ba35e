"""The group-commit writer's libpq pipeline (bpf_dsl/storage/pg_wire.py) on a real PostgreSQL: the rows it
reads are what psycopg's cursor reads, a failing statement fails the sync that answers it and nothing after
it, and the connection keeps working after a failure."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpf_dsl.storage.pg_wire import Wire, numbered
from tests.backends import PG_URL, database_url

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need BPF_TEST_POSTGRES_URL (.ci/run sets it)")


def test_placeholders_are_numbered_and_a_doubled_percent_is_one() -> None:
    assert numbered("UPDATE t SET a = %s WHERE b = %s AND c LIKE 'x%%'") == \
        b"UPDATE t SET a = $1 WHERE b = $2 AND c LIKE 'x%'"


@pytest.fixture()
def wire(tmp_path: Path) -> Iterator[Wire]:
    import psycopg

    with database_url("postgres", tmp_path) as url:
        setup = psycopg.connect(url, autocommit=True)
        setup.execute("CREATE TABLE t (id text PRIMARY KEY, n integer, j jsonb, at timestamptz, f boolean)")
        setup.close()
        made = Wire(psycopg.connect(url, autocommit=True))
        try:
            yield made
        finally:
            made.close()


def _read(wire: Wire, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    wire.cursor.execute(sql, params)
    wire.sync()
    return wire.cursor.fetchall()


def test_rows_read_back_as_psycopg_reads_them(wire: Wire) -> None:
    at = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
    wire.send("INSERT INTO t VALUES (%s, %s, %s::jsonb, %s, %s)", ("a", 7, json.dumps({"k": [1, None]}), at, True))
    wire.send("INSERT INTO t VALUES (%s, %s, %s::jsonb, %s, %s)", ("b", None, None, None, False))
    rows = _read(wire, "SELECT id, n, j, at, f FROM t ORDER BY id")
    assert rows == [("a", 7, {"k": [1, None]}, at, True), ("b", None, None, None, False)]
    assert wire.cursor.rowcount == 2
    assert not wire.pending


def test_a_failing_statement_fails_its_sync_and_skips_what_follows(wire: Wire) -> None:
    import psycopg.errors

    wire.send("INSERT INTO t (id) VALUES (%s)", ("dup",))
    wire.sync()
    wire.send("BEGIN")
    wire.send("INSERT INTO t (id) VALUES (%s)", ("dup",))  # taken: fails
    wire.send("INSERT INTO t (id) VALUES (%s)", ("after",))  # skipped by the database: the sync fails as a whole
    with pytest.raises(psycopg.errors.UniqueViolation):
        wire.sync()
    wire.send("ROLLBACK")
    wire.sync()
    assert _read(wire, "SELECT id FROM t ORDER BY id") == [("dup",)]


def test_a_statement_whose_preparation_failed_is_prepared_again(wire: Wire) -> None:
    import psycopg.errors

    wire.send("SELECT 1/0")
    wire.send("INSERT INTO t (id) VALUES (%s)", ("x",))  # first seen in an aborted batch: never prepared
    with pytest.raises(psycopg.errors.DivisionByZero):
        wire.sync()
    wire.send("INSERT INTO t (id) VALUES (%s)", ("x",))
    wire.send("INSERT INTO t (id, n) VALUES (%s, %s)", ("y", 1))  # a statement seen after the failure
    wire.sync()
    assert _read(wire, "SELECT id, n FROM t ORDER BY id") == [("x", None), ("y", 1)]
