"""The contract's GraphQL types (API.md), each built from the domain by a ``from_domain`` converter.

Definitions (entities, processes, stages, steps) are immutable, so their GraphQL
objects are built once per definition and shared by every request. Records and
instances wrap their stored rows; what needs more data (an instance's paths and
gate, its history, a record's form) is loaded through the request's DataLoaders.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from bpf_dsl.service import (
    Analytics,
    DeliveryRow,
    EntitySpec,
    FieldSpec,
    FormField,
    InstanceDetail,
    InstanceRow,
    NotificationRow,
    OptionSpec,
    ProcessDefinition,
    RecordRow,
    StageBar,
    StageDef,
    StepDef,
    TransitionFailure,
    ValidationFailure,
    Visit,
    derive_label,
)
from bpf_dsl.service import TransitionErrorCode as ErrorCode

from ..context import Context
from ..limits import ClientError
from . import fields as described

Info = strawberry.Info[Context, None]
T = TypeVar("T")

# An optional argument the contract writes without a default (`after: String`) is declared `= UNSET`:
# strawberry prints `= null` for a Python None default. `given()` reads it back as None.
UNSET: Any = strawberry.UNSET


def given(value: Any) -> Any:
    """An argument's value, None when it was not given."""
    return None if value is UNSET else value


# -- enums ----------------------------------------------------------------------------------------------
@strawberry.enum(description="Where an instance stands.")
class InstanceStatus(Enum):
    ACTIVE = "ACTIVE"
    FINISHED = "FINISHED"
    ABORTED = "ABORTED"


@strawberry.enum(description="A stage of the process bar: behind, at, or ahead of the active stage.")
class StageState(Enum):
    COMPLETED = "COMPLETED"
    ACTIVE = "ACTIVE"
    UPCOMING = "UPCOMING"


def _derived_enum(codes: type[ErrorCode], description: str) -> type[Enum]:
    """The engine's enum as a GraphQL enum of the same name: member for member, each described by its meaning."""
    members: dict[str, Any] = {c.name: strawberry.enum_value(c.value, description=c.meaning) for c in codes}
    made: type[Enum] = Enum(codes.__name__, members)  # type: ignore[misc]  # members computed, not literal
    return strawberry.enum(made, description=description)


# Derived, never written twice: a code the engine adds is in the schema (and the SDL snapshot) at once.
TransitionErrorCode = _derived_enum(ErrorCode, "Why an instance command was refused.")


_STATUS = {"active": InstanceStatus.ACTIVE, "finished": InstanceStatus.FINISHED, "aborted": InstanceStatus.ABORTED}


# -- the model: entities, fields, options ----------------------------------------------------------------------
@strawberry.type(description="An option of a choice or choices field.")
class Option:
    name: str
    label: str

    @classmethod
    def from_domain(cls, option: OptionSpec) -> Option:
        return cls(name=option.name, label=option.label)


@strawberry.type(description="A field of an entity; `type` is its kind (text, money, choice, lookup...).")
class Field:
    name: str
    label: str
    type: str
    required: bool
    options: list[Option]
    lookup_entity: str | None

    @classmethod
    def from_domain(cls, spec: FieldSpec) -> Field:
        return cls(name=spec.name, label=spec.label, type=spec.type.kind, required=spec.required,
                   options=[Option.from_domain(o) for o in spec.type.options], lookup_entity=spec.type.entity)


@strawberry.type(description="A declared entity and its fields, in declaration order.")
class Entity:
    name: str
    label: str
    fields: list[Field]

    @classmethod
    def from_domain(cls, spec: EntitySpec) -> Entity:
        return cls(name=spec.name, label=spec.label, fields=[Field.from_domain(f) for f in spec.field_list()])

    @described.field("Whether the caller's roles may create records of this entity (`createRecord`).")
    def can_create(self, info: Info) -> bool:
        return info.context.service.access.may_create(info.context.me, self.name)


# -- definitions: processes, stages, steps -------------------------------------------------------------------------
@strawberry.type(description="A step of a stage: `kind` is data (bound to `field`) or action.")
class Step:
    name: str
    label: str
    field: str | None
    kind: str
    required: bool

    @classmethod
    def from_domain(cls, step: StepDef) -> Step:
        return cls(name=step.name, label=step.label, field=step.field, kind=step.kind, required=step.required)


