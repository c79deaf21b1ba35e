"""The SQL of every operation, written once for every backend; where they differ, it asks the backend object.

Values are kept as JSON (``data`` column). Timestamps are fixed-width UTC text
(``2026-01-31T09:00:00.000000Z``), which sorts like time in both databases.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Protocol

from bpf_dsl.storage.backend import Backend
from bpf_dsl.storage.base import (
    TOKENS_CHANNEL,
    EventRow,
    InstanceRow,
    Page,
    RecordRow,
    RowVersions,
    TokenRow,
    VisitRow,
    iter_chunks,
)

#: The ``stage_counts`` rows each (process, status, stage) is split over where writers run concurrently
#: (PostgreSQL), so that concurrent moves don't all queue on one counter row. A single-writer backend (SQLite)
#: keeps one: nothing queues there, and a round of moves then sums into two rows instead of up to sixteen.
SHARDS = 8


class Pipeline(Protocol):
    """Statements sent without waiting for their answers (psycopg's pipeline mode), for a transaction whose
    round trips are the cost (PostgreSQL's group commit): see :attr:`SqlTx.pipeline`."""

    def send(self, sql: str, params: Sequence[Any]) -> None:
        """Queue a statement whose result nobody reads."""

    def sync(self) -> None:
        """Wait until everything sent was answered; the first failure among them is raised (a StorageError)."""

    def recover(self) -> None:
        """After a failure: wait out what is still in flight (the database skipped it), so that the
        transaction can be rolled back to a savepoint."""


def ts(value: dt.datetime) -> str:
    """A datetime as stored text (UTC, fixed width so that text order is time order)."""
    global _LAST_TS
    last = _LAST_TS  # (datetime, text): one tuple, read and replaced whole, so threads can share it
    if last[0] == value:  # the same instant: the same UTC text, whatever its time zone
        return last[1]
    text = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    _LAST_TS = (value, text)
    return text


#: The last datetime :func:`ts` wrote and its text: a command stamps its rows with one time (a move's
#: instance, visits and log take it four times or more), each conversion about 3 µs.
_LAST_TS: tuple[dt.datetime, str] = (dt.datetime.min, "")


def parse_ts(text: str | None) -> dt.datetime | None:
    """Stored text back to an aware datetime (fromisoformat: strptime costs 50 times more)."""
    if text is None:
        return None
    return dt.datetime.fromisoformat(text)


def _default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, set | frozenset | tuple):
        return sorted(v)
    raise TypeError(f"can't store {type(v).__name__}")


# json.dumps with these options makes a new encoder at every call; one made here does for all. Where the C
# encoder is there, it is called directly, without the cycle check (no stored value refers to itself, and the
# check's bookkeeping could not be shared between threads): the same text, a third of the time.
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), sort_keys=True)
_C_ENCODE = None if c_make_encoder is None else c_make_encoder(
    None, _default, encode_basestring_ascii, None, ":", ",", True, False, True)


def dumps(v: Any) -> str:
    """JSON text for storage."""
    if _C_ENCODE is None:
        return _ENCODER.encode(v)
    return "".join(_C_ENCODE(v, 0))


def loads(v: Any) -> Any:
    """Stored JSON back (PostgreSQL's JSONB arrives decoded already)."""
    return json.loads(v) if isinstance(v, str | bytes) else v


_RECORD_COLS = "id, entity, data, version, created_at, updated_at, active_instance_id, owner, created_by"
_INSTANCE_COLS = ("id, record_id, process, definition_version, status, active_stage, traversed, bound, actions_done, "
                  "stage_started_at, created_at, updated_at, completed_at, version, outcome")


def _record(r: Sequence[Any]) -> RecordRow:
    return RecordRow(r[0], r[1], loads(r[2]), r[3], parse_ts(r[4]), parse_ts(r[5]), r[6],  # type: ignore[arg-type]
                     r[7], r[8])


def _instance(r: Sequence[Any]) -> InstanceRow:
    return InstanceRow(r[0], r[1], r[2], r[3], r[4], r[5], tuple(loads(r[6])), dict(loads(r[7])),
                       parse_ts(r[9]), parse_ts(r[10]), parse_ts(r[11]), parse_ts(r[12]),  # type: ignore[arg-type]
                       r[13], tuple(loads(r[8])), r[14])


