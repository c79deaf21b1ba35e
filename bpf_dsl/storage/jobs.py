"""The durable work that waits for a time: stage visits past their sla, notifications, and the webhook outbox.

Due timers are stage visits: a visit of a stage with an ``sla`` is written with its
``due_at`` (:meth:`~bpf_dsl.storage.sql.SqlTx.open_visit`), and the partial index
``visits_due`` holds exactly the visits still open and not yet fired. Webhook deliveries
are rows of ``deliveries`` written in the move's transaction (an outbox); ``next_at`` is
when the next attempt is due.

Servers claim due rows in a transaction: where writers run concurrently (PostgreSQL) the
claim locks them with ``FOR UPDATE ... SKIP LOCKED`` (:attr:`Backend.skip_locked`), so that
two servers never take the same row and neither waits for the other; where the database
takes one writer at a time (SQLite) the write transaction is the lock. These functions
take the service's :class:`~bpf_dsl.storage.base.Tx`, as the migrations do: every
backend's transactions run the shared SQL (:class:`~bpf_dsl.storage.sql.SqlTx`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bpf_dsl.storage.base import InstanceRow, Tx, iter_chunks
from bpf_dsl.storage.sql import _INSTANCE_COLS as INSTANCE_COLS
from bpf_dsl.storage.sql import SqlTx, parse_ts, ts
from bpf_dsl.storage.sql import _instance as instance_of

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)


@dataclass(frozen=True, slots=True)
class DueVisit:
    """An open stage visit past its due time whose ``on overdue`` has not fired."""

    id: int
    instance_id: str
    stage: str
    due_at: dt.datetime


@dataclass(frozen=True, slots=True)
class VisitTimer:
    """The due time of an instance's last visit, and when it fired (both None without an sla)."""

    due_at: dt.datetime | None
    overdue_at: dt.datetime | None
    open: bool


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """A ``bpf.notify``: for the users of ``role``, about an instance."""

    id: int
    instance_id: str
    process: str
    stage: str | None
    role: str
    message: str
    at: dt.datetime
    by: str


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A webhook in the outbox: ``body`` is the exact JSON text sent at every attempt."""

    id: str
    instance_id: str
    process: str
    stage: str | None
    url: str
    event: str
    body: str
    status: str  # pending | delivered | failed
    attempts: int
    next_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


def _sql(tx: Tx) -> SqlTx:
    # The Tx protocol (the service's view) has no raw statements; every backend's transactions are SqlTx.
    if not isinstance(tx, SqlTx):
        raise TypeError(f"jobs run on SqlTx transactions, not {type(tx).__name__}")
    return tx


def _claim(tx: SqlTx, tables: str) -> str:
    """The lock clause of a claim: ``FOR UPDATE OF ... SKIP LOCKED`` where writers are concurrent, else none."""
    backend = tx.backend
    return f"{backend.row_lock} OF {tables}{backend.skip_locked}" if backend.row_lock else ""


def _marks(ids: Sequence[Any]) -> str:
    return ", ".join("?" for _ in ids)


# -- timers -----------------------------------------------------------------------------------------------
def claim_due_visits(tx: Tx, now: dt.datetime, limit: int) -> list[DueVisit]:
    """Up to ``limit`` open visits due at ``now`` whose ``on overdue`` has not fired, oldest due first.

    Each is locked with its instance for this transaction, skipping those another transaction holds (a
    server firing them, a move on the instance): the rows come back to this transaction only. A row
    another transaction changed meanwhile is checked again under the lock (PostgreSQL re-reads a locked
    row's newest version), so a visit fired or closed by a transaction that committed meanwhile is not
    returned.
    """
    sql = _sql(tx)
    rows = sql.q("SELECT v.id, v.instance_id, v.stage, v.due_at FROM stage_visits v "
                 "JOIN instances i ON i.id = v.instance_id "
                 "WHERE v.due_at <= ? AND v.overdue_at IS NULL AND v.exited_at IS NULL "
                 f"ORDER BY v.due_at, v.id LIMIT ?{_claim(sql, 'v, i')}", (ts(now), limit)).fetchall()
    return [DueVisit(int(r[0]), r[1], r[2], parse_ts(r[3])) for r in rows]  # type: ignore[arg-type]


def mark_overdue(tx: Tx, visit_id: int, at: dt.datetime) -> None:
    """Note that the visit's ``on overdue`` fired at ``at`` (it leaves the due timers)."""
    _sql(tx).w("UPDATE stage_visits SET overdue_at = ? WHERE id = ?", (ts(at), visit_id))


def next_due(tx: Tx) -> dt.datetime | None:
    """When the next open visit passes its sla (None: no visit waits); the first entry of the index."""
    row = _sql(tx).q("SELECT min(due_at) FROM stage_visits "
                     "WHERE due_at IS NOT NULL AND overdue_at IS NULL AND exited_at IS NULL").fetchone()
    return None if row is None else parse_ts(row[0])


def last_visit_timers(tx: Tx, instance_ids: Sequence[str]) -> dict[str, VisitTimer]:
    """The due time and firing of each instance's last visit (its active one while the instance is active)."""
    out: dict[str, VisitTimer] = {}
    sql = _sql(tx)
    for chunk in iter_chunks(list(dict.fromkeys(instance_ids)), 500):
        rows = sql.q("SELECT instance_id, due_at, overdue_at, exited_at FROM stage_visits WHERE id IN "
                     f"(SELECT max(id) FROM stage_visits WHERE instance_id IN ({_marks(chunk)}) GROUP BY instance_id)",
                     chunk).fetchall()
        for r in rows:
            out[r[0]] = VisitTimer(parse_ts(r[1]), parse_ts(r[2]), r[3] is None)
    return out


# -- notifications ------------------------------------------------------------------------------------------
_NOTIFICATION_COLS = "n.id, n.instance_id, n.process, n.stage, n.role, n.message, n.at, n.by_user"


def _notification(r: Sequence[Any]) -> NotificationRow:
    return NotificationRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], parse_ts(r[6]), r[7])  # type: ignore[arg-type]


