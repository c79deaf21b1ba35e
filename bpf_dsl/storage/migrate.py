"""The one migration runner: every backend's schema brought up to date the same way.

A migration is applied in the same transaction that records it in
``schema_migrations``, so a crash never leaves half a migration. Two processes
opening one database at once must not both apply a migration: the backend's
migration lock says how they take turns (see :attr:`Backend.migration_lock`).
"""

from __future__ import annotations

import datetime as dt

from bpf_dsl.storage.base import Storage, Tx
from bpf_dsl.storage.schema import MIGRATIONS, statements
from bpf_dsl.storage.sql import SqlTx, ts

_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
          "applied_at TEXT NOT NULL)")


def migrate(storage: Storage) -> list[int]:
    """Apply the pending migrations of ``storage``; returns the versions applied (none: up to date)."""
    backend = storage.backend
    if backend.migration_lock is None:
        # Each migration in a write transaction of its own: the backend's write lock serialises migrators,
        # and each one asks again, under that lock, whether its migration is still pending.
        with storage.write() as tx:
            _sql(tx).q(_TABLE)
        applied: list[int] = []
        for version, name, sql in MIGRATIONS:
            with storage.write() as tx:
                if _apply(_sql(tx), version, name, sql):
                    applied.append(version)
        return applied
    # One transaction for them all, under the migration lock: whoever waited finds nothing left to do.
    with storage.write() as tx:
        raw = _sql(tx)
        raw.q(backend.migration_lock)
        raw.q(_TABLE)
        return [version for version, name, sql in MIGRATIONS if _apply(raw, version, name, sql)]


def newest(storage: Storage) -> int | None:
    """The newest migration applied to ``storage`` (None: none, not even the bookkeeping table)."""
    with storage.read() as tx:
        raw = _sql(tx)
        present = raw.q(storage.backend.migrations_table).fetchone()
        if present is None or not present[0]:
            return None
        row = raw.q("SELECT MAX(version) FROM schema_migrations").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _apply(tx: SqlTx, version: int, name: str, sql: list[str]) -> bool:
    if tx.q("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
        return False
    for stmt in statements(tx.backend.name, sql):
        tx.q(stmt)
    tx.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
         (version, name, ts(dt.datetime.now(dt.UTC))))
    return True


def _sql(tx: Tx) -> SqlTx:
    # The Tx protocol (the service's view) has no raw statements; every backend's transactions are SqlTx.
    if not isinstance(tx, SqlTx):
        raise TypeError(f"migrations run on SqlTx transactions, not {type(tx).__name__}")
    return tx
