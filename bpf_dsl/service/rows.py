"""An instance between storage and the engine: its stored row (stage names) and its state (stage indexes).

Both the commands (:mod:`.core`) and the reads (:mod:`.reads`) convert, so the two
conversions live here, below both.
"""

from __future__ import annotations

import datetime as dt

from bpf_dsl.definition import ProcessDefinition
from bpf_dsl.engine import InstanceState
from bpf_dsl.storage import InstanceRow


def state_of(row: InstanceRow, defn: ProcessDefinition) -> InstanceState:
    """The engine's state of a stored instance, on its definition."""
    return InstanceState(
        row.id, row.process, row.definition_version, row.record_id, row.status,  # type: ignore[arg-type]
        defn.by_name[row.active_stage], tuple(defn.by_name[s] for s in row.traversed if s in defn.by_name),
        # Storage keeps bindings as a JSON object (key order not kept): the primary record goes first again.
        tuple(sorted(row.bound.items(), key=lambda kv: kv[0] != defn.entity)), row.stage_started_at,
        row.created_at, row.completed_at, row.version, frozenset(row.actions_done), row.outcome)


def row_of(state: InstanceState, defn: ProcessDefinition, now: dt.datetime,
           created_at: dt.datetime | None = None) -> InstanceRow:
    """The row to store of an engine state (stage names, stable across definition versions)."""
    stages = defn.stages
    return InstanceRow(state.id, state.record_id, defn.name, state.definition_version, state.status,
                       stages[state.active_stage].name, tuple(stages[i].name for i in state.traversed),
                       dict(state.bound),
                       state.stage_started_at, created_at or state.created_at, now, state.completed_at, state.version,
                       tuple(sorted(state.actions_done)), state.outcome)
