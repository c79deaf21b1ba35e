"""The reads of what waits for a time or was sent: visits' due times, notifications, webhook deliveries.

A mixin of :class:`~bpf_dsl.service.Service`, as :class:`~bpf_dsl.service.reads.Reads`
is. What these reads depend on, for kept answers (:mod:`.recording`): a due time, a
firing and a notification are written only with a new version of their instance (a
move, or the firing of ``on overdue``), so they depend on the instance as its history
does; a delivery's status changes with no instance change, and a role's inbox is a
search, so those reads are opaque.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bpf_dsl.definition import Program
from bpf_dsl.service.recording import opaque, recording
from bpf_dsl.service.results import Caller
from bpf_dsl.storage import InstanceRow, Storage, Tx
from bpf_dsl.storage.jobs import (
    DeliveryRow,
    NotificationRow,
    deliveries_of,
    get_instances,
    last_visit_timers,
    notifications_for,
    notifications_of,
)

#: The most notifications one read of an inbox returns.
MAX_NOTIFICATIONS = 500


@dataclass(frozen=True, slots=True)
class Timer:
    """An instance's active visit against its stage's sla: ``due_at`` (None: no sla, or not active) and
    ``overdue_at``, when its ``on overdue`` fired (``overdue`` from then on)."""

    due_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None

    @property
    def overdue(self) -> bool:
        """Whether the active visit passed its sla (its ``on overdue`` has fired and its event was published)."""
        return self.overdue_at is not None


NO_TIMER = Timer()


class JobReads:
    """Query methods of :class:`~bpf_dsl.service.Service`: timers, notifications, deliveries."""

    program: Program
    storage: Storage

    def visible(self, caller: Caller, row: InstanceRow) -> bool:
        """Whether the caller may see the instance (:class:`~bpf_dsl.service.reads.Reads`' rule)."""
        raise NotImplementedError  # Reads', which comes first among the Service's bases

    def readable_instances(self, caller: Caller, rows: list[InstanceRow], tx: Tx | None = None) -> list[InstanceRow]:
        """Of ``rows``, those the caller may see: its process, and its primary record (access.py's rule)."""
        raise NotImplementedError  # Reads', which comes first among the Service's bases

    def instances_by_id(self, caller: Caller, ids: list[str]) -> dict[str, InstanceRow]:
        """The instances of ``ids`` the caller may see, in one query (what a page of notifications is about)."""
        with self.storage.read() as tx:
            found = get_instances(tx, ids)
            deps = recording()
            if deps is not None:
                for iid in ids:
                    deps.instance(iid, found.get(iid))
            # The instance of a record the caller may not read doesn't exist for it (nor its notifications).
            seen = self.readable_instances(caller, list(found.values()), tx)
        return {row.id: row for row in seen}

    def timers(self, rows: list[InstanceRow]) -> list[Timer]:
        """The timer of each instance's active visit (one query for all the active ones)."""
        deps = recording()
        if deps is not None:
            for r in rows:  # written only with a new version of the instance (a move, a firing)
                deps.instance(r.id, r)
        active = [r.id for r in rows if r.status == "active"]
        if not active:
            return [NO_TIMER for _ in rows]
        with self.storage.read() as tx:
            found = last_visit_timers(tx, active)
        out = []
        for r in rows:
            timer = found.get(r.id) if r.status == "active" else None
            out.append(Timer(timer.due_at, timer.overdue_at) if timer is not None and timer.open else NO_TIMER)
        return out

    def notifications(self, caller: Caller, first: int = 50) -> list[NotificationRow]:
        """The newest notifications for the caller's roles (an admin: everyone's), on instances of processes the
        caller may see, newest first."""
        if not 0 <= first <= MAX_NOTIFICATIONS:
            raise ValueError(f"`first` must be between 0 and {MAX_NOTIFICATIONS}, not {first}")
        opaque()
        if caller.is_admin:
            roles = processes = None
        else:
            roles = sorted(caller.roles)
            processes = sorted(p.name for p in self.program.processes.values() if caller.may_use(p.roles))
        with self.storage.read() as tx:
            return notifications_for(tx, roles, processes, first)

    def notifications_of(self, rows: list[InstanceRow]) -> list[list[NotificationRow]]:
        """The notifications of each instance, oldest first (one query)."""
        deps = recording()
        if deps is not None:
            for r in rows:  # written only in the instance's moves, which raise its version
                deps.instance(r.id, r)
        if not rows:
            return []
        with self.storage.read() as tx:
            found = notifications_of(tx, [r.id for r in rows])
        return [found.get(r.id, []) for r in rows]

    def deliveries_of(self, rows: list[InstanceRow]) -> list[list[DeliveryRow]]:
        """The webhook deliveries of each instance, oldest first (one query)."""
        opaque()  # a delivery's status changes as it is sent, with no new version of anything
        if not rows:
            return []
        with self.storage.read() as tx:
            found = deliveries_of(tx, [r.id for r in rows])
        return [found.get(r.id, []) for r in rows]
