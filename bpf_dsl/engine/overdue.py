"""A visit past its stage's sla: the ``on overdue`` hook as effects, on the instance as it stands.

Pure, as :func:`~bpf_dsl.engine.core.step` is: the caller (the service's timers) says
when, and executes the effects in a transaction of its own. The instance stays on its
stage; its version goes up by one, since what it shows (``overdue``, the visit's
``overdueAt``) changes.
"""

from __future__ import annotations

import datetime as dt

from bpf_dsl.definition import ProcessDefinition
from bpf_dsl.engine.data import DataView
from bpf_dsl.engine.effects import Effect
from bpf_dsl.engine.hooks import Effects
from bpf_dsl.engine.outcome import Moved
from bpf_dsl.engine.state import InstanceState


def overdue(defn: ProcessDefinition, state: InstanceState, now: dt.datetime, data: DataView, by: str) -> Moved:
    """The active stage's ``on overdue`` run on ``state`` at ``now`` by ``by`` (the user ``bpf``): its effects
    (``set`` and ``call``, reading the record of the stage's entity as its other hooks do), and the state with
    its version raised. No visit changes and no event: the caller marks the visit and publishes ``overdue``."""
    stage = defn.stages[state.active_stage]
    effects: tuple[Effect, ...] = ()
    if stage.on_overdue:
        run = Effects(data, now, by, state.id, defn.name)
        run.run_hook(stage.on_overdue, "overdue", stage.name, stage.entity, state.bound_map())
        effects = run.done()
    return Moved(state._replace(version=state.version + 1), (), effects, ())
