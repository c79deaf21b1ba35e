"""The engine's :class:`~bpf_dsl.engine.DataView` over one storage transaction.

Records are decoded once per transaction and kept while it lasts, so a move
reading the same record for its gate, its branch and its hooks costs one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from bpf_dsl.definition import Program
from bpf_dsl.engine import EMPTY_FORM, FormState, RuleResult, evaluate_rules
from bpf_dsl.model import EntitySpec
from bpf_dsl.service.recording import Dependencies
from bpf_dsl.service.values import decode
from bpf_dsl.storage import RecordRow, Tx


class TxData:
    """Reads records for the engine and the rules inside one transaction."""

    def __init__(self, tx: Tx, program: Program, now: dt.datetime, deps: Dependencies | None = None) -> None:
        self.tx = tx
        self.program = program
        self.now = now
        self.deps = deps  # a read's dependencies being recorded (reads only: commands never keep answers)
        self._rows: dict[str, RecordRow | None] = {}
        # The rows this transaction holds locked (read ``FOR UPDATE`` or written): a read asking for the lock
        # again finds them here. Where the backend has no row locks (its writers are serialised), every row read.
        self._locked: set[str] = set()
        self._every_read_locked = not tx.backend.row_lock
        self._values: dict[str, dict[str, Any]] = {}
        #: The primary record of each instance this transaction has read (what actions' notifications and
        #: webhooks name): read once, however many actions a hook calls.
        self.primaries: dict[str, str] = {}

    def entity_spec(self, entity: str) -> EntitySpec:
        """The declared entity."""
        return self.program.entities[entity]

    def row(self, record_id: str, *, lock: bool = False) -> RecordRow | None:
        """The stored row (cached for the transaction); ``lock``: locked for this transaction, read again
        unless it holds the lock already."""
        if record_id not in self._rows or (lock and record_id not in self._locked and not self._every_read_locked):
            row = self._rows[record_id] = self.tx.get_record(record_id, lock)
            self._values.pop(record_id, None)
            if lock:
                self._locked.add(record_id)
            if self.deps is not None:
                self.deps.record(record_id, row)
        return self._rows[record_id]

    def values(self, entity: str, record_id: str) -> Mapping[str, Any] | None:
        """The record's values as Python values, or None when there is no such record of ``entity``."""
        row = self.row(record_id)
        if row is None or row.entity != entity or entity not in self.program.entities:
            return None  # checked before the cache: an id of another entity's record reads as no record
        cached = self._values.get(record_id)
        if cached is not None:
            return cached
        decoded = decode(self.program.entities[entity], row.values)
        self._values[record_id] = decoded
        return decoded

    def related(self, entity: str, via_field: str, target_id: str) -> list[str]:
        """Ids of ``entity`` records whose lookup ``via_field`` points at ``target_id``, newest first."""
        if self.deps is not None:
            self.deps.opaque = True  # a search, not a row by key
        return self.tx.related(entity, via_field, target_id)

    def form(self, entity: str, record_id: str) -> FormState:
        """What the rules say about the stored record."""
        values = self.values(entity, record_id)
        if values is None:
            return EMPTY_FORM
        return self.rules(entity, values, record_id).form

    def rules(self, entity: str, values: Mapping[str, Any], record_id: str | None) -> RuleResult:
        """Run ``entity``'s rules over ``values``."""
        return evaluate_rules(self.program.rules.get(entity, ()), self.program.entities[entity], values, self,
                              self.now, record_id)

    def remember(self, row: RecordRow, *, locked: bool = False) -> None:
        """A row this transaction just wrote, or read already (``locked``: read ``FOR UPDATE``): later reads
        see it."""
        self._rows[row.id] = row
        if locked:
            self._locked.add(row.id)
        self._values.pop(row.id, None)
        if self.deps is not None:
            self.deps.record(row.id, row)

    def forget(self, record_id: str) -> None:
        """A row this transaction deleted, or found absent."""
        self._rows[record_id] = None
        self._values.pop(record_id, None)
        if self.deps is not None:
            self.deps.record(record_id, None)