def add_notification(tx: Tx, instance_id: str, process: str, stage: str | None, role: str, message: str,
                     at: dt.datetime, by: str) -> None:
    """Store a notification (in the transaction of the move whose hook sent it)."""
    _sql(tx).w("INSERT INTO notifications (instance_id, process, stage, role, message, at, by_user) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (instance_id, process, stage, role, message, ts(at), by))


def notifications_for(tx: Tx, roles: Sequence[str] | None, processes: Sequence[str] | None,
                      first: int) -> list[NotificationRow]:
    """The newest ``first`` notifications for any of ``roles`` on instances of ``processes`` (None: any), of
    instances that still exist, newest first."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("n.role", roles), ("n.process", processes)):
        if values is not None:
            if not values:
                return []
            clauses.append(f"{column} IN ({_marks(values)})")
            params.extend(values)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    rows = _sql(tx).q(f"SELECT {_NOTIFICATION_COLS} FROM notifications n JOIN instances i ON i.id = n.instance_id "
                      f"{where}ORDER BY n.id DESC LIMIT ?", [*params, first]).fetchall()
    return [_notification(r) for r in rows]


def notifications_of(tx: Tx, instance_ids: Sequence[str]) -> dict[str, list[NotificationRow]]:
    """The notifications of each instance, oldest first."""
    out: dict[str, list[NotificationRow]] = {i: [] for i in instance_ids}
    sql = _sql(tx)
    for chunk in iter_chunks(list(dict.fromkeys(instance_ids)), 500):
        rows = sql.q(f"SELECT {_NOTIFICATION_COLS} FROM notifications n WHERE n.instance_id IN ({_marks(chunk)}) "
                     "ORDER BY n.id", chunk).fetchall()
        for r in rows:
            out.setdefault(r[1], []).append(_notification(r))
    return out


# -- the webhook outbox ---------------------------------------------------------------------------------------
_DELIVERY_COLS = ("id, instance_id, process, stage, url, event, body, status, attempts, next_at, last_error, "
                  "created_at, delivered_at")


def _delivery(r: Sequence[Any]) -> DeliveryRow:
    return DeliveryRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], int(r[8]), parse_ts(r[9]),  # type: ignore[arg-type]
                       r[10], parse_ts(r[11]), parse_ts(r[12]))  # type: ignore[arg-type]


def add_delivery(tx: Tx, row: DeliveryRow) -> None:
    """Put a delivery in the outbox (in the transaction of the move whose hook asked for it)."""
    _sql(tx).w(f"INSERT INTO deliveries ({_DELIVERY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (row.id, row.instance_id, row.process, row.stage, row.url, row.event, row.body, row.status,
                row.attempts, ts(row.next_at), row.last_error, ts(row.created_at),
                None if row.delivered_at is None else ts(row.delivered_at)))


def claim_deliveries(tx: Tx, now: dt.datetime, limit: int, lease_until: dt.datetime) -> list[DeliveryRow]:
    """Up to ``limit`` pending deliveries due at ``now``, oldest due first, each counted as one more attempt and
    leased to the caller until ``lease_until``: no server claims it again before then (a server that dies while
    sending leaves it to be sent again once the lease is over). Rows another transaction holds are skipped."""
    sql = _sql(tx)
    rows = sql.q(f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE status = 'pending' AND next_at <= ? "
                 f"ORDER BY next_at, id LIMIT ?{_claim(sql, 'deliveries')}", (ts(now), limit)).fetchall()
    claimed = [_delivery(r) for r in rows]
    sql.many("UPDATE deliveries SET attempts = attempts + 1, next_at = ? WHERE id = ?",
             [(ts(lease_until), d.id) for d in claimed])
    return [DeliveryRow(d.id, d.instance_id, d.process, d.stage, d.url, d.event, d.body, d.status, d.attempts + 1,
                        lease_until, d.last_error, d.created_at, d.delivered_at) for d in claimed]


def mark_delivered(tx: Tx, delivery_id: str, at: dt.datetime) -> bool:
    """The endpoint took the delivery; False if it was no longer pending (delivered by another attempt, or
    set aside by an operator)."""
    cur = _sql(tx).q("UPDATE deliveries SET status = 'delivered', delivered_at = ?, last_error = NULL "
                     "WHERE id = ? AND status = 'pending'", (ts(at), delivery_id))
    return bool(cur.rowcount == 1)


def mark_attempt_failed(tx: Tx, delivery_id: str, attempt: int, error: str, retry_at: dt.datetime | None) -> bool:
    """Attempt number ``attempt`` failed with ``error``: next attempt at ``retry_at``, or (None) failed for good.

    Only if that attempt is still the latest: a server whose lease ran out while it sent must not set back
    the delivery another server has claimed since.
    """
    cur = _sql(tx).q("UPDATE deliveries SET status = ?, next_at = COALESCE(?, next_at), last_error = ? "
                     "WHERE id = ? AND status = 'pending' AND attempts = ?",
                     (PENDING if retry_at is not None else FAILED, None if retry_at is None else ts(retry_at),
                      error, delivery_id, attempt))
    return bool(cur.rowcount == 1)


def next_delivery(tx: Tx) -> dt.datetime | None:
    """When the next pending delivery is due (None: the outbox is empty)."""
    row = _sql(tx).q("SELECT min(next_at) FROM deliveries WHERE status = 'pending'").fetchone()
    return None if row is None else parse_ts(row[0])


def deliveries_of(tx: Tx, instance_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]:
    """The deliveries of each instance, oldest first."""
    out: dict[str, list[DeliveryRow]] = {i: [] for i in instance_ids}
    sql = _sql(tx)
    for chunk in iter_chunks(list(dict.fromkeys(instance_ids)), 500):
        rows = sql.q(f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE instance_id IN ({_marks(chunk)}) ORDER BY id",
                     chunk).fetchall()
        for r in rows:
            out.setdefault(r[1], []).append(_delivery(r))
    return out


def list_deliveries(tx: Tx, status: str | None, first: int) -> list[DeliveryRow]:
    """The newest ``first`` deliveries (of one status, or all), newest first."""
    where, params = ("WHERE status = ? ", [status]) if status is not None else ("", [])
    rows = _sql(tx).q(f"SELECT {_DELIVERY_COLS} FROM deliveries {where}ORDER BY id DESC LIMIT ?",
                      [*params, first]).fetchall()
    return [_delivery(r) for r in rows]


def get_deliveries(tx: Tx, ids: Sequence[str]) -> dict[str, DeliveryRow]:
    """Deliveries by id."""
    out: dict[str, DeliveryRow] = {}
    sql = _sql(tx)
    for chunk in iter_chunks(list(dict.fromkeys(ids)), 500):
        for r in sql.q(f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE id IN ({_marks(chunk)})", chunk).fetchall():
            out[r[0]] = _delivery(r)
    return out


def retry_deliveries(tx: Tx, ids: Sequence[str] | None, now: dt.datetime) -> list[str]:
    """Send again from ``now`` with a fresh count of attempts: the failed deliveries (``ids`` None), or those of
    ``ids`` not delivered yet. Returns the ids set to pending."""
    sql = _sql(tx)
    if ids is None:
        chosen = [r[0] for r in sql.q("SELECT id FROM deliveries WHERE status = 'failed' ORDER BY id").fetchall()]
    else:
        chosen = [d.id for d in get_deliveries(tx, ids).values() if d.status != DELIVERED]
    sql.many("UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ? WHERE id = ? AND status <> "
             "'delivered'", [(ts(now), i) for i in chosen])
    return chosen


def count_deliveries(tx: Tx) -> dict[str, int]:
    """How many deliveries there are of each status."""
    rows = _sql(tx).q("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall()
    return {r[0]: int(r[1]) for r in rows}


def get_instances(tx: Tx, ids: Sequence[str]) -> dict[str, InstanceRow]:
    """Instances by id, in one query per 500 (the instances a page of notifications is about)."""
    out: dict[str, InstanceRow] = {}
    sql = _sql(tx)
    for chunk in iter_chunks(list(dict.fromkeys(ids)), 500):
        for r in sql.q(f"SELECT {INSTANCE_COLS} FROM instances WHERE id IN ({_marks(chunk)})", chunk).fetchall():
            row = instance_of(r)
            out[row.id] = row
    return out
