"""SQLite: the embedded default. WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` for writes.

One connection per thread (sqlite3 connections must not cross threads); several
processes may share the file, serialised by SQLite's write lock with a generous
busy timeout.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from bpf_dsl.storage.schema import MIGRATIONS, statements
from bpf_dsl.storage.sql import SqlTx, ts


class SqliteStorage:
    """A SQLite database file (``sqlite:///path``)."""

    dialect = "sqlite"

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connect(self) -> None:
        """Open this thread's connection now, so that a file SQLite can't use fails at open time."""
        self._conn()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN ourselves, so every command is exactly one transaction.
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")  # the first read: a file that is not a database fails here
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA busy_timeout=60000")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error:
                conn.close()  # not kept: the next call tries again rather than using a half-set connection
                raise
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[SqlTx]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception rolls back."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield SqlTx(conn.cursor(), self.dialect)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT leaves the transaction open: close it
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def read(self) -> Iterator[SqlTx]:
        """A consistent snapshot for reads (WAL readers never block the writer)."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield SqlTx(conn.cursor(), self.dialect)
        finally:
            conn.execute("ROLLBACK")

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction with its bookkeeping row."""
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        applied: list[int] = []
        for version, name, sql in MIGRATIONS:
            with self.write() as tx:
                done = tx.q("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone()
                if done:
                    continue
                for stmt in statements(self.dialect, sql):
                    tx.q(stmt)
                tx.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                     (version, name, ts(dt.datetime.now(dt.UTC))))
                applied.append(version)
        return applied

    def ping(self) -> bool:
        """Whether the file answers a query."""
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
