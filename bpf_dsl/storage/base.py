"""The storage protocol every backend implements, and the rows it speaks in.

Only ``bpf_dsl/storage`` speaks SQL. The service opens one transaction per
command (:meth:`Storage.write`) and does all its reads and writes through the
:class:`Tx` it gets; a failure anywhere rolls everything back.

Optimistic concurrency: ``update_record`` and ``update_instance`` write only if
the row still has the version the caller read (compare-and-set); they return
False otherwise and the service reports VERSION_CONFLICT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from bpf_dsl.storage.backend import Backend

#: The notification channel of revoked tokens (payload: the token's id), on backends with notifications:
#: ``Tx.revoke_token`` sends it on commit, and every server process drops the token from its cache.
TOKENS_CHANNEL = "bpf_tokens"


@dataclass(frozen=True, slots=True)
class RecordRow:
    """A stored record: ``values`` holds JSON-ready values keyed by field name."""

    id: str
    entity: str
    values: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    active_instance_id: str | None = None
    #: The user who owns the record (``own`` grants, ``assign``) and the one who created it (migration 6).
    owner: str = ""
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """A stored process instance: a small row (the history lives in its own log)."""

    id: str
    record_id: str
    process: str
    definition_version: str
    status: str  # active | finished | aborted
    active_stage: str
    traversed: tuple[str, ...]
    bound: dict[str, str]  # entity -> record id
    stage_started_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None
    version: int
    actions_done: tuple[str, ...] = ()
    #: The ``finish OUTCOME`` a finished instance ended on (migration 7); None otherwise.
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One stage visit of an instance (the append-only history)."""

    id: int
    instance_id: str
    process: str
    stage: str
    entity: str
    record_id: str
    entered_at: dt.datetime
    exited_at: dt.datetime | None
    by: str
    #: A stage with an ``sla``: when the visit passes it; and when its ``on overdue`` fired (None: not yet, or never).
    due_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    """A status change or notification in an instance's log."""

    id: int
    instance_id: str
    kind: str
    stage: str | None
    at: dt.datetime
    by: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenRow:
    """An API token as stored: only the hash of its secret, with its user's roles."""

    id: str
    user: str
    roles: tuple[str, ...]
    token_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Page:
    """A page of records."""

    items: list[RecordRow]
    next_cursor: str | None
    total: int


@dataclass(frozen=True, slots=True)
class RowVersions:
    """What says whether rows changed (:meth:`Tx.row_versions`): records' versions and active instances,
    instances' versions, and per record the (id, version) of the instances it takes part in."""

    records: dict[str, tuple[int, str | None]]
    instances: dict[str, int]
    involving: dict[str, set[tuple[str, int]]]