@strawberry.type(description="A stage of a process, on the entity whose record it works on.")
class Stage:
    name: str
    label: str
    category: str | None
    entity: str
    steps: list[Step]
    via: str | None = strawberry.field(
        default=None, description="`on E via F`: the lookup field F of E's records that points at the record of "
                                  "`viaEntity` in the instance (a record to pick must point there); null for a "
                                  "stage without `via`.")
    via_entity: str | None = strawberry.field(default=None, description="The entity `via` points at.")
    creates: bool = strawberry.field(
        default=False, description="Whether moving in creates the record when none is given or bound (`create`).")
    roles: list[str] = strawberry.field(
        default_factory=list, description="`roles`: who may move the instance out of this stage (forward, back, "
                                          "finish); empty: every role of the process.")
    gates: list[str] = strawberry.field(
        default_factory=list, description="The messages of its `gate` lines, in text order: what must hold, "
                                          "besides required steps, to move next or finish here.")
    sla: str | None = strawberry.field(
        default=None, description="`sla` as written (\"3d\"): how long a visit may take; null without.")

    @classmethod
    def from_domain(cls, stage: StageDef) -> Stage:
        return _cached(stage, lambda: cls(name=stage.name, label=stage.label, category=stage.category,
                                          entity=stage.entity, steps=[Step.from_domain(s) for s in stage.steps],
                                          via=stage.via, via_entity=stage.via_entity, creates=stage.create is not None,
                                          roles=list(stage.roles), gates=[message for _, message in stage.gates],
                                          sla=stage.sla_text))

    @classmethod
    def placeholder(cls, name: str, entity: str) -> Stage:
        """A stage the instance's definition no longer has (shown by name in the history)."""
        return cls(name=name, label=derive_label(name), category=None, entity=entity, steps=[])


@strawberry.type(description="An outcome a process may finish with (`finish OUTCOME \"Label\"`).")
class Outcome:
    name: str
    label: str


@strawberry.type(description="A process definition (the version an instance runs on, or the current one).")
class Process:
    name: str
    label: str
    entity: str
    order: int
    version: str
    roles: list[str]
    stages: list[Stage]
    outcomes: list[Outcome] = strawberry.field(
        default_factory=list, description="The outcomes its `finish` lines name, in text order.")

    @classmethod
    def from_domain(cls, defn: ProcessDefinition) -> Process:
        return _cached(defn, lambda: cls(name=defn.name, label=defn.label, entity=defn.entity, order=defn.order,
                                         version=defn.version, roles=list(defn.roles),
                                         stages=[Stage.from_domain(s) for s in defn.stages],
                                         outcomes=[Outcome(name=n, label=lb) for n, lb in defn.outcomes]))


# Definitions are immutable: their GraphQL objects are built once. Keyed by id() with the definition kept
# alive in the value, so an id is never reused while its entry exists.
_CACHE: dict[int, tuple[object, Any]] = {}
_CACHE_LOCK = threading.Lock()


def _cached(key: object, build: Callable[[], T]) -> T:
    hit = _CACHE.get(id(key))
    if hit is not None and hit[0] is key:
        return cast(T, hit[1])
    made = build()
    with _CACHE_LOCK:
        _CACHE[id(key)] = (key, made)
    return made


# -- records ---------------------------------------------------------------------------------------------------
@strawberry.type(description="A record of any entity; `values` holds its fields by their .bpf names.")
class Record:
    row: strawberry.Private[RecordRow]

    @classmethod
    def from_domain(cls, row: RecordRow) -> Record:
        return cls(row=row)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.id)

    @strawberry.field
    def entity(self) -> str:
        return self.row.entity

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @described.field("Every declared field by name (an empty one as null), as API.md's JSON shapes.")
    def values(self, info: Info) -> JSON:
        return cast(JSON, record_values(info.context, self.row))

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field
    def updated_at(self) -> dt.datetime:
        return self.row.updated_at

    @described.field("The user who owns the record (`own` grants, `assignRecord`).")
    def owner(self) -> str:
        return self.row.owner

    @described.field("The user who created the record.")
    def created_by(self) -> str:
        return self.row.created_by

    @described.field("What the caller may do with this record: create (records of its entity), read, update, "
                     "delete, assign; empty for a record shown only by its id.")
    def permissions(self, info: Info) -> list[str]:
        return list(info.context.service.allowed_verbs(info.context.me, self.row))

    @described.field("The instances the caller may see (its own, and those of other records with a stage on it), "
                     "newest activity first.")
    async def instances(self, info: Info) -> list[ProcessInstance]:
        return await record_instances(info.context, self.row)

    @described.field("The instance the bar shows: the active one if visible, else the newest visible.")
    async def active_instance(self, info: Info) -> ProcessInstance | None:
        return await record_active_instance(info.context, self.row)

    @described.field("Every field with what the business rules say about it now.")
    async def form(self, info: Info) -> list[FieldState]:
        return await record_form(info.context, self.row)


