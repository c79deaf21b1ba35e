"""Expression environments over a :class:`~bpf_dsl.engine.data.RecordSource`.

:class:`RecordEnv` answers ``value(source, path)`` for compiled expressions: the
scope's record (``source`` None) or the record of entity ``source`` bound in the
instance, following lookups through the model. A :class:`Pending` overlay makes a
step's own earlier writes visible to its later expressions (an ``on exit`` that sets
a field the branch condition reads, a new record's values in its ``on enter``),
without copying any record: reads go through a layered view.

The built-in columns (``id``, ``created_at``, ``updated_at``, ``version``) are read
from the stored row (:class:`~bpf_dsl.engine.data.RowSource`), not from the values:
a record that isn't stored yet (the values of a create, as the rules see them, or a
record a ``create`` block makes, in the rest of the same move) has all four empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bpf_dsl.engine.data import RecordSource, StoredRow
from bpf_dsl.model import BUILTIN_COLUMNS

_COLUMNS = frozenset(BUILTIN_COLUMNS)


class Pending:
    """The writes a step has decided on so far: records to create and fields to set."""

    __slots__ = ("created", "writes")

    def __init__(self) -> None:
        self.created: dict[str, Mapping[str, Any]] = {}
        self.writes: dict[tuple[str, str], dict[str, Any]] = {}

    def set(self, entity: str, record_id: str, field: str, value: Any) -> None:
        """Remember that ``field`` of the record will be ``value``."""
        self.writes.setdefault((entity, record_id), {})[field] = value

    def create(self, record_id: str, values: Mapping[str, Any]) -> None:
        """Remember a record that will be created with ``values``."""
        self.created[record_id] = values

    def read(self, data: RecordSource, entity: str, record_id: str) -> Mapping[str, Any] | None:
        """The record as it will be once the pending writes are made."""
        base = self.created.get(record_id)
        if base is None:
            base = data.values(entity, record_id)
        changes = self.writes.get((entity, record_id))
        if not changes:
            return base
        return _Layered(changes, base if base is not None else {})


class _Layered(Mapping[str, Any]):
    """``top`` over ``base``, read-only; a ``ChainMap`` without its mutability (and its copy)."""

    __slots__ = ("_base", "_top")

    def __init__(self, top: Mapping[str, Any], base: Mapping[str, Any]) -> None:
        self._top = top
        self._base = base

    def __getitem__(self, key: str) -> Any:
        if key in self._top:
            return self._top[key]
        return self._base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._top
        yield from (k for k in self._base if k not in self._top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class RecordEnv:
    """An :class:`~bpf_dsl.expr.Env` over records read through a data source.

    ``scope`` is the ``(entity, record_id)`` that plain names read (None: nothing,
    every name is empty); ``scope_values``, when given, replaces that record's stored
    values (the values being saved, for business rules). ``bound`` gives the record of
    an entity for ``E.field`` names.
    """

    __slots__ = ("_bound", "_data", "_now", "_pending", "_scope", "_scope_values")

    def __init__(self, data: RecordSource, now: dt.datetime, scope: tuple[str, str | None] | None,
                 bound: Mapping[str, str] | None = None, pending: Pending | None = None,
                 scope_values: Mapping[str, Any] | None = None) -> None:
        self._data = data
        self._now = now
        self._scope = scope
        self._bound = bound or {}
        self._pending = pending
        self._scope_values = scope_values

    def now(self) -> dt.datetime:
        """The step's moment."""
        return self._now

    def value(self, source: str | None, path: tuple[str, ...]) -> Any:
        """The value at ``path``; empty (None) wherever a record or lookup is missing."""
        # `E.field` where E is the scope's own entity reads the scope's record: in a rule,
        # `item.price` on an item must see the values being saved.
        if source is None or (self._scope is not None and source == self._scope[0]):
            if self._scope is None:
                return None
            entity, record_id = self._scope
            record = self._scope_values if self._scope_values is not None else self._read(entity, record_id)
        else:
            entity, record_id = source, self._bound.get(source)
            record = self._read(entity, record_id)
        for part in path[:-1]:
            if record is None:
                return None
            spec = self._data.entity_spec(entity).fields.get(part)
            ref = record.get(part)
            if spec is None or spec.type.entity is None or ref is None:
                return None
            entity, record_id = spec.type.entity, str(ref)
            record = self._read(entity, record_id)
        if record is None:
            return None
        last = path[-1]
        if last in _COLUMNS:
            return self._column(entity, record_id, last)
        return record.get(last)

    def _column(self, entity: str, record_id: str | None, name: str) -> Any:
        """A built-in column of a stored record; empty (None) for one not stored yet."""
        # Read through `getattr`: `row` is optional for a RecordSource (a test's source may lack it),
        # and the service's transaction view has it with its own keyword arguments.
        row_of: Callable[[str], StoredRow | None] | None = getattr(self._data, "row", None)
        if record_id is None or row_of is None:
            return None
        row = row_of(record_id)
        if row is None or row.entity != entity:
            return None
        return getattr(row, name)

    def _read(self, entity: str, record_id: str | None) -> Mapping[str, Any] | None:
        if record_id is None:
            return None
        if self._pending is not None:
            return self._pending.read(self._data, entity, record_id)
        return self._data.values(entity, record_id)
