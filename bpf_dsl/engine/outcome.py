"""The result of an engine step: :class:`Moved` or :class:`Refused`, and the error codes."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from bpf_dsl.engine.effects import Effect, Event, VisitOp
from bpf_dsl.engine.state import InstanceState


class TransitionErrorCode(StrEnum):
    """API.md's ``TransitionErrorCode``, name for name.

    The engine returns the first eight; ``CANCELLED`` comes from plugins' pre-change
    hooks and the last three from the service, which owns versions, roles and lookups.
    """

    STAGE_GATE = "STAGE_GATE"
    END = "END"
    BEGINNING = "BEGINNING"
    UNREACHABLE = "UNREACHABLE"
    INVALID = "INVALID"
    CROSS_ENTITY_TARGET_REQUIRED = "CROSS_ENTITY_TARGET_REQUIRED"
    NOT_ACTIVE = "NOT_ACTIVE"
    CANCELLED = "CANCELLED"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"

    @property
    def meaning(self) -> str:
        """What the code says, in a few words (the GraphQL enum's value descriptions are these)."""
        return _MEANINGS[self]


_MEANINGS = {
    TransitionErrorCode.STAGE_GATE: "required steps of the active stage are not filled, or one of its gates fails",
    TransitionErrorCode.END: "no next stage: the active stage is the last on the path",
    TransitionErrorCode.BEGINNING: "no previous stage",
    TransitionErrorCode.UNREACHABLE: "the stage is not on the traversed path",
    TransitionErrorCode.INVALID: "unknown stage or step, or an argument that makes no sense here",
    TransitionErrorCode.CROSS_ENTITY_TARGET_REQUIRED:
        "the next stage is on another entity, no record given and no `create`",
    TransitionErrorCode.NOT_ACTIVE: "the instance is finished or aborted",
    TransitionErrorCode.CANCELLED: "a plugin's pre-change hook said no",
    TransitionErrorCode.VERSION_CONFLICT: "expectedVersion is not the current version",
    TransitionErrorCode.FORBIDDEN: "the caller's roles don't allow this process, or leaving the active stage",
    TransitionErrorCode.NOT_FOUND: "no such instance or record",
}


class Moved(NamedTuple):
    """A successful step: the new state, what the service must do (``effects``, in order),
    what to publish (``events``) and how the stage-visit history changes (``visits``, in order).
    """

    state: InstanceState
    events: tuple[Event, ...] = ()
    effects: tuple[Effect, ...] = ()
    visits: tuple[VisitOp, ...] = ()

    @property
    def changed(self) -> bool:
        """False for a no-op (setting the active stage active again): nothing to save."""
        return bool(self.events or self.effects or self.visits)


class Refused(NamedTuple):
    """A refused step: nothing changes. ``missing_steps`` names the steps blocking the stage, ``unmet_gates``
    holds the messages of its failing ``gate`` lines (both for ``STAGE_GATE``)."""

    code: TransitionErrorCode
    message: str
    missing_steps: tuple[str, ...] = ()
    unmet_gates: tuple[str, ...] = ()


Outcome = Moved | Refused
