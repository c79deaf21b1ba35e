"""What a caller can ask of an instance: one frozen object per navigation command.

They mirror the GraphQL mutations (API.md); ``expectedVersion`` and roles are the
service's to check before it calls the engine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Start:
    """Create the instance on ``record_id`` (the primary record) and enter the first stage."""

    instance_id: str
    record_id: str


@dataclass(frozen=True, slots=True)
class Next:
    """Move to the next stage on the path the current data selects.

    ``target_record_id`` names the record a cross-entity stage (``on E via F``) binds;
    without it, the record bound earlier is reused, or one is created from ``create``.
    """

    target_record_id: str | None = None


@dataclass(frozen=True, slots=True)
class Previous:
    """Go back one stage of the traversed path."""


@dataclass(frozen=True, slots=True)
class SetActive:
    """Go back to the traversed stage called ``stage``."""

    stage: str


@dataclass(frozen=True, slots=True)
class Finish:
    """End the instance on the last stage of the active path."""


@dataclass(frozen=True, slots=True)
class Abandon:
    """Abort the instance, from any stage."""


@dataclass(frozen=True, slots=True)
class Reactivate:
    """Make a finished or aborted instance active again, on the stage it had."""


@dataclass(frozen=True, slots=True)
class RunAction:
    """Run the action step called ``step`` of the active stage."""

    step: str


Action = Start | Next | Previous | SetActive | Finish | Abandon | Reactivate | RunAction
