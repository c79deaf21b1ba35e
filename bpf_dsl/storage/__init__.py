"""Storage behind one protocol: SQLite (default) and PostgreSQL. Only this package speaks SQL.

Opening a database fails early and in one readable :class:`StorageError` (a
server that doesn't answer, a file that is not a database, a schema newer than
this build), before anything is written.
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from bpf_dsl.errors import StorageError, UsageError
from bpf_dsl.storage.base import EventRow, InstanceRow, Page, RecordRow, Storage, Tx, VisitRow
from bpf_dsl.storage.schema import MIGRATIONS

DEFAULT_URL = "sqlite:///bpf.db"
_SECRET_PARAM = re.compile(r"(^|[?&])((?:ssl)?password=)[^&#]*", re.IGNORECASE)


def database_url(explicit: str | None = None) -> str:
    """``--db``, else ``BPF_DATABASE_URL``, else ``sqlite:///bpf.db`` in the current folder."""
    if explicit is not None and not explicit.strip():
        # An empty --db is almost always an unset shell variable: quietly using the default would hide it.
        raise UsageError("--db is empty: give a database URL such as sqlite:///bpf.db or postgresql://...")
    return explicit or os.environ.get("BPF_DATABASE_URL") or DEFAULT_URL


def display_url(url: str) -> str:
    """``url`` fit to print: the password (in the user part or a ``password=`` parameter) becomes ``***``."""
    masked = _SECRET_PARAM.sub(r"\1\2***", url)
    try:
        parts = urllib.parse.urlsplit(masked)
    except ValueError:  # not a URL urllib can split (a bad [IPv6] host): hide what follows `user:` up to `@`
        return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", masked)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return masked
    user = userinfo.partition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))


def open_storage(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Storage:
    """Open the database at ``url`` and bring its schema up to date.

    ``create=False``: a SQLite file that doesn't exist is an error rather than a new,
    empty database (for commands that only make sense on existing data).
    """
    url = database_url(url)
    storage: Storage
    new_file: str | None = None  # a SQLite file this call creates: removed again if opening fails
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        new_file = None if os.path.lexists(path) else path
        try:
            storage = _open_sqlite(url, create)
        except BaseException:
            _remove_new(new_file)
            raise
    elif url.startswith(("postgresql://", "postgres://")):
        from bpf_dsl.storage.postgres import PostgresStorage

        storage = PostgresStorage(url)  # connects once first: raises StorageError at once if it can't
    else:
        raise UsageError(f"unknown database URL {display_url(url)!r}: use sqlite:///FILE or postgresql://...")
    try:
        _refuse_newer_schema(storage)
        if migrate:
            run_migrations(storage)
    except BaseException:
        storage.close()
        _remove_new(new_file)
        raise
    return storage


def _remove_new(path: str | None) -> None:
    """Remove a database file (and its journal) that a failed open created: no empty database is left behind."""
    if not path:
        return
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        with suppress(OSError):
            os.unlink(name)


def run_migrations(storage: Storage) -> list[int]:
    """Apply pending migrations; returns the versions applied. A database that refuses is a StorageError."""
    with _reported(storage):
        return storage.migrate()


@contextmanager
def _reported(storage: Storage) -> Iterator[None]:
    """The backend's errors while opening ``storage`` as one readable StorageError."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    if storage.dialect == "postgres":
        import psycopg

        errors = (psycopg.Error,)
    try:
        yield
    except errors as err:
        if isinstance(err, sqlite3.Error):
            raise StorageError(_sqlite_problem(getattr(storage, "path", storage.url), err)) from err
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise StorageError(f"can't use {display_url(storage.url)}: {reason}") from err


def _open_sqlite(url: str, create: bool) -> Storage:
    from bpf_dsl.storage.sqlite import SqliteStorage

    path = url[len("sqlite:///"):]
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
        raise StorageError(_sqlite_problem(path, None))
    storage = SqliteStorage(url, path)
    try:
        storage.connect()
    except sqlite3.Error as err:
        storage.close()
        raise StorageError(_sqlite_problem(path, err)) from err
    return storage


def _ancestors(folder: str) -> list[str]:
    out: list[str] = []
    while True:
        parent = os.path.dirname(folder)
        if parent == folder:
            return out
        out.append(parent)
        folder = parent


def _sqlite_problem(path: str, err: sqlite3.Error | None) -> str:
    """One line saying why SQLite can't use ``path`` (``err``: what SQLite said, if it got that far)."""
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


def _refuse_newer_schema(storage: Storage) -> None:
    """A database migrated by a newer bpf must not be run (or "migrated") by this one."""
    known = max(version for version, _, _ in MIGRATIONS)
    with _reported(storage), storage.read() as tx:
        newest = _newest_migration(tx, storage.dialect)
    if newest is not None and newest > known:
        raise StorageError(f"{display_url(storage.url)} has schema version {newest}, newer than this bpf knows "
                           f"({known}): upgrade bpf to use it")


def _newest_migration(tx: Any, dialect: str) -> int | None:
    # Tx (the protocol) has no raw statements; both backends' transactions are SqlTx, which has q().
    if dialect == "sqlite":
        present = tx.q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    else:
        present = tx.q("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if not present:
        return None
    row = tx.q("SELECT MAX(version) FROM schema_migrations").fetchone()
    return None if row is None or row[0] is None else int(row[0])


__all__ = ["DEFAULT_URL", "EventRow", "InstanceRow", "Page", "RecordRow", "Storage", "StorageError", "Tx",
           "VisitRow", "database_url", "display_url", "open_storage", "run_migrations"]
