"""PostgreSQL through psycopg 3 and its connection pool: several server processes share one database.

Writes run at READ COMMITTED; the compare-and-set updates (``WHERE version = ?``)
make a concurrent writer's update touch no row, so two moves of one instance can
never both win. Migrations take an advisory lock so servers starting together
don't race.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from bpf_dsl.errors import StorageError
from bpf_dsl.storage import display_url
from bpf_dsl.storage.schema import MIGRATIONS, statements
from bpf_dsl.storage.sql import SqlTx, ts

_MIGRATION_LOCK = 0x62706601  # "bpf\x01": any constant shared by every bpf server
CONNECT_TIMEOUT = 5  # seconds, for the first connection, unless the URL or PGCONNECT_TIMEOUT says otherwise


def check_connection(url: str) -> None:
    """Connect once, directly, or raise a one-line StorageError.

    The pool alone would retry in the background for its whole 30-second timeout,
    logging every attempt, and then fail with a bare PoolTimeout: an unreachable
    server, a wrong database name or a bad parameter should be said at once.
    """
    where = display_url(url)
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error as err:
        raise StorageError(f"bad database URL {where}: {_first_line(err)}") from err
    conninfo = url
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        conninfo = make_conninfo(url, connect_timeout=CONNECT_TIMEOUT)
    try:
        psycopg.connect(conninfo, autocommit=True).close()
    except psycopg.Error as err:
        raise StorageError(f"can't connect to {where}: {_first_line(err)}") from err


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).strip().splitlines()[:1]) or type(err).__name__
    # libpq's own prefixes say nothing the sentence around them doesn't.
    for prefix in ("connection failed: ", "connection is bad: "):
        text = text.removeprefix(prefix)
    return text.replace("FATAL:  ", "")


class PostgresStorage:
    """A PostgreSQL database (``postgresql://...``)."""

    dialect = "postgres"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        check_connection(url)
        # Autocommit connections: writes open their transaction explicitly (conn.transaction()), reads
        # send their statements alone, saving BEGIN and COMMIT round trips (psycopg's recommended pattern).
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                   kwargs={"autocommit": True})

    @contextmanager
    def write(self) -> Iterator[SqlTx]:
        """One transaction; commit on success, roll back on any exception."""
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield SqlTx(cur, self.dialect)

    @contextmanager
    def read(self) -> Iterator[SqlTx]:
        """Reads, each statement on its own snapshot.

        That is what READ COMMITTED gives a transaction's statements anyway, so a BEGIN
        and a COMMIT would cost two round trips and buy nothing; a consistent snapshot
        across statements (REPEATABLE READ) would cost more than the API needs.
        """
        with self.pool.connection() as conn, conn.cursor() as cur:
            yield SqlTx(cur, self.dialect)

    def migrate(self) -> list[int]:
        """Apply pending migrations under an advisory lock."""
        applied: list[int] = []
        with self.write() as tx:
            tx.q("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            tx.q("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL)")
            for version, name, sql in MIGRATIONS:
                if tx.q("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    continue
                for stmt in statements(self.dialect, sql):
                    tx.q(stmt)
                tx.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                     (version, name, ts(dt.datetime.now(dt.UTC))))
                applied.append(version)
        return applied

    def ping(self) -> bool:
        """Whether the server answers."""
        try:
            with self.pool.connection(timeout=5) as conn:
                conn.execute("SELECT 1")
            return True
        except (psycopg.Error, Exception):
            return False

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()
