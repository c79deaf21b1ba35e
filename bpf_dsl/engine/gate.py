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

Beyond its steps, a stage is also gated by any field of its entity that a rule
requires right now although no step of the stage asks for it (D365 cannot save,
so cannot move, while a business-required column is empty). Such a field is
reported as a synthesized data step named after the field, so that e.g. a rule
requiring ``manager_approved`` for big discounts holds the opportunity's stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..definition import ProcessDefinition, StepDef
from ..expr import is_empty
from ..model import FieldSpec
from .data import EMPTY_FORM, DataView, FormState
from .state import InstanceState


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
    """
    stage = defn.stages[state.active_stage]
    return [s.step for s in stage_steps(defn, state, data, stage.index) if s.blocks]


def _record(data: DataView, entity: str, record_id: str | None) -> tuple[Mapping[str, Any] | None, FormState]:
    if record_id is None:
        return None, EMPTY_FORM
    values = data.values(entity, record_id)
    return values, (data.form(entity, record_id) if values is not None else EMPTY_FORM)
