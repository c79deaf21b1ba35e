"""What a backend is, in one frozen object: everything the shared SQL and the layers above ask of it.

Every backend runs the same SQL (:class:`bpf_dsl.storage.sql.SqlTx`) and the same
migration runner (:mod:`bpf_dsl.storage.migrate`); where databases differ, they look
the difference up here instead of asking "is this PostgreSQL?". Each backend's module
defines its one instance (``sqlite.SQLITE``, ``postgres.POSTGRES``) and its storage
class exposes it as ``storage.backend``. docs/backends.md walks through adding one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bpf_dsl.errors import StorageError


@dataclass(frozen=True, slots=True)
class JsonSql:
    """How a backend writes JSON values and reads record fields out of them.

    The templates take ``{col}`` (the JSON column, ``data`` or ``r.data``) and ``{key}``
    (a field name, checked to be an identifier first); ``?`` is a parameter.
    """

    #: A JSON parameter written into a JSON column: ``?`` (SQLite keeps JSON as text), ``?::jsonb``.
    param: str
    #: A field as an SQL scalar, compared with a plain parameter (a record id): ``json_extract({col}, '$.{key}')``.
    text: str
    #: A field as a JSON value, for ``IS NULL`` (an absent key) and for equality with :attr:`compare`.
    value: str
    #: A JSON parameter compared with :attr:`value` (lists and objects): ``json(?)``, ``?::jsonb``.
    compare: str
    #: A clause: field ``{key}`` of ``{col}`` equals a scalar (text, number, boolean) parameter.
    scalar: str
    #: That scalar's parameter, from the field's name and value (``name`` matters for containment: ``{name: v}``).
    scalar_param: Callable[[str, Any], Any]
    #: A clause on ``r.data``: some text value (not a key) matches the ``LIKE`` pattern ``?`` (escape ``\\``);
    #: ``{skip}`` is where a further condition on the value's key goes (fields the caller may not read).
    search: str
    #: What follows the table of ``{col}`` (a JSON object of ids) in a ``FROM`` list to join ``records r`` on each of
    #: its values. PostgreSQL's is an index lookup by an array: joined to ``jsonb_each_text``, whose row estimate is
    #: a fixed 100, its planner hashed the whole records table for a few rows (2 ms against 0.3 ms on 1,000 rows).
    records_of_values: str
    #: The key of the value :attr:`search` looks at, for ``{skip}``'s condition: ``kv.key``.
    search_key: str = "kv.key"


@dataclass(frozen=True, slots=True)
class Backend:
    """One database backend, described: its SQL differences, its concurrency, its notifications, its errors."""

    #: The backend's name; also its dialect in :func:`bpf_dsl.storage.schema.statements` (``schema.TYPES``).
    name: str
    #: What each ``?`` of the shared SQL becomes for the driver (``?`` for sqlite3, ``%s`` for psycopg).
    placeholder: str
    #: JSON values and fields in SQL.
    json: JsonSql
    #: Appended to a ``SELECT`` of one row that the transaction will write: ``" FOR UPDATE"`` makes a concurrent
    #: command wait for this one instead of failing its compare-and-set; ``""`` where writers are serialised anyway
    #: (SQLite's ``BEGIN IMMEDIATE`` takes the file's write lock before the first statement).
    row_lock: str
    #: The SQL that takes the migration lock at the start of the one transaction that applies every pending
    #: migration (PostgreSQL: an advisory transaction lock, so servers starting together don't race). ``None``: each
    #: migration runs in a write transaction of its own, which the backend's write lock serialises (SQLite).
    migration_lock: str | None
    #: A query whose first row's first value is true when ``schema_migrations`` exists (no row: it doesn't).
    migrations_table: str
    #: The SQL that sends a notification, ``?`` the channel and ``?`` the payload, delivered to the other
    #: processes when the transaction commits (``pg_notify``). ``None``: the backend has no notifications, and
    #: its storage's ``notifier`` is None too.
    notify: str | None
    #: Reads by key cost less than the hand-off to a worker thread (an embedded database): the server runs
    #: them inline on its event loop.
    inline_reads: bool
    #: One writer at a time (a database file's write lock): writer threads would sleep in the busy handler, so
    #: the server's writes go through one writer (:attr:`group_commit`) rather than many threads.
    single_writer: bool
    #: Group commit: the server's commands go through one writer thread, which commits the commands that arrive
    #: together in one transaction, each in a savepoint of its own (:class:`bpf_dsl.service.writer.GroupWriter`).
    #: One fsync then serves many commands. False: each command is a transaction of its own, in its own thread.
    group_commit: bool
    #: A statement whose one value changes whenever another connection committed (``PRAGMA data_version``),
    #: read on the connection of the thread asking: what lets a reader tell in a microsecond that nothing was
    #: written since it last looked (:meth:`~bpf_dsl.storage.base.Storage.generation`). None: the backend has none.
    data_version: str | None
    #: The driver's exception classes: what the storage's door catches (and nothing above storage may).
    driver_errors: tuple[type[Exception], ...]
    #: The door itself: a driver's exception as the :class:`~bpf_dsl.errors.StorageError` to raise from it
    #: (:class:`~bpf_dsl.errors.ConflictError`, :class:`~bpf_dsl.errors.TransientError`, ...).
    translate: Callable[[Exception], StorageError]
    #: One line for a person on why the database at a URL can't be used, from the driver's exception (the
    #: URL is shown with its password masked).
    explain: Callable[[str, BaseException], str]
    #: Appended to :attr:`row_lock` (and its ``OF`` list) when a worker claims due rows (timers, webhook deliveries):
    #: ``" SKIP LOCKED"`` passes over the rows another server's transaction holds, so that each due row is taken
    #: by one server and none waits for another. ``""`` where writers are serialised anyway (SQLite).
    skip_locked: str = ""

    @property
    def notifications(self) -> bool:
        """Whether processes sharing the database can notify one another (LISTEN/NOTIFY)."""
        return self.notify is not None
