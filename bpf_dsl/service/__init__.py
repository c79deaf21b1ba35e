"""The service layer: records and process instances, one transaction per command.

::

    from bpf_dsl.service import Caller, open_service
    svc = open_service(["sales.bpf"], "sqlite:///bpf.db")
    lead = svc.create_record(Caller("ann", frozenset({"salesperson"})), "lead", {"topic": "Fleet"})
"""

from __future__ import annotations

from bpf_dsl.definition import Program
from bpf_dsl.errors import ActionFailed
from bpf_dsl.plugins import Registry, default_registry
from bpf_dsl.service.core import ActionContext, Service, new_id
from bpf_dsl.service.reads import Analytics, BarStep, StageBar, Visit
from bpf_dsl.service.results import SYSTEM, Caller, ProcessEvent, TransitionFailure, ValidationFailure
from bpf_dsl.service.values import FieldError
from bpf_dsl.storage import open_storage


def open_service(program: Program, url: str | None = None, registry: Registry | None = None) -> Service:
    """A service for ``program`` over the database at ``url`` (migrated first)."""
    return Service(program, open_storage(url), registry or default_registry())


__all__ = ["SYSTEM", "ActionContext", "ActionFailed", "Analytics", "BarStep", "Caller", "FieldError",
           "ProcessEvent", "Service", "StageBar", "TransitionFailure", "ValidationFailure", "Visit", "new_id",
           "open_service"]
