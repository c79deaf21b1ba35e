"""An in-memory :class:`~bpf_dsl.engine.data.DataView` for tests and tools.

It also plays the service's part where a test needs it: :meth:`MemoryData.save`
runs the rules the way a write would, and :meth:`MemoryData.apply` executes a
step's effects (calls are only recorded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bpf_dsl.definition import CompiledRule
from bpf_dsl.engine.data import EMPTY_FORM, FormState
from bpf_dsl.engine.effects import CallAction, CreateRecord, Effect, SetField
from bpf_dsl.engine.rules import RuleResult, evaluate_rules
from bpf_dsl.model import EntitySpec

FIXED_NOW = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """The built-in columns of a record stored in a :class:`MemoryData`."""

    id: str
    entity: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class MemoryData:
    """Records in dicts, with the model and rules of a program.

    ``now`` is the moment the rules are evaluated at in :meth:`form` and :meth:`save`,
    and the time stamped on records stored (their ``created_at``/``updated_at``).
    """

    def __init__(self, entities: Mapping[str, EntitySpec], rules: Mapping[str, tuple[CompiledRule, ...]] | None = None,
                 now: dt.datetime = FIXED_NOW) -> None:
        self.entities = entities
        self.rules = rules or {}
        self.now = now
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.rows: dict[str, MemoryRow] = {}
        self.calls: list[CallAction] = []

    # -- DataView ---------------------------------------------------------------------------------

    def entity_spec(self, entity: str) -> EntitySpec:
        """The declared entity (KeyError for an unknown one)."""
        return self.entities[entity]

    def values(self, entity: str, record_id: str) -> Mapping[str, Any] | None:
        """The record's values, or None."""
        return self.records.get(entity, {}).get(record_id)

    def row(self, record_id: str) -> MemoryRow | None:
        """The built-in columns of a stored record, or None."""
        return self.rows.get(record_id)

    def related(self, entity: str, via_field: str, target_id: str) -> list[str]:
        """Ids of ``entity`` records whose ``via_field`` is ``target_id``, newest (last put) first."""
        rows = self.records.get(entity, {})
        return [rid for rid, vals in reversed(rows.items()) if vals.get(via_field) == target_id]

    def form(self, entity: str, record_id: str) -> FormState:
        """The rules' verdict on the stored record."""
        vals = self.values(entity, record_id)
        if vals is None:
            return EMPTY_FORM
        return evaluate_rules(self.rules.get(entity, ()), self.entities[entity], vals, self, self.now, record_id).form

    # -- writing (the service's part) -------------------------------------------------------------

    def put(self, entity: str, record_id: str, values: Mapping[str, Any] | None = None, **more: Any) -> str:
        """Store a record as given (no defaults, no rules) and return its id."""
        self.records.setdefault(entity, {})[record_id] = {**(values or {}), **more}
        self._stamp(entity, record_id)
        return record_id

    def _stamp(self, entity: str, record_id: str) -> None:
        # As storage does: version 1 on create, one more per write.
        old = self.rows.get(record_id)
        if old is None:
            self.rows[record_id] = MemoryRow(record_id, entity, 1, self.now, self.now)
        else:
            self.rows[record_id] = replace(old, version=old.version + 1, updated_at=self.now)

    def save(self, entity: str, record_id: str, changes: Mapping[str, Any] | None = None, **more: Any) -> RuleResult:
        """Merge ``changes`` into the record (created if new) with the rules run, like a write through the API.

        When a rule reports an error, nothing is stored.
        """
        merged = {**(self.values(entity, record_id) or {}), **(changes or {}), **more}
        result = evaluate_rules(self.rules.get(entity, ()), self.entities[entity], merged, self, self.now, record_id)
        if result.form.ok:
            self.records.setdefault(entity, {})[record_id] = dict(result.values)
            self._stamp(entity, record_id)
        return result

    def apply(self, effects: Iterable[Effect]) -> None:
        """Execute effects in order: creates and sets go through :meth:`save`, calls are recorded."""
        for effect in effects:
            if isinstance(effect, SetField):
                self.save(effect.entity, effect.record_id, {effect.field: effect.value})
            elif isinstance(effect, CreateRecord):
                spec = self.entities[effect.entity]
                defaults = {f.name: f.default for f in spec.field_list() if f.default is not None}
                self.save(effect.entity, effect.temp_id, {**defaults, **effect.values})
            else:
                self.calls.append(effect)