class Tx(Protocol):
    """One transaction's view of the database."""

    #: Set when the database dropped the whole transaction under a :meth:`savepoint`: it can't be committed.
    lost: bool
    #: The backend the transaction runs on (whether reads can lock rows: ``backend.row_lock``).
    backend: Backend

    def savepoint(self) -> AbstractContextManager[None]:
        """A unit of its own inside the transaction (one command of a group commit): rolled back alone when
        the block raises."""

    def keep_counts(self) -> None:
        """Keep the stage counter changes from now on, for :meth:`write_counts` (a transaction of many commands:
        each counter row written once, at the end, in one order)."""

    def write_counts(self) -> None:
        """Write the stage counter changes kept since :meth:`keep_counts`."""

    def settle_late(self) -> None:
        """From now on, a :meth:`savepoint` block's writes sent without waiting are not waited for at its end
        (a round trip a command saved): a failure among them surfaces at the next wait, in a later block or at
        the commit, and marks the transaction :attr:`lost` (which of the blocks failed is then unknown: the
        caller runs them again one by one). Nothing changes where writes are not sent ahead (SQLite)."""

    def notify(self, channel: str, payload: str) -> None:
        """Send ``payload`` to the listeners of ``channel`` when this transaction commits (nothing is sent if it
        rolls back); sent without waiting. Only where ``backend.notifications``."""

    # records
    def get_record(self, record_id: str, lock: bool = False) -> RecordRow | None: ...
    def get_records(self, ids: Sequence[str]) -> dict[str, RecordRow]: ...
    def insert_record(self, row: RecordRow) -> None: ...
    def update_record(self, record_id: str, values: dict[str, Any], expected_version: int,
                      now: dt.datetime) -> bool: ...
    def delete_record(self, record_id: str, expected_version: int) -> bool: ...
    def assign_record(self, record_id: str, owner: str, expected_version: int, now: dt.datetime) -> bool: ...
    def instances_working_on(self, record_id: str) -> list[tuple[str, str, str]]: ...
    def link_record(self, record_id: str, instance_id: str) -> None: ...
    def set_active_instance(self, record_id: str, instance_id: str | None) -> None: ...
    def related(self, entity: str, field_name: str, target_id: str) -> list[str]: ...
    def find_unique(self, entity: str, field_name: str, value: Any, exclude_id: str | None) -> str | None: ...
    def list_records(self, entity: str, where: dict[str, Any], process: str | None, stage: str | None,
                     first: int, after: str | None, search: str | None = None,
                     newest_first: bool = True, owner: str | None = None,
                     unsearched: Sequence[str] = ()) -> Page: ...
    # instances
    def get_instance(self, instance_id: str, lock: bool = False) -> InstanceRow | None: ...
    def get_instance_with_records(self, instance_id: str,
                                  lock: bool = False) -> tuple[InstanceRow, dict[str, RecordRow]] | None: ...

    def prefetch_instances(self, instance_ids: Sequence[str]) -> None:
        """Read (and lock) the instances and their bound records for :meth:`get_instance_with_records` to find,
        in one statement: the moves of a group commit read theirs together. An instance or record this
        transaction writes afterwards is read again when asked for."""
    def instances_of(self, record_id: str) -> list[InstanceRow]: ...
    def instances_of_many(self, record_ids: Sequence[str]) -> dict[str, list[InstanceRow]]: ...
    def instances_involving_many(self, record_ids: Sequence[str]) -> dict[str, list[InstanceRow]]: ...
    def row_versions(self, record_ids: Sequence[str], instance_ids: Sequence[str],
                     involving: Sequence[str]) -> RowVersions: ...
    def insert_instance(self, row: InstanceRow) -> None: ...
    def update_instance(self, row: InstanceRow, expected_version: int,
                        read: InstanceRow | None = None) -> bool: ...
    def running_instances(self, process: str | None) -> list[InstanceRow]: ...
    # history
    def open_visit(self, instance_id: str, process: str, stage: str, entity: str, record_id: str,
                   at: dt.datetime, by: str, due_at: dt.datetime | None = None) -> None: ...
    def close_visit(self, instance_id: str, at: dt.datetime) -> None: ...
    def reopen_visit(self, instance_id: str) -> None: ...
    def visits(self, instance_id: str) -> list[VisitRow]: ...
    def visits_of_many(self, instance_ids: Sequence[str]) -> dict[str, list[VisitRow]]: ...
    def append_event(self, instance_id: str, kind: str, stage: str | None, at: dt.datetime, by: str,
                     data: dict[str, Any]) -> None: ...
    def events(self, instance_id: str) -> list[EventRow]: ...
    # batches (bulk import): the writes above for many rows at once, one executemany each
    def existing_record_ids(self, ids: Sequence[str]) -> set[str]: ...
    def insert_records(self, rows: Sequence[RecordRow]) -> None: ...
    def insert_instances(self, rows: Sequence[InstanceRow]) -> None: ...
    def open_visits(self, rows: Sequence[tuple[str, str, str, str, str, dt.datetime, str]]) -> None: ...
    def append_events(self, rows: Sequence[tuple[str, str, str | None, dt.datetime, str, dict[str, Any]]]) -> None: ...
    # analytics
    def stage_counts(self, process: str) -> dict[str, int]: ...
    def stage_durations(self, process: str) -> dict[str, list[float]]: ...
    def transitions(self, process: str) -> dict[tuple[str, str], int]: ...
    def visitors(self, process: str) -> dict[str, int]: ...
    def outcome_counts(self, process: str) -> dict[str, int]: ...
    def count_instances(self) -> int: ...
    # definitions
    def save_definition(self, process: str, version: str, source: list[list[str]], at: dt.datetime) -> None: ...
    def definition_source(self, process: str, version: str) -> list[list[str]] | None: ...
    def latest_definition_source(self, process: str) -> list[list[str]] | None: ...
    # users and API tokens (bpf_dsl.service.auth)
    def upsert_user(self, name: str, roles: Sequence[str], at: dt.datetime) -> tuple[str, ...] | None: ...
    def user_exists(self, name: str) -> bool: ...
    def insert_token(self, token_id: str, user: str, token_hash: str, created_at: dt.datetime,
                     expires_at: dt.datetime | None) -> None: ...
    def get_token(self, token_id: str) -> TokenRow | None: ...
    def token_expiry(self, token_id: str) -> tuple[bool, dt.datetime | None]:
        """Whether the token exists unrevoked, and when it expires (one read of its row: no join, no roles)."""
        ...
    def touch_token(self, token_id: str, at: dt.datetime) -> None: ...
    def revoke_token(self, token_id: str, at: dt.datetime) -> bool: ...
    def list_tokens(self) -> list[TokenRow]: ...


