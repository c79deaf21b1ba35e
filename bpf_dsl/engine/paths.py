"""Where an instance goes: conditions evaluated on the records bound in it.

A branch condition reads the record of its scope entity (the entity of the stage
before the chain) bound in the instance; a record not bound yet reads as empty,
so its conditions are false and the ``else`` arm is predicted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from bpf_dsl.definition import END, ProcessDefinition, StageDef
from bpf_dsl.engine.data import RecordSource
from bpf_dsl.engine.env import Pending, RecordEnv
from bpf_dsl.engine.state import InstanceState


def env_for(data: RecordSource, now: dt.datetime, bound: Mapping[str, str],
            pending: Pending | None = None) -> Callable[[str], RecordEnv]:
    """``entity -> Env`` whose scope is that entity's bound record, as ``ProcessDefinition.successor`` wants."""
    def make(entity: str) -> RecordEnv:
        return RecordEnv(data, now, (entity, bound.get(entity)), bound, pending)

    return make


def next_stage(defn: ProcessDefinition, state: InstanceState, data: RecordSource, now: dt.datetime) -> StageDef | None:
    """The stage ``moveNext`` would enter on current data, or None on the last stage of the path."""
    nxt = defn.successor(state.active_stage, env_for(data, now, state.bound_map()))
    return None if nxt == END else defn.stages[nxt]


def active_path(defn: ProcessDefinition, state: InstanceState, data: RecordSource, now: dt.datetime) -> list[StageDef]:
    """The traversed stages, then those the current data predicts after the active one."""
    ahead = defn.predicted_path(state.active_stage, env_for(data, now, state.bound_map()))
    return [defn.stages[i] for i in state.traversed] + [defn.stages[i] for i in ahead[1:]]
