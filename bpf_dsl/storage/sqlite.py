"""SQLite: the embedded default. WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` for writes.

One connection per thread (sqlite3 connections must not cross threads); several
processes may share the file, serialised by SQLite's write lock with a generous
busy timeout.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any

from bpf_dsl.errors import (
    ConflictError,
    IntegrityError,
    StorageError,
    TransientError,
    UnavailableError,
    UsageError,
)
from bpf_dsl.storage.backend import Backend, JsonSql
from bpf_dsl.storage.migrate import migrate
from bpf_dsl.storage.sql import SqlTx

SCHEME = "sqlite:///"
BUSY_MS = 60_000  # how long a connection waits for another's write lock before SQLITE_BUSY

# The primary result codes (the low byte of an extended code) that say the file can't be used at all.
_UNUSABLE = {sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT,
             sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_AUTH}
_UNIQUE = {sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY}


def translate(err: Exception) -> StorageError:
    """A sqlite3 exception as bpf's, by its result code (``sqlite_errorcode``)."""
    code = getattr(err, "sqlite_errorcode", None) or 0
    primary = code & 0xFF
    if isinstance(err, sqlite3.IntegrityError):
        return (ConflictError if code in _UNIQUE else IntegrityError)(str(err))
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return TransientError(str(err))  # another connection holds the lock past the busy timeout: try again
    if primary in _UNUSABLE or (isinstance(err, sqlite3.ProgrammingError) and "closed" in str(err)):
        return UnavailableError(str(err))
    return StorageError(str(err))


def explain(url: str, err: BaseException | None) -> str:
    """One line saying why SQLite can't use the file of ``url`` (``err``: what SQLite said, if it got that far)."""
    path = url.removeprefix(SCHEME)
    reason = str(err) if err is not None else ""
    folder = os.path.dirname(os.path.abspath(path))
    if "not a database" in reason:
        return f"{path} is not a bpf database ({reason})"
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        # Every command may bring the schema up to date first, so reading alone is not enough.
        return f"can't use {path}: no permission to read and write it"
    if not os.access(folder, os.W_OK):
        return f"can't use {path}: the folder {folder} is not writable (SQLite keeps its journal beside the file)"
    return f"can't open {path}: {reason or 'unknown reason'}"


def _sqlite_value(name: str, value: Any) -> Any:
    """A scalar as json_extract gives it back: booleans are 1 and 0, decimals floats."""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, Decimal):
        return float(value)
    return value


SQLITE = Backend(
    name="sqlite",
    placeholder="?",
    json=JsonSql(
        param="?",  # JSON kept as text
        text="json_extract({col}, '$.{key}')",
        value="json_extract({col}, '$.{key}')",
        compare="json(?)",  # json_extract gives arrays and objects back as minified JSON text
        scalar="json_extract({col}, '$.{key}') = ?",
        scalar_param=_sqlite_value,
        search=("EXISTS (SELECT 1 FROM json_each(r.data) AS kv WHERE kv.type = 'text' "
                "AND kv.value LIKE ? ESCAPE '\\'{skip})"),
        records_of_values=", json_each({col}) AS b JOIN records r ON r.id = b.value",
    ),
    row_lock="",  # BEGIN IMMEDIATE holds the file's write lock for the whole transaction
    migration_lock=None,  # each migration in its own BEGIN IMMEDIATE
    migrations_table="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    notify=None,
    inline_reads=True,
    single_writer=True,
    group_commit=True,
    data_version="PRAGMA data_version",
    driver_errors=(sqlite3.Error,),
    translate=translate,
    explain=explain,
)


