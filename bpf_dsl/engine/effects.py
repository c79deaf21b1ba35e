"""What a step asks the world to do, and what it tells the world happened.

Effects are declarative: the service executes them in order inside the move's
transaction (a failing one fails the whole move). Events are published after
commit. :class:`VisitOp` tells the service how the stage-visit history changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from bpf_dsl.plugins import ActionSpec

EventKind = Literal["started", "stage_changed", "finished", "abandoned", "reactivated", "switched", "notification"]


@dataclass(frozen=True, slots=True)
class SetField:
    """Write ``value`` (already evaluated) into ``field`` of a record (a hook's ``set``)."""

    entity: str
    record_id: str
    field: str
    value: Any


@dataclass(frozen=True, slots=True)
class CreateRecord:
    """Create a record of ``entity`` with ``values`` (the stage's ``create`` block and its ``via`` field).

    The engine has bound it in the new state under ``temp_id``; the service creates it
    with that id, or with its own and then calls ``InstanceState.with_record_id``.
    Entity defaults and business rules apply as on any create.
    """

    entity: str
    values: Mapping[str, Any]
    temp_id: str


@dataclass(frozen=True, slots=True)
class ActionOrigin:
    """Where a call comes from, for the action's context (and its history entry).

    ``trigger`` is ``start``, ``enter``, ``exit``, ``finish``, ``abandon``,
    ``reactivate`` (hooks) or ``step`` (an action step run by a user).
    """

    instance_id: str
    process: str
    stage: str
    entity: str
    record_id: str | None
    trigger: str
    by: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class CallAction:
    """Run a plugin's (or built-in) action with evaluated ``arguments``."""

    action: ActionSpec
    arguments: Mapping[str, Any]
    origin: ActionOrigin


Effect = SetField | CreateRecord | CallAction


class Event(NamedTuple):
    """Something that happened to an instance; ``stage`` is the stage entered, or the active one."""

    kind: EventKind
    instance_id: str
    stage: str | None
    at: dt.datetime
    by: str


class VisitOp(NamedTuple):
    """A change to the stage-visit history at the move's time and by its user.

    ``open`` starts a visit of ``stage``; ``close`` sets the exit time of the open
    visit of ``stage``; ``reopen`` clears the exit time of the last visit of ``stage``.
    """

    kind: Literal["open", "close", "reopen"]
    stage: str
