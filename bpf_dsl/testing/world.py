"""The world a scenario runs in: records and process instances in memory, moved by the pure engine.

It plays the service's part without a database: a record is created with its fields' defaults and
the business rules run (a rule's ``error`` refuses it), the entity's default process starts on it;
a move runs :func:`bpf_dsl.engine.step` and then its effects in order, all or nothing (a hook's
``set`` through the rules, a ``create`` block's record, an action's ``run`` with a context that
may read, update and create records and notify roles). A failing effect undoes the whole move,
as the service's transaction does: ``INVALID`` for a write the rules refuse, ``CANCELLED`` for an
action that raises :class:`~bpf_dsl.errors.ActionFailed`.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.engine import (
    Action,
    CallAction,
    CreateRecord,
    Finish,
    InstanceState,
    MemoryData,
    Moved,
    Next,
    Previous,
    Refused,
    SetActive,
    SetField,
    TransitionErrorCode,
    start,
    step,
)
from bpf_dsl.engine.action_context import BaseActionContext
from bpf_dsl.engine.effects import ActionOrigin
from bpf_dsl.engine.memory import FIXED_NOW
from bpf_dsl.errors import ActionFailed
from bpf_dsl.expr import is_empty
from bpf_dsl.service.values import check_values

#: The user every scenario acts as (its roles are set with `as ROLE`; admin by default).
USER = "tester"


class Refusal(Exception):
    """A write or an effect the world refuses: the move (or the write) fails with ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who acts: what actions see as ``context.caller``."""

    user: str
    roles: frozenset[str]


@dataclass
class World:
    """Records, instances and what happened, for one scenario."""

    program: Program
    now: dt.datetime = FIXED_NOW
    roles: frozenset[str] = frozenset({"admin"})
    data: MemoryData = field(init=False)
    instances: dict[str, InstanceState] = field(default_factory=dict)
    notifications: list[tuple[str, str]] = field(default_factory=list)
    calls: list[CallAction] = field(default_factory=list)
    #: Called after every move that changed an instance: (definition, state before, state after, action).
    on_move: Callable[[ProcessDefinition, InstanceState | None, InstanceState, Action | None], None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.data = MemoryData(self.program.entities, self.program.rules, self.now)

    # -- ids ---------------------------------------------------------------------------------------
    def new_id(self, prefix: str = "record") -> str:
        """A fresh id (``ticket-3``, ``instance-4``): readable in a failure's message."""
        return f"{prefix}-{next(self._ids)}"

    # -- records -----------------------------------------------------------------------------------
    def entity_of(self, record_id: str) -> str | None:
        """The entity of a stored record."""
        row = self.data.row(record_id)
        return None if row is None else row.entity

    def values(self, record_id: str) -> Mapping[str, Any] | None:
        """A stored record's values."""
        entity = self.entity_of(record_id)
        return None if entity is None else self.data.values(entity, record_id)

    def write(self, entity: str, record_id: str, changes: Mapping[str, Any], *, new: bool = False,
              enforce_locks: bool = True) -> None:
        """Create or change a record as a write through the API would: defaults (new), rules, required fields,
        locks (changes by a user). Refused writes change nothing."""
        spec = self.program.entities[entity]
        before = self.data.values(entity, record_id)
        if enforce_locks and before is not None:
            locked = self.data.form(entity, record_id).locked
            for name, value in changes.items():
                if name in locked and before.get(name) != value:
                    raise Refusal("INVALID", f"`{name}` is locked by a rule")
        merged: dict[str, Any] = {}
        if new:
            merged = {f.name: f.default for f in spec.field_list() if f.default is not None}
        result = self.data.save(entity, record_id, {**merged, **changes})
        if not result.form.ok:
            raise Refusal("INVALID", "; ".join(f"{e.field + ': ' if e.field else ''}{e.message}"
                                               for e in result.form.errors))
        # What the service's prepare checks besides the rules: each value against its field (bounds, length,
        # formats), required fields, uniqueness. Refused, the record is put back as it was.
        problems = [f"{e.field + ': ' if e.field else ''}{e.message}" for e in check_values(spec, result.values)]
        missing = [f.name for f in spec.field_list() if f.required and is_empty(result.values.get(f.name))]
        if missing:
            problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
        problems += self._duplicates(entity, record_id, result.values)
        if problems:
            if before is None:
                self.data.records.get(entity, {}).pop(record_id, None)
                self.data.rows.pop(record_id, None)
            else:
                self.data.records[entity][record_id] = dict(before)
            raise Refusal("INVALID", "; ".join(problems))

    def _duplicates(self, entity: str, record_id: str, values: Mapping[str, Any]) -> list[str]:
        """The ``unique`` fields whose value another record of ``entity`` holds already."""
        spec = self.program.entities[entity]
        others = [v for rid, v in self.data.records.get(entity, {}).items() if rid != record_id]
        return [f"{f.label} must be unique; another {entity} has this value"
                for f in spec.field_list()
                if f.unique and values.get(f.name) is not None and any(o.get(f.name) == values[f.name] for o in others)]

    def create(self, entity: str, values: Mapping[str, Any], process: str | None = None, *,
               start_process: bool = True, enforce_locks: bool = True) -> tuple[str, str | None]:
        """A new record of ``entity`` and the instance of its default (or the named) process: (record, instance)."""
        record_id = self.new_id(entity)
        self.write(entity, record_id, values, new=True, enforce_locks=enforce_locks)
        if not start_process:
            return record_id, None
        defn = self.program.processes.get(process) if process else self.default_process(entity)
        if defn is None:
            return record_id, None
        return record_id, self.start(defn, record_id)

    def default_process(self, entity: str) -> ProcessDefinition | None:
        """The process a new record of ``entity`` gets: the lowest ``order`` among those the roles may use."""
        mine = [p for p in self.program.processes_on(entity) if self._may_use(p)]
        return mine[0] if mine else None

    def _may_use(self, defn: ProcessDefinition) -> bool:
        return "admin" in self.roles or not self.roles.isdisjoint(defn.roles)

    # -- instances ------------------------------------------------------------------------------------
    def start(self, defn: ProcessDefinition, record_id: str) -> str:
        """Start ``defn`` on ``record_id``; its start hooks' effects run (and may refuse it)."""
        instance_id = self.new_id("instance")
        moved = start(defn, instance_id, record_id, self.now, self.data, USER, new_id=lambda: self.new_id("new"))
        self._commit(defn, None, moved, None)
        return instance_id

    def move(self, instance_id: str, action: Action) -> Refused | None:
        """Apply ``action`` to an instance: None when it moved, else the refusal (nothing changed)."""
        state = self.instances[instance_id]
        defn = self.program.processes[state.process]
        if not self._may_use(defn):
            return Refused(TransitionErrorCode.FORBIDDEN, f"the roles {', '.join(sorted(self.roles))} may not use "
                                                          f"the process {defn.name}")
        if isinstance(action, Next | Previous | SetActive | Finish) and state.is_active:
            stage = defn.stages[state.active_stage]
            if not stage.may_leave(self.roles):
                return Refused(TransitionErrorCode.FORBIDDEN, f"only {', '.join(stage.roles)} may leave the stage "
                                                              f"{stage.label}")
        outcome = step(defn, state, action, self.now, self.data, USER, new_id=lambda: self.new_id("new"))
        if isinstance(outcome, Refused):
            return outcome
        try:
            self._commit(defn, state, outcome, action)
        except Refusal as refusal:
            return Refused(TransitionErrorCode(refusal.code), refusal.message)
        return None

    def _commit(self, defn: ProcessDefinition, before: InstanceState | None, moved: Moved,
                action: Action | None) -> None:
        """Run a move's effects and keep its new state; on a refusal, put everything back as it was."""
        saved = (copy.deepcopy(self.data.records), dict(self.data.rows), list(self.data.calls),
                 dict(self.instances), list(self.notifications), list(self.calls))
        try:
            self.instances[moved.state.id] = moved.state  # before the effects: an action may read its instance
            for effect in moved.effects:
                self._effect(effect)
        except Refusal:
            (self.data.records, self.data.rows, self.data.calls, self.instances, self.notifications,
             self.calls) = saved
            raise
        if self.on_move is not None:
            self.on_move(defn, before, moved.state, action)

    def _effect(self, effect: SetField | CreateRecord | CallAction) -> None:
        if isinstance(effect, SetField):
            try:
                self.write(effect.entity, effect.record_id, {effect.field: effect.value}, enforce_locks=False)
            except Refusal as refusal:
                raise Refusal("INVALID", f"a hook's `set {effect.field}` can't be saved: {refusal.message}") from None
        elif isinstance(effect, CreateRecord):
            try:
                self.write(effect.entity, effect.temp_id, effect.values, new=True, enforce_locks=False)
            except Refusal as refusal:
                raise Refusal("INVALID", f"the new {effect.entity} can't be saved: {refusal.message}") from None
        else:
            self.calls.append(effect)
            run = effect.action.run
            if run is None:
                raise Refusal("INVALID", f"the action {effect.action.dotted} has no implementation")
            try:
                run(ActionContext(self, effect.origin), **effect.arguments)
            except ActionFailed as exc:
                raise Refusal("CANCELLED", f"{effect.action.dotted}: {exc}") from None


