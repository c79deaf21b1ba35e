"""Helpers for the engine's unit tests: the spec examples, in-memory data and a walker.

The walker plays the service's part between steps: it applies a Moved's effects to
the MemoryData and keeps the new state; a Refused changes nothing.
"""

from __future__ import annotations

import datetime as dt

import bpf_dsl
from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.engine import (
    InstanceState,
    MemoryData,
    Moved,
    Outcome,
    Refused,
    active_path,
    start,
    step,
)
from bpf_dsl.engine.actions import Action
from tests.paths import EXAMPLES

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def example_text(name: str) -> str:
    """The text of a spec example."""
    return (EXAMPLES / name).read_text()


_cache: dict[str, Program] = {}


def load(text: str) -> Program:
    """A compiled program (cached: compiling is the slow part, and programs are immutable)."""
    if text not in _cache:
        _cache[text] = bpf_dsl.load_source(text)
    return _cache[text]


class Walker:
    """An instance walked through its process with a fixed clock advancing a minute a step."""

    def __init__(self, program: Program, process: str, data: MemoryData | None = None) -> None:
        self.program = program
        self.defn: ProcessDefinition = program.processes[process]
        self.data = data or MemoryData(program.entities, program.rules, now=T0)
        self.now = T0
        self.state: InstanceState | None = None
        self.log: list[Outcome] = []
        self._ids = (f"R{i}" for i in range(1, 1000))

    def new_id(self) -> str:
        """Ids for records the engine creates."""
        return next(self._ids)

    def tick(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now

    def start(self, record_id: str, instance_id: str = "I1", by: str = "ann") -> Moved:
        moved = start(self.defn, instance_id, record_id, self.tick(), self.data, by, new_id=self.new_id)
        self._keep(moved)
        return moved

    def do(self, action: Action, by: str = "ann") -> Outcome:
        outcome = step(self.defn, self.state, action, self.tick(), self.data, by, new_id=self.new_id)
        if isinstance(outcome, Moved):
            self._keep(outcome)
        self.log.append(outcome)
        return outcome

    def ok(self, action: Action, by: str = "ann") -> Moved:
        outcome = self.do(action, by)
        assert isinstance(outcome, Moved), outcome
        return outcome

    def refused(self, action: Action) -> Refused:
        before = self.st
        outcome = self.do(action)
        assert isinstance(outcome, Refused), outcome
        assert self.st is before
        return outcome

    def _keep(self, moved: Moved) -> None:
        self.data.apply(moved.effects)
        self.state = moved.state
        # The D365 invariant, after every step.
        assert moved.state.traversed[-1] == moved.state.active_stage

    @property
    def st(self) -> InstanceState:
        assert self.state is not None
        return self.state

    @property
    def stage(self) -> str:
        return self.defn.stages[self.st.active_stage].name

    @property
    def traversed(self) -> list[str]:
        return [self.defn.stages[i].name for i in self.st.traversed]

    def path(self) -> list[str]:
        return [s.name for s in active_path(self.defn, self.st, self.data, self.now)]

    def set(self, entity: str, record_id: str, **values: object) -> None:
        result = self.data.save(entity, record_id, values)
        assert result.form.ok, result.form.errors
