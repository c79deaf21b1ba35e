"""PostgreSQL through psycopg 3 and its connection pool: several server processes share one database.

Writes run at READ COMMITTED; the compare-and-set updates (``WHERE version = ?``)
make a concurrent writer's update touch no row, so two moves of one instance can
never both win. Migrations take an advisory lock so servers starting together
don't race. The processes sharing the database hear one another through
LISTEN/NOTIFY (:class:`PgNotifier`).
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
import psycopg.errors
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from bpf_dsl.errors import (
    ConflictError,
    IntegrityError,
    StorageError,
    TransientError,
    UnavailableError,
)
from bpf_dsl.storage.backend import Backend, JsonSql
from bpf_dsl.storage.errors import first_line, translated
from bpf_dsl.storage.migrate import migrate
from bpf_dsl.storage.pg_wire import Wire
from bpf_dsl.storage.sql import SqlTx, dumps
from bpf_dsl.storage.urls import display_url

log = logging.getLogger("bpf.storage")

SCHEMES = ("postgresql://", "postgres://")
_MIGRATION_LOCK = 0x62706601  # "bpf\x01": any constant shared by every bpf server
CONNECT_TIMEOUT = 5  # seconds, for the first connection, unless the URL or PGCONNECT_TIMEOUT says otherwise
_NOTIFY = "SELECT pg_notify(?, ?)"  # ? the channel, ? the payload

# The database chose this transaction as the victim (class 40: serialization failure, deadlock), or a lock
# wasn't free (NOWAIT, lock_timeout): the same command run again will likely succeed.
_TRANSIENT = (psycopg.errors.TransactionRollback, psycopg.errors.SerializationFailure,
              psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable)


def translate(err: Exception) -> StorageError:
    """A psycopg exception as bpf's, by its class (psycopg has one per SQLSTATE)."""
    if isinstance(err, psycopg.errors.UniqueViolation):
        return ConflictError(str(err))
    if isinstance(err, psycopg.IntegrityError):
        return IntegrityError(str(err))
    if isinstance(err, _TRANSIENT):
        return TransientError(str(err))
    if isinstance(err, psycopg.OperationalError | psycopg.InterfaceError):
        # a lost connection, a server shutting down, no connection from the pool in time, too many clients
        return UnavailableError(str(err))
    return StorageError(str(err))


def explain(url: str, err: BaseException) -> str:
    """One line: why the database of ``url`` can't be used."""
    return f"can't use {display_url(url)}: {first_line(err)}"


def _jsonb_contains(name: str, value: Any) -> str:
    return dumps({name: value})


POSTGRES = Backend(
    name="postgres",
    placeholder="%s",
    json=JsonSql(
        param="?::jsonb",
        text="({col} ->> '{key}')",
        value="({col} -> '{key}')",
        compare="?::jsonb",
        scalar="{col} @> ?::jsonb",  # containment: JSONB's GIN-friendly equality of one key
        scalar_param=_jsonb_contains,
        search=("EXISTS (SELECT 1 FROM jsonb_each(r.data) AS kv(k, v) WHERE jsonb_typeof(kv.v) = "
                "'string' AND (kv.v #>> '{{}}') ILIKE ? ESCAPE '\\'{skip})"),
        search_key="kv.k",
        records_of_values=" JOIN records r ON r.id = ANY (ARRAY(SELECT value FROM jsonb_each_text({col})))",
    ),
    row_lock=" FOR UPDATE",
    migration_lock=f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})",
    migrations_table="SELECT to_regclass('schema_migrations')",
    notify=_NOTIFY,
    inline_reads=False,
    single_writer=False,
    group_commit=True,
    data_version=None,
    driver_errors=(psycopg.Error,),
    translate=translate,
    explain=explain,
    skip_locked=" SKIP LOCKED",
)


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
        raise UnavailableError(f"can't connect to {where}: {_first_line(err)}") from err


