"""The read side: records, instances, the process bar, history and analytics.

Reads run in a read transaction and never write. A caller sees an instance only
if its roles allow the instance's process (FORBIDDEN's counterpart for queries:
the instance is simply absent). While dependencies are being recorded
(:mod:`bpf_dsl.service.recording`), each read notes the rows it read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import statistics
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from bpf_dsl.definition import ProcessDefinition, Program, StageDef, StepDef
from bpf_dsl.engine import (
    EMPTY_FORM,
    InstanceState,
    StepStatus,
    active_path,
    can_move_next,
    missing_steps,
    stage_steps,
    unmet_gates,
)
from bpf_dsl.model import EntitySpec, FieldSpec
from bpf_dsl.nodes import derive_label
from bpf_dsl.plugins import Registry
from bpf_dsl.service.access import ALL, OWN, Access, is_veiled, strip, veiled
from bpf_dsl.service.data import TxData
from bpf_dsl.service.diagrams import Diagrams
from bpf_dsl.service.recording import Dependencies, opaque, reads_may_depend_on_time, record, recording
from bpf_dsl.service.results import Caller
from bpf_dsl.service.rows import state_of
from bpf_dsl.service.values import encode, parse_input, present, to_json
from bpf_dsl.service.versions import Versions
from bpf_dsl.storage import InstanceRow, Page, RecordRow, Storage, Tx

#: A step as the process bar shows it: the engine's status, its ``value`` in API.md's JSON shape.
BarStep = StepStatus


@dataclass(frozen=True, slots=True)
class FormField:
    """A field of a record with what the business rules say about it now; ``value`` in API.md's JSON shape."""

    spec: FieldSpec
    value: Any
    required: bool
    hidden: bool
    locked: bool
    recommendation: str | None


@dataclass(frozen=True, slots=True)
class StageBar:
    """A stage of the active path with its state (COMPLETED, ACTIVE, UPCOMING) and steps.

    ``unmet_gates``: the messages of the stage's ``gate`` lines that fail on current data, for the active and
    upcoming stages of an active instance (a completed stage was passed; going back to it checks again).
    """

    stage: StageDef
    state: str
    steps: tuple[BarStep, ...]
    unmet_gates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Visit:
    """A stage visit in an instance's history."""

    stage: StageDef | None
    stage_name: str
    entered_at: dt.datetime
    exited_at: dt.datetime | None
    seconds: float | None
    by: str
    #: Its stage's sla from its entry (None: no sla), and when its ``on overdue`` fired (None: not, or not yet).
    due_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class InstanceDetail:
    """Everything about an instance that needs its definition and current data."""

    row: InstanceRow
    definition: ProcessDefinition
    active_stage: StageDef
    traversed: tuple[StageDef, ...]
    active_path: tuple[StageDef, ...]
    missing: tuple[StepDef, ...]
    can_move_next: bool
    unmet_gates: tuple[str, ...] = ()  # the messages of the active stage's failing gates (none unless active)


@dataclass(frozen=True, slots=True)
class StageStats:
    """How instances stand in and move through one stage of a process."""

    stage: StageDef
    count: int  # active instances now in this stage
    median_seconds: float | None  # of finished visits
    p90_seconds: float | None
    conversion_to_next: float | None  # share of the instances that reached it and went on to a later stage (0..1)


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """How many instances of a process finished with one ``finish OUTCOME "Label"``."""

    name: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Analytics:
    """Records per active stage, conversion between consecutive stages, time in stage.

    ``stages`` holds the same numbers per stage of ``definition``, in stage order; ``outcomes`` the finished
    instances per outcome: each the definition declares (in text order, zero too), then any that only
    instances of older versions ended on.
    """

    process: str
    counts: dict[str, int]
    conversion: dict[tuple[str, str], float]
    median_seconds: dict[str, float]
    p90_seconds: dict[str, float]
    definition: ProcessDefinition
    stages: tuple[StageStats, ...]
    outcomes: tuple[OutcomeCount, ...] = ()


MAX_PAGE = 500  # records in one page of `records`