def record_values(ctx: Context, row: RecordRow) -> dict[str, Any]:
    """The stored values with every declared field the caller may read present (null when empty)."""
    return ctx.service.values_of(row, ctx.me)


async def record_instances(ctx: Context, row: RecordRow) -> list[ProcessInstance]:
    rows = await ctx.loaders.instances.load(row.id)
    return await ProcessInstance.many(ctx, rows)


async def record_active_instance(ctx: Context, row: RecordRow) -> ProcessInstance | None:
    rows = await ctx.loaders.instances.load(row.id)
    chosen = ctx.service.active_among(row, rows)
    if chosen is None:
        return None
    found = await ProcessInstance.many(ctx, [chosen])
    return found[0] if found else None


async def record_form(ctx: Context, row: RecordRow) -> list[FieldState]:
    if row.entity not in ctx.service.program.entities:
        return []
    fields = await ctx.loaders.forms.load(row)
    return field_states(fields)


def field_states(fields: list[FormField]) -> list[FieldState]:
    """The service's form fields as GraphQL's (a stored record's form, a new record's)."""
    return [FieldState(name=f.spec.name, label=f.spec.label, type=f.spec.type.kind, value=f.value,
                       required=f.required, hidden=f.hidden, locked=f.locked, recommendation=f.recommendation,
                       options=[Option.from_domain(o) for o in f.spec.type.options], lookup_entity=f.spec.type.entity)
            for f in fields]


@strawberry.type(description="A field of a record with the rules' verdict: the form a page draws.")
class FieldState:
    name: str
    label: str
    type: str
    value: JSON | None
    required: bool
    hidden: bool
    locked: bool
    recommendation: str | None
    options: list[Option]
    lookup_entity: str | None


