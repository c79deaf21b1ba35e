"""The typed context of a GraphQL operation: who asks, the service, and the request's DataLoaders.

The service is synchronous (it owns database transactions). Commands go through
group commit (:class:`~bpf_server.state.Committer`): the commands that arrive
together share one transaction, and each is answered after its commit. Scans run in
a worker thread (:meth:`Context.run`). Reads by key on SQLite (a record, an
instance, a bar, a page's batch) run inline (:meth:`Context.read`): they take
microseconds, never wait for a writer in WAL mode, and handing them to a thread costs
more than they do (the GIL's ping-pong between the loop and the worker doubled a
bar's CPU time per request, see docs/decisions.md); on PostgreSQL they go to a few
reader threads of our own. The DataLoaders gather the loads of one resolution step
into one service call, so a page of records with their instances, stages and bars
costs a bounded number of queries whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from strawberry.dataloader import DataLoader

from bpf_dsl.service import (
    Caller,
    DeliveryRow,
    FormField,
    InstanceDetail,
    InstanceRow,
    NotificationRow,
    RecordRow,
    Service,
    Timer,
    Verdict,
    Visit,
)

from .events import EventHub
from .limits import ClientError
from .state import AppState
from .threads import in_thread

T = TypeVar("T")


class Reader(Protocol):
    """How a keyed read is run: inline or in a worker thread (:meth:`Context.read`)."""

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T: ...


class Loaders:
    """One operation's DataLoaders (fresh per HTTP request, per event on a socket)."""

    def __init__(self, service: Service, caller: Caller, read: Reader) -> None:
        self.service = service
        self.caller = caller
        self.read = read
        self.records: DataLoader[str, RecordRow | None] = DataLoader(load_fn=self._records)
        self.instances: DataLoader[str, list[InstanceRow]] = DataLoader(load_fn=self._instances)
        self.details: DataLoader[InstanceRow, InstanceDetail | None] = DataLoader(
            load_fn=self._details, cache_key_fn=_row_key)
        self.histories: DataLoader[InstanceRow, list[Visit]] = DataLoader(
            load_fn=self._histories, cache_key_fn=_row_key)
        self.forms: DataLoader[RecordRow, list[FormField]] = DataLoader(load_fn=self._forms, cache_key_fn=_row_key)
        # Timed work (service/inbox.py): the active visit's due time, notifications, webhooks; instances by id.
        self.timers: DataLoader[InstanceRow, Timer] = DataLoader(load_fn=self._timers, cache_key_fn=_row_key)
        self.notifications: DataLoader[InstanceRow, list[NotificationRow]] = DataLoader(
            load_fn=self._notifications, cache_key_fn=_row_key)
        self.deliveries: DataLoader[InstanceRow, list[DeliveryRow]] = DataLoader(
            load_fn=self._deliveries, cache_key_fn=_row_key)
        self.instances_by_id: DataLoader[str, InstanceRow | None] = DataLoader(load_fn=self._instances_by_id)

    async def _records(self, ids: Sequence[str]) -> list[RecordRow | None]:
        found = await self.read(self.service.get_records, self.caller, list(ids))
        return [found.get(i) for i in ids]

    async def _instances(self, ids: Sequence[str]) -> list[list[InstanceRow]]:
        found = await self.read(self.service.instances_of_many, self.caller, list(ids))
        return [found.get(i, []) for i in ids]

    async def _details(self, rows: Sequence[InstanceRow]) -> list[InstanceDetail | None]:
        return await self.read(self.service.details, list(rows))

    async def _histories(self, rows: Sequence[InstanceRow]) -> list[list[Visit]]:
        return await self.read(self.service.histories, list(rows))

    async def _forms(self, rows: Sequence[RecordRow]) -> list[list[FormField]]:
        return await self.read(self.service.forms, list(rows), self.caller)

    async def _timers(self, rows: Sequence[InstanceRow]) -> list[Timer]:
        return await self.read(self.service.timers, list(rows))

    async def _notifications(self, rows: Sequence[InstanceRow]) -> list[list[NotificationRow]]:
        return await self.read(self.service.notifications_of, list(rows))

    async def _deliveries(self, rows: Sequence[InstanceRow]) -> list[list[DeliveryRow]]:
        return await self.read(self.service.deliveries_of, list(rows))

    async def _instances_by_id(self, ids: Sequence[str]) -> list[InstanceRow | None]:
        found = await self.read(self.service.instances_by_id, self.caller, list(ids))
        return [found.get(i) for i in ids]


def _row_key(row: InstanceRow | RecordRow) -> tuple[str, int]:
    return (row.id, row.version)


@dataclass
class Context:
    """What every resolver gets as ``info.context``."""

    service: Service
    app: AppState
    caller: Caller | None = None
    connection_params: dict[str, Any] | None = None  # a socket's connection_init payload
    credential: Verdict | None = None  # a socket's token, as checked at connection_init (its id and expiry)
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def me(self) -> Caller:
        """The authenticated caller (the view refuses requests without one before any resolver runs)."""
        if self.caller is None:
            raise ClientError("not authenticated")
        return self.caller

    @property
    def loaders(self) -> Loaders:
        """This operation's DataLoaders."""
        if self._loaders is None:
            self._loaders = Loaders(self.service, self.me, self.read)
        return self._loaders

    def fresh_loaders(self) -> None:
        """Forget what was loaded: a socket lives long, each event must read current data."""
        self._loaders = None

    @property
    def hub(self) -> EventHub:
        """The server process's event hub."""
        return self.app.hub

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service call that may take long (a scan, a drawing) in a worker thread."""
        return await in_thread(fn, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read by key: inline where the database is embedded, else in one of the reader threads."""
        if self.app.inline_reads:
            return fn(*args)
        return await self.app.readers.run(fn, *args)

    async def write(self, fn: Callable[..., T], *args: Any, prefetch: str | None = None, **kwargs: Any) -> T:
        """Run a service command: in the next group commit where the backend has it (answered after the commit
        that holds it), else in a worker thread of its own. ``prefetch``: the instance the command moves, read
        together with the other commands' of its group commit."""
        committer = self.app.committer
        if committer is not None:
            return await committer.run(fn, *args, prefetch=prefetch, **kwargs)
        return await self.app.writers.run(fn, *args, **kwargs)
