"""The service layer: records and process instances, one transaction per command.

::

    from bpf_dsl.service import Caller, load, open_service
    svc = open_service(load(["sales.bpf"]), "sqlite:///bpf.db")
    lead = svc.create_record(Caller("ann", frozenset({"salesperson"})), "lead", {"topic": "Fleet"})

This module is the public API front ends use (the server imports nothing else of
``bpf_dsl`` but ``bpf_dsl.errors``): the service, its results and read models, the
types to annotate with, tokens, opening storage, loading a program (or the one stored
last), the packs' samples. ``__all__`` lists it exactly.
"""

from __future__ import annotations

from bpf_dsl.check import check_packs, load
from bpf_dsl.definition import ProcessDefinition, Program, StageDef, StepDef
from bpf_dsl.engine import TransitionErrorCode
from bpf_dsl.errors import ActionFailed
from bpf_dsl.model import EntitySpec, FieldSpec, OptionSpec
from bpf_dsl.nodes import derive_label
from bpf_dsl.plugins import Registry, default_registry
from bpf_dsl.service.auth import Tokens, Verdict, bearer, hash_token, token_id_of
from bpf_dsl.service.core import ActionContext, Service, new_id
from bpf_dsl.service.diagrams import FORMATS as DIAGRAM_FORMATS
from bpf_dsl.service.inbox import Timer
from bpf_dsl.service.jobs import Outbox, Timers
from bpf_dsl.service.outbox import Attempt, DeliveryPolicy
from bpf_dsl.service.reads import (
    Analytics,
    BarStep,
    FormField,
    InstanceDetail,
    OutcomeCount,
    StageBar,
    StageStats,
    Visit,
)
from bpf_dsl.service.recording import Dependencies
from bpf_dsl.service.results import SYSTEM, Caller, ProcessEvent, TransitionFailure, ValidationFailure
from bpf_dsl.service.samples import load_samples
from bpf_dsl.service.values import FieldError, unstorable
from bpf_dsl.service.versions import stored_program
from bpf_dsl.service.writer import GroupCommit, Job
from bpf_dsl.storage import (
    TOKENS_CHANNEL,
    InstanceRow,
    Listening,
    Notifier,
    RecordRow,
    Storage,
    Tx,
    database_url,
    display_url,
    open_storage,
)
from bpf_dsl.storage.jobs import DeliveryRow, NotificationRow


def open_service(program: Program, url: str | None = None, registry: Registry | None = None) -> Service:
    """A service for ``program`` over the database at ``url`` (migrated first)."""
    return Service(program, open_storage(url), registry or default_registry())


__all__ = ["DIAGRAM_FORMATS", "SYSTEM", "TOKENS_CHANNEL", "ActionContext", "ActionFailed", "Analytics", "Attempt",
           "BarStep", "Caller", "DeliveryPolicy", "DeliveryRow", "Dependencies", "EntitySpec", "FieldError",
           "FieldSpec", "FormField", "GroupCommit", "InstanceDetail", "InstanceRow", "Job", "Listening",
           "NotificationRow", "Notifier", "OptionSpec", "Outbox", "OutcomeCount", "ProcessDefinition", "ProcessEvent",
           "Program", "RecordRow", "Registry", "Service", "StageBar", "StageDef", "StageStats", "StepDef", "Storage",
           "Timer", "Timers", "Tokens", "TransitionErrorCode", "TransitionFailure", "Tx", "ValidationFailure",
           "Verdict", "Visit", "bearer", "check_packs", "database_url", "default_registry", "derive_label",
           "display_url", "hash_token", "load", "load_samples", "new_id", "open_service", "open_storage",
           "stored_program", "token_id_of", "unstorable"]