# -- instances -----------------------------------------------------------------------------------------------------
@strawberry.type(description="A process running on a record.")
class ProcessInstance:
    row: strawberry.Private[InstanceRow]
    defn: strawberry.Private[ProcessDefinition]
    known: strawberry.Private[InstanceDetail | None] = None  # computed already (the process bar)

    @classmethod
    def from_domain(cls, row: InstanceRow, defn: ProcessDefinition,
                    detail: InstanceDetail | None = None) -> ProcessInstance:
        return cls(row=row, defn=defn, known=detail)

    @classmethod
    async def one(cls, ctx: Context, row: InstanceRow) -> ProcessInstance:
        """The GraphQL object of a row, with its definition (the instance's own version)."""
        found = await cls.many(ctx, [row])
        if not found:
            raise ClientError(f"the definition of {row.process} version {row.definition_version} can't be loaded")
        return found[0]

    @classmethod
    async def many(cls, ctx: Context, rows: list[InstanceRow]) -> list[ProcessInstance]:
        """The rows' objects, each with the definition the service shows it with; one without is left out."""
        svc = ctx.service
        out = []
        for row in rows:
            # At hand (the current version, or one loaded before): no hand-off to a thread.
            defn = svc.shown_definition(row) if svc.definition_known(row) else \
                await ctx.read(svc.shown_definition, row)
            if defn is not None:
                out.append(cls(row=row, defn=defn))
        return out

    async def _detail(self, ctx: Context) -> InstanceDetail:
        if self.known is None:
            self.known = await ctx.loaders.details.load(self.row)
            if self.known is None:
                raise ClientError(f"the definition of {self.row.process} can't be loaded")
        return self.known

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.id)

    @described.field("The process's label.")
    def name(self) -> str:
        return self.defn.label

    @described.field("The definition this instance runs on (its own version).")
    def process(self) -> Process:
        return Process.from_domain(self.defn)

    @strawberry.field
    def status(self) -> InstanceStatus:
        return _STATUS[self.row.status]

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @described.field("The primary record.")
    async def record(self, info: Info) -> Record:
        return await _load_record(info.context, self.row.record_id, self.defn.entity)

    @strawberry.field
    def active_stage(self) -> Stage:
        return self._stage(self.row.active_stage)

    @described.field("The record the active stage works on.")
    async def active_record(self, info: Info) -> Record:
        stage = self.defn.stage(self.row.active_stage)
        record_id = self.row.bound.get(stage.entity, self.row.record_id) if stage else self.row.record_id
        return await _load_record(info.context, record_id, stage.entity if stage else self.defn.entity)

    @described.field("The stages moved through; ends with activeStage.")
    def traversed_path(self) -> list[Stage]:
        return [self._stage(s) for s in self.row.traversed]

    @described.field("The traversed stages, then what the current data predicts ahead.")
    async def active_path(self, info: Info) -> list[Stage]:
        detail = await self._detail(info.context)
        return [Stage.from_domain(s) for s in detail.active_path]

    @strawberry.field
    def active_stage_started_on(self) -> dt.datetime:
        return self.row.stage_started_at

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field
    def completed_on(self) -> dt.datetime | None:
        return self.row.completed_at

    @strawberry.field
    async def can_move_next(self, info: Info) -> bool:
        return (await self._detail(info.context)).can_move_next

    @described.field("What blocks moveNext now.")
    async def missing_steps(self, info: Info) -> list[Step]:
        detail = await self._detail(info.context)
        return _steps_of(detail.active_stage, detail.missing)

    @described.field("The messages of the active stage's failing gates (none unless the instance is active).")
    async def unmet_gates(self, info: Info) -> list[str]:
        return list((await self._detail(info.context)).unmet_gates)

    @described.field("The `finish` outcome the instance ended on; null while not finished, or when its path "
                     "ends without one.")
    def outcome(self) -> str | None:
        return self.row.outcome if self.row.status == "finished" else None

    @described.field("Every stage visit, oldest first.")
    async def history(self, info: Info) -> list[StageVisit]:
        visits = await info.context.loaders.histories.load(self.row)
        return [StageVisit.from_domain(v, self.defn) for v in visits]

    @described.field("When the active visit passes its stage's sla; null without an sla, or when not active.")
    async def due_at(self, info: Info) -> dt.datetime | None:
        return (await info.context.loaders.timers.load(self.row)).due_at

    @described.field("Whether the active visit passed its stage's sla: true from the moment its `on overdue` "
                     "fired and the `overdue` event was published (StageVisit.overdueAt).")
    async def overdue(self, info: Info) -> bool:
        return (await info.context.loaders.timers.load(self.row)).overdue

    @described.field("Its notifications (`bpf.notify`), oldest first.")
    async def notifications(self, info: Info) -> list[Notification]:
        rows = await info.context.loaders.notifications.load(self.row)
        return [Notification(row=r, known=self) for r in rows]

    @described.field("Its webhooks (`bpf.webhook`) and how their delivery stands, oldest first.")
    async def deliveries(self, info: Info) -> list[Delivery]:
        return [Delivery.from_domain(r) for r in await info.context.loaders.deliveries.load(self.row)]

    def _stage(self, name: str) -> Stage:
        stage = self.defn.stage(name)
        return Stage.from_domain(stage) if stage is not None else Stage.placeholder(name, self.defn.entity)


def _steps_of(stage: StageDef, steps: tuple[StepDef, ...]) -> list[Step]:
    """The GraphQL objects of some steps of ``stage``: those its (shared) object already has."""
    by_name = {s.name: s for s in Stage.from_domain(stage).steps}
    return [by_name.get(s.name) or Step.from_domain(s) for s in steps]


async def _load_record(ctx: Context, record_id: str, entity: str) -> Record:
    row = await ctx.loaders.records.load(record_id)
    if row is None:
        # One the caller may not read (a stage on a record of someone else's), or gone since: its id only.
        row = ctx.service.veiled(record_id, entity)
    return Record(row=row)


