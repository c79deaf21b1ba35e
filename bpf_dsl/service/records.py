"""Record writes: validation, defaults, business rules, locks, lookups and uniqueness, in one place.

Every write of a record, by the API, a hook, an action or an import, goes
through :func:`prepare`, so the same rules hold whoever writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpf_dsl.model import EntitySpec
from bpf_dsl.service.data import TxData
from bpf_dsl.service.values import FieldError, check_values, encode, missing_required


@dataclass(frozen=True, slots=True)
class Prepared:
    """Values ready to store (JSON shapes), or the errors that refuse the write."""

    values: dict[str, Any]
    errors: tuple[FieldError, ...]


def prepare(data: TxData, entity: EntitySpec, changes: Mapping[str, Any], *, record_id: str | None,
            before: Mapping[str, Any] | None, enforce_locks: bool) -> Prepared:
    """Merge Python ``changes`` into ``before`` (None for a new record) and check the result.

    New records get their fields' declared defaults first. Locks are those the rules
    give the stored record; hooks and actions (``enforce_locks`` False) may write
    locked fields, as a server-side workflow may in D365.
    """
    errors: list[FieldError] = []
    if before is None:
        merged = {f.name: f.default for f in entity.field_list() if f.default is not None}
        merged.update(changes)
    else:
        merged = dict(before)
        if enforce_locks and record_id is not None:
            locked = data.rules(entity.name, before, record_id).form.locked
            for name, value in changes.items():
                if name in locked and before.get(name) != value:
                    spec = entity.fields[name]
                    errors.append(FieldError(name, f"{spec.label} is locked by a business rule"))
        merged.update(changes)
    result = data.rules(entity.name, merged, record_id)
    values = dict(result.values)
    errors += [FieldError(e.field, e.message) for e in result.form.errors]
    errors += check_values(entity, values)
    errors += missing_required(entity, values)
    errors += _lookups(data, entity, values)
    errors += _unique(data, entity, values, record_id)
    return Prepared(encode(entity, values), tuple(errors))


def _lookups(data: TxData, entity: EntitySpec, values: Mapping[str, Any]) -> list[FieldError]:
    out = []
    for spec in entity.field_list():
        ref = values.get(spec.name)
        if spec.type.kind != "lookup" or ref is None:
            continue
        row = data.row(str(ref))
        if row is None or row.entity != spec.type.entity:
            out.append(FieldError(spec.name, f"{spec.label}: there is no {spec.type.entity} record with id {ref}"))
    return out


def _unique(data: TxData, entity: EntitySpec, values: Mapping[str, Any], record_id: str | None) -> list[FieldError]:
    out = []
    for spec in entity.field_list():
        if not spec.unique or values.get(spec.name) is None:
            continue
        stored = encode(entity, {spec.name: values[spec.name]}).get(spec.name)
        if data.tx.find_unique(entity.name, spec.name, stored, record_id) is not None:
            out.append(FieldError(spec.name, f"{spec.label} must be unique; another {entity.name} has this value"))
    return out