def idle_connection_alive(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of a connection it hands out: raise if the server has ended it.

    An idle connection has nothing to read: a server that ends it sends its last words (a FATAL error)
    and closes the socket, and either makes the socket readable. Only then is the connection asked
    (psycopg_pool's check, an empty query: it raises on a dead one). Asking every time, as that check
    alone does, cost a round trip per read, as much as the read itself.
    """
    pgconn = conn.pgconn
    if pgconn.status == pq.ConnStatus.BAD:
        raise psycopg.OperationalError("the connection is broken")
    poll = select.poll()  # not select.select: a busy server's descriptors pass FD_SETSIZE
    poll.register(pgconn.socket, select.POLLIN)
    if poll.poll(0):
        ConnectionPool.check_connection(conn)


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).strip().splitlines()[:1]) or type(err).__name__
    # libpq's own prefixes say nothing the sentence around them doesn't.
    for prefix in ("connection failed: ", "connection is bad: "):
        text = text.removeprefix(prefix)
    return text.replace("FATAL:  ", "")


class PostgresStorage:
    """A PostgreSQL database (``postgresql://...``)."""

    backend = POSTGRES

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        check_connection(url)
        # Autocommit connections: writes open their transaction explicitly (conn.transaction()), reads
        # send their statements alone, saving BEGIN and COMMIT round trips (psycopg's recommended pattern).
        # check: a connection leaving the pool is looked at, and replaced if the server ended it meanwhile
        # (pg_terminate_backend, a restart, an idle timeout): without that the next request met the dead
        # connection and failed. See idle_connection_alive: no round trip unless the server said something.
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                   kwargs={"autocommit": True}, check=idle_connection_alive)
        self.notifier = PgNotifier(url, self.pool)

    @contextmanager
    def write(self) -> Iterator[SqlTx]:
        """One transaction; commit on success, roll back on any exception. psycopg's errors become StorageErrors."""
        try:
            with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield SqlTx(cur, POSTGRES)
        except psycopg.Error as err:
            raise translate(err) from err

    @contextmanager
    def read(self, *, single: bool = False) -> Iterator[SqlTx]:
        """Reads, each statement on its own snapshot.

        That is what READ COMMITTED gives a transaction's statements anyway, so a BEGIN
        and a COMMIT would cost two round trips and buy nothing; a consistent snapshot
        across statements (REPEATABLE READ) would cost more than the API needs.
        """
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                yield SqlTx(cur, POSTGRES)
        except psycopg.Error as err:
            raise translate(err) from err

    def session(self) -> PgSession:
        """A connection of its own (outside the pool) for the group-commit writer."""
        try:
            return PgSession(psycopg.connect(self.url, autocommit=True))
        except psycopg.Error as err:
            raise translate(err) from err

    def generation(self) -> int | None:
        """None: another server process may have committed at any time, and nothing cheap says so."""
        return None

    def migrate(self) -> list[int]:
        """Apply pending migrations in one transaction, under an advisory lock."""
        return migrate(self)

    def ping(self) -> bool:
        """Whether the server answers."""
        try:
            with self.pool.connection(timeout=5) as conn:
                conn.execute("SELECT 1")
            return True
        except (psycopg.Error, Exception):
            return False

    def close(self) -> None:
        """Stop the notifier's connections and close the pool."""
        self.notifier.close()
        self.pool.close()


class PgSession:
    """The group-commit writer's connection: ``BEGIN`` … ``COMMIT`` sent explicitly, every statement through
    libpq's pipeline mode (:class:`~bpf_dsl.storage.pg_wire.Wire`).

    On a loopback connection a statement's round trip costs several times what the statement does, and most
    of a move's statements are writes nobody reads the answer of: they are sent together and answered together.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._wire = Wire(conn)

    def begin(self, *, wait: bool = True) -> SqlTx | None:
        """``BEGIN`` (queued: row locks are taken, and waited for, by the statements)."""
        if self._wire.broken:
            raise UnavailableError("the group commit's connection to the database is lost")
        try:
            self._wire.send("BEGIN")
        except psycopg.Error as err:
            raise translate(err) from err
        tx = SqlTx(self._wire.cursor, POSTGRES)
        tx.pipeline = _WirePipeline(self._wire)
        return tx

    def commit(self) -> None:
        """``COMMIT``; rolled back on failure."""
        try:
            try:
                self._wire.send("COMMIT")
                self._wire.sync()
            except BaseException:
                self.rollback()
                raise
        except psycopg.Error as err:
            raise translate(err) from err

    def rollback(self) -> None:
        """Roll back the open transaction, if any."""
        try:
            self._wire.recover()
            if self._wire.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self._wire.send("ROLLBACK")
                self._wire.sync()
        except psycopg.Error as err:
            raise translate(err) from err

    def close(self) -> None:
        """Close the connection."""
        with suppress(psycopg.Error):
            self._wire.close()


class _WirePipeline:
    """:attr:`SqlTx.pipeline` over a :class:`Wire`, its failures as StorageErrors."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire

    def send(self, sql: str, params: Sequence[Any]) -> None:
        """Queue a statement."""
        try:
            self._wire.send(sql, params)
        except psycopg.Error as err:
            raise translate(err) from err

    def sync(self) -> None:
        """Wait for every answer; the first failure among them as a StorageError."""
        try:
            self._wire.sync()
        except psycopg.Error as err:
            raise translate(err) from err

    def recover(self) -> None:
        """Wait out what the database skipped after a failure (raised already), so statements run again."""
        with suppress(psycopg.Error):
            self._wire.recover()


class PgNotifier:
    """LISTEN/NOTIFY between the processes sharing the database, each on a connection of its own.

    A listener's connection must stay out of the pool (it is busy waiting), and a NOTIFY sent
    outside any transaction should not wait for a pooled connection behind the writers.
    """

    max_payload = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more

    def __init__(self, url: str, pool: ConnectionPool) -> None:
        self._url = url
        self._pool = pool
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None  # the NOTIFY connection, made when first needed
        self._namespace: str | None = None
        self._listeners: list[_Listener] = []

    @property
    def namespace(self) -> str:
        """``database/schema``: servers on other schemas of one database hear the same channels."""
        if self._namespace is None:
            with translated(POSTGRES), self._pool.connection() as conn:
                self._learn_namespace(conn)
        return self._namespace or ""

    def _learn_namespace(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute("SELECT current_database() || '/' || current_schema()").fetchone()
        self._namespace = str(row[0]) if row else ""

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection of the notifier's own (not from the pool)."""
        conn = psycopg.connect(self._url, autocommit=True)
        if self._namespace is None:
            self._learn_namespace(conn)
        return conn

    def notify(self, channel: str, payload: str) -> None:
        """NOTIFY now (autocommit); a lost connection is re-made once, then :class:`UnavailableError`."""
        self.notify_all(channel, [payload])

    def notify_all(self, channel: str, payloads: Sequence[str]) -> None:
        """NOTIFY each payload, in order, in one round trip (psycopg's executemany pipelines them)."""
        statement = _NOTIFY.replace("?", POSTGRES.placeholder)
        with self._lock:
            for attempt in range(2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = self.connect()
                    if len(payloads) == 1:
                        self._conn.execute(statement, (channel, payloads[0]))
                    else:
                        with self._conn.cursor() as cur:
                            cur.executemany(statement, [(channel, p) for p in payloads])
                    return
                except psycopg.Error as err:
                    self._drop()
                    error = translate(err)
                    if attempt or not isinstance(error, UnavailableError):
                        raise error from err

    def listen(self, channels: Sequence[str], callback: Callable[[str, str], None]) -> _Listener:
        """LISTEN on ``channels`` in a background thread that calls ``callback(channel, payload)``."""
        listener = _Listener(self, list(channels), callback)
        with self._lock:
            self._listeners.append(listener)
        listener.start()
        return listener

    def close(self) -> None:
        """Stop every listener and close the NOTIFY connection."""
        with self._lock:
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.stop()
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
        self._conn = None


class _Listener:
    """One LISTEN connection in a thread of its own, re-made (with a growing pause) whenever it is lost."""

    def __init__(self, notifier: PgNotifier, channels: list[str], callback: Callable[[str, str], None]) -> None:
        self._notifier = notifier
        self._channels = channels
        self._callback = callback
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bpf-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the LISTEN to be in place; whether it is."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Stop listening (within half a second) and close the connection."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        names = ", ".join(self._channels)
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._notifier.connect()
                for channel in self._channels:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                self._ready.set()
                delay = 0.5
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=0.5):
                        self._hear(note.channel, note.payload)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning("LISTEN %s lost (%s); reconnecting in %.1fs", names, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
            finally:
                if conn is not None:
                    with suppress(Exception):
                        conn.close()

    def _hear(self, channel: str, payload: str) -> None:
        try:
            self._callback(channel, payload)
        except Exception:  # the listener's failure must not cost the connection
            log.exception("a %s listener failed", channel)


@contextmanager
def opening(url: str, *, create: bool = True) -> Iterator[PostgresStorage]:
    """The database of ``url``, connected once (a StorageError at once if it can't be), for
    :func:`~bpf_dsl.storage.open_storage` to check and migrate; closed again if that fails.
    (``create`` is for files: a server's database exists or it doesn't.)"""
    storage = PostgresStorage(url)
    try:
        yield storage
    except BaseException:
        storage.close()
        raise
