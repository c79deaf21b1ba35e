"""What the service answers: callers, expected failures, and the events it publishes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bpf_dsl.definition import StepDef
from bpf_dsl.model import BUILTIN_ROLES
from bpf_dsl.service.values import FieldError


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: a user name and roles. ``admin`` may do everything."""

    user: str
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        """Whether the caller holds the built-in admin role."""
        return BUILTIN_ROLES[0] in self.roles

    def may_use(self, process_roles: tuple[str, ...]) -> bool:
        """A process without roles is for admins only (as in D365)."""
        return self.is_admin or bool(self.roles.intersection(process_roles))


SYSTEM = Caller("system", frozenset({"admin"}))


@dataclass(frozen=True, slots=True)
class TransitionFailure:
    """A refused instance command; ``code`` is one of API.md's TransitionErrorCode names.

    For ``STAGE_GATE``: ``missing_steps`` names the steps that block the active stage (``missing_step_defs``
    holds the steps themselves, as the API shows them) and ``unmet_gates`` the messages of its failing gates.
    """

    code: str
    message: str
    missing_steps: tuple[str, ...] = ()
    current_version: int | None = None
    unmet_gates: tuple[str, ...] = ()
    missing_step_defs: tuple[StepDef, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidationFailure:
    """A refused record write, with an error per field where one applies."""

    message: str
    field_errors: tuple[FieldError, ...] = ()
    current_version: int | None = None


@dataclass(frozen=True, slots=True)
class ProcessEvent:
    """A stage or status change (or a notification), published after its transaction commits."""

    kind: str
    instance_id: str
    record_id: str
    process: str
    stage: str | None
    at: dt.datetime
    by: str
    data: Mapping[str, Any] = field(default_factory=dict)