class Listening(Protocol):
    """A LISTEN running in the background (:meth:`Notifier.listen`)."""

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the LISTEN to be in place; whether it is."""

    def stop(self) -> None:
        """Stop listening and close its connection."""


class Notifier(Protocol):
    """Notifications between the processes that share one database (PostgreSQL's LISTEN/NOTIFY)."""

    #: The longest payload (in bytes, UTF-8) that :meth:`notify` may send.
    max_payload: int

    @property
    def namespace(self) -> str:
        """Where this storage's data lives within everything that hears the same channels.

        Processes using other schemas of the same PostgreSQL database hear the same channels:
        a payload that carries its namespace lets a listener skip the others'.
        """

    def notify(self, channel: str, payload: str) -> None:
        """Send ``payload`` to every listener of ``channel`` now (on a connection of its own, outside any
        transaction); reconnects once, then raises :class:`~bpf_dsl.errors.UnavailableError`."""

    def notify_all(self, channel: str, payloads: Sequence[str]) -> None:
        """:meth:`notify` of each payload, in order, sent together (one round trip)."""

    def listen(self, channels: Sequence[str], callback: Callable[[str, str], None]) -> Listening:
        """Call ``callback(channel, payload)`` in a background thread for every notification on ``channels``
        (including this process's own); the connection is re-made whenever it is lost."""


class WriteSession(Protocol):
    """A connection of its own for one writer (group commit), outside the per-thread ones of :meth:`Storage.write`.

    One transaction at a time; its steps may run on different threads, one after the other: the
    server begins and runs the statements on its event loop, and commits (the wait for the disk)
    in a worker thread. The driver's errors come out as StorageErrors.
    """

    def begin(self, *, wait: bool = True) -> Tx | None:
        """Open a write transaction. ``wait=False``: None at once, instead of waiting, while another
        connection holds the database's write lock (then call again with ``wait=True``, off the event loop)."""

    def commit(self) -> None:
        """Commit the open transaction (durably: it returns once the database has it); on failure it is
        rolled back and the error raised."""

    def rollback(self) -> None:
        """Roll the open transaction back (nothing if none is open)."""

    def close(self) -> None:
        """Close the connection."""


class Storage(Protocol):
    """A database: SQLite or PostgreSQL."""

    url: str
    #: What this backend is: its SQL differences, concurrency, notifications, error translator.
    backend: Backend

    @property
    def notifier(self) -> Notifier | None:
        """Notifications to and from other processes; None where ``backend.notifications`` is false."""

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction (serialised where the backend must): committed when the block ends, rolled
        back on any exception. The driver's errors come out as StorageErrors (:mod:`bpf_dsl.storage.errors`)."""

    def read(self, *, single: bool = False) -> AbstractContextManager[Tx]:
        """A read-only transaction. ``single``: it runs one statement, a consistent snapshot on its own, so
        nothing is begun or ended around it (SQLite's ``BEGIN`` and ``ROLLBACK`` cost twice the read by key)."""

    def session(self) -> WriteSession:
        """A connection of its own for a writer whose transactions span threads (group commit)."""

    def generation(self) -> int | None:
        """A number that changes whenever another connection committed, as the calling thread's connection
        sees it (``backend.data_version``); None where the backend can't tell. Equal twice on one thread:
        nothing was written in between, and whatever was read before still holds."""

    def migrate(self) -> list[int]:
        """Apply pending schema migrations (:func:`bpf_dsl.storage.migrate.migrate`); returns the versions applied."""

    def ping(self) -> bool:
        """Whether the database answers."""

    def close(self) -> None:
        """Release connections."""


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size`` (bounded IN lists)."""
    for i in range(0, len(items), size):
        yield items[i:i + size]
