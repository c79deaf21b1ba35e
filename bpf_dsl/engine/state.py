"""The state of one process instance: a small, immutable row.

An :class:`InstanceState` is what storage keeps per instance (history is a
separate, append-only log the service writes from the engine's events). Every
change makes a new state with ``version`` one higher; nothing here grows with
the age of the instance beyond the traversed path, which the flow bounds.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

Status = Literal["active", "finished", "aborted"]

ACTIVE: Status = "active"
FINISHED: Status = "finished"
ABORTED: Status = "aborted"


class InstanceState(NamedTuple):
    """One instance of a process on a record (a named tuple: immutable, and cheap to make anew,
    which every move does).

    - ``active_stage``: index into the definition's ``stages``.
    - ``traversed``: stage indices visited, in order, always ending with ``active_stage``
      (the D365 invariant); going back cuts it.
    - ``bound``: ``(entity, record_id)`` pairs, the primary record first, one record per
      entity. Bindings are never dropped by going back, so moving forward again
      reuses them.
    - ``actions_done``: names of action steps run successfully in the current stage visit.
    - ``completed_at``: when the instance stopped being active (finished or aborted).
    - ``outcome``: the ``finish OUTCOME`` of the path a finished instance ended on; None while
      active, when aborted, and for a flow that ends without one.
    """

    id: str
    process: str
    definition_version: str
    record_id: str
    status: Status
    active_stage: int
    traversed: tuple[int, ...]
    bound: tuple[tuple[str, str], ...]
    stage_started_at: dt.datetime
    created_at: dt.datetime
    completed_at: dt.datetime | None
    version: int
    actions_done: frozenset[str] = frozenset()
    outcome: str | None = None

    @property
    def is_active(self) -> bool:
        """Whether the instance may move (not finished, not aborted)."""
        return self.status == ACTIVE

    def bound_map(self) -> dict[str, str]:
        """The bound records as ``{entity: record_id}``."""
        return dict(self.bound)

    def record_of(self, entity: str) -> str | None:
        """The id of the record of ``entity`` bound in this instance, if any."""
        # A linear scan: at most a handful of entities per process (D365's limit is 5).
        for name, record_id in self.bound:
            if name == entity:
                return record_id
        return None

    def with_binding(self, entity: str, record_id: str) -> tuple[tuple[str, str], ...]:
        """``bound`` with ``entity`` bound to ``record_id`` (replacing any earlier record of it)."""
        if any(name == entity for name, _ in self.bound):
            return tuple((name, record_id if name == entity else rid) for name, rid in self.bound)
        return (*self.bound, (entity, record_id))

    def with_record_id(self, old: str, new: str) -> InstanceState:
        """This state with record id ``old`` replaced by ``new`` everywhere.

        For a service that creates a record under its own id after the engine
        bound it by the temporary id of a :class:`~bpf_dsl.engine.effects.CreateRecord`.
        """
        bound = tuple((name, new if rid == old else rid) for name, rid in self.bound)
        return self._replace(bound=bound, record_id=new if self.record_id == old else self.record_id)
