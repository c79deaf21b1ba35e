"""Storage behind one protocol: SQLite (default) and PostgreSQL. Only this package speaks SQL."""

from __future__ import annotations

import os

from ..errors import UsageError
from .base import EventRow, InstanceRow, Page, RecordRow, Storage, StorageError, Tx, VisitRow

DEFAULT_URL = "sqlite:///bpf.db"


def database_url(explicit: str | None = None) -> str:
    """``--db``, else ``BPF_DATABASE_URL``, else ``sqlite:///bpf.db`` in the current folder."""
    return explicit or os.environ.get("BPF_DATABASE_URL") or DEFAULT_URL


def open_storage(url: str | None = None, *, migrate: bool = True) -> Storage:
    """Open the database at ``url`` and bring its schema up to date."""
    url = database_url(url)
    storage: Storage
    if url.startswith("sqlite:///"):
        from .sqlite import SqliteStorage

        path = url[len("sqlite:///"):]
        if not path:
            raise UsageError("sqlite URL needs a path: sqlite:///bpf.db")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UsageError(f"no such folder for the database: {folder}")
        storage = SqliteStorage(url, path)
    elif url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        storage = PostgresStorage(url)
    else:
        raise UsageError(f"unknown database URL {url!r}: use sqlite:///FILE or postgresql://...")
    if migrate:
        storage.migrate()
    return storage


__all__ = ["DEFAULT_URL", "EventRow", "InstanceRow", "Page", "RecordRow", "Storage", "StorageError", "Tx",
           "VisitRow", "database_url", "open_storage"]
