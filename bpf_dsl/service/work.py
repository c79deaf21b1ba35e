"""A command's unit of work: what it collects to publish after its commit, and how it stops.

Shared by the service's command modules (:mod:`.core`, :mod:`.record_commands`, :mod:`.jobs`,
:mod:`.bulk`, :mod:`.upgrades`), which :meth:`~bpf_dsl.service.core.Service._run` runs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from bpf_dsl.plugins import Change
from bpf_dsl.service.results import ProcessEvent, TransitionFailure, ValidationFailure


class _Conflict(Exception):
    """A compare-and-set lost to a concurrent writer: the whole command is retried."""


class _Abort(Exception):
    """Stop the command, roll back, and answer with ``failure``."""

    def __init__(self, failure: TransitionFailure | ValidationFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class _Work:
    """What a command collects to publish once its transaction has committed."""

    events: list[ProcessEvent] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    #: The earliest due time of the visits it opened (a stage with an sla), and how many webhooks it wrote to
    #: the outbox: what the job listeners hear after the commit (:meth:`Service.on_jobs`).
    due: dt.datetime | None = None
    deliveries: int = 0

    def merge(self, other: _Work) -> None:
        """Take in the work of a unit that ran inside this one (a hook in a savepoint of its own)."""
        self.events.extend(other.events)
        self.changes.extend(other.changes)
        self.deliveries += other.deliveries
        if other.due is not None and (self.due is None or other.due < self.due):
            self.due = other.due


def publish_order(events: list[ProcessEvent]) -> list[ProcessEvent]:
    """A command's events in the order they are told: the changes first, then what hooks and actions said
    about them (a notification sent by a stage's ``on enter`` runs before the move is logged, but whoever
    hears should hear of the move first)."""
    return sorted(events, key=lambda e: e.kind == "notification")


def new_id() -> str:
    """A new record or instance id."""
    return str(uuid.uuid4())
