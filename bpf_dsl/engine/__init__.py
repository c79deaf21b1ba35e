"""The pure engine: process instances moved by actions, with no database, clock or IO.

::

    from bpf_dsl.engine import MemoryData, Next, start, step

    data = MemoryData(program.entities, program.rules)
    data.put("lead", "L1", topic="Fleet", budget_amount=5000)
    moved = start(defn, "I1", "L1", now, data, by="ann")      # Moved(state, events, effects, visits)
    outcome = step(defn, moved.state, Next(), now, data, "ann")
    # Moved | Refused(code, message, missing_steps, unmet_gates)

Modules, one job each:

- ``state``: :class:`InstanceState`, the small frozen row of an instance.
- ``actions``: the commands (:class:`Start`, :class:`Next`, :class:`Previous`, :class:`SetActive`,
  :class:`Finish`, :class:`Abandon`, :class:`Reactivate`, :class:`RunAction`).
- ``core``: :func:`step`, :func:`start`, :func:`can_move_next`, the navigation rules.
- ``outcome``: :class:`Moved`, :class:`Refused`, :class:`TransitionErrorCode`.
- ``effects``: what the service executes (:class:`SetField`, :class:`CreateRecord`,
  :class:`CallAction`), publishes (:class:`Event`) and logs (:class:`VisitOp`).
- ``gate``: :func:`missing_steps`, :func:`unmet_gates`, :func:`stage_steps` (the process bar's steps).
- ``paths``: :func:`active_path`, :func:`next_stage`.
- ``overdue``: ``overdue()``, a visit past its stage's sla: its ``on overdue`` as effects (the service's
  timers import it from there).
- ``data``: the :class:`DataView` protocol and :class:`FormState`; ``memory``: :class:`MemoryData`.
- ``rules``: :func:`evaluate_rules`, business rules over values being saved.
- ``env``, ``hooks``: expression environments and hook evaluation (internal).
"""

from __future__ import annotations

from bpf_dsl.engine.actions import Abandon, Action, Finish, Next, Previous, Reactivate, RunAction, SetActive, Start
from bpf_dsl.engine.core import can_move_next, start, start_is_plain, step
from bpf_dsl.engine.data import EMPTY_FORM, DataView, FieldMessage, FormState, RecordSource
from bpf_dsl.engine.effects import ActionOrigin, CallAction, CreateRecord, Effect, Event, SetField, VisitOp
from bpf_dsl.engine.env import RecordEnv
from bpf_dsl.engine.gate import StepStatus, is_filled, missing_steps, stage_steps, unmet_gates
from bpf_dsl.engine.memory import MemoryData
from bpf_dsl.engine.outcome import Moved, Outcome, Refused, TransitionErrorCode
from bpf_dsl.engine.paths import active_path, next_stage
from bpf_dsl.engine.rules import RuleResult, evaluate_rules
from bpf_dsl.engine.state import ABORTED, ACTIVE, FINISHED, InstanceState, Status

__all__ = [
    "ABORTED", "ACTIVE", "EMPTY_FORM", "FINISHED", "Abandon", "Action", "ActionOrigin", "CallAction", "CreateRecord",
    "DataView", "Effect", "Event", "FieldMessage", "Finish", "FormState", "InstanceState", "MemoryData", "Moved",
    "Next", "Outcome", "Previous", "Reactivate", "RecordEnv", "RecordSource", "Refused", "RuleResult", "RunAction",
    "SetActive", "SetField", "Start", "Status", "StepStatus", "TransitionErrorCode", "VisitOp", "active_path",
    "can_move_next", "evaluate_rules", "is_filled", "missing_steps", "next_stage", "stage_steps", "start",
    "start_is_plain", "step", "unmet_gates",
]
