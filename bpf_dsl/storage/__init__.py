"""Storage behind one protocol: SQLite (default) and PostgreSQL. Only this package speaks SQL.

Opening a database fails early and in one readable :class:`StorageError` (a
server that doesn't answer, a file that is not a database, a schema newer than
this build), before anything is written. The drivers' errors never leave this
package: they become the StorageError branch of :mod:`bpf_dsl.errors` at its door
(:mod:`bpf_dsl.storage.errors`).

A backend is one module (docs/backends.md): its storage class, its
:class:`~bpf_dsl.storage.backend.Backend` description and error translator, and an
``opening(url, create=...)`` context manager; :data:`SCHEMES` says which URLs are its.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager

from bpf_dsl.errors import StorageError, UsageError
from bpf_dsl.storage import migrate as _migrate
from bpf_dsl.storage.backend import Backend
from bpf_dsl.storage.base import (
    TOKENS_CHANNEL,
    EventRow,
    InstanceRow,
    Listening,
    Notifier,
    Page,
    RecordRow,
    RowVersions,
    Storage,
    Tx,
    VisitRow,
    WriteSession,
)
from bpf_dsl.storage.errors import explained
from bpf_dsl.storage.schema import MIGRATIONS
from bpf_dsl.storage.urls import DEFAULT_URL, database_url, display_url

#: Which backend module opens which URLs (imported only when a URL names it). Each module has
#: ``opening(url, *, create)``: the storage, connected, closed again if the block fails.
SCHEMES = {
    "sqlite:///": "bpf_dsl.storage.sqlite",
    "postgresql://": "bpf_dsl.storage.postgres",
    "postgres://": "bpf_dsl.storage.postgres",
}


def open_storage(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Storage:
    """Open the database at ``url`` and bring its schema up to date.

    ``create=False``: a SQLite file that doesn't exist is an error rather than a new,
    empty database (for commands that only make sense on existing data).
    """
    url = database_url(url)
    module = next((name for scheme, name in SCHEMES.items() if url.startswith(scheme)), None)
    if module is None:
        raise UsageError(f"unknown database URL {display_url(url)!r}: use sqlite:///FILE or postgresql://...")
    opening: Callable[..., AbstractContextManager[Storage]] = importlib.import_module(module).opening
    with opening(url, create=create) as storage:
        _refuse_newer_schema(storage)
        if migrate:
            run_migrations(storage)
    return storage


def run_migrations(storage: Storage) -> list[int]:
    """Apply pending migrations; returns the versions applied. A database that refuses is a StorageError."""
    with explained(storage):
        return storage.migrate()


def _refuse_newer_schema(storage: Storage) -> None:
    """A database migrated by a newer bpf must not be run (or "migrated") by this one."""
    known = max(version for version, _, _ in MIGRATIONS)
    with explained(storage):
        newest = _migrate.newest(storage)
    if newest is not None and newest > known:
        raise StorageError(f"{display_url(storage.url)} has schema version {newest}, newer than this bpf knows "
                           f"({known}): upgrade bpf to use it")


__all__ = ["DEFAULT_URL", "SCHEMES", "TOKENS_CHANNEL", "Backend", "EventRow", "InstanceRow", "Listening", "Notifier",
           "Page", "RecordRow", "RowVersions", "Storage", "StorageError", "Tx", "VisitRow", "WriteSession",
           "database_url", "display_url", "open_storage", "run_migrations"]