@strawberry.type(description="A stay in a stage: entered, left (null while there), how long, moved by whom.")
class StageVisit:
    stage: Stage
    entered_at: dt.datetime
    exited_at: dt.datetime | None
    seconds: float | None
    by: str
    due_at: dt.datetime | None = strawberry.field(
        default=None, description="When the visit passes its stage's sla (entered + sla); null without an sla.")
    overdue_at: dt.datetime | None = strawberry.field(
        default=None, description="When its `on overdue` fired (once per visit); null if it never passed its sla.")

    @classmethod
    def from_domain(cls, visit: Visit, defn: ProcessDefinition) -> StageVisit:
        stage = Stage.from_domain(visit.stage) if visit.stage is not None else \
            Stage.placeholder(visit.stage_name, defn.entity)
        return cls(stage=stage, entered_at=visit.entered_at, exited_at=visit.exited_at, seconds=visit.seconds,
                   by=visit.by, due_at=visit.due_at, overdue_at=visit.overdue_at)


@strawberry.type(description="A notification (`bpf.notify`) for the users of a role, about an instance.")
class Notification:
    row: strawberry.Private[NotificationRow]
    known: strawberry.Private[ProcessInstance | None] = None  # the instance, when listed under it

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def role(self) -> str:
        return self.row.role

    @strawberry.field
    def message(self) -> str:
        return self.row.message

    @strawberry.field
    def at(self) -> dt.datetime:
        return self.row.at

    @described.field("The instance it is about.")
    async def instance(self, info: Info) -> ProcessInstance:
        if self.known is not None:
            return self.known
        ctx = info.context
        row = await ctx.loaders.instances_by_id.load(self.row.instance_id)
        if row is None:  # Query.notifications lists only those of instances the caller may see
            raise ClientError(f"the instance {self.row.instance_id} is gone")
        return await ProcessInstance.one(ctx, row)


@strawberry.type(description="A webhook (`bpf.webhook`) in the outbox: sent after its move committed, retried "
                             "with backoff until delivered or failed.")
class Delivery:
    id: strawberry.ID
    url: str
    event: str
    status: str = strawberry.field(description="pending, delivered or failed.")
    attempts: int = strawberry.field(description="Attempts made (or being made) so far.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed; null once delivered.")
    delivered_at: dt.datetime | None

    @classmethod
    def from_domain(cls, row: DeliveryRow) -> Delivery:
        return cls(id=strawberry.ID(row.id), url=row.url, event=row.event, status=row.status, attempts=row.attempts,
                   last_error=row.last_error, delivered_at=row.delivered_at)


# -- the process bar --------------------------------------------------------------------------------------------------
@strawberry.type(description="A step on the bar, on current data.")
class BarStep:
    step: Step
    value: JSON | None
    done: bool
    required: bool
    hidden: bool
    locked: bool
    recommendation: str | None


@strawberry.type(description="A stage of the active path with its state and steps.")
class BarStage:
    stage: Stage
    state: StageState
    steps: list[BarStep]
    unmet_gates: list[str] = strawberry.field(
        default_factory=list, description="The messages of its gates that fail on current data (the active and "
                                          "upcoming stages of an active instance).")
    instance_row: strawberry.Private[InstanceRow | None] = None  # whose active visit's due time `dueAt` is

    @described.field("When the active visit passes this stage's sla: the active stage of an active instance "
                     "with an sla; null otherwise.")
    async def due_at(self, info: Info) -> dt.datetime | None:
        if self.state != StageState.ACTIVE or self.instance_row is None:
            return None
        return (await info.context.loaders.timers.load(self.instance_row)).due_at


@strawberry.type(description="The bar of a record's active instance.")
class ProcessBar:
    instance: ProcessInstance
    stages: list[BarStage]

    @classmethod
    def from_domain(cls, detail: InstanceDetail, bars: list[StageBar]) -> ProcessBar:
        out = []
        for bar in bars:
            stage = Stage.from_domain(bar.stage)
            steps = []
            for i, s in enumerate(bar.steps):
                step = stage.steps[i] if i < len(stage.steps) else Step.from_domain(s.step)
                steps.append(BarStep(step=step, value=s.value, done=s.done, required=s.required, hidden=s.hidden,
                                     locked=s.locked, recommendation=s.recommendation))
            out.append(BarStage(stage=stage, state=StageState(bar.state), steps=steps,
                                unmet_gates=list(bar.unmet_gates), instance_row=detail.row))
        instance = ProcessInstance.from_domain(detail.row, detail.definition, detail)
        return cls(instance=instance, stages=out)


