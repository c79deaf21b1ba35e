"""Typed GraphQL types generated from the loaded entities: ``lead(id: ID!): Lead`` with a field per .bpf field.

Field types by kind: text, email, phone, url and choice → String; integer → Int;
decimal and money → Float; bool → Boolean; date → Date; datetime → DateTime;
choices → [String!]; lookup → the target entity's type, loaded through the
request's DataLoader. Every typed field is nullable (an empty value is null).
Fields keep their .bpf names, the names ``values`` and ``records(where:)`` use.

This module avoids ``from __future__ import annotations`` on purpose: strawberry
reads the resolvers' annotations, and those of closures must be real objects.
"""

import datetime as dt
import typing
from collections.abc import Callable
from typing import Any, Optional

import strawberry
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

from bpf_dsl.service import EntitySpec, FieldSpec, Program

from .names import field_names, graphql_name, public_fields
from .types import Info, Record

INT32 = (-(2**31), 2**31 - 1)

#: ``Record``'s fields, which every entity type has too: a .bpf field of one of these names gets a ``_`` appended.
BUILTIN_FIELDS = field_names(Record)


def pascal(name: str) -> str:
    """``work_order`` → ``WorkOrder``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Entity"


def camel(name: str) -> str:
    """``work_order`` → ``workOrder``."""
    p = pascal(name)
    return p[:1].lower() + p[1:]


class EntityTypes:
    """The generated type of every entity, and the Query fields that fetch them."""

    def __init__(self, program: Program, reserved_types: frozenset[str], taken_query_fields: frozenset[str]) -> None:
        self.program = program
        self.names: dict[str, str] = {}
        used = set(reserved_types) | KIND_TYPES
        for entity in program.entities:
            base = pascal(entity)
            name = base if base not in used else f"{base}Record"
            n = 2
            while name in used:
                name, n = f"{base}Record{n}", n + 1
            used.add(name)
            self.names[entity] = name
        # Plain classes first, so that lookups may point at any entity (cycles included) before decoration.
        self.classes: dict[str, type] = {e: type(self.names[e], (), {"__module__": __name__})
                                         for e in program.entities}
        for entity, spec in program.entities.items():
            cls = self.classes[entity]
            for attr, fld in self._fields(spec).items():
                setattr(cls, attr, fld)
            strawberry.type(cls, name=self.names[entity], description=f"A {spec.label} record, typed.")
        self.query_fields: dict[str, Any] = {}
        taken = set(taken_query_fields)
        for entity in program.entities:
            name = camel(entity)
            if name in taken:
                name = f"{name}Record"
            taken.add(name)
            self.query_fields[f"q_{entity}"] = _fetch(entity, name, self.classes[entity])

    def _fields(self, spec: EntitySpec) -> dict[str, Any]:
        out = _record_fields()
        for f in spec.field_list():
            name = f"{f.name}_" if f.name in BUILTIN_FIELDS else f.name
            out[f"f_{f.name}"] = self._typed(f, name)
        return out

    def _typed(self, spec: FieldSpec, name: str) -> Any:
        kind = spec.type.kind
        if kind == "lookup":
            target = spec.type.entity or ""
            return strawberry.field(resolver=_lookup(spec.name, target), name=name, description=spec.label,
                                    graphql_type=Optional[self.classes[target]])  # noqa: UP045
        py, convert = _KINDS.get(kind, (str, _same))
        return strawberry.field(resolver=_plain(spec.name, convert), name=name, description=spec.label,
                                graphql_type=Optional[py])  # noqa: UP045


# -- resolvers of every entity type (root is a types.Record) -------------------------------------------------------
def _record_fields() -> dict[str, Any]:
    """``Record``'s fields, fresh for one entity type: the same names, types and resolvers, without descriptions
    (the typed fields' descriptions are the .bpf labels)."""
    out: dict[str, Any] = {}
    for f in public_fields(Record):
        assert f.base_resolver is not None, f"Record.{f.python_name} has no resolver"
        out[f.python_name] = strawberry.field(resolver=f.base_resolver.wrapped_func, name=graphql_name(f))
    return out


def _same(value: Any) -> Any:
    return value


def _int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = int(value)
    return number if INT32[0] <= number <= INT32[1] else None  # beyond GraphQL's Int: read it from `values`


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _date(value: Any) -> Any:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _datetime(value: Any) -> Any:
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _bool(value: Any) -> Any:
    return value if isinstance(value, bool) else None


def _list(value: Any) -> Any:
    return [str(v) for v in value] if isinstance(value, list) else None


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else None


_KINDS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "text": (str, _text), "email": (str, _text), "phone": (str, _text), "url": (str, _text),
    "choice": (str, _text), "choices": (list[str], _list), "integer": (int, _int), "decimal": (float, _float),
    "money": (float, _float), "bool": (bool, _bool), "date": (dt.date, _date), "datetime": (dt.datetime, _datetime),
}


def _scalar(py: Any) -> str:
    element = typing.get_args(py)[0] if typing.get_origin(py) is list else py
    return DEFAULT_SCALAR_REGISTRY[element].name


#: The scalars the typed fields use (``Date`` only ever appears through them): no entity type takes their names.
KIND_TYPES = frozenset(_scalar(py) for py, _ in _KINDS.values())


def _plain(field_name: str, convert: Callable[[Any], Any]) -> Callable[..., Any]:
    def resolve(root: Any) -> Any:
        return convert(root.row.values.get(field_name))

    return resolve


def _lookup(field_name: str, target: str) -> Callable[..., Any]:
    async def resolve(root: Any, info: Info) -> Any:
        ref = root.row.values.get(field_name)
        if not isinstance(ref, str) or not ref:
            return None
        row = await info.context.loaders.records.load(ref)
        return Record.from_domain(row) if row is not None and row.entity == target else None

    return resolve


def _fetch(entity: str, name: str, cls: type) -> Any:
    async def resolve(root: Any, info: Info, id: strawberry.ID) -> Any:
        row = await info.context.loaders.records.load(str(id))
        return Record.from_domain(row) if row is not None and row.entity == entity else None

    return strawberry.field(resolver=resolve, name=name, graphql_type=Optional[cls],  # noqa: UP045
                            description=f"A {entity} record by id (null if none).")
