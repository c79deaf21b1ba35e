"""How the engine reads records: the :class:`DataView` protocol and the :class:`FormState` it reports.

The engine never touches storage. The service hands it a view over the records of
the current transaction; tests hand it a :class:`~bpf_dsl.engine.memory.MemoryData`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from bpf_dsl.model import EntitySpec


class RecordSource(Protocol):
    """Records by entity and id, and the model to follow lookups with."""

    def entity_spec(self, entity: str) -> EntitySpec:
        """The declared entity called ``entity``."""

    def values(self, entity: str, record_id: str) -> Mapping[str, Any] | None:
        """The stored values of a record (field name → value), or None when there is no such record."""


class StoredRow(Protocol):
    """The built-in columns of a stored record (storage's ``RecordRow`` has them all)."""

    @property
    def id(self) -> str:
        """The record's id."""

    @property
    def entity(self) -> str:
        """The record's entity."""

    @property
    def version(self) -> int:
        """Raised by every change (1 when created)."""

    @property
    def created_at(self) -> dt.datetime:
        """When the record was created."""

    @property
    def updated_at(self) -> dt.datetime:
        """When the record last changed."""


class RowSource(Protocol):
    """A :class:`RecordSource` that can also give a record's built-in columns.

    Expressions read ``id``, ``created_at``, ``updated_at`` and ``version`` through it
    (:class:`~bpf_dsl.engine.env.RecordEnv`); a source without ``row`` reads them as empty.
    The service's transaction view and :class:`~bpf_dsl.engine.memory.MemoryData` have it.
    """

    def row(self, record_id: str) -> StoredRow | None:
        """The stored record, or None when it isn't stored (yet)."""


class DataView(RecordSource, Protocol):
    """Everything the engine reads: records, related records and the business rules' verdict."""

    def related(self, entity: str, via_field: str, target_id: str) -> list[str]:
        """Ids of the records of ``entity`` whose lookup ``via_field`` is ``target_id``, newest first."""

    def form(self, entity: str, record_id: str) -> FormState:
        """What the business rules say about a stored record now (see :func:`~bpf_dsl.engine.rules.evaluate_rules`)."""


@dataclass(frozen=True, slots=True)
class FieldMessage:
    """A message about one field (``field`` None: about the whole record)."""

    field: str | None
    message: str


_NO_OVERRIDES: Mapping[str, bool] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FormState:
    """The business rules' verdict on a record.

    - ``required``: overrides by ``require`` (True) and ``optional`` (False); the last
      one run wins. Fields not in it keep what the step or field says.
    - ``hidden``/``locked``: fields hidden or locked by the rules.
    - ``recommendations``/``errors``: in the order the rules produced them.
    """

    required: Mapping[str, bool] = field(default_factory=lambda: _NO_OVERRIDES)
    hidden: frozenset[str] = frozenset()
    locked: frozenset[str] = frozenset()
    recommendations: tuple[FieldMessage, ...] = ()
    errors: tuple[FieldMessage, ...] = ()

    def is_required(self, field_name: str, declared: bool) -> bool:
        """Whether ``field_name`` is required: a rule's override, else ``declared``."""
        return self.required.get(field_name, declared)

    def recommendation(self, field_name: str) -> str | None:
        """The last recommendation for ``field_name``, if any (the one the process bar shows)."""
        found = None
        for r in self.recommendations:
            if r.field == field_name:
                found = r.message
        return found

    @property
    def ok(self) -> bool:
        """No rule rejects the record."""
        return not self.errors


EMPTY_FORM = FormState()
