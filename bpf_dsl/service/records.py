"""Record writes: validation, defaults, business rules, locks, lookups and uniqueness, in one place.

Every write of a record, by the API, a hook, an action or an import, goes
through :func:`prepare`, so the same rules hold whoever writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpf_dsl.model import EntitySpec, FieldSpec
from bpf_dsl.service.data import TxData
from bpf_dsl.service.values import FieldError, check_values, encode, missing_required

_NOT_GIVEN = object()


@dataclass(frozen=True, slots=True)
class Prepared:
    """Values ready to store (JSON shapes), or the errors that refuse the write."""

    values: dict[str, Any]
    errors: tuple[FieldError, ...]


@dataclass(frozen=True, slots=True)
class Shape:
    """What :func:`prepare` reads of an entity's declaration, looked up once (an import prepares many rows)."""

    entity: EntitySpec
    defaults: dict[str, Any]  # the declared defaults, by field
    required: tuple[FieldSpec, ...]
    lookups: tuple[FieldSpec, ...]
    unique: tuple[FieldSpec, ...]


def shape_of(entity: EntitySpec) -> Shape:
    """The :class:`Shape` of ``entity``."""
    fields = entity.field_list()
    return Shape(entity, {f.name: f.default for f in fields if f.default is not None},
                 tuple(f for f in fields if f.required), tuple(f for f in fields if f.type.kind == "lookup"),
                 tuple(f for f in fields if f.unique))


def prepare(data: TxData, entity: EntitySpec, changes: Mapping[str, Any], *, record_id: str | None,
            before: Mapping[str, Any] | None, enforce_locks: bool, checked: bool = False,
            shape: Shape | None = None) -> Prepared:
    """Merge Python ``changes`` into ``before`` (None for a new record) and check the result.

    New records get their fields' declared defaults first. Locks are those the rules
    give the stored record; hooks and actions (``enforce_locks`` False) may write
    locked fields, as a server-side workflow may in D365. ``checked``: ``changes`` come
    from :func:`~bpf_dsl.service.values.parse_input`, which checked each value as
    :func:`check_values` would; only the values that are not those (defaults, what
    the rules set, stored ones) are checked again. ``shape``: ``entity``'s, made once
    by a caller that prepares many records.
    """
    if shape is None or shape.entity is not entity:
        shape = shape_of(entity)
    errors: list[FieldError] = []
    if before is None:
        merged = dict(shape.defaults)
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
    if before is None and enforce_locks:
        errors += _overruled(entity, changes, values, result.form.locked)
    if checked:
        errors += check_values(entity, {k: v for k, v in values.items() if changes.get(k, _NOT_GIVEN) is not v})
    else:
        errors += check_values(entity, values)
    errors += missing_required(entity, values, shape.required)
    errors += _lookups(data, shape.lookups, values)
    errors += _unique(data, entity, shape.unique, values, record_id)
    return Prepared(encode(entity, values), tuple(errors))


def _overruled(entity: EntitySpec, changes: Mapping[str, Any], values: Mapping[str, Any],
               locked: frozenset[str]) -> list[FieldError]:
    """A new record's given values for fields the rules lock, that a rule's ``set`` replaced: refused, never
    dropped in silence (a Lead Score typed in a create was replaced by the computed, locked one), as an update
    of a locked field is. A field a rule sets but leaves unlocked takes the rule's value, as LANGUAGE.md says
    (``set`` applies to the values being saved)."""
    return [FieldError(name, f"{entity.fields[name].label} is set by a business rule; leave it empty")
            for name, value in changes.items()
            if value is not None and name in locked and name in entity.fields and values.get(name) != value]


def _lookups(data: TxData, fields: tuple[FieldSpec, ...], values: Mapping[str, Any]) -> list[FieldError]:
    out = []
    for spec in fields:
        ref = values.get(spec.name)
        if ref is None:
            continue
        row = data.row(str(ref))
        if row is None or row.entity != spec.type.entity:
            out.append(FieldError(spec.name, f"{spec.label}: there is no {spec.type.entity} record with id {ref}"))
    return out


def _unique(data: TxData, entity: EntitySpec, fields: tuple[FieldSpec, ...], values: Mapping[str, Any],
            record_id: str | None) -> list[FieldError]:
    out = []
    for spec in fields:
        if values.get(spec.name) is None:
            continue
        stored = encode(entity, {spec.name: values[spec.name]}).get(spec.name)
        if data.tx.find_unique(entity.name, spec.name, stored, record_id) is not None:
            out.append(FieldError(spec.name, f"{spec.label} must be unique; another {entity.name} has this value"))
    return out
