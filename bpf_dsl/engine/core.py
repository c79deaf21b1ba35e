"""The pure engine step: ``(definition, state, action, now, data, by) -> Moved | Refused``.

No database, no clock, no IO: the caller passes the moment and a read-only
:class:`~bpf_dsl.engine.data.DataView`; the engine answers with a new
:class:`~bpf_dsl.engine.state.InstanceState`, the effects to execute in order,
the events to publish and the stage-visit changes, or with a refusal that changes
nothing. Rules of navigation (API.md, D365 where not marked):

- Any action but ``Reactivate`` on a finished or aborted instance: ``NOT_ACTIVE``.
- ``Next``: ``END`` on the last stage of the active path (checked before the gate:
  it says what to do instead, finish); ``STAGE_GATE`` with the missing steps and the
  messages of the failing ``gate`` lines; then
  the active stage's ``on exit``, the branch the data now selects (seeing the exit's
  writes), the next stage's record bound (see :func:`_bind`), its ``on enter``.
- ``Previous``/``SetActive``: back along the traversed path, cut after the stage
  returned to; no gate and no hooks (hooks mark progress; going back is not progress).
  ``SetActive`` on the active stage changes nothing (a no-op ``Moved``).
- ``Finish``: ``INVALID`` unless on the last stage of the active path, ``STAGE_GATE``
  unless its gate is met; runs the last stage's ``on exit`` (D365 never does) and then
  the process's ``on finish``. The instance records the outcome of the ``finish OUTCOME``
  its path ends on, chosen (like ``Next``'s branch) on the data the exit hook left; if
  those writes send the path on past the stage after all, ``INVALID``, as ``Next`` says
  ``END`` when they end it.
- ``Abandon``: from any stage; runs ``on abandon``. ``Reactivate``: only when finished
  or aborted (else ``INVALID``); back on the same stage, its visit reopened, its outcome
  cleared, its ``stage_started_at`` moved on by the time it sat stopped (time in stage is
  active time); runs ``on reactivate``.
- ``RunAction``: an action step of the active stage (else ``INVALID``); one
  ``CallAction``; the step counts as done for this visit once the service has run it
  without failing (the transaction makes that so).
- ``Start``: the first stage; runs ``on start``, then the first stage's ``on enter``.

Every change raises ``version`` by one. Hooks evaluate with plain names on the bound
record of the stage's entity (stage hooks) or of the primary entity (process hooks).
Stage ``roles`` are the service's to check (the engine knows the user, not their roles).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bpf_dsl.definition import END, Decision, ProcessDefinition, StageDef
from bpf_dsl.engine.actions import Abandon, Action, Finish, Next, Previous, Reactivate, SetActive, Start
from bpf_dsl.engine.data import DataView
from bpf_dsl.engine.effects import ActionOrigin, Event, EventKind, VisitOp
from bpf_dsl.engine.env import Pending
from bpf_dsl.engine.gate import missing_steps, unmet_gates
from bpf_dsl.engine.hooks import Effects
from bpf_dsl.engine.outcome import Moved, Outcome, Refused
from bpf_dsl.engine.outcome import TransitionErrorCode as Code
from bpf_dsl.engine.paths import env_for
from bpf_dsl.engine.state import ABORTED, ACTIVE, FINISHED, InstanceState, Status

NewId = Callable[[], str]
_NO_ACTIONS: frozenset[str] = frozenset()


def start(defn: ProcessDefinition, instance_id: str, record_id: str, now: dt.datetime, data: DataView, by: str,
          *, new_id: NewId | None = None) -> Moved:
    """A new instance of ``defn`` on the primary record ``record_id``, on its first stage."""
    outcome = step(defn, None, Start(instance_id, record_id), now, data, by, new_id=new_id)
    if isinstance(outcome, Refused):
        raise ValueError(outcome.message)
    return outcome


def start_is_plain(defn: ProcessDefinition) -> bool:
    """Whether :func:`start` runs no hook: no ``on start``, no ``on enter`` on the first stage.

    Such a start reads no record and has no effects: two starts differ only by the ids,
    the moment and the user given, so a bulk import may start the process once and copy it.
    """
    return bool(defn.stages) and not defn.hooks.get("start") and not defn.stages[0].on_enter


def step(defn: ProcessDefinition, state: InstanceState | None, action: Action, now: dt.datetime, data: DataView,
         by: str, *, new_id: NewId | None = None) -> Outcome:
    """Apply ``action`` to ``state`` (None only for :class:`Start`).

    ``new_id`` names records created on the way (a ``create`` block); without it they
    get a temporary id the service may replace (``InstanceState.with_record_id``).
    """
    if isinstance(action, Start):
        if state is not None:
            return _refuse(Code.INVALID, "the instance has already started")
        if not defn.stages:
            return _refuse(Code.INVALID, f"the process {defn.name} has no stages")
        return _Step(defn, _initial(defn, action, now), now, data, by, new_id).start()
    if state is None:
        return _refuse(Code.INVALID, "there is no instance to move")
    if state.process != defn.name or state.definition_version != defn.version:
        # The service must hand the definition the instance runs on; a mismatch is its bug.
        raise ValueError(f"instance {state.id} runs {state.process} version {state.definition_version}, "
                         f"not {defn.name} version {defn.version}")
    run = _Step(defn, state, now, data, by, new_id)
    if isinstance(action, Reactivate):
        return run.reactivate()
    if not state.is_active:
        return _refuse(Code.NOT_ACTIVE, f"the instance is {state.status}; reactivate it first")
    if isinstance(action, Next):
        return run.next(action.target_record_id)
    if isinstance(action, Previous):
        return run.previous()
    if isinstance(action, SetActive):
        return run.set_active(action.stage)
    if isinstance(action, Finish):
        return run.finish()
    if isinstance(action, Abandon):
        return run.abandon()
    return run.run_action(action.step)


def can_move_next(defn: ProcessDefinition, state: InstanceState, data: DataView, now: dt.datetime) -> bool:
    """Whether ``Next`` would pass the end and gate checks (steps and ``gate`` lines) now (a cross-entity target
    may still be needed)."""
    if not state.is_active:
        return False
    bound = state.bound_map()
    if defn.successor(state.active_stage, env_for(data, now, bound)) == END:
        return False
    return not missing_steps(defn, state, data) and not unmet_gates(defn, state, data, now, bound=bound)


def _status(s: InstanceState, status: Status, completed_at: dt.datetime | None,
            outcome: str | None = None) -> InstanceState:
    # Built directly, positionally: NamedTuple._replace costs several times more on this hot path.
    return InstanceState(s.id, s.process, s.definition_version, s.record_id, status, s.active_stage, s.traversed,
                         s.bound, s.stage_started_at, s.created_at, completed_at, s.version + 1, s.actions_done,
                         outcome)


def _initial(defn: ProcessDefinition, action: Start, now: dt.datetime) -> InstanceState:
    return InstanceState(action.instance_id, defn.name, defn.version, action.record_id, ACTIVE, 0, (0,),
                         ((defn.entity, action.record_id),), now, now, None, 1)


def _refuse(code: Code, message: str, missing: tuple[str, ...] = (), gates: tuple[str, ...] = ()) -> Refused:
    return Refused(code, message, missing, gates)


class _Step:
    """One step's work: the state before, and the effects gathered on the way."""

    def __init__(self, defn: ProcessDefinition, state: InstanceState, now: dt.datetime, data: DataView, by: str,
                 new_id: NewId | None) -> None:
        self.defn = defn
        self.state = state
        self.now = now
        self.data = data
        self.by = by
        self.new_id = new_id
        self._effects: Effects | None = None
        self._bound: dict[str, str] | None = None
        self.rebound = False  # set when the step binds another record: then the state needs new bindings
        self.stage = defn.stages[state.active_stage]

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def bound(self) -> dict[str, str]:
        """The bound records, as a dict made on first use (many moves never look)."""
        if self._bound is None:
            self._bound = self.state.bound_map()
        return self._bound

    @property
    def effects(self) -> Effects:
        """The step's effects, made on first use: most moves run no hook at all."""
        if self._effects is None:
            self._effects = Effects(self.data, self.now, self.by, self.state.id, self.defn.name)
        return self._effects

    def pending(self) -> Pending | None:
        """This step's writes so far, if it made any."""
        return self._effects.pending if self._effects is not None else None

    def event(self, kind: EventKind, stage: StageDef) -> Event:
        return Event(kind, self.state.id, stage.name, self.now, self.by)

    def successor(self) -> int:
        target = self.defn.next[self.state.active_stage]
        if not isinstance(target, Decision):
            return END if target < 0 else target  # no branch here: no environment to build
        return self.defn.successor(self.state.active_stage, env_for(self.data, self.now, self.bound,
                                                                    self.pending()))

    def gate(self) -> Refused | None:
        missing = missing_steps(self.defn, self.state, self.data)
        gates = unmet_gates(self.defn, self.state, self.data, self.now, bound=self.bound) if self.stage.gates \
            else []
        if not missing and not gates:
            return None
        said = [f"complete the required steps of {self.stage.label}: {', '.join(s.label for s in missing)}"] \
            if missing else []
        return _refuse(Code.STAGE_GATE, "; ".join(said + gates), tuple(s.name for s in missing), tuple(gates))

    def stage_hook(self, stage: StageDef, event: str) -> None:
        hook = stage.on_enter if event == "enter" else stage.on_exit
        if hook:  # most stages have no hooks: don't pay for the call
            self.effects.run_hook(hook, event, stage.name, stage.entity, self.bound)

    def process_hook(self, event: str) -> None:
        hook = self.defn.hooks.get(event, ())
        if hook:
            self.effects.run_hook(hook, event, self.stage.name, self.defn.entity, self.bound)

    def moved(self, state: InstanceState, events: tuple[Event, ...], visits: tuple[VisitOp, ...]) -> Moved:
        return Moved(state, events, self._effects.done() if self._effects is not None else (), visits)

    # -- actions ----------------------------------------------------------------------------------

    def start(self) -> Outcome:
        self.process_hook("start")
        self.stage_hook(self.stage, "enter")
        return self.moved(self.state, (self.event("started", self.stage),), (VisitOp("open", self.stage.name),))

    def next(self, target_record_id: str | None) -> Outcome:
        nxt = self.successor()
        if nxt == END:
            return _refuse(Code.END, f"{self.stage.label} is the last stage of the path; finish the process instead")
        blocked = self.gate()
        if blocked is not None:
            return blocked
        self.stage_hook(self.stage, "exit")
        pending = self.pending()
        if pending is not None and (pending.writes or pending.created):
            nxt = self.successor()  # again: the exit hook changed what the branch may read
        if nxt == END:
            return _refuse(Code.END, f"after leaving {self.stage.label} the path ends; finish the process instead")
        target = self.defn.stages[nxt]
        bound = self.bind(target, target_record_id)
        if isinstance(bound, Refused):
            return bound
        self.stage_hook(target, "enter")
        s = self.state
        bindings = tuple(self.bound.items()) if self.rebound else s.bound
        new = InstanceState(s.id, s.process, s.definition_version, s.record_id, s.status, nxt, (*s.traversed, nxt),
                            bindings, self.now, s.created_at, s.completed_at, s.version + 1, _NO_ACTIONS)
        return self.moved(new, (self.event("stage_changed", target),),
                          (VisitOp("close", self.stage.name), VisitOp("open", target.name)))

    def bind(self, target: StageDef, given: str | None) -> str | Refused:
        """The record ``target`` works on, bound into ``self.bound`` (created if need be).

        ``on E`` reuses the bound record of E. ``on E via F``, in order: the record given
        with the move (it must be an E whose F points at the bound record of F's entity);
        the record of E already bound, if its F still points there (moving forward again
        after going back); a new record from the stage's ``create`` values; else
        ``CROSS_ENTITY_TARGET_REQUIRED``. An existing related record is never picked
        silently: D365 asks the user, and so do we (the message counts the candidates).
        """
        bound = self.bound
        if target.via is None or target.via_entity is None:
            record_id = bound.get(target.entity)
            if record_id is None:
                return _refuse(Code.INVALID, f"no {target.entity} record is bound for the stage {target.label}")
            if given is not None and given != record_id:
                return _refuse(Code.INVALID, f"the stage {target.label} works on the {target.entity} record already "
                                             f"bound; a target record makes no sense here")
            return record_id
        anchor = bound.get(target.via_entity)
        if anchor is None:
            return _refuse(Code.INVALID, f"no {target.via_entity} record is bound for {target.via} to point at")
        if given is not None:
            values = self.effects.pending.read(self.data, target.entity, given)
            if values is None:
                return _refuse(Code.INVALID, f"there is no {target.entity} record {given}")
            if values.get(target.via) != anchor:
                return _refuse(Code.INVALID, f"the {target.entity} record {given} is not linked to this "
                                             f"{target.via_entity} through {target.via}")
            bound[target.entity] = given
            self.rebound = True
            return given
        earlier = bound.get(target.entity)
        if earlier is not None:
            values = self.effects.pending.read(self.data, target.entity, earlier)
            if values is not None and values.get(target.via) == anchor:
                return earlier
        if target.create is not None:  # an empty `create { }` too: a record with only its defaults
            return self.create(target, anchor)
        candidates = len(self.data.related(target.entity, target.via, anchor))
        pick = f"pick one of the {candidates} linked {target.entity} records" if candidates else \
            f"create a {target.entity} record linked through {target.via}"
        return _refuse(Code.CROSS_ENTITY_TARGET_REQUIRED,
                       f"the stage {target.label} is on {target.entity}: {pick} and give it as the target")

    def create(self, target: StageDef, anchor: str) -> str:
        assert target.via is not None and target.via_entity is not None
        record_id = self.new_id() if self.new_id is not None else \
            f"new:{self.state.id}:{self.state.version + 1}:{target.name}"
        env = self.effects.env(target.via_entity, anchor, self.bound)
        values = {name: expr(env) for name, expr in target.create or ()}
        values[target.via] = anchor
        self.effects.create(target.entity, record_id, values)
        self.bound[target.entity] = record_id
        self.rebound = True
        return record_id

    def back_to(self, position: int) -> Moved:
        s = self.state
        index = s.traversed[position]
        target = self.defn.stages[index]
        new = InstanceState(s.id, s.process, s.definition_version, s.record_id, s.status, index,
                            s.traversed[:position + 1], s.bound, self.now, s.created_at, s.completed_at,
                            s.version + 1, _NO_ACTIONS)
        return self.moved(new, (self.event("stage_changed", target),),
                          (VisitOp("close", self.stage.name), VisitOp("open", target.name)))

    def previous(self) -> Outcome:
        if len(self.state.traversed) < 2:
            return _refuse(Code.BEGINNING, f"{self.stage.label} is the first stage")
        return self.back_to(len(self.state.traversed) - 2)

    def set_active(self, name: str) -> Outcome:
        index = self.defn.by_name.get(name)
        if index is None:
            return _refuse(Code.INVALID, f"the process {self.defn.name} has no stage `{name}`")
        if index not in self.state.traversed:
            return _refuse(Code.UNREACHABLE, f"the stage `{name}` is not on the traversed path")
        if index == self.state.active_stage:
            return Moved(self.state)
        return self.back_to(self.state.traversed.index(index))

    def finish(self) -> Outcome:
        nxt = self.successor()
        if nxt != END:
            return _refuse(Code.INVALID, f"finish only on the last stage of the path; "
                                         f"{self.defn.stages[nxt].label} comes after {self.stage.label}")
        blocked = self.gate()
        if blocked is not None:
            return blocked
        self.stage_hook(self.stage, "exit")
        pending = self.pending()
        if pending is not None and (pending.writes or pending.created):
            nxt = self.successor()  # again: the exit hook changed what the branch may read
            if nxt != END:
                return _refuse(Code.INVALID, f"after leaving {self.stage.label} the path goes on to "
                                             f"{self.defn.stages[nxt].label}; move to the next stage instead")
        # The outcome of the end the path reaches, on the data the exit hook left (as Next picks its branch).
        outcome = self.defn.outcome_after(self.state.active_stage, env_for(self.data, self.now, self.bound, pending))
        self.process_hook("finish")
        new = _status(self.state, FINISHED, self.now, outcome)
        return self.moved(new, (self.event("finished", self.stage),), (VisitOp("close", self.stage.name),))

    def abandon(self) -> Outcome:
        self.process_hook("abandon")
        new = _status(self.state, ABORTED, self.now)
        return self.moved(new, (self.event("abandoned", self.stage),), (VisitOp("close", self.stage.name),))

    def reactivate(self) -> Outcome:
        if self.state.is_active:
            return _refuse(Code.INVALID, "the instance is already active")
        self.process_hook("reactivate")
        new = _status(self.state, ACTIVE, None)
        stopped = self.state.completed_at
        if stopped is not None and self.now > stopped:
            # Time in stage counts active time: the stretch it sat finished or abandoned moves the start on.
            new = new._replace(stage_started_at=self.state.stage_started_at + (self.now - stopped))
        return self.moved(new, (self.event("reactivated", self.stage),), (VisitOp("reopen", self.stage.name),))

    def run_action(self, name: str) -> Outcome:
        found = next((s for s in self.stage.steps if s.name == name), None)
        if found is None or found.kind != "action" or found.call is None:
            return _refuse(Code.INVALID, f"the stage {self.stage.label} has no action step `{name}`")
        record_id = self.bound.get(self.stage.entity)
        env = self.effects.env(self.stage.entity, record_id, self.bound)
        origin = self.origin(record_id)
        self.effects.call(found.call, env, origin)
        new = self.state._replace(actions_done=self.state.actions_done | {name}, version=self.state.version + 1)
        return self.moved(new, (), ())

    def origin(self, record_id: str | None) -> ActionOrigin:
        return ActionOrigin(self.state.id, self.defn.name, self.stage.name, self.stage.entity, record_id, "step",
                            self.by, self.now)