class Reads:
    """Query methods of :class:`~bpf_dsl.service.Service`."""

    program: Program
    storage: Storage
    versions: Versions
    diagrams: Diagrams
    registry: Registry
    clock: Callable[[], dt.datetime]
    #: Who may see and change which records (:mod:`bpf_dsl.service.access`): every read below asks it.
    access: Access

    # -- keeping answers ---------------------------------------------------------------------------------
    def recording(self) -> AbstractContextManager[Dependencies]:
        """Record what the reads made in the block (in this context, and the tasks and threads it starts)
        depend on (:mod:`bpf_dsl.service.recording`): what a kept answer must be checked against."""
        return record()

    @functools.cached_property
    def reads_timeless(self) -> bool:
        """Whether reads depend on the stored data only, never on the clock: whether an answer may be kept
        until the rows it depends on change (:func:`~bpf_dsl.service.recording.reads_may_depend_on_time`)."""
        return not reads_may_depend_on_time(self.program, self.registry)

    def unchanged(self, deps: Dependencies) -> bool:
        """Whether every row the recorded reads depended on is still as they read it (False for opaque ones:
        a search can't be read again cheaply)."""
        return self.unchanged_many([deps])[0]

    def unchanged_many(self, many: Sequence[Dependencies]) -> list[bool]:
        """:meth:`unchanged` of each, their rows read together in one query (what concurrent requests' kept
        answers ask at once: one round trip, not one each)."""
        checked = [deps for deps in many if not deps.opaque and not deps.none]
        records: dict[str, None] = {}
        alone: dict[str, None] = {}
        involving: dict[str, None] = {}
        for deps in checked:
            records.update(dict.fromkeys(deps.records))
            listed = {iid for rows in deps.involving.values() for iid, _ in rows}
            alone.update(dict.fromkeys(iid for iid in deps.instances if iid not in listed))
            involving.update(dict.fromkeys(deps.involving))
        now = None
        if checked:
            with self.storage.read(single=True) as tx:  # one query
                now = tx.row_versions(list(records), list(alone), list(involving))
        out = []
        for deps in many:
            if deps.opaque or deps.none or now is None:
                out.append(not deps.opaque)
                continue
            listed = {iid for rows in deps.involving.values() for iid, _ in rows}
            out.append(all(now.records.get(rid) == seen for rid, seen in deps.records.items())
                       and all(now.instances.get(iid) == seen for iid, seen in deps.instances.items()
                               if iid not in listed)
                       and all(now.involving[rid] == seen for rid, seen in deps.involving.items()))
        return out

    def audience(self, caller: Caller) -> Hashable:
        """What a read's answer depends on of the caller: its roles, and its user name where some ``own`` grant
        makes what it may see its own (:attr:`Access.personal`). Callers of one audience get the same answers."""
        return (caller.roles, caller.user) if self.access.personal else caller.roles

    def may_see(self, caller: Caller, process: str) -> bool:
        """Whether the caller's roles allow a process (one the program doesn't have: admins only)."""
        defn = self.program.processes.get(process)
        return caller.may_use(defn.roles if defn is not None else ())

    def visible(self, caller: Caller, row: InstanceRow) -> bool:
        """Whether the caller's roles allow the instance's process (its primary record is asked apart:
        :meth:`_readable_instances`)."""
        return self.may_see(caller, row.process)

    def readable_instances(self, caller: Caller, rows: list[InstanceRow], tx: Tx | None = None) -> list[InstanceRow]:
        """Of instances read already, those the caller may see (:meth:`_readable_instances`), in ``tx`` if given:
        what any read of instances by other means (a page of notifications) filters them with."""
        if tx is not None:
            return self._readable_instances(tx, caller, rows)
        with self.storage.read() as own:
            return self._readable_instances(own, caller, rows)

    def _readable_instances(self, tx: Tx, caller: Caller, rows: list[InstanceRow],
                            known: dict[str, RecordRow] | None = None) -> list[InstanceRow]:
        """Of ``rows``, those the caller may see: its roles allow the process, and it may read the primary
        record (an instance of a record that doesn't exist for the caller doesn't either).

        Where the caller reads every record of the primary entity (or none), the entity decides without a
        query; where only its own, the primary records' owners are read (``known`` ones first, the others in
        one query), and noted as what the answer depends on.
        """
        access = self.access
        out: list[InstanceRow] = []
        pending: list[InstanceRow] = []
        for row in rows:
            if not self.visible(caller, row):
                continue
            if caller.is_admin:
                out.append(row)
                continue
            defn = self.program.processes.get(row.process)
            scope = access.scope(caller, "read", defn.entity) if defn is not None else None
            if scope == ALL:
                out.append(row)
            elif scope == OWN:
                pending.append(row)
        if not pending:
            return out
        known = dict(known or {})
        missing = [r.record_id for r in pending if r.record_id not in known]
        if missing:
            known.update(tx.get_records(missing))
        deps = recording()
        keep = {r.id for r in out}
        for row in pending:
            primary = known.get(row.record_id)
            if deps is not None:
                deps.record(row.record_id, primary)  # its owner decides: an assign changes its version
            if primary is not None and access.readable(caller, primary):
                keep.add(row.id)
        return [r for r in rows if r.id in keep]  # in the order given (newest activity first)

    def visible_process(self, caller: Caller, name: str) -> ProcessDefinition | None:
        """The current definition of a process, if the program has it and the caller's roles allow it."""
        defn = self.program.processes.get(name)
        return defn if defn is not None and caller.may_use(defn.roles) else None

    def values_of(self, row: RecordRow, caller: Caller | None = None) -> dict[str, Any]:
        """A record's stored values (JSON shapes) with every declared field present, an empty one as None;
        with ``caller``, only the fields it may read (the others are absent, not null)."""
        spec = self.program.entities.get(row.entity)
        if spec is None:
            return dict(row.values)
        if caller is not None and is_veiled(row):
            return {}  # a record the caller may not read: not even which fields it has
        values = present(spec, row.values)
        hidden = self.access.hidden(caller, row.entity) if caller is not None else frozenset()
        return {k: v for k, v in values.items() if k not in hidden} if hidden else values

    def get_record(self, caller: Caller, record_id: str) -> RecordRow | None:
        """A record by id, as the caller may see it (None when it may not read it: :meth:`Access.view`)."""
        with self.storage.read() as tx:
            row = tx.get_record(record_id)
        deps = recording()
        if deps is not None:
            deps.record(record_id, row)
        return self.access.view(caller, row)

    def get_records(self, caller: Caller, ids: list[str]) -> dict[str, RecordRow]:
        """Records by id, in one query (for DataLoaders), as the caller may see them (unreadable ones absent)."""
        with self.storage.read() as tx:
            found = tx.get_records(ids)
        deps = recording()
        if deps is not None:
            for rid in ids:
                deps.record(rid, found.get(rid))
        view = self.access.view
        out = {}
        for rid, row in found.items():
            seen = view(caller, row)
            if seen is not None:
                out[rid] = seen
        return out

    @staticmethod
    def veiled(record_id: str, entity: str) -> RecordRow:
        """What may be shown of a record the caller may not read where one must be (an instance's record): its
        id and entity (:func:`~bpf_dsl.service.access.veiled`); every read of it shows nothing more."""
        return veiled(record_id, entity)

    def allowed_verbs(self, caller: Caller, row: RecordRow) -> tuple[str, ...]:
        """What the caller may do with a record it reads: the verbs of :data:`~bpf_dsl.model.VERBS` granted
        on it (``create`` meaning: records of its entity); none on a veiled one."""
        return () if is_veiled(row) else self.access.verbs(caller, row)

    def readable_entities(self, caller: Caller) -> list[EntitySpec]:
        """The entities the caller may read records of, each with only the fields it may read."""
        found = (self.access.readable_spec(caller, name) for name in self.program.entities)
        return [spec for spec in found if spec is not None]

    def list_records(self, caller: Caller, entity: str, where: Any = None, stage: str | None = None,
                     first: int = 50, after: str | None = None, process: str | None = None,
                     search: str | None = None) -> Page:
        """A page of records of ``entity`` whose fields equal ``where``'s values, optionally in ``stage``."""
        spec = self.program.entities.get(entity)
        if spec is None:
            raise ValueError(f"unknown entity {entity!r}")
        if isinstance(where, dict) and "id" in where:
            raise ValueError("`id` is not a field to match: read a record by its id with record(id:)")
        hidden = self.access.hidden(caller, entity)
        if hidden and isinstance(where, dict):
            # A match on a value the caller may not read would tell it: such a field is no field of theirs.
            for name in where:
                if name in hidden:
                    raise ValueError(f"`{name}` is not a field of {entity}")
        values, errors = parse_input(spec, where or {})
        if errors:
            raise ValueError("; ".join(e.message for e in errors))
        matching = encode(spec, values)
        for name, value in values.items():
            if value is None or value == () or value == []:
                matching[name] = None  # empty: matches the records where the field is empty
        if not 0 <= first <= MAX_PAGE:
            raise ValueError(f"`first` must be between 0 and {MAX_PAGE}, not {first}")
        opaque()
        listable, owner = self.access.list_owner(caller, entity)
        if not listable:
            return Page([], None, 0)  # records the caller may not read don't exist for it: none at all
        with self.storage.read() as tx:
            page = tx.list_records(entity, matching, process, stage, first, after, search or None,
                                   owner=owner, unsearched=sorted(hidden))
        if not hidden:
            return page
        return Page([strip(r, hidden) for r in page.items], page.next_cursor, page.total)

    def instances_of(self, caller: Caller, record_id: str) -> list[InstanceRow]:
        """The record's instances the caller may see, newest activity first."""
        return self.instances_of_many(caller, [record_id]).get(record_id, [])

    def instances_of_many(self, caller: Caller, record_ids: list[str]) -> dict[str, list[InstanceRow]]:
        """Instances of many records in one query (for DataLoaders); none for a record the caller may not
        read, and only the instances it may see (:meth:`_readable_instances`)."""
        deps = recording()
        with self.storage.read() as tx:
            found = tx.instances_involving_many(record_ids)
            records = tx.get_records(record_ids) if any(found.values()) else {}
            if deps is not None:
                for rid, rows in found.items():
                    deps.instances_of(rid, rows)
                    if rows:
                        deps.record(rid, records.get(rid))
            out: dict[str, list[InstanceRow]] = {}
            for rid, rows in found.items():
                record = records.get(rid)
                out[rid] = self._readable_instances(tx, caller, rows, records) \
                    if record is not None and self.access.readable(caller, record) else []
        return out

    def get_instance(self, caller: Caller, instance_id: str) -> InstanceRow | None:
        """An instance by id, if the caller may see it."""
        with self.storage.read() as tx:
            row = tx.get_instance(instance_id)
            deps = recording()
            if deps is not None:
                deps.instance(instance_id, row)
            if row is None or not self._readable_instances(tx, caller, [row]):
                return None
        return row

    def active_instance(self, caller: Caller, record: RecordRow) -> InstanceRow | None:
        """The instance the bar shows: the record's active one if visible, else its newest visible one."""
        with self.storage.read() as tx:
            return self._active_instance(tx, caller, record)

    def _active_instance(self, tx: Tx, caller: Caller, record: RecordRow) -> InstanceRow | None:
        found = tx.instances_involving_many([record.id])[record.id]
        deps = recording()
        if deps is not None:
            deps.record(record.id, record)
            deps.instances_of(record.id, found)
        if not self.access.readable(caller, record):
            return None
        return self.active_among(record, self._readable_instances(tx, caller, found, {record.id: record}))

    @staticmethod
    def active_among(record: RecordRow, rows: list[InstanceRow]) -> InstanceRow | None:
        """Of a record's visible instances (newest activity first), the one its bar shows: the record's
        active one if among them, else the newest."""
        for r in rows:
            if r.id == record.active_instance_id:
                return r
        return rows[0] if rows else None

    def _defn(self, tx: Tx, row: InstanceRow) -> ProcessDefinition | None:
        _note_version(self.program, row)
        return self.versions.get(tx, row.process, row.definition_version)

    def detail(self, row: InstanceRow) -> InstanceDetail | None:
        """Stages, paths and the gate of an instance on current data."""
        deps = recording()
        if deps is not None:
            deps.instance(row.id, row)
        with self.storage.read() as tx:
            defn = self._defn(tx, row)
            if defn is None:
                return None
            data = TxData(tx, self.program, self.clock(), deps)
            state = state_of(row, defn)
            path = tuple(active_path(defn, state, data, data.now))
            missing = tuple(missing_steps(defn, state, data)) if row.status == "active" else ()
            movable = row.status == "active" and can_move_next(defn, state, data, data.now)
            return InstanceDetail(row, defn, defn.stages[state.active_stage],
                                  tuple(defn.stages[i] for i in state.traversed), path, missing, movable,
                                  _gates_now(defn, state, data))

    def process_bar(self, caller: Caller, record_id: str) -> tuple[InstanceDetail, list[StageBar]] | None:
        """The bar of the record's active instance: the active path with each stage's state and steps."""
        deps = recording()
        with self.storage.read() as tx:  # one connection for the record, its instance and the gate's data
            record = tx.get_record(record_id)
            if deps is not None:
                deps.record(record_id, record)
            row = self._active_instance(tx, caller, record) if record is not None else None
            defn = self._defn(tx, row) if row is not None else None
            if record is None or row is None or defn is None:
                return None
            data = TxData(tx, self.program, self.clock(), deps)
            data.remember(record)  # already read: the gate's steps read it again
            state = state_of(row, defn)
            path = active_path(defn, state, data, data.now)
            traversed = set(state.traversed)
            bars = []
            for stage in path:
                if stage.index == state.active_stage:
                    kind = "ACTIVE" if row.status == "active" else "COMPLETED"
                elif stage.index in traversed:
                    kind = "COMPLETED"
                else:
                    kind = "UPCOMING"
                steps = self._bar_steps(stage, stage_steps(defn, state, data, stage.index),
                                        self._unseen(caller, data, state, stage))
                gates = tuple(unmet_gates(defn, state, data, data.now, stage.index)) \
                    if stage.gates and kind != "COMPLETED" and row.status == "active" else ()
                bars.append(StageBar(stage, kind, steps, gates))
            missing = tuple(missing_steps(defn, state, data)) if row.status == "active" else ()
            movable = row.status == "active" and can_move_next(defn, state, data, data.now)
            detail = InstanceDetail(row, defn, defn.stages[state.active_stage],
                                    tuple(defn.stages[i] for i in state.traversed), tuple(path), missing, movable,
                                    _gates_now(defn, state, data))
        return detail, bars

    def _unseen(self, caller: Caller, data: TxData, state: InstanceState,
                stage: StageDef) -> frozenset[str] | None:
        """The fields of ``stage``'s record that the caller may not read: the restricted ones; None when it may
        read none of them (the record the stage works on doesn't exist for it)."""
        if caller.is_admin:
            return frozenset()
        access = self.access
        bound = next((rid for entity, rid in state.bound if entity == stage.entity), None)
        record = data.row(bound) if bound is not None else None  # read already by the steps: no query
        if record is not None:
            return access.hidden(caller, stage.entity) if access.readable(caller, record) else None
        # Not bound yet (a stage ahead on another entity): what the caller may read of such records at all.
        return access.hidden(caller, stage.entity) if access.may_read_entity(caller, stage.entity) else None

    def _bar_steps(self, stage: StageDef, statuses: list[StepStatus],
                   unseen: frozenset[str] | None = frozenset()) -> tuple[BarStep, ...]:
        """The engine's step statuses with each value in API.md's JSON shape; a data step on a field in
        ``unseen`` (all of them when it is None) shows as hidden, without its value (LANGUAGE.md), and not done:
        whether a field the caller may not read is filled tells of its value (a yes/no field's ``done`` is it)."""
        spec = self.program.entities.get(stage.entity)
        fields = spec.fields if spec is not None else {}
        out = []
        for s in statuses:
            name = s.step.field
            if name is not None and (unseen is None or name in unseen):
                # A rule's recommendation on it may be about its value: not shown either.
                out.append(dataclasses.replace(s, value=None, done=False, hidden=True, recommendation=None))
                continue
            field = fields.get(name) if name else None
            value = to_json(field, s.value) if field is not None and s.value is not None else None
            out.append(dataclasses.replace(s, value=value))
        return tuple(out)

    def definition_known(self, row: InstanceRow) -> bool:
        """Whether the definition of ``row`` is at hand without a query (its version is the current one, or
        was loaded before): then :meth:`definition_of` and :meth:`shown_definition` never touch the database."""
        return self.versions.cached(row.process, row.definition_version)[0]

    def definition_of(self, row: InstanceRow) -> ProcessDefinition | None:
        """The definition an instance runs on (without a query when it is the current one, or loaded before)."""
        known, defn = self.versions.cached(row.process, row.definition_version)
        if known:
            _note_version(self.program, row)
            return defn
        with self.storage.read() as tx:
            return self._defn(tx, row)

    def shown_definition(self, row: InstanceRow) -> ProcessDefinition | None:
        """The definition an instance is shown with: its own version, else (when that can't be rebuilt) the
        current one; None when neither has the instance's active stage."""
        defn = self.definition_of(row) or self.program.processes.get(row.process)
        return defn if defn is not None and row.active_stage in defn.by_name else None

    def details(self, rows: list[InstanceRow]) -> list[InstanceDetail | None]:
        """:meth:`detail` of many instances in one read transaction (for DataLoaders).

        The records the instances are bound to are read in one query first, so a page
        of instances costs a bounded number of queries whatever its size.
        """
        out: list[InstanceDetail | None] = []
        deps = recording()
        with self.storage.read() as tx:
            data = TxData(tx, self.program, self.clock(), deps)
            ids = sorted({rid for r in rows for rid in (r.record_id, *r.bound.values())})
            fetched = tx.get_records(ids)
            for rid in ids:
                if rid in fetched:
                    data.remember(fetched[rid])
                else:
                    data.forget(rid)
            for row in rows:
                if deps is not None:
                    deps.instance(row.id, row)
                defn = self._defn(tx, row)
                if defn is None or row.active_stage not in defn.by_name:
                    out.append(None)
                    continue
                state = state_of(row, defn)
                path = tuple(active_path(defn, state, data, data.now))
                missing = tuple(missing_steps(defn, state, data)) if row.status == "active" else ()
                movable = row.status == "active" and can_move_next(defn, state, data, data.now)
                out.append(InstanceDetail(row, defn, defn.stages[state.active_stage],
                                          tuple(defn.stages[i] for i in state.traversed), path, missing, movable,
                                          _gates_now(defn, state, data)))
        return out

    def histories(self, rows: list[InstanceRow]) -> list[list[Visit]]:
        """:meth:`history` of many instances in one query (for DataLoaders)."""
        deps = recording()
        if deps is not None:
            for r in rows:  # a history changes only with its instance's version
                deps.instance(r.id, r)
        with self.storage.read() as tx:
            found = tx.visits_of_many([r.id for r in rows])
            defns = [self._defn(tx, r) for r in rows]
        out = []
        for row, defn in zip(rows, defns, strict=True):
            visits = []
            for v in found.get(row.id, []):
                stage = defn.stage(v.stage) if defn is not None else None
                seconds = (v.exited_at - v.entered_at).total_seconds() if v.exited_at is not None else None
                visits.append(Visit(stage, v.stage, v.entered_at, v.exited_at, seconds, v.by, v.due_at, v.overdue_at))
            out.append(visits)
        return out

    def forms(self, rows: list[RecordRow], caller: Caller | None = None) -> list[list[FormField]]:
        """What the business rules say about stored records: every declared field's value and state, per record
        (none for a record of an entity the program doesn't declare).

        With ``caller`` (the rows as it sees them: :meth:`get_records`), only the fields it may read; the
        rules still run on every value, so the rows that lost values to it are read again, whole, first.
        """
        out: list[list[FormField]] = []
        hidden_of = {row.entity: self.access.hidden(caller, row.entity) for row in rows} if caller is not None \
            else {}
        with self.storage.read() as tx:
            data = TxData(tx, self.program, self.clock(), recording())
            stripped = [row.id for row in rows if hidden_of.get(row.entity)]
            whole = tx.get_records(stripped) if stripped else {}
            for row in rows:
                spec = self.program.entities.get(row.entity)
                if spec is None or (caller is not None and is_veiled(row)):
                    out.append([])
                    continue
                hidden = hidden_of.get(row.entity, frozenset())
                full = whole.get(row.id) if hidden else row
                if full is None:
                    out.append([])
                    continue
                data.remember(full)
                values = data.values(full.entity, full.id)
                form = data.form(full.entity, full.id) if values is not None else EMPTY_FORM
                got = values or {}
                out.append([FormField(f, to_json(f, got.get(f.name)), form.is_required(f.name, f.required),
                                      f.name in form.hidden, f.name in form.locked, form.recommendation(f.name))
                            for f in spec.field_list() if f.name not in hidden])
        return out

    def new_form(self, caller: Caller, entity: str, values: Any = None) -> list[FormField] | None:
        """The form of a record not created yet (a page's New dialog): every field the caller may read, its
        value (the declared default, or what the rules set or default, where ``values`` gives none) and what
        the rules say over ``values`` with the defaults, as :meth:`forms` says it of a stored record. Values
        that don't parse are left out (createRecord says why). None when the caller may not create records
        of ``entity``, or there is no such entity."""
        spec = self.program.entities.get(entity)
        if spec is None or not self.access.may_create(caller, entity):
            return None
        hidden = self.access.hidden(caller, entity)
        given, _ = parse_input(spec, values if values is not None else {})
        merged = {f.name: f.default for f in spec.field_list() if f.default is not None}
        merged.update((name, value) for name, value in given.items() if name not in hidden)
        with self.storage.read() as tx:
            result = TxData(tx, self.program, self.clock(), recording()).rules(entity, merged, None)
        form = result.form
        return [FormField(f, to_json(f, result.values.get(f.name)), form.is_required(f.name, f.required),
                          f.name in form.hidden, f.name in form.locked, form.recommendation(f.name))
                for f in spec.field_list() if f.name not in hidden]

    def history(self, row: InstanceRow) -> list[Visit]:
        """Every stage visit of an instance, with times and who moved it."""
        deps = recording()
        if deps is not None:
            deps.instance(row.id, row)
        with self.storage.read() as tx:
            defn = self._defn(tx, row)
            visits = tx.visits(row.id)
        out = []
        for v in visits:
            stage = defn.stage(v.stage) if defn is not None else None
            seconds = (v.exited_at - v.entered_at).total_seconds() if v.exited_at is not None else None
            out.append(Visit(stage, v.stage, v.entered_at, v.exited_at, seconds, v.by, v.due_at, v.overdue_at))
        return out

    def analytics(self, caller: Caller, process: str) -> Analytics | None:
        """Counts per active stage, conversion between consecutive stages, median and p90 time in stage."""
        defn = self.visible_process(caller, process)
        if defn is None or self.access.scope(caller, "read", defn.entity) != ALL:
            # Counts and times of records the caller may not all read would tell about the others: a caller
            # who reads only its own records (or none) sees no analytics (docs/security.md).
            return None
        opaque()
        with self.storage.read() as tx:
            counts = tx.stage_counts(process)
            durations = tx.stage_durations(process)
            moves = tx.transitions(process)
            visitors = tx.visitors(process)
            finished = tx.outcome_counts(process)
        # Conversion a → b: of the instances that reached a, the share that went on from a to b
        # (forward moves only: stage b after stage a in the definition).
        order = {s.name: s.index for s in defn.stages}
        conversion = {(a, b): n / visitors[a] for (a, b), n in moves.items()
                      if visitors.get(a) and order.get(b, -1) > order.get(a, -1)}
        median = {s: statistics.median(v) for s, v in durations.items() if v}
        p90 = {s: _percentile(v, 0.9) for s, v in durations.items() if v}
        stages = []
        for s in defn.stages:
            onward = [v for (a, _b), v in conversion.items() if a == s.name]
            stages.append(StageStats(s, counts.get(s.name, 0), median.get(s.name), p90.get(s.name),
                                     min(1.0, sum(onward)) if onward else None))
        declared = dict(defn.outcomes)
        outcomes = [OutcomeCount(name, label, finished.get(name, 0)) for name, label in defn.outcomes]
        outcomes += [OutcomeCount(name, derive_label(name), n) for name, n in sorted(finished.items())
                     if name not in declared]
        return Analytics(process, counts, conversion, median, p90, defn, tuple(stages), tuple(outcomes))

    def diagram(self, caller: Caller, process: str, fmt: str = "svg") -> str | None:
        """A diagram of a process of the program (svg, mermaid or dot); None if unknown or not the caller's.

        Drawn from the checked AST the program keeps (never parsed again), once per process, format and version.
        """
        defn = self.visible_process(caller, process)
        return self.diagrams.draw(defn, fmt) if defn is not None else None


def _gates_now(defn: ProcessDefinition, state: InstanceState, data: TxData) -> tuple[str, ...]:
    """The messages of the active stage's failing gates; none for an instance that isn't active (nothing to
    leave), as ``missingSteps``."""
    if not state.is_active or not defn.stages[state.active_stage].gates:
        return ()
    return tuple(unmet_gates(defn, state, data, data.now))


def _note_version(program: Program, row: InstanceRow) -> None:
    """An instance shown with its definition: one of a version other than the current one makes the answer
    one not to keep (whether that version's conditions read the clock is not known without rebuilding it)."""
    deps = recording()
    if deps is not None:
        current = program.processes.get(row.process)
        if current is None or current.version != row.definition_version:
            deps.uncacheable = True


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]