class SqlTx:
    """A transaction over a DB-API cursor of ``backend``'s driver."""

    def __init__(self, cursor: Any, backend: Backend) -> None:
        self.cur = cursor
        self.backend = backend
        self._placeholder = backend.placeholder
        self._errors = backend.driver_errors
        #: The database dropped the whole transaction under a savepoint (SQLite does on a full disk or an I/O
        #: error): nothing of it can be committed any more (:meth:`savepoint`).
        self.lost = False
        # Stage counter changes kept for :meth:`write_counts` (group commit), by counter row; None: written at once.
        self._counts: dict[tuple[str, str, str, int], int] | None = None
        #: Where set, the writes whose results nobody reads (:meth:`w`) are sent without waiting, and each
        #: savepoint waits once, at its end, for all of them: a move costs its reads' round trips and one more,
        #: not one per statement. A failure of such a write surfaces within the command that sent it.
        self.pipeline: Pipeline | None = None
        # settle_late(): blocks end without waiting; _carry: a block ended so, and nothing has waited since.
        self._late = False
        self._carry = False
        # prefetch_instances(): instance id -> (the instance, its bound records by id), read locked; an entry is
        # dropped when this transaction writes its instance or one of its records, and when it is taken.
        self._prefetched: dict[str, tuple[InstanceRow, dict[str, RecordRow]]] = {}

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """One command of a group commit: if the block raises, its writes are rolled back alone (the stage
        counter changes it kept for :meth:`write_counts` too).

        When the rollback itself fails, the database has dropped the whole transaction:
        :attr:`lost` is set, and that failure is raised.
        """
        counts = None if self._counts is None else dict(self._counts)
        self._unless_lost("SAVEPOINT bpf_command", send=True)
        try:
            yield
            self._unless_lost("RELEASE SAVEPOINT bpf_command", send=True)
            if self._late and self.pipeline is not None:
                self._carry = True  # waited for by the next block's first read, or the commit
            else:
                self.settle()  # what the command sent without waiting failed: it fails, inside its savepoint
        except BaseException:
            if self.pipeline is not None:
                self.pipeline.recover()
            self._unless_lost("ROLLBACK TO SAVEPOINT bpf_command")
            self._unless_lost("RELEASE SAVEPOINT bpf_command")
            self._counts = counts
            raise

    def notify(self, channel: str, payload: str) -> None:
        """See :meth:`bpf_dsl.storage.base.Tx.notify`."""
        if self.backend.notify is None:
            raise NotImplementedError(f"{self.backend.name} has no notifications")
        self.w(self.backend.notify, (channel, payload))

    def settle_late(self) -> None:
        """See :meth:`bpf_dsl.storage.base.Tx.settle_late`."""
        self._late = True

    def keep_counts(self) -> None:
        """From now on, keep the stage counter changes and write them with :meth:`write_counts`.

        A transaction of many commands (group commit) then writes each counter row once, at
        its end, in one order: the commands of two such transactions (two server processes)
        can't lock counter rows crosswise (a deadlock), and a counter moved by several
        commands is written once.
        """
        if self._counts is None:
            self._counts = {}

    def write_counts(self) -> None:
        """Write the stage counter changes kept since :meth:`keep_counts` (sorted: one global order)."""
        counts, self._counts = self._counts or {}, None
        self.many("INSERT INTO stage_counts (process, status, active_stage, shard, n) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (process, status, active_stage, shard) DO UPDATE SET n = stage_counts.n + excluded.n",
                  [(*key, n) for key, n in sorted(counts.items()) if n])

    def _unless_lost(self, sql: str, *, send: bool = False) -> None:
        if send and self.pipeline is not None:
            # Sent without waiting: a failure raised here belongs to a write sent before it (psycopg reads
            # whatever answers have arrived), so it is the command's own; a transaction the database dropped
            # shows when the rollback to the savepoint fails.
            self.w(sql)
            return
        try:
            self.q(sql)
        except BaseException:
            self.lost = True
            raise

    def q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders become the driver's) and wait for its result; the driver's
        errors become StorageErrors."""
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        try:
            self.cur.execute(sql, tuple(params))
        except self._errors as err:
            raise self.backend.translate(err) from err
        if self.pipeline is not None:
            self._sync()  # its rows and row count, and the failure of anything sent before it
        return self.cur

    def w(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a write whose result nobody reads: sent without waiting where the transaction has a
        :attr:`pipeline` (its failure surfaces at the next wait: a read, or the savepoint's end)."""
        if self.pipeline is None:
            self.q(sql, params)
            return
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        self.pipeline.send(sql, tuple(params))

    def settle(self) -> None:
        """Wait for the writes sent without waiting (:meth:`w`); raise the first failure among them."""
        if self.pipeline is not None:
            self._sync()

    def _sync(self) -> None:
        assert self.pipeline is not None
        try:
            self.pipeline.sync()
        except BaseException:
            if self._carry:
                self.lost = True  # it may be an earlier block's write that failed: nothing here may be committed
            raise
        self._carry = False

    def _json(self) -> str:
        return self.backend.json.param

    # -- records ----------------------------------------------------------------------
    def _lock(self, lock: bool) -> str:
        # Where writers run concurrently, lock the row for this transaction so a concurrent command
        # waits instead of failing its compare-and-set (the backend says how, or that it needn't).
        return self.backend.row_lock if lock else ""

    def get_record(self, record_id: str, lock: bool = False) -> RecordRow | None:
        row = self.q(f"SELECT {_RECORD_COLS} FROM records WHERE id = ?{self._lock(lock)}", (record_id,)).fetchone()
        return None if row is None else _record(row)

    def get_records(self, ids: Sequence[str]) -> dict[str, RecordRow]:
        out: dict[str, RecordRow] = {}
        for chunk in iter_chunks(list(dict.fromkeys(ids)), 500):
            marks = ", ".join("?" for _ in chunk)
            for row in self.q(f"SELECT {_RECORD_COLS} FROM records WHERE id IN ({marks})", chunk).fetchall():
                rec = _record(row)
                out[rec.id] = rec
        return out

    def insert_record(self, row: RecordRow) -> None:
        self.w(f"INSERT INTO records ({_RECORD_COLS}) VALUES (?, ?, {self._json()}, ?, ?, ?, ?, ?, ?)",
               (row.id, row.entity, dumps(row.values), row.version, ts(row.created_at), ts(row.updated_at),
                row.active_instance_id, row.owner, row.created_by))

    def update_record(self, record_id: str, values: dict[str, Any], expected_version: int,
                      now: dt.datetime) -> bool:
        self._written(record_id=record_id)
        cur = self.q(f"UPDATE records SET data = {self._json()}, version = version + 1, updated_at = ? "
                     "WHERE id = ? AND version = ?", (dumps(values), ts(now), record_id, expected_version))
        return bool(cur.rowcount == 1)

    def assign_record(self, record_id: str, owner: str, expected_version: int, now: dt.datetime) -> bool:
        """Give the record to ``owner`` (a new version, as any change: kept answers and writers notice)."""
        self._written(record_id=record_id)
        cur = self.q("UPDATE records SET owner = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
                     (owner, ts(now), record_id, expected_version))
        return bool(cur.rowcount == 1)

    def delete_record(self, record_id: str, expected_version: int) -> bool:
        self._written(record_id=record_id)
        cur = self.q("DELETE FROM records WHERE id = ? AND version = ?", (record_id, expected_version))
        if cur.rowcount != 1:
            return False
        gone = self.q("SELECT id, process, status, active_stage FROM instances WHERE record_id = ?",
                      (record_id,)).fetchall()
        for instance_id, process, status, stage in sorted(gone, key=lambda r: (r[1], r[2], r[3])):
            self._count(process, status, stage, instance_id, -1)
        ids = [r[0] for r in gone]
        for chunk in iter_chunks(ids, 500):
            marks = ", ".join("?" for _ in chunk)
            self.q(f"DELETE FROM stage_visits WHERE instance_id IN ({marks})", chunk)
            self.q(f"DELETE FROM instance_records WHERE instance_id IN ({marks})", chunk)
            self.q(f"DELETE FROM instance_events WHERE instance_id IN ({marks})", chunk)
        self.q("DELETE FROM instances WHERE record_id = ?", (record_id,))
        return True

    def instances_working_on(self, record_id: str) -> list[tuple[str, str, str]]:
        """(instance, its primary record, process) of other records' instances with a stage visit on this record."""
        rows = self.q("SELECT i.id, i.record_id, i.process FROM instance_records l "
                      "JOIN instances i ON i.id = l.instance_id WHERE l.record_id = ? ORDER BY i.id",
                      (record_id,)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def link_record(self, record_id: str, instance_id: str) -> None:
        """Note that another record's instance works on this record (a stage visit opened on it)."""
        self.w("INSERT INTO instance_records (record_id, instance_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
               (record_id, instance_id))

    def set_active_instance(self, record_id: str, instance_id: str | None) -> None:
        self._written(record_id=record_id)
        self.w("UPDATE records SET active_instance_id = ? WHERE id = ?", (instance_id, record_id))

    def _field_expr(self, field_name: str) -> str:
        return self.backend.json.text.format(col="data", key=_safe(field_name))

    def _equals(self, name: str, value: Any) -> tuple[str, tuple[Any, ...]]:
        """A clause matching records whose field ``name`` holds ``value`` (stored JSON), the same on every backend.

        Empty values are not stored (an absent key and null mean the same), so null matches an absent
        key; a list (choices) matches the same list, not one containing it (JSONB's ``@>`` would).
        """
        js, key = self.backend.json, _safe(name)
        if value is None:
            return f"{js.value.format(col='r.data', key=key)} IS NULL", ()
        if isinstance(value, list | dict):
            return f"{js.value.format(col='r.data', key=key)} = {js.compare}", (dumps(value),)
        return js.scalar.format(col="r.data", key=key), (js.scalar_param(name, value),)

    def related(self, entity: str, field_name: str, target_id: str) -> list[str]:
        rows = self.q(f"SELECT id FROM records WHERE entity = ? AND {self._field_expr(field_name)} = ? "
                      "ORDER BY created_at DESC, id DESC", (entity, target_id)).fetchall()
        return [r[0] for r in rows]

    def find_unique(self, entity: str, field_name: str, value: Any, exclude_id: str | None) -> str | None:
        js = self.backend.json
        equals = js.scalar.format(col="data", key=_safe(field_name))
        row = self.q(f"SELECT id FROM records WHERE entity = ? AND {equals} AND id <> ? LIMIT 1",
                     (entity, js.scalar_param(field_name, value), exclude_id or "")).fetchone()
        return None if row is None else str(row[0])

    def list_records(self, entity: str, where: dict[str, Any], process: str | None, stage: str | None,
                     first: int, after: str | None, search: str | None = None, newest_first: bool = True,
                     owner: str | None = None, unsearched: Sequence[str] = ()) -> Page:
        """A page of matching records: newest first (what a list shows), or by id (exports: a stable order).

        ``owner``: only the records that user owns. ``unsearched``: fields whose values ``search`` must not
        look at (those the caller may not read: a match would tell their values).
        The cursor is opaque: the last record's creation time and id (newest first), or its id.
        Raises ValueError for a cursor this server didn't give.
        """
        clauses = ["r.entity = ?"]
        params: list[Any] = [entity]
        if owner is not None:
            clauses.append("r.owner = ?")
            params.append(owner)
        if search:
            # A case-insensitive substring of any text value (not of the keys, as `data LIKE` would be).
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            js = self.backend.json
            skipped = [_safe(name) for name in unsearched]
            skip = f" AND {js.search_key} NOT IN ({', '.join('?' for _ in skipped)})" if skipped else ""
            clauses.append(js.search.format(skip=skip))
            params.append(pattern)
            params.extend(skipped)
        for name, value in where.items():
            clause, param = self._equals(name, value)
            clauses.append(clause)
            params.extend(param)
        join = ""
        if stage is not None or process is not None:
            join = "JOIN instances i ON i.id = r.active_instance_id" if process is None else \
                "JOIN instances i ON i.record_id = r.id AND i.process = ?"
            if process is not None:
                params.insert(0, process)
            if stage is not None:
                clauses.append("i.active_stage = ? AND i.status = 'active'")
                params.append(stage)
        base = f"FROM records r {join} WHERE {' AND '.join(clauses)}"
        total = int(self.q(f"SELECT count(*) {base}", params).fetchone()[0])
        page_params = list(params)
        page_where = ""
        if after and newest_first:
            created, last_id = _read_cursor(after)
            page_where = " AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?))"
            page_params += [created, created, last_id]
        elif after:
            page_where = " AND r.id > ?"
            page_params.append(after)
        order = "r.created_at DESC, r.id DESC" if newest_first else "r.id"
        cols = ", ".join(f"r.{c.strip()}" for c in _RECORD_COLS.split(","))
        rows = self.q(f"SELECT {cols} {base}{page_where} ORDER BY {order} LIMIT ?",
                      [*page_params, first + 1]).fetchall()
        items = [_record(r) for r in rows[:first]]
        nxt = None
        if len(rows) > first and items:
            last = items[-1]
            nxt = _cursor(ts(last.created_at), last.id) if newest_first else last.id
        return Page(items, nxt, total)

    # -- instances ------------------------------------------------------------------------
    def get_instance(self, instance_id: str, lock: bool = False) -> InstanceRow | None:
        row = self.q(f"SELECT {_INSTANCE_COLS} FROM instances WHERE id = ?{self._lock(lock)}",
                     (instance_id,)).fetchone()
        return None if row is None else _instance(row)

    def _with_records_sql(self, where: str, lock: bool) -> str:
        """The instances matching ``where`` joined with each record they are bound to (primary one included)."""
        icols = ", ".join(f"i.{c.strip()}" for c in _INSTANCE_COLS.split(","))
        rcols = ", ".join(f"r.{c.strip()}" for c in _RECORD_COLS.split(","))
        lock_sql = f"{self.backend.row_lock} OF i, r" if lock and self.backend.row_lock else ""
        records = self.backend.json.records_of_values.format(col="i.bound")
        return f"SELECT {icols}, {rcols} FROM instances i{records} WHERE {where} ORDER BY i.id, r.id{lock_sql}"

    @staticmethod
    def _instances_with_records(rows: Sequence[Sequence[Any]]) -> dict[str, tuple[InstanceRow, dict[str, RecordRow]]]:
        width = _INSTANCE_COLS.count(",") + 1
        out: dict[str, tuple[InstanceRow, dict[str, RecordRow]]] = {}
        for r in rows:
            entry = out.get(r[0])
            if entry is None:
                entry = out[r[0]] = (_instance(r[:width]), {})
            rec = _record(r[width:])
            entry[1][rec.id] = rec
        return out

    def get_instance_with_records(self, instance_id: str,
                                  lock: bool = False) -> tuple[InstanceRow, dict[str, RecordRow]] | None:
        """The instance and the records it is bound to (its primary record and each stage entity's), by id, in
        one statement: a move reads them all (gates, branches, hooks' ``set``), and where a round trip is the
        cost one read beats three. ``lock``: the instance's row and those records' rows are locked (a move
        may write any of them). Prefetched (:meth:`prefetch_instances`, always locked): taken from there."""
        found = self._prefetched.pop(instance_id, None)
        if found is not None:
            return found
        rows = self.q(self._with_records_sql("i.id = ?", lock), (instance_id,)).fetchall()
        if not rows:
            # No bound record stored (its records deleted meanwhile): the instance alone, as a move reads it.
            alone = self.get_instance(instance_id, lock)
            return None if alone is None else (alone, {})
        return self._instances_with_records(rows)[instance_id]

    def prefetch_instances(self, instance_ids: Sequence[str]) -> None:
        """See :meth:`bpf_dsl.storage.base.Tx.prefetch_instances` (ordered by id: one lock order everywhere)."""
        for chunk in iter_chunks(sorted(set(instance_ids)), 500):
            marks = ", ".join("?" for _ in chunk)
            rows = self.q(self._with_records_sql(f"i.id IN ({marks})", True), chunk).fetchall()
            self._prefetched.update(self._instances_with_records(rows))

    def _written(self, *, instance_id: str | None = None, record_id: str | None = None) -> None:
        """This transaction changed an instance or a record: prefetched entries holding it are read again."""
        if not self._prefetched:
            return
        if instance_id is not None:
            self._prefetched.pop(instance_id, None)
        if record_id is not None:
            for key in [k for k, (_, records) in self._prefetched.items() if record_id in records]:
                del self._prefetched[key]

    def instances_of(self, record_id: str) -> list[InstanceRow]:
        rows = self.q(f"SELECT {_INSTANCE_COLS} FROM instances WHERE record_id = ? ORDER BY updated_at DESC, id",
                      (record_id,)).fetchall()
        return [_instance(r) for r in rows]

    def instances_of_many(self, record_ids: Sequence[str]) -> dict[str, list[InstanceRow]]:
        out: dict[str, list[InstanceRow]] = {rid: [] for rid in record_ids}
        for chunk in iter_chunks(list(dict.fromkeys(record_ids)), 500):
            marks = ", ".join("?" for _ in chunk)
            rows = self.q(f"SELECT {_INSTANCE_COLS} FROM instances WHERE record_id IN ({marks}) "
                          "ORDER BY updated_at DESC, id", chunk).fetchall()
            for r in rows:
                inst = _instance(r)
                out.setdefault(inst.record_id, []).append(inst)
        return out

    def row_versions(self, record_ids: Sequence[str], instance_ids: Sequence[str],
                     involving: Sequence[str]) -> RowVersions:
        """In one query: the version and active instance of each record of ``record_ids``, the version of each
        instance of ``instance_ids``, and per record of ``involving`` the (id, version) of the instances
        :meth:`instances_involving_many` lists. What tells a kept answer that the rows it read are unchanged."""
        parts: list[str] = []
        params: list[Any] = []

        def marks(ids: Sequence[str]) -> str:
            params.extend(ids)
            return ", ".join("?" for _ in ids)

        if record_ids:
            parts.append(f"SELECT 'r', id, version, active_instance_id FROM records WHERE id IN ({marks(record_ids)})")
        if instance_ids:
            parts.append(f"SELECT 'i', id, version, record_id FROM instances WHERE id IN ({marks(instance_ids)})")
        if involving:
            parts.append(f"SELECT 'o', record_id, version, id FROM instances WHERE record_id IN ({marks(involving)})")
            parts.append("SELECT 'l', l.record_id, i.version, i.id FROM instance_records l JOIN instances i "
                         f"ON i.id = l.instance_id WHERE l.record_id IN ({marks(involving)})")
        out = RowVersions({}, {}, {rid: set() for rid in involving})
        if parts:
            for kind, key, version, other in self.q(" UNION ALL ".join(parts), params).fetchall():
                if kind == "r":
                    out.records[key] = (version, other)
                elif kind == "i":
                    out.instances[key] = version
                else:
                    out.involving[key].add((other, version))
        return out

    def instances_involving_many(self, record_ids: Sequence[str]) -> dict[str, list[InstanceRow]]:
        """Per record: its own instances and those of other records with a stage on it, newest activity first.

        The opportunity a lead's process created and moved on to takes part in that
        instance (D365 shows its bar on the opportunity): reads list it with the
        opportunity's own instances.
        """
        out = self.instances_of_many(record_ids)
        for chunk in iter_chunks(list(dict.fromkeys(record_ids)), 500):
            marks = ", ".join("?" for _ in chunk)
            cols = ", ".join(f"i.{c.strip()}" for c in _INSTANCE_COLS.split(","))
            rows = self.q(f"SELECT {cols}, l.record_id FROM instance_records l JOIN instances i "
                          f"ON i.id = l.instance_id WHERE l.record_id IN ({marks})", chunk).fetchall()
            for r in rows:
                out.setdefault(r[-1], []).append(_instance(r[:-1]))
        for rows_of in out.values():
            rows_of.sort(key=lambda i: (-i.updated_at.timestamp(), i.id))
        return out

    def insert_instance(self, row: InstanceRow) -> None:
        j = self._json()
        self.w(f"INSERT INTO instances ({_INSTANCE_COLS}) VALUES (?, ?, ?, ?, ?, ?, {j}, {j}, {j}, ?, ?, ?, ?, ?, ?)",
               _instance_params(row))
        self._count(row.process, row.status, row.active_stage, row.id, 1)

    def _count(self, process: str, status: str, stage: str, instance_id: str, delta: int) -> None:
        """Keep ``stage_counts`` in step with an instance entering (+1) or leaving (-1) a (status, stage)."""
        if self._counts is not None:
            key = (process, status, stage, self._shard(instance_id))
            self._counts[key] = self._counts.get(key, 0) + delta
            return
        self.w("INSERT INTO stage_counts (process, status, active_stage, shard, n) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (process, status, active_stage, shard) DO UPDATE SET n = stage_counts.n + excluded.n",
               (process, status, stage, self._shard(instance_id), delta))

    def _shard(self, instance_id: str) -> int:
        """The ``stage_counts`` shard an instance's moves count in (:data:`SHARDS`)."""
        return 0 if self.backend.single_writer else zlib.crc32(instance_id.encode()) % SHARDS

    def update_instance(self, row: InstanceRow, expected_version: int, read: InstanceRow | None = None) -> bool:
        # ``read``: the row as this transaction read it, locked (its status and stage: what the counters leave).
        self._written(instance_id=row.id)
        if read is not None and read.version == expected_version:
            before: Any = (read.process, read.status, read.active_stage)
        else:
            before = self.q("SELECT process, status, active_stage FROM instances WHERE id = ? AND version = ?",
                            (row.id, expected_version)).fetchone()
            if before is None:
                return False  # the compare-and-set would fail: leave the counters alone
        j = self._json()
        sql = (f"UPDATE instances SET definition_version = ?, status = ?, active_stage = ?, traversed = {j}, "
               f"bound = {j}, actions_done = {j}, stage_started_at = ?, updated_at = ?, completed_at = ?, "
               "version = ?, outcome = ? WHERE id = ? AND version = ?")
        params = (row.definition_version, row.status, row.active_stage, dumps(list(row.traversed)),
                  dumps(row.bound), dumps(list(row.actions_done)), ts(row.stage_started_at), ts(row.updated_at),
                  None if row.completed_at is None else ts(row.completed_at), row.version, row.outcome, row.id,
                  expected_version)
        if read is not None and read.version == expected_version:
            # Read locked by this transaction, at that version: the compare-and-set can't miss, and its row
            # count needn't be waited for.
            self.w(sql, params)
        elif self.q(sql, params).rowcount != 1:
            return False
        if (before[1], before[2]) != (row.status, row.active_stage):
            # Counter rows are always written in one global order: two moves in opposite
            # directions (a→b and b→a) would otherwise lock them crosswise and deadlock.
            changes = sorted([((before[1], before[2]), -1), ((row.status, row.active_stage), 1)])
            for (status, stage), delta in changes:
                self._count(row.process, status, stage, row.id, delta)
        return True

    def running_instances(self, process: str | None) -> list[InstanceRow]:
        sql = f"SELECT {_INSTANCE_COLS} FROM instances"
        params: tuple[Any, ...] = ()
        if process is not None:
            sql += " WHERE process = ?"
            params = (process,)
        return [_instance(r) for r in self.q(sql + " ORDER BY id", params).fetchall()]

    # -- history ----------------------------------------------------------------------------
    def open_visit(self, instance_id: str, process: str, stage: str, entity: str, record_id: str,
                   at: dt.datetime, by: str, due_at: dt.datetime | None = None) -> None:
        # ``due_at``: the stage's sla from ``at``; the visit is then in the index of due timers until it closes
        # or fires (bpf_dsl/storage/jobs.py).
        self.w("INSERT INTO stage_visits (instance_id, process, stage, entity, record_id, entered_at, by_user, "
               "due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (instance_id, process, stage, entity, record_id, ts(at), by, None if due_at is None else ts(due_at)))

    def close_visit(self, instance_id: str, at: dt.datetime) -> None:
        # Only an instance's last visit is ever open: found by the index (instance_id, id) at once, where
        # `WHERE instance_id = ? AND exited_at IS NULL` read every visit of the instance, more at each move.
        self.w("UPDATE stage_visits SET exited_at = ? WHERE id = (SELECT max(id) FROM stage_visits "
               "WHERE instance_id = ?) AND exited_at IS NULL", (ts(at), instance_id))

    def reopen_visit(self, instance_id: str) -> None:
        row = self.q("SELECT max(id) FROM stage_visits WHERE instance_id = ?", (instance_id,)).fetchone()
        if row and row[0] is not None:
            self.q("UPDATE stage_visits SET exited_at = NULL WHERE id = ?", (row[0],))

    def visits(self, instance_id: str) -> list[VisitRow]:
        rows = self.q("SELECT id, instance_id, process, stage, entity, record_id, entered_at, exited_at, by_user, "
                      "due_at, overdue_at FROM stage_visits WHERE instance_id = ? ORDER BY id",
                      (instance_id,)).fetchall()
        return [VisitRow(r[0], r[1], r[2], r[3], r[4], r[5], parse_ts(r[6]), parse_ts(r[7]), r[8],  # type: ignore[arg-type]
                         parse_ts(r[9]), parse_ts(r[10]))
                for r in rows]

    def visits_of_many(self, instance_ids: Sequence[str]) -> dict[str, list[VisitRow]]:
        """The visits of many instances in one query per 500 (the server's DataLoaders)."""
        out: dict[str, list[VisitRow]] = {i: [] for i in instance_ids}
        for chunk in iter_chunks(list(dict.fromkeys(instance_ids)), 500):
            marks = ", ".join("?" for _ in chunk)
            rows = self.q("SELECT id, instance_id, process, stage, entity, record_id, entered_at, exited_at, by_user, "
                          f"due_at, overdue_at FROM stage_visits WHERE instance_id IN ({marks}) ORDER BY id",
                          chunk).fetchall()
            for r in rows:
                visit = VisitRow(r[0], r[1], r[2], r[3], r[4], r[5], parse_ts(r[6]), parse_ts(r[7]),  # type: ignore[arg-type]
                                 r[8], parse_ts(r[9]), parse_ts(r[10]))
                out.setdefault(r[1], []).append(visit)
        return out

    def append_event(self, instance_id: str, kind: str, stage: str | None, at: dt.datetime, by: str,
                     data: dict[str, Any]) -> None:
        self.w(f"INSERT INTO instance_events (instance_id, kind, stage, at, by_user, data) "
               f"VALUES (?, ?, ?, ?, ?, {self._json()})", (instance_id, kind, stage, ts(at), by, dumps(data)))

    def events(self, instance_id: str) -> list[EventRow]:
        rows = self.q("SELECT id, instance_id, kind, stage, at, by_user, data FROM instance_events "
                      "WHERE instance_id = ? ORDER BY id", (instance_id,)).fetchall()
        return [EventRow(r[0], r[1], r[2], r[3], parse_ts(r[4]), r[5], loads(r[6]))  # type: ignore[arg-type]
                for r in rows]

    # -- batches (bulk import): what the single-row writes above do, one ``executemany`` each ----------------
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement over many parameter rows (``executemany``: prepared once, sent together)."""
        if not rows:
            return
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        try:
            self.cur.executemany(sql, rows)
        except self._errors as err:
            raise self.backend.translate(err) from err

    def existing_record_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are ids of stored records (one query per 500)."""
        out: set[str] = set()
        for chunk in iter_chunks(list(dict.fromkeys(ids)), 500):
            marks = ", ".join("?" for _ in chunk)
            out.update(r[0] for r in self.q(f"SELECT id FROM records WHERE id IN ({marks})", chunk).fetchall())
        return out

    def insert_records(self, rows: Sequence[RecordRow]) -> None:
        """:meth:`insert_record` for each row, in order."""
        stamp = _stamps()
        self.many(f"INSERT INTO records ({_RECORD_COLS}) VALUES (?, ?, {self._json()}, ?, ?, ?, ?, ?, ?)",
                  [(r.id, r.entity, dumps(r.values), r.version, stamp(r.created_at), stamp(r.updated_at),
                    r.active_instance_id, r.owner, r.created_by) for r in rows])

    def insert_instances(self, rows: Sequence[InstanceRow]) -> None:
        """:meth:`insert_instance` for each row, in order; the stage counters summed, each updated once."""
        j = self._json()
        self.many(f"INSERT INTO instances ({_INSTANCE_COLS}) "
                  f"VALUES (?, ?, ?, ?, ?, ?, {j}, {j}, {j}, ?, ?, ?, ?, ?, ?)", _instances_params(rows))
        counts: dict[tuple[str, str, str, int], int] = {}
        for r in rows:
            key = (r.process, r.status, r.active_stage, self._shard(r.id))
            counts[key] = counts.get(key, 0) + 1
        # In the one global order of counter rows, as update_instance writes them (no crosswise locks).
        self.many("INSERT INTO stage_counts (process, status, active_stage, shard, n) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (process, status, active_stage, shard) DO UPDATE SET n = stage_counts.n + excluded.n",
                  [(*key, n) for key, n in sorted(counts.items())])

    def open_visits(self, rows: Sequence[tuple[str, str, str, str, str, dt.datetime, str]]) -> None:
        """:meth:`open_visit` for each row of its arguments (instance, process, stage, entity, record, at, by)."""
        stamp = _stamps()
        self.many("INSERT INTO stage_visits (instance_id, process, stage, entity, record_id, entered_at, by_user) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)", [(*r[:5], stamp(r[5]), r[6]) for r in rows])

    def append_events(self, rows: Sequence[tuple[str, str, str | None, dt.datetime, str, dict[str, Any]]]) -> None:
        """:meth:`append_event` for each row of its arguments (instance, kind, stage, at, by, data)."""
        stamp = _stamps()
        self.many(f"INSERT INTO instance_events (instance_id, kind, stage, at, by_user, data) "
                  f"VALUES (?, ?, ?, ?, ?, {self._json()})",
                  [(r[0], r[1], r[2], stamp(r[3]), r[4], dumps(r[5]) if r[5] else "{}") for r in rows])

    # -- analytics --------------------------------------------------------------------------
    def stage_counts(self, process: str) -> dict[str, int]:
        rows = self.q("SELECT active_stage, sum(n) FROM stage_counts WHERE process = ? AND status = 'active' "
                      "GROUP BY active_stage", (process,)).fetchall()
        return {r[0]: int(r[1]) for r in rows if int(r[1]) > 0}

    def stage_durations(self, process: str) -> dict[str, list[float]]:
        rows = self.q("SELECT stage, entered_at, exited_at FROM stage_visits WHERE process = ? "
                      "AND exited_at IS NOT NULL", (process,)).fetchall()
        out: dict[str, list[float]] = {}
        for stage, entered, exited in rows:
            a, b = parse_ts(entered), parse_ts(exited)
            assert a is not None and b is not None
            out.setdefault(stage, []).append((b - a).total_seconds())
        return out

    def transitions(self, process: str) -> dict[tuple[str, str], int]:
        rows = self.q("SELECT instance_id, stage FROM stage_visits WHERE process = ? ORDER BY instance_id, id",
                      (process,)).fetchall()
        # Each instance counts once per pair, however often it went back and forth.
        pairs: set[tuple[str, str, str]] = set()
        prev: tuple[str, str] | None = None
        for inst, stage in rows:
            if prev is not None and prev[0] == inst:
                pairs.add((inst, prev[1], stage))
            prev = (inst, stage)
        out: dict[tuple[str, str], int] = {}
        for _inst, a, b in pairs:
            out[(a, b)] = out.get((a, b), 0) + 1
        return out

    def visitors(self, process: str) -> dict[str, int]:
        rows = self.q("SELECT stage, count(DISTINCT instance_id) FROM stage_visits WHERE process = ? GROUP BY stage",
                      (process,)).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def outcome_counts(self, process: str) -> dict[str, int]:
        """How many instances of ``process`` finished with each outcome (instances_by_outcome: no table scan)."""
        rows = self.q("SELECT outcome, count(*) FROM instances WHERE process = ? AND outcome IS NOT NULL "
                      "GROUP BY outcome", (process,)).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def count_instances(self) -> int:
        return int(self.q("SELECT count(*) FROM instances").fetchone()[0])

    # -- definitions --------------------------------------------------------------------------
    def save_definition(self, process: str, version: str, source: list[list[str]], at: dt.datetime) -> None:
        # ON CONFLICT: servers starting together may record the same version at once.
        self.q(f"INSERT INTO definitions (process, version, source, created_at) VALUES (?, ?, {self._json()}, ?) "
               "ON CONFLICT (process, version) DO NOTHING", (process, version, dumps(source), ts(at)))

    def latest_definition_source(self, process: str) -> list[list[str]] | None:
        row = self.q("SELECT source FROM definitions WHERE process = ? ORDER BY created_at DESC LIMIT 1",
                     (process,)).fetchone()
        return None if row is None else list(loads(row[0]))

    def definition_source(self, process: str, version: str) -> list[list[str]] | None:
        row = self.q("SELECT source FROM definitions WHERE process = ? AND version = ?", (process, version)).fetchone()
        return None if row is None else list(loads(row[0]))

    # -- users and API tokens ---------------------------------------------------------------------
    def upsert_user(self, name: str, roles: Sequence[str], at: dt.datetime) -> tuple[str, ...] | None:
        """Create the user or set its roles; returns the roles it had before (None: a new user)."""
        row = self.q("SELECT roles FROM users WHERE name = ?", (name,)).fetchone()
        wanted = dumps(sorted(set(roles)))
        if row is None:
            self.q(f"INSERT INTO users (name, roles, created_at) VALUES (?, {self._json()}, ?)",
                   (name, wanted, ts(at)))
            return None
        before = tuple(loads(row[0]))
        if list(before) != sorted(set(roles)):
            self.q(f"UPDATE users SET roles = {self._json()} WHERE name = ?", (wanted, name))
        return before

    def user_exists(self, name: str) -> bool:
        """Whether a user of that name was ever made (``bpf token create``)."""
        return self.q("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None

    def insert_token(self, token_id: str, user: str, token_hash: str, created_at: dt.datetime,
                     expires_at: dt.datetime | None) -> None:
        """Store a new token (its hash only)."""
        self.q("INSERT INTO tokens (id, user_name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
               (token_id, user, token_hash, ts(created_at), None if expires_at is None else ts(expires_at)))

    _TOKEN_COLS = ("t.id, t.user_name, u.roles, t.token_hash, t.created_at, t.expires_at, t.last_used_at, "
                   "t.revoked_at FROM tokens t LEFT JOIN users u ON u.name = t.user_name")

    def get_token(self, token_id: str) -> TokenRow | None:
        """A token with its user's roles."""
        row = self.q(f"SELECT {self._TOKEN_COLS} WHERE t.id = ?", (token_id,)).fetchone()
        return None if row is None else _token(row)

    def token_expiry(self, token_id: str) -> tuple[bool, dt.datetime | None]:
        row = self.q("SELECT expires_at FROM tokens WHERE id = ? AND revoked_at IS NULL", (token_id,)).fetchone()
        return (False, None) if row is None else (True, parse_ts(row[0]))

    def touch_token(self, token_id: str, at: dt.datetime) -> None:
        """Note when a token was last used."""
        self.q("UPDATE tokens SET last_used_at = ? WHERE id = ?", (ts(at), token_id))

    def revoke_token(self, token_id: str, at: dt.datetime) -> bool:
        """Revoke a token; False if there is no such token or it was revoked already."""
        cur = self.q("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (ts(at), token_id))
        done = bool(cur.rowcount == 1)
        if done and self.backend.notify is not None:
            # Delivered on commit to every server process listening: they drop the token from their caches.
            self.q(self.backend.notify, (TOKENS_CHANNEL, token_id))
        return done

    def list_tokens(self) -> list[TokenRow]:
        """Every token, oldest first."""
        return [_token(r) for r in self.q(f"SELECT {self._TOKEN_COLS} ORDER BY t.created_at, t.id").fetchall()]


def _token(r: Sequence[Any]) -> TokenRow:
    return TokenRow(r[0], r[1], tuple(loads(r[2])) if r[2] is not None else (), r[3],
                    parse_ts(r[4]), parse_ts(r[5]), parse_ts(r[6]), parse_ts(r[7]))  # type: ignore[arg-type]


def _instance_params(row: InstanceRow) -> tuple[Any, ...]:
    return (row.id, row.record_id, row.process, row.definition_version, row.status, row.active_stage,
            dumps(list(row.traversed)), dumps(row.bound), dumps(list(row.actions_done)), ts(row.stage_started_at),
            ts(row.created_at), ts(row.updated_at), None if row.completed_at is None else ts(row.completed_at),
            row.version, row.outcome)


def _instances_params(rows: Sequence[InstanceRow]) -> list[tuple[Any, ...]]:
    """:func:`_instance_params` of each row; the JSON of the stage lists and the moments made once per value."""
    stamp = _stamps()
    lists: dict[tuple[str, ...], str] = {}

    def listed(names: tuple[str, ...]) -> str:
        text = lists.get(names)
        if text is None:
            text = lists[names] = dumps(list(names))
        return text

    return [(r.id, r.record_id, r.process, r.definition_version, r.status, r.active_stage, listed(r.traversed),
             _bound_json(r.bound), listed(r.actions_done), stamp(r.stage_started_at), stamp(r.created_at),
             stamp(r.updated_at), None if r.completed_at is None else stamp(r.completed_at), r.version, r.outcome)
            for r in rows]


def _bound_json(bound: dict[str, str]) -> str:
    """``dumps(bound)``; a new instance's one bound record (``{"lead": "..."}``) written out directly."""
    if len(bound) == 1:
        ((entity, record_id),) = bound.items()
        if type(entity) is str and type(record_id) is str:
            return f"{{{encode_basestring_ascii(entity)}:{encode_basestring_ascii(record_id)}}}"
    return dumps(bound)


def _stamps() -> Callable[[dt.datetime], str]:
    """:func:`ts`, remembering its answers: the rows of a batch share their few moments."""
    memo: dict[dt.datetime, str] = {}

    def stamp(value: dt.datetime) -> str:
        text = memo.get(value)
        if text is None:
            text = memo[value] = ts(value)
        return text

    return stamp


def _safe(name: str) -> str:
    # Field names come from checked .bpf files ([A-Za-z_][A-Za-z0-9_]*), never from users; refuse anything else.
    if not name.replace("_", "a").isalnum() or not name.isascii():
        raise ValueError(f"not a field name: {name!r}")
    return name


def _cursor(created_at: str, record_id: str) -> str:
    """An opaque page cursor: where the last page ended, newest first."""
    return base64.urlsafe_b64encode(f"{created_at}|{record_id}".encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[str, str]:
    try:
        created, sep, record_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        parse_ts(created)
    except ValueError:
        raise ValueError(f"the cursor {cursor[:40]!r} is not one this server gave: pass a page's nextCursor") from None
    if not sep:
        raise ValueError(f"the cursor {cursor[:40]!r} is not one this server gave: pass a page's nextCursor")
    return created, record_id
