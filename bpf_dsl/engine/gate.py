"""Stage gates: which steps are required, done, hidden or locked, and what blocks moving on.

Requirement of a data step, on current data:

1. a business rule's last ``require``/``optional`` of its field, if any ran, wins;
2. otherwise the step's own ``required``, or the field's (a field declared ``required``
   can't be saved empty, so this only shows on the process bar).

So ``optional`` can relax a step written ``required`` (an author who wrote both
meant the rule's condition to decide). A hidden step never gates (D365: "required
columns, except hidden columns"); a locked one still does (D365: "disabled
columns will still block stage navigation"). A data step is done when its field
is not empty, and a ``bool`` step only when it is true (D365: a required two-option
step needs Yes). An action step is done when it ran in the current stage visit.

Only steps gate: a field that a rule requires but no step of the stage asks
for is marked required in the form state and doesn't hold the stage (LANGUAGE.md:
"a step bound to it gates its stage"; docs/service.md).

Besides its steps, a stage's ``gate CONDITION "message"`` lines must hold to leave it
forward or finish there (:func:`unmet_gates`). A gate reads the record of its stage's
entity bound in the instance, as the stage's steps do (and ``E.field`` the record of E
bound in it); a condition that is empty or false, as any comparison with an empty value
is, fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpf_dsl.definition import ProcessDefinition, StepDef
from bpf_dsl.engine.data import EMPTY_FORM, DataView, FormState, RecordSource
from bpf_dsl.engine.env import RecordEnv
from bpf_dsl.engine.state import InstanceState
from bpf_dsl.expr import is_empty, truthy
from bpf_dsl.model import FieldSpec


@dataclass(frozen=True, slots=True)
class StepStatus:
    """A step as the process bar shows it, on current data."""

    step: StepDef
    value: Any
    done: bool
    required: bool
    hidden: bool
    locked: bool
    recommendation: str | None

    @property
    def blocks(self) -> bool:
        """Whether this step keeps its stage from being left."""
        return self.required and not self.done and not self.hidden


def is_filled(value: Any, spec: FieldSpec | None) -> bool:
    """Whether a data step's value counts as done: not empty, and true for a ``bool``."""
    if spec is not None and spec.type.kind == "bool":
        return value is True
    return not is_empty(value)


def stage_steps(defn: ProcessDefinition, state: InstanceState, data: DataView, stage_index: int) -> list[StepStatus]:
    """The statuses of the steps of a stage, read from the record of its entity bound in ``state``.

    A stage whose record is not bound yet (ahead, across entities) shows its steps empty.
    Action steps count as done only in the active stage's current visit.
    """
    stage = defn.stages[stage_index]
    record_id = state.record_of(stage.entity)
    values, form = _record(data, stage.entity, record_id)
    fields = data.entity_spec(stage.entity).fields
    active = stage_index == state.active_stage
    out: list[StepStatus] = []
    for step in stage.steps:
        if step.kind == "action" or step.field is None:
            out.append(StepStatus(step, None, active and step.name in state.actions_done, step.required, False, False,
                                  None))
            continue
        name = step.field
        spec = fields.get(name)
        value = values.get(name) if values is not None else None
        declared = step.required or (spec is not None and spec.required)
        out.append(StepStatus(step, value, is_filled(value, spec), form.is_required(name, declared),
                              name in form.hidden, name in form.locked, form.recommendation(name)))
    return out


def missing_steps(defn: ProcessDefinition, state: InstanceState, data: DataView) -> list[StepDef]:
    """What blocks leaving the active stage now: its blocking steps.

    Only steps gate (LANGUAGE.md: "a step bound to it gates its stage"): a rule's
    ``require`` on a field no step of the stage asks for marks the field required
    in the form state, and the API's ``missingSteps`` stays a list of step names.
    This is :func:`stage_steps` without building a status per step: it runs on
    every move.
    """
    stage = defn.stages[state.active_stage]
    if not stage.may_gate:
        return []
    missing: list[StepDef] = []
    loaded = False
    values: Mapping[str, Any] | None = None
    form = EMPTY_FORM
    fields: Mapping[str, FieldSpec] = {}
    for step in stage.steps:
        if step.kind == "action" or step.field is None:
            if step.required and step.name not in state.actions_done:
                missing.append(step)
            continue
        if not loaded:  # read the record (and run its rules, if they matter here) once
            record_id = state.record_of(stage.entity)
            if stage.rules_matter:
                values, form = _record(data, stage.entity, record_id)
            else:
                values = data.values(stage.entity, record_id) if record_id is not None else None
            fields = data.entity_spec(stage.entity).fields
            loaded = True
        name = step.field
        spec = fields.get(name)
        declared = step.required or (spec is not None and spec.required)
        if not form.is_required(name, declared) or name in form.hidden:
            continue
        if not is_filled(values.get(name) if values is not None else None, spec):
            missing.append(step)
    return missing


def unmet_gates(defn: ProcessDefinition, state: InstanceState, data: RecordSource, now: dt.datetime,
                stage_index: int | None = None, *, bound: Mapping[str, str] | None = None) -> list[str]:
    """The messages of the failing ``gate`` lines of a stage (default: the active one), in text order.

    ``bound``: the instance's bindings as a mapping, when the caller has made it already.
    """
    stage = defn.stages[state.active_stage if stage_index is None else stage_index]
    if not stage.gates:
        return []
    records = state.bound_map() if bound is None else bound
    env = RecordEnv(data, now, (stage.entity, records.get(stage.entity)), records)
    return [message for condition, message in stage.gates if not truthy(condition(env))]


def _record(data: DataView, entity: str, record_id: str | None) -> tuple[Mapping[str, Any] | None, FormState]:
    if record_id is None:
        return None, EMPTY_FORM
    values = data.values(entity, record_id)
    return values, (data.form(entity, record_id) if values is not None else EMPTY_FORM)