# -- expected failures -------------------------------------------------------------------------------------------------
@strawberry.type(description="Why an instance command was refused; nothing changed.")
class TransitionError:
    code: ErrorCode = strawberry.field(graphql_type=TransitionErrorCode)
    message: str
    missing_steps: list[Step] = strawberry.field(
        description="STAGE_GATE: the required steps left (the same type as ProcessInstance.missingSteps).")
    current_version: int | None
    unmet_gates: list[str] = strawberry.field(
        default_factory=list, description="STAGE_GATE: the messages of the active stage's failing gates.")

    @classmethod
    def from_domain(cls, failure: TransitionFailure) -> TransitionError:
        steps = [Step.from_domain(s) for s in failure.missing_step_defs]
        return cls(code=ErrorCode(failure.code), message=failure.message, missing_steps=steps,
                   current_version=failure.current_version, unmet_gates=list(failure.unmet_gates))


@strawberry.type(description="A problem with one field (`field` null: the record as a whole).")
class FieldError:
    field: str | None
    message: str


@strawberry.type(description="Why a record write was refused; nothing changed.")
class ValidationError:
    message: str
    field_errors: list[FieldError]
    current_version: int | None

    @classmethod
    def from_domain(cls, failure: ValidationFailure) -> ValidationError:
        return cls(message=failure.message, current_version=failure.current_version,
                   field_errors=[FieldError(field=e.field, message=e.message) for e in failure.field_errors])


InstanceResult = Annotated[ProcessInstance | TransitionError, strawberry.union("InstanceResult")]
RecordResult = Annotated[Record | ValidationError, strawberry.union("RecordResult")]


@strawberry.type(description="A page of records; pass nextCursor as `after` for the next one.")
class RecordPage:
    items: list[Record]
    next_cursor: str | None
    total: int


# -- events ---------------------------------------------------------------------------------------------------------
@strawberry.type(description="A stage or status change, or a notification, after its transaction committed.")
class ProcessEvent:
    kind: str
    instance: ProcessInstance
    stage: Stage | None
    at: dt.datetime
    by: str
    message: str | None = strawberry.field(description="A notification's message.", default=None)
    role: str | None = strawberry.field(description="The role a notification is for.", default=None)


# -- extras the web page uses -----------------------------------------------------------------------------------------
@strawberry.type(description="The caller.")
class Me:
    user: str
    roles: list[str]


@strawberry.type(description="How instances stand in and move through one stage.")
class StageAnalytics:
    stage: Stage
    count: int = strawberry.field(description="Active instances now in this stage.")
    median_seconds: float | None = strawberry.field(description="Median time of finished visits.")
    p90_seconds: float | None = strawberry.field(description="90th percentile time of finished visits.")
    conversion_to_next: float | None = strawberry.field(
        description="Share of the instances that reached this stage and went on to a later one (0..1).")


@strawberry.type(description="How many instances finished with one `finish` outcome.")
class OutcomeAnalytics:
    outcome: Outcome
    count: int


@strawberry.type(description="Records per stage, time in stage and conversion of a process.")
class ProcessAnalytics:
    process: Process
    stages: list[StageAnalytics]
    outcomes: list[OutcomeAnalytics] = strawberry.field(
        default_factory=list, description="Finished instances per outcome: each the process declares (zero "
                                          "too), then any only older versions' instances ended on.")

    @classmethod
    def from_domain(cls, found: Analytics) -> ProcessAnalytics:
        stages = [StageAnalytics(stage=Stage.from_domain(s.stage), count=s.count, median_seconds=s.median_seconds,
                                 p90_seconds=s.p90_seconds, conversion_to_next=s.conversion_to_next)
                  for s in found.stages]
        outcomes = [OutcomeAnalytics(outcome=Outcome(name=o.name, label=o.label), count=o.count)
                    for o in found.outcomes]
        return cls(process=Process.from_domain(found.definition), stages=stages, outcomes=outcomes)
