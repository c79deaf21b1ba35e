"""The record commands of :class:`~bpf_dsl.service.core.Service`: create, update, delete and assign a record.

Each is one unit of work run by ``Service._run`` (a transaction, or a savepoint under group
commit). A write goes through :func:`~bpf_dsl.service.records.prepare` (validation, defaults,
rules, locks, lookups, uniqueness) and through the access policy (:mod:`.access`); the
instance commands (:mod:`.core`) and the actions' context use :meth:`RecordCommands._insert_record`
and :meth:`RecordCommands._write` for their own record writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.model import EntitySpec
from bpf_dsl.service.access import Access, veiled
from bpf_dsl.service.data import TxData
from bpf_dsl.service.records import prepare
from bpf_dsl.service.references import required_referrers
from bpf_dsl.service.results import SYSTEM, Caller, TransitionFailure, ValidationFailure
from bpf_dsl.service.values import FieldError, decode, parse_input, unstorable
from bpf_dsl.service.work import _Abort, _Conflict, _Work, new_id
from bpf_dsl.storage import InstanceRow, RecordRow, Tx


class RecordCommands:
    """Record commands of :class:`~bpf_dsl.service.core.Service` (a mixin: the service runs them)."""

    program: Program
    access: Access
    # The service's, which these commands call: running a unit of work, the caller's processes, starting one.
    _run: Callable[[Callable[[Tx, TxData, _Work], Any]], Any]
    visible_processes: Callable[[Caller, str | None], list[ProcessDefinition]]
    _start_instance: Callable[..., InstanceRow]

    def create_record(self, caller: Caller, entity: str, values: Any, process: str | None = None,
                      no_process: bool = False) -> RecordRow | ValidationFailure:
        """Validate, run the rules, save, and start the default (or named) process."""
        spec = self.program.entities.get(entity)
        if spec is None:
            return ValidationFailure(f"unknown entity {entity!r}", (FieldError(None, f"entities: "
                                     f"{', '.join(sorted(self.program.entities))}"),))
        refused = self._refuse_write(caller, entity, values, "create")
        if refused is not None:
            return refused
        changes, errors = parse_input(spec, values)
        if errors:
            return ValidationFailure("the values are not valid", tuple(errors))
        chosen: ProcessDefinition | None = None
        if process is not None and not no_process:
            chosen = self.program.processes.get(process)
            if chosen is None or chosen.entity != entity or not caller.may_use(chosen.roles):
                return ValidationFailure(f"no process {process!r} on {entity} for this caller",
                                         (FieldError(None, "name a process from `processes(entity:)`"),))
        elif not no_process:
            mine = self.visible_processes(caller, entity)
            chosen = mine[0] if mine else None

        def command(tx: Tx, data: TxData, work: _Work) -> RecordRow:
            unseen = self._unseen_lookups(caller, data, spec, changes, {})
            if unseen:
                raise _Abort(ValidationFailure("the values are not valid", tuple(unseen)))
            row = self._insert_record(data, spec.name, changes, enforce_locks=True, owner=caller.user)
            if chosen is not None:
                self._start_instance(tx, data, work, caller, chosen, row.id, make_active=True)
            got = tx.get_record(row.id)
            assert got is not None
            return got

        result = self._run(command)
        if isinstance(result, TransitionFailure):
            # A plugin vetoed starting the default process: the create is refused as a whole.
            return ValidationFailure(f"the record was not created: {result.message}")
        if isinstance(result, RecordRow):
            return self._shown(caller, result)
        created: ValidationFailure = result
        return created

    # -- who may write (bpf_dsl.service.access decides; these say no the same way everywhere) --------------
    def _refuse_write(self, caller: Caller, entity: str, values: Any, verb: str) -> ValidationFailure | None:
        """A create's (``verb`` "create") or an update's refusal by the access policy, before anything is read:
        the verb not granted on the entity at all, or a field the caller may not write (restricted)."""
        access = self.access
        if verb == "create" and not access.may_create(caller, entity):
            return ValidationFailure("not allowed", (FieldError(None, f"your roles may not create {entity} "
                                                                      "records"),))
        names = [k for k in values if isinstance(k, str)] if isinstance(values, Mapping) else []
        barred = access.unwritable(caller, entity, names)
        if barred:
            fields = self.program.entities[entity].fields
            return ValidationFailure("not allowed", tuple(
                FieldError(name, f"{fields[name].label}: not allowed (restricted to other roles)")
                for name in barred))
        return None

    def _shown(self, caller: Caller, row: RecordRow) -> RecordRow:
        """A record a command wrote, as its caller may see it: its restricted values dropped, and only its id
        and entity (:func:`~bpf_dsl.service.access.veiled`) when it may not read it (a create without read, an
        assign to someone else under an ``own`` read)."""
        seen = self.access.view(caller, row)
        return seen if seen is not None else replace(veiled(row.id, row.entity), owner=row.owner,
                                                     version=row.version)

    def _record_for(self, caller: Caller, data: TxData, record_id: str, expected_version: int | None,
                    verb: str) -> RecordRow:
        """The record a write command changes, locked, if the caller may ``verb`` it: refused as missing when
        it may not read it (before the version is compared: a conflict would tell it exists), as not allowed
        when it reads it but may not ``verb`` it."""
        row = data.row(record_id, lock=True)
        if row is None or not self.access.readable(caller, row):
            raise _Abort(ValidationFailure(f"no record {record_id}"))
        if not self.access.may(caller, verb, row):
            raise _Abort(ValidationFailure("not allowed", (FieldError(None, f"your roles may not {verb} this "
                                                                            "record"),)))
        if expected_version is not None and expected_version != row.version:
            raise _Abort(ValidationFailure(
                f"the record changed: it is at version {row.version}, not {expected_version}",
                current_version=row.version))
        return row

    def _insert_record(self, data: TxData, entity: str, changes: Mapping[str, Any], *,
                       enforce_locks: bool, record_id: str | None = None, owner: str | None = None) -> RecordRow:
        """Insert a new record; ``owner`` (its creator too): the user the command runs for (None: the system's)."""
        spec = self.program.entities[entity]
        prepared = prepare(data, spec, changes, record_id=None, before=None, enforce_locks=enforce_locks)
        if prepared.errors:
            raise _Abort(ValidationFailure("the record can't be saved", prepared.errors))
        now = data.now
        user = owner or SYSTEM.user
        row = RecordRow(record_id or new_id(), entity, prepared.values, 1, now, now, None, user, user)
        data.tx.insert_record(row)
        data.remember(row, locked=True)
        return row

    def update_record(self, caller: Caller, record_id: str, values: Any,
                      expected_version: int | None = None) -> RecordRow | ValidationFailure:
        """Change some fields (others keep their values); rules, locks and validation apply."""

        def command(tx: Tx, data: TxData, work: _Work) -> RecordRow:
            row = self._record_for(caller, data, record_id, expected_version, "update")
            spec = self.program.entities.get(row.entity)
            if spec is None:
                raise _Abort(ValidationFailure(f"the entity {row.entity} is no longer declared"))
            refused = self._refuse_write(caller, row.entity, values, "update")
            if refused is not None:
                raise _Abort(replace(refused, current_version=row.version))
            changes, errors = parse_input(spec, values)
            errors += self._unseen_lookups(caller, data, spec, changes, row.values)
            if errors:
                raise _Abort(ValidationFailure("the values are not valid", tuple(errors), row.version))
            self._write(data, row, changes, enforce_locks=True)
            got = tx.get_record(record_id)
            assert got is not None
            return got

        result: RecordRow | ValidationFailure = self._run(command)
        return self._shown(caller, result) if isinstance(result, RecordRow) else result

    def _unseen_lookups(self, caller: Caller, data: TxData, spec: EntitySpec, changes: Mapping[str, Any],
                        before: Mapping[str, Any]) -> list[FieldError]:
        """A lookup set (changed) to a record the caller may not read: refused as if there were no such record
        (the error prepare gives for a missing one), so that a write can't tell whether it exists."""
        out = []
        for name, ref in changes.items():
            f = spec.fields[name]
            if f.type.kind != "lookup" or ref is None or before.get(name) == ref:
                continue
            target = data.row(str(ref))
            if target is not None and not self.access.readable(caller, target):
                out.append(FieldError(name, f"{f.label}: there is no {f.type.entity} record with id {ref}"))
        return out

    def _write(self, data: TxData, row: RecordRow, changes: Mapping[str, Any], *, enforce_locks: bool) -> None:
        spec = self.program.entities[row.entity]
        before = decode(spec, row.values)
        prepared = prepare(data, spec, changes, record_id=row.id, before=before, enforce_locks=enforce_locks)
        if prepared.errors:
            raise _Abort(ValidationFailure("the record can't be saved", prepared.errors, row.version))
        if prepared.values == row.values:
            return  # nothing changed: no new version
        now = data.now
        if not data.tx.update_record(row.id, prepared.values, row.version, now):
            raise _Conflict()
        data.remember(replace(row, values=prepared.values, version=row.version + 1, updated_at=now), locked=True)

    def delete_record(self, caller: Caller, record_id: str,
                      expected_version: int | None = None) -> RecordRow | ValidationFailure:
        """Delete a record with its instances and their history."""

        def command(tx: Tx, data: TxData, work: _Work) -> RecordRow:
            row = self._record_for(caller, data, record_id, expected_version, "delete")
            for inst in tx.instances_of(record_id):
                defn = self.program.processes.get(inst.process)
                if defn is not None and not caller.may_use(defn.roles):
                    raise _Abort(ValidationFailure("the record runs a process this caller may not use"))
            working = tx.instances_working_on(record_id)
            if working:
                _, primary, process = working[0]
                defn = self.program.processes.get(process)
                raise _Abort(ValidationFailure(
                    f"the record is the record of a stage of {defn.label if defn else process} on the record "
                    f"{primary}: delete that record (with its process) first, or keep this one",
                    current_version=row.version))
            # Emptying a required lookup (below, _unlink) would leave its record unsavable: refuse instead.
            referred = required_referrers(self.program, tx, row)
            if referred is not None:
                raise _Abort(referred)
            if not tx.delete_record(record_id, row.version):
                raise _Conflict()
            data.forget(record_id)
            self._unlink(tx, data, row)
            return row

        result: RecordRow | ValidationFailure = self._run(command)
        return self._shown(caller, result) if isinstance(result, RecordRow) else result

    def assign_record(self, caller: Caller, record_id: str, owner: str,
                      expected_version: int | None = None) -> RecordRow | ValidationFailure:
        """Give a record to another user (API.md ``assignRecord``): its ``owner`` changes, with a new version.

        The caller must read it and be granted ``assign`` on it; the new owner must be a user the database
        knows (one ``bpf token create`` made): a typo would hide the record from every ``own`` grant.
        """
        name = owner.strip() if isinstance(owner, str) else ""
        if not name:
            return ValidationFailure("the values are not valid", (FieldError("owner", "give the user's name"),))
        problem = unstorable(name)
        if problem:
            return ValidationFailure("the values are not valid", (FieldError("owner", f"the name holds {problem}"),))

        def command(tx: Tx, data: TxData, work: _Work) -> RecordRow:
            row = self._record_for(caller, data, record_id, expected_version, "assign")
            if row.owner == name:
                return row  # already theirs: no new version
            if not tx.user_exists(name):
                raise _Abort(ValidationFailure("the values are not valid", (
                    FieldError("owner", f"no user {name!r}: `bpf token create --user {name}` makes one"),),
                    row.version))
            if not tx.assign_record(record_id, name, row.version, data.now):
                raise _Conflict()
            got = replace(row, owner=name, version=row.version + 1, updated_at=data.now)
            data.remember(got, locked=True)
            return got

        result: RecordRow | ValidationFailure = self._run(command)
        return self._shown(caller, result) if isinstance(result, RecordRow) else result

    def _unlink(self, tx: Tx, data: TxData, deleted: RecordRow) -> None:
        """Empty the lookups that pointed at a deleted record (D365's "remove link"), raising their versions."""
        for entity in self.program.entities.values():
            for spec in entity.field_list():
                if spec.type.kind != "lookup" or spec.type.entity != deleted.entity:
                    continue
                for rid in tx.related(entity.name, spec.name, deleted.id):
                    row = data.row(rid, lock=True)
                    if row is None:
                        continue
                    values = {k: v for k, v in row.values.items() if k != spec.name}
                    if not tx.update_record(rid, values, row.version, data.now):
                        raise _Conflict()
                    data.remember(replace(row, values=values, version=row.version + 1, updated_at=data.now),
                                  locked=True)