class ActionContext(BaseActionContext):
    """What an action may do, as the service's context offers it, on the world's records."""

    def __init__(self, world: World, origin: ActionOrigin) -> None:
        self._world = world
        self.origin = origin
        self.caller = Caller(USER, world.roles)

    @property
    def now(self) -> dt.datetime:
        """The moment of the move."""
        return self._world.now

    def notify(self, role: str, message: str) -> None:
        """Record a notification (``expect notified ROLE`` reads them)."""
        self._world.notifications.append((role, message))

    def webhook(self, url: str, event: str) -> None:
        """A webhook would be delivered after the move: nothing leaves the test (``expect called`` sees the call)."""
        del url, event

    def record(self, record_id: str | None = None) -> Mapping[str, Any] | None:
        """The values of a record (default: the one the action's stage works on)."""
        rid = record_id or self.origin.record_id
        return None if rid is None else self._world.values(rid)

    def update(self, record_id: str, values: Mapping[str, Any]) -> None:
        """Change fields of a record (rules and validation apply)."""
        entity = self._world.entity_of(record_id)
        if entity is None:
            raise ActionFailed(f"no record {record_id}")
        self._world.write(entity, record_id, values, enforce_locks=False)

    def create(self, entity: str, values: Mapping[str, Any], *, start_process: bool = True) -> str:
        """Create a record (defaults, rules and validation apply), with its default process unless told not to."""
        if entity not in self._world.program.entities:
            raise ActionFailed(f"unknown entity {entity}")
        record_id, _ = self._world.create(entity, values, start_process=start_process, enforce_locks=False)
        return record_id