class SqliteStorage:
    """A SQLite database file (``sqlite:///path``)."""

    backend = SQLITE
    notifier = None  # one process owns the file's writes at a time; nobody to notify

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._commits = itertools.count(1)  # commits through write(), any thread: see generation()
        self._committed = 0

    def connect(self) -> None:
        """Open this thread's connection now, so that a file SQLite can't use fails at open time."""
        try:
            self._conn()
        except sqlite3.Error as err:
            raise translate(err) from err

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self, busy_ms: int = BUSY_MS) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so every command is exactly one transaction.
        conn = sqlite3.connect(self.path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # the first read: a file that is not a database fails here
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={busy_ms}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error:
            conn.close()  # not kept: the next call tries again rather than using a half-set connection
            raise
        with self._lock:
            self._all.append(conn)
        return conn

    def _counted(self) -> None:
        self._committed = next(self._commits)

    @contextmanager
    def write(self) -> Iterator[SqlTx]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception rolls back. sqlite3's errors become StorageErrors."""
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqlTx(conn.cursor(), SQLITE)
                conn.execute("COMMIT")
                self._counted()
            except BaseException:
                if conn.in_transaction:  # a failed COMMIT leaves the transaction open: close it
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise translate(err) from err

    @contextmanager
    def read(self, *, single: bool = False) -> Iterator[SqlTx]:
        """A consistent snapshot for reads (WAL readers never block the writer); ``single``: one statement's."""
        try:
            conn = self._conn()
            if single:
                yield SqlTx(conn.cursor(), SQLITE)
                return
            conn.execute("BEGIN")
            try:
                yield SqlTx(conn.cursor(), SQLITE)
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.Error as err:
            raise translate(err) from err

    def session(self) -> SqliteSession:
        """A connection of its own for the group-commit writer (its steps may run on different threads)."""
        try:
            return SqliteSession(self)
        except sqlite3.Error as err:
            raise translate(err) from err

    def generation(self) -> int | None:
        """``PRAGMA data_version`` of this thread's connection (it changes when another connection commits),
        with this storage's own commits counted in: equal twice, nothing was committed in between."""
        try:
            version = int(self._conn().execute(SQLITE.data_version or "").fetchone()[0])
        except sqlite3.Error as err:
            raise translate(err) from err
        return (version << 32) | (self._committed & 0xFFFFFFFF)

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction with its bookkeeping row."""
        return migrate(self)

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


class SqliteSession:
    """The group-commit writer's connection: ``BEGIN IMMEDIATE`` without waiting unless asked to, ``COMMIT``.

    Its busy timeout is 0: a ``begin(wait=False)`` on the event loop answers at once when another
    connection holds the write lock (the caller then waits in a thread, ``begin(wait=True)``).
    Once the transaction holds the lock, none of its statements waits for one.
    """

    def __init__(self, storage: SqliteStorage) -> None:
        self._storage = storage
        self._conn = storage._open(busy_ms=0)

    def begin(self, *, wait: bool = True) -> SqlTx | None:
        """``BEGIN IMMEDIATE``; ``wait=False``: None while another connection holds the write lock."""
        conn = self._conn
        try:
            if not wait:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as err:
                    if (getattr(err, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY:
                        return None
                    raise
            else:
                conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                finally:
                    conn.execute("PRAGMA busy_timeout=0")
        except sqlite3.Error as err:
            raise translate(err) from err
        return SqlTx(conn.cursor(), SQLITE)

    def commit(self) -> None:
        """``COMMIT`` (returns once WAL and ``synchronous=FULL`` made it durable); rolled back on failure."""
        conn = self._conn
        try:
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise translate(err) from err
        self._storage._counted()

    def rollback(self) -> None:
        """Roll back the open transaction, if any."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as err:
            raise translate(err) from err

    def close(self) -> None:
        """Close the connection."""
        with suppress(sqlite3.Error):
            self._conn.close()


@contextmanager
def opening(url: str, *, create: bool) -> Iterator[SqliteStorage]:
    """The file of ``url``, connected, for :func:`~bpf_dsl.storage.open_storage` to check and migrate.

    Fails early and in one readable StorageError (a folder, a missing folder, a file that
    is not a database, no permission). ``create=False``: a file that doesn't exist is an
    error rather than a new, empty database. If opening fails, here or in the block, a
    file this call created is removed again: no empty database is left behind.
    """
    path = url.removeprefix(SCHEME)
    new_file = None if os.path.lexists(path) else path
    try:
        storage = _connect(url, path, create)
    except BaseException:
        _remove_new(new_file)
        raise
    try:
        yield storage
    except BaseException:
        storage.close()
        _remove_new(new_file)
        raise


def _connect(url: str, path: str, create: bool) -> SqliteStorage:
    if not path:
        raise UsageError("sqlite URL needs a path: sqlite:///bpf.db")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise StorageError(f"{path} is a folder, not a database file")
    if not os.path.isdir(folder):
        if os.path.exists(folder) or any(os.path.isfile(p) for p in _ancestors(folder)):
            raise StorageError(f"can't create {path}: a part of the path is a file, not a folder")
        raise UsageError(f"no such folder for the database: {folder}")
    if not create and not os.path.exists(path):
        raise StorageError(f"no database at {path}: give --db URL, or run `bpf serve PATH` here once")
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise UnavailableError(explain(url, None))
    storage = SqliteStorage(url, path)
    try:
        storage.connect()
    except StorageError as err:
        storage.close()
        raise type(err)(explain(url, err.__cause__)) from err.__cause__
    return storage


def _ancestors(folder: str) -> list[str]:
    out: list[str] = []
    while True:
        parent = os.path.dirname(folder)
        if parent == folder:
            return out
        out.append(parent)
        folder = parent


def _remove_new(path: str | None) -> None:
    """Remove a database file (and its journal) that a failed open created."""
    if not path:
        return
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        with suppress(OSError):
            os.unlink(name)
