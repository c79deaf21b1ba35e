"""The group-commit writer's PostgreSQL connection, spoken through libpq's pipeline mode directly.

A move is about eight statements, and most are writes nobody reads the answer of.
psycopg's pipeline mode sends each statement as it is executed: a poll and a send
(two system calls, and the GIL released and taken back around each) per statement,
plus psycopg's own bookkeeping, about 14 µs of CPU a statement. The writer thread is
the one thread every command of a server process passes through, and on two cores
shared with the event loop and the database, those hand-offs were its ceiling.

:class:`Wire` queues statements in libpq's output buffer and flushes them when
someone waits (a read, the end of a command, the commit): one send for a command's
writes, one wait for their answers. Each distinct statement is prepared once per
connection (as psycopg prepares a statement it sees often), so the database parses and
plans it once. Parameters and rows are converted by psycopg's own adapters
(:class:`psycopg.adapt.Transformer`), so the rows are what a psycopg cursor returns.
Errors are psycopg's exception classes (:func:`psycopg.errors.error_from_result`):
the storage's translator maps them as it maps any other.
"""

from __future__ import annotations

import re
import select
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import psycopg
import psycopg.errors
from psycopg import abc, pq
from psycopg.adapt import PyFormat, Transformer

_PLACEHOLDER = re.compile(r"%s|%%")
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
_FAILED = (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE)
_READ, _WRITE = select.POLLIN | select.POLLERR | select.POLLHUP, select.POLLOUT


def numbered(sql: str) -> bytes:
    """psycopg's ``%s`` placeholders as libpq's ``$1``, ``$2``, ... (``%%`` is a literal ``%``)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() == "%%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql).encode()


class WireCursor:
    """What :class:`~bpf_dsl.storage.sql.SqlTx` asks of a cursor, over a :class:`Wire`: ``execute`` queues
    a statement whose rows are kept (the transaction's next ``sync`` fetches them), ``executemany`` queues
    one per row whose answers nobody reads."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self._rows: list[tuple[Any, ...]] = []
        self.rowcount = -1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Queue ``sql``; its rows and row count arrive with the next :meth:`Wire.sync`."""
        self._rows, self.rowcount = [], -1
        self._wire.send(sql, params, into=self)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Queue ``sql`` once per parameter row."""
        for params in rows:
            self._wire.send(sql, params)

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row of the last statement's answer (None: no row)."""
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row of the last statement's answer."""
        return self._rows

    def answered(self, result: pq.abc.PGresult, loader: abc.Transformer) -> None:
        """The statement's answer has arrived."""
        status = result.status
        if status == pq.ExecStatus.TUPLES_OK:
            loader.set_pgresult(result)
            self._rows = loader.load_rows(0, result.ntuples, tuple)
            self.rowcount = result.ntuples
        else:
            self.rowcount = result.command_tuples if result.command_tuples is not None else -1


class Wire:
    """One connection in libpq's pipeline mode for the whole of its life (the group-commit writer's).

    :meth:`send` queues; :meth:`sync` sends everything queued, waits for every answer and raises the
    first failure among them (the database skips what follows a failure until the sync: they fail
    with it). The psycopg connection it is made from must not be used for anything else.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._pg = conn.pgconn
        self._encoding = conn.info.encoding
        self._dumper = Transformer(conn)
        self._loader = Transformer(conn)
        self._prepared: dict[str, bytes] = {}  # the statement's text -> its name on this connection
        self._names = 0
        self._pending: list[tuple[str, Any]] = []  # ("prepare", sql) | ("run", WireCursor | None), in order
        self._poll = select.poll()
        self._poll.register(self._pg.socket, _READ)
        self._pg.nonblocking = 1
        self._pg.enter_pipeline_mode()
        self.cursor = WireCursor(self)

    @property
    def transaction_status(self) -> pq.TransactionStatus:
        """libpq's transaction status (IDLE, INTRANS, INERROR, ...)."""
        return pq.TransactionStatus(self._pg.transaction_status)

    @property
    def broken(self) -> bool:
        """Whether libpq has found the connection lost (nothing sent on it will be answered)."""
        return bool(self._pg.status == pq.ConnStatus.BAD)

    @property
    def pending(self) -> bool:
        """Whether statements were sent whose answers haven't been read."""
        return bool(self._pending)

    def send(self, sql: str, params: Sequence[Any] = (), *, into: WireCursor | None = None) -> None:
        """Queue ``sql`` (``%s`` placeholders) with ``params``; ``into``: the cursor its answer goes to."""
        name = self._prepared.get(sql)
        if name is None:
            self._names += 1  # never reused: a name whose preparation failed may still exist on the server
            name = self._prepared[sql] = f"bpf_{self._names}".encode()
            self._pg.send_prepare(name, numbered(sql))
            self._pending.append(("prepare", sql))
        # Text parameters, their types left to the statement: one prepared statement serves every value.
        values = self._dumper.dump_sequence(params, [PyFormat.TEXT] * len(params)) if params else None
        self._pg.send_query_prepared(name, values)
        self._pending.append(("run", into))

    def sync(self) -> None:
        """Send what is queued, read every answer; raise the first failure (psycopg's exception)."""
        if not self._pending:
            return
        self._pg.pipeline_sync()
        self._flush()
        pending, self._pending = self._pending, []
        failure: psycopg.Error | None = None
        for kind, target in pending:
            result = self._answer()
            status = result.status
            if status in _FAILED or status == _ABORTED:
                if kind == "prepare":
                    self._prepared.pop(target, None)  # not prepared after all: prepared again next time
                if failure is None and status in _FAILED:
                    failure = psycopg.errors.error_from_result(result, encoding=self._encoding)
            elif kind == "run" and target is not None:
                target.answered(result, self._loader)
        self._expect_sync()
        if failure is not None:
            raise failure

    def recover(self) -> None:
        """Read what is still unanswered after a failure, so that statements run again."""
        with suppress(psycopg.errors.Error):
            self.sync()

    def _flush(self) -> None:
        # Non-blocking: a full socket buffer is waited out, reading meanwhile (the server may be waiting for
        # us to read before it reads more).
        while self._pg.flush():
            self._wait(_READ | _WRITE)
            self._pg.consume_input()

    def _answer(self) -> pq.abc.PGresult:
        """One statement's answer: its result, then the end marker (None) libpq puts after each."""
        result = self._next()
        if result is None:
            raise psycopg.OperationalError("the database sent no answer for a statement")
        while self._next() is not None:  # a statement has one result here; anything more is read and dropped
            pass
        return result

    def _expect_sync(self) -> None:
        result = self._next()
        if result is None or result.status != _SYNC:
            raise psycopg.OperationalError("the database's answers are out of step with the statements sent")

    def _next(self) -> pq.abc.PGresult | None:
        while self._pg.is_busy():
            self._wait(_READ)
            self._pg.consume_input()
        return self._pg.get_result()

    def _wait(self, events: int) -> None:
        # poll() lets go of the GIL while it waits: the event loop runs meanwhile.
        self._poll.modify(self._pg.socket, events)
        if self._pg.status == pq.ConnStatus.BAD:
            raise psycopg.OperationalError("the connection to the database is lost")
        self._poll.poll()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
