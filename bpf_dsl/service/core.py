"""The service: the imperative shell around the pure engine, and the only place that owns transactions.

Each command is one unit of work: load, check the caller's roles and the expected
version, run the engine step, execute its effects (record writes through the
rules, plugin actions), ask the plugins' pre-change hooks, save the instance and
its history, commit; then publish events and tell post-change hooks. A failure
anywhere rolls everything of the command back.

A command is a transaction of its own, or, once :meth:`Service.start_group_commit`
has started group commit (the server does on SQLite), a savepoint of the one
transaction committed for every command that arrived meanwhile
(:mod:`bpf_dsl.service.writer`): rolled back alone when it fails, answered only
after that transaction committed, its events and hooks run after the commit in the
order the commands ran.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

from bpf_dsl.definition import ProcessDefinition, Program, StageDef
from bpf_dsl.engine import (
    Abandon,
    Action,
    CallAction,
    CreateRecord,
    Finish,
    InstanceState,
    Moved,
    Next,
    Previous,
    Reactivate,
    Refused,
    RunAction,
    SetActive,
    SetField,
    next_stage,
    start,
    step,
)
from bpf_dsl.engine.action_context import BaseActionContext
from bpf_dsl.errors import ActionFailed, ConflictError, TransientError
from bpf_dsl.plugins import Change, Registry
from bpf_dsl.service.access import Access
from bpf_dsl.service.data import TxData
from bpf_dsl.service.diagrams import Diagrams
from bpf_dsl.service.ids import ordered_id
from bpf_dsl.service.inbox import JobReads
from bpf_dsl.service.outbox import webhook_body
from bpf_dsl.service.reads import Reads
from bpf_dsl.service.record_commands import RecordCommands
from bpf_dsl.service.results import SYSTEM, Caller, ProcessEvent, TransitionFailure, ValidationFailure
from bpf_dsl.service.rows import row_of, state_of
from bpf_dsl.service.versions import Versions
from bpf_dsl.service.work import _Abort as _Abort  # re-exported: jobs, bulk, upgrades take these from here
from bpf_dsl.service.work import _Conflict as _Conflict
from bpf_dsl.service.work import _Work as _Work
from bpf_dsl.service.work import new_id as new_id
from bpf_dsl.service.work import publish_order
from bpf_dsl.service.writer import MAX_BATCH, GroupCommit, GroupStopped, GroupWriter
from bpf_dsl.storage import InstanceRow, Notifier, Storage, Tx
from bpf_dsl.storage.jobs import PENDING, DeliveryRow, add_delivery, add_notification

log = logging.getLogger("bpf.service")

Clock = Callable[[], dt.datetime]
#: Hears of due times and webhooks committed: ``listener(earliest due time or None, webhooks written)``.
JobsListener = Callable[[dt.datetime | None, int], None]
RETRIES = 12


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Service(RecordCommands, Reads, JobReads):
    """Records and process instances over a storage, for a loaded program."""

    def __init__(self, program: Program, storage: Storage, registry: Registry, *, clock: Clock = _utcnow) -> None:
        self.program = program
        self.storage = storage
        self.registry = registry
        # Whether a pack hears changes (bpf_before_change, bpf_after_change): asked once, a pack is only ever
        # dropped from a registry (a broken one, at start), never added, so True stays right to ask.
        self._hears_changes = registry.hears_changes()
        self.clock = clock
        self.versions = Versions(program, registry)
        self.diagrams = Diagrams(program)
        self.access = Access(program)
        self.listeners: list[Callable[[ProcessEvent], None]] = []
        #: Called with each command's events (in :func:`publish_order`) inside its transaction, before it
        #: commits: what relays them to the other server processes (``Tx.notify``, delivered with the commit
        #: and not at all without it). The listeners still hear them after the commit.
        self.relay_in_tx: Callable[[Tx, list[ProcessEvent]], None] | None = None
        self.job_listeners: list[JobsListener] = []
        self._group: GroupCommit | None = None
        self._writer: GroupWriter | None = None
        with storage.write() as tx:
            self.versions.record_current(tx, clock())

    @property
    def inline_reads(self) -> bool:
        """Whether a read by key costs less inline than handed to a thread (an embedded database: SQLite)."""
        return self.storage.backend.inline_reads

    @property
    def single_writer(self) -> bool:
        """Whether the database takes one writer at a time (SQLite): callers had better queue their writes."""
        return self.storage.backend.single_writer

    @property
    def group_commit(self) -> GroupCommit | None:
        """Group commit, when on (:meth:`start_group_commit`): where commands are submitted."""
        return self._group

    def start_group_commit(self, max_batch: int = MAX_BATCH, *, thread: bool = True) -> GroupCommit:
        """Group commit from now on: every command, from any thread, runs inside a transaction shared with the
        commands that arrive together, each in its own savepoint (:mod:`bpf_dsl.service.writer`).

        ``thread``: a writer thread of its own drives it; False: the caller drives it (the server does, from
        its event loop). The server turns it on where the backend asks for it (``backend.group_commit``).
        """
        if self._group is None:
            self._group = GroupCommit(self.storage, max_batch=max_batch)
            if thread:
                self._writer = GroupWriter(self._group)
        return self._group

    def stop_group_commit(self) -> None:
        """Back to one transaction per command, in the caller's thread (what was submitted runs first)."""
        group, writer = self._group, self._writer
        if writer is not None:
            writer.stop()  # its commands still run in the group
        elif group is not None:
            group.close()
        self._group = self._writer = None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Call a command (``svc.move_next``, ...) inside the next group commit; the future is answered after the
        commit that holds it. Without group commit the call runs here, and the future comes back answered."""
        if self._group is not None:
            return self._group.submit(partial(fn, *args, **kwargs))
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:
            done.set_exception(exc)
        return done

    @property
    def notifier(self) -> Notifier | None:
        """Notifications to and from the other processes on the database (PostgreSQL); None where it has none."""
        return self.storage.notifier

    # -- plumbing ---------------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[tuple[Tx, TxData, _Work]]:
        work = _Work()
        with self.storage.write() as tx:
            yield tx, TxData(tx, self.program, self.clock()), work

    def _run(self, command: Callable[[Tx, TxData, _Work], Any]) -> Any:
        """Run ``command``: in a savepoint of the shared transaction under group commit, else in a transaction
        of its own; retried when a concurrent writer won a race."""
        group = self._group
        if group is not None:
            tx = group.current()
            if tx is not None:
                return self._run_in(tx, group, command)
            if not group.on_driver():
                try:
                    return group.submit(partial(self._run, command)).result()
                except GroupStopped:
                    pass  # stopped meanwhile: a transaction of its own
            # The driver between two rounds (a post-commit hook running a command): a transaction of its own.
        for attempt in range(RETRIES):
            try:
                with self._tx() as (tx, data, work):
                    result = command(tx, data, work)
                    self._relay(tx, work)
            except _Abort as abort:
                return abort.failure
            except _Conflict:
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            except (ConflictError, TransientError):
                if attempt == RETRIES - 1:
                    raise
                # e.g. two starts of one process on one record (the retry finds the winner), a busy
                # database, or the victim of a deadlock: the whole command runs again from the start.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            self._after_commit(work)
            return result
        raise RuntimeError("too much contention: the command lost its race 12 times")

    def _run_in(self, tx: Tx, group: GroupCommit, command: Callable[[Tx, TxData, _Work], Any]) -> Any:
        """Run ``command`` in a savepoint of the group's open transaction; its post-commit work waits for the
        commit. A lost race is run again at once (another process committed in between: nothing to wait for)."""
        for attempt in range(RETRIES):
            work = _Work()
            try:
                with tx.savepoint():
                    result = command(tx, TxData(tx, self.program, self.clock()), work)
                    self._relay(tx, work)
            except _Abort as abort:
                return abort.failure
            except _Conflict:
                continue
            except (ConflictError, TransientError) as exc:
                if isinstance(exc, TransientError) and group.shared:
                    # A deadlock's victim, or a lock that wasn't free: the commands before it hold their locks,
                    # so that a retry here would meet the same. The round is given up, each command run alone.
                    group.abandon()
                    raise
                if tx.lost or attempt == RETRIES - 1:
                    raise
                continue
            group.after_commit(partial(self._after_commit, work))
            return result
        raise RuntimeError("too much contention: the command lost its race 12 times")

    def _relay(self, tx: Tx, work: _Work) -> None:
        """Hand the command's events to :attr:`relay_in_tx`, if set, inside its transaction."""
        if self.relay_in_tx is not None and work.events:
            self.relay_in_tx(tx, publish_order(work.events))

    def _after_commit(self, work: _Work) -> None:
        for event in publish_order(work.events):
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:  # a subscriber's failure must not fail the command
                    log.exception("event listener failed")
        if self._hears_changes:
            for change in work.changes:
                for failure in self.registry.after_change(change):
                    log.warning("post-change hook failed: %s", failure)
        if work.due is not None or work.deliveries:
            for jobs_listener in list(self.job_listeners):
                try:
                    jobs_listener(work.due, work.deliveries)
                except Exception:  # a listener's failure must not fail the command
                    log.exception("jobs listener failed")

    def on_jobs(self, listener: JobsListener) -> Callable[[], None]:
        """Call ``listener(due, deliveries)`` after each commit that opened a visit with a due time (``due``, the
        earliest) or wrote webhooks to the outbox (``deliveries``, how many): what wakes the workers of
        ``bpf serve`` at once rather than at their next look. Returns the function that stops it."""
        self.job_listeners.append(listener)
        return lambda: self.job_listeners.remove(listener) if listener in self.job_listeners else None

    def subscribe(self, listener: Callable[[ProcessEvent], None]) -> Callable[[], None]:
        """Call ``listener`` with every event after its commit; returns the unsubscribe function."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def definition(self, tx: Tx, row: InstanceRow) -> ProcessDefinition:
        """The definition an instance runs on (its own version, not necessarily the newest)."""
        defn = self.versions.get(tx, row.process, row.definition_version)
        if defn is None:
            raise _Abort(TransitionFailure("INVALID", f"the version {row.definition_version} of {row.process} "
                                                      "can't be loaded; run `bpf instances upgrade`"))
        return defn

    def process(self, name: str) -> ProcessDefinition | None:
        """The current definition of a process."""
        return self.program.processes.get(name)

    def visible_processes(self, caller: Caller, entity: str | None = None) -> list[ProcessDefinition]:
        """The caller's processes, in process order."""
        procs = sorted(self.program.processes.values(), key=lambda p: (p.order, p.name))
        return [p for p in procs if caller.may_use(p.roles) and (entity is None or p.entity == entity)]

    # -- instances: starting and switching ---------------------------------------------------------------
    def _start_instance(self, tx: Tx, data: TxData, work: _Work, caller: Caller, defn: ProcessDefinition,
                        record_id: str, *, make_active: bool) -> InstanceRow:
        moved = start(defn, new_id(), record_id, data.now, data, caller.user, new_id=new_id)
        state = self._apply(tx, data, work, defn, moved, caller, None)
        row = row_of(state, defn, data.now)
        tx.insert_instance(row)
        self._log(tx, data, work, defn, moved, row)
        if make_active:
            tx.set_active_instance(record_id, row.id)
        return row

    def start_process(self, caller: Caller, record_id: str, process: str) -> InstanceRow | TransitionFailure:
        """Start ``process`` on a record; an existing instance of it is returned as it is."""
        return self._start_or_switch(caller, record_id, process, switch=False)

    def switch_process(self, caller: Caller, record_id: str, process: str) -> InstanceRow | TransitionFailure:
        """Make ``process`` the record's active instance (started if needed); the others keep their state."""
        return self._start_or_switch(caller, record_id, process, switch=True)

    def _start_or_switch(self, caller: Caller, record_id: str, process: str,
                         switch: bool) -> InstanceRow | TransitionFailure:
        defn = self.program.processes.get(process)
        if defn is None:
            return TransitionFailure("INVALID", f"no process {process!r}")
        if not caller.may_use(defn.roles):
            return TransitionFailure("FORBIDDEN", f"your roles don't allow the process {process}")

        def command(tx: Tx, data: TxData, work: _Work) -> InstanceRow:
            record = data.row(record_id, lock=True)
            if record is None or not self.access.readable(caller, record):
                raise _Abort(TransitionFailure("NOT_FOUND", f"no record {record_id}"))
            if record.entity == defn.entity:
                existing = next((i for i in tx.instances_of(record_id) if i.process == process), None)
            else:
                # Another record's instance whose stage reached this one (the lead's process on its
                # opportunity) is one of this record's processes too: switching back to it is allowed.
                existing = next((i for i in tx.instances_involving_many([record_id])[record_id]
                                 if i.process == process), None) if switch else None
                if existing is None:
                    raise _Abort(TransitionFailure("INVALID", f"{process} runs on {defn.entity} records, "
                                                              f"not {record.entity}"))
            if existing is None:
                existing = self._start_instance(tx, data, work, caller, defn, record_id,
                                                make_active=switch or record.active_instance_id is None)
            elif switch and record.active_instance_id != existing.id:
                tx.set_active_instance(record_id, existing.id)
            if switch and record.active_instance_id != existing.id:
                now = data.now
                tx.append_event(existing.id, "switched", existing.active_stage, now, caller.user, {})
                work.events.append(ProcessEvent("switched", existing.id, record_id, process, existing.active_stage,
                                                now, caller.user))
                work.changes.append(Change("switched", process, existing.id, record_id, None, existing.active_stage,
                                           existing.status, caller.user))
            return existing

        result: InstanceRow | TransitionFailure = self._run(command)
        return result

    # -- instances: moves -----------------------------------------------------------------------------
    def move_next(self, caller: Caller, instance_id: str, target_record_id: str | None = None,
                  expected_version: int | None = None) -> InstanceRow | TransitionFailure:
        """Next stage (API.md moveNext)."""
        return self.move(caller, instance_id, Next(target_record_id), expected_version)

    def move_previous(self, caller: Caller, instance_id: str,
                      expected_version: int | None = None) -> InstanceRow | TransitionFailure:
        """Previous stage of the traversed path."""
        return self.move(caller, instance_id, Previous(), expected_version)

    def set_active_stage(self, caller: Caller, instance_id: str, stage: str,
                         expected_version: int | None = None) -> InstanceRow | TransitionFailure:
        """Back to a stage of the traversed path."""
        return self.move(caller, instance_id, SetActive(stage), expected_version)

    def finish(self, caller: Caller, instance_id: str,
               expected_version: int | None = None) -> InstanceRow | TransitionFailure:
        """Finish on the last stage of the active path."""
        return self.move(caller, instance_id, Finish(), expected_version)

    def abandon(self, caller: Caller, instance_id: str,
                expected_version: int | None = None) -> InstanceRow | TransitionFailure:
        """Abandon from any stage."""
        return self.move(caller, instance_id, Abandon(), expected_version)

    def reactivate(self, caller: Caller, instance_id: str) -> InstanceRow | TransitionFailure:
        """Back to ACTIVE on the stage it had."""
        return self.move(caller, instance_id, Reactivate(), None)

    def run_action_step(self, caller: Caller, instance_id: str, step_name: str) -> InstanceRow | TransitionFailure:
        """Run an action step of the active stage."""
        return self.move(caller, instance_id, RunAction(step_name), None)

    def move(self, caller: Caller, instance_id: str, action: Action,
             expected_version: int | None) -> InstanceRow | TransitionFailure:
        """Any instance command, as one transaction."""

        def command(tx: Tx, data: TxData, work: _Work) -> InstanceRow:
            # The instance with its bound records, locked: what the gates, branches and hooks read and write.
            found = tx.get_instance_with_records(instance_id, lock=True)
            if found is None:
                raise _Abort(TransitionFailure("NOT_FOUND", f"no process instance {instance_id}"))
            row, bound = found
            for got in bound.values():
                data.remember(got, locked=True)
            record = data.row(row.record_id)
            current = self.program.processes.get(row.process)
            roles = current.roles if current is not None else ()
            if not caller.may_use(roles):
                raise _Abort(TransitionFailure("FORBIDDEN", f"your roles don't allow the process {row.process}"))
            if record is None or not self.access.readable(caller, record):
                # An instance of a record that doesn't exist for the caller doesn't either (before the version:
                # a conflict would tell it exists).
                raise _Abort(TransitionFailure("NOT_FOUND", f"no process instance {instance_id}"))
            if expected_version is not None and expected_version != row.version:
                raise _Abort(TransitionFailure(
                    "VERSION_CONFLICT", f"the instance is at version {row.version}, not {expected_version}",
                    current_version=row.version))
            defn = self.definition(tx, row)
            state = state_of(row, defn)
            leaving = _stage_left(defn, state, action)
            if leaving is not None and not leaving.may_leave(caller.roles):
                who = ", ".join(getattr(self.program.roles.get(r), "label", r) for r in leaving.roles)
                raise _Abort(TransitionFailure(
                    "FORBIDDEN", f"only {who} may move the instance out of the stage {leaving.label}",
                    current_version=row.version))
            if isinstance(action, Next) and action.target_record_id is not None:
                self._refuse_unseen_target(caller, data, defn, state, action.target_record_id)
            outcome = step(defn, state, action, data.now, data, caller.user, new_id=new_id)
            if isinstance(outcome, Refused):
                stage = defn.stages[state.active_stage]
                blocking = tuple(s for name in outcome.missing_steps for s in stage.steps if s.name == name)
                raise _Abort(TransitionFailure(str(outcome.code), outcome.message, outcome.missing_steps,
                                               row.version, outcome.unmet_gates, blocking))
            if not outcome.changed:
                return row
            try:
                new_state = self._apply(tx, data, work, defn, outcome, caller, state)
                new_row = row_of(new_state, defn, data.now, created_at=row.created_at)
                if not tx.update_instance(new_row, row.version, read=row):
                    raise _Conflict()
                self._log(tx, data, work, defn, outcome, new_row)
            except _Abort as abort:
                # A hook, an action or a veto refused: the instance stays at the version the caller can retry on.
                failure = abort.failure
                if isinstance(failure, TransitionFailure) and failure.current_version is None:
                    raise _Abort(replace(failure, current_version=row.version)) from None
                raise
            return new_row

        result: InstanceRow | TransitionFailure = self._run(command)
        return result

    def _refuse_unseen_target(self, caller: Caller, data: TxData, defn: ProcessDefinition, state: InstanceState,
                              target_id: str) -> None:
        """``moveNext``'s target record, when the caller may not read it, is refused as the engine refuses one
        that doesn't exist (the same code and words), so that a move can't tell it exists. Only a stage entered
        ``via`` a lookup reads a target at all (the engine ignores it elsewhere): that is the one to word it by."""
        target = data.row(target_id)
        if target is None or self.access.readable(caller, target):
            return
        following = next_stage(defn, state, data, data.now)
        if following is not None and following.via is not None:
            raise _Abort(TransitionFailure("INVALID", f"there is no {following.entity} record {target_id}",
                                           current_version=state.version))

    def _apply(self, tx: Tx, data: TxData, work: _Work, defn: ProcessDefinition, moved: Moved, caller: Caller,
               before: InstanceState | None) -> InstanceState:
        """Execute a step's effects in order, then ask the plugins whether the change may stand."""
        state = moved.state
        for effect in moved.effects:
            if isinstance(effect, CreateRecord):
                if not self.access.may_create(caller, effect.entity):  # the mover creates it: its grants count
                    raise _Abort(TransitionFailure("FORBIDDEN", f"your roles may not create {effect.entity} "
                                                                "records, which the next stage needs"))
                try:
                    self._insert_record(data, effect.entity, effect.values, enforce_locks=False,
                                        record_id=effect.temp_id, owner=caller.user)
                except _Abort as abort:
                    raise _Abort(_move_failure(abort.failure, f"the new {effect.entity} record")) from None
            elif isinstance(effect, SetField):
                row = data.row(effect.record_id, lock=True)
                if row is None:
                    continue  # the record was deleted: a hook's `set` on it has nothing to change
                try:
                    self._write(data, row, {effect.field: effect.value}, enforce_locks=False)
                except _Abort as abort:
                    raise _Abort(_move_failure(abort.failure, f"a hook's `set {effect.field}`")) from None
            elif isinstance(effect, CallAction):
                self._call(tx, data, work, effect, caller)
        for event in moved.events:
            if event.kind == "notification":
                continue
            from_stage = defn.stages[before.active_stage].name if before is not None else None
            change = Change(event.kind, defn.name, state.id, state.record_id, from_stage, event.stage, state.status,
                            caller.user)
            veto = self.registry.before_change(change) if self._hears_changes else None
            if veto:
                raise _Abort(TransitionFailure("CANCELLED", veto))
            work.changes.append(change)
        return state

    def _call(self, tx: Tx, data: TxData, work: _Work, effect: CallAction, caller: Caller) -> None:
        run = effect.action.run
        if run is None:
            raise _Abort(TransitionFailure("INVALID", f"the action {effect.action.dotted} has no implementation"))
        context = ActionContext(self, tx, data, work, effect, caller)
        try:
            run(context, **effect.arguments)
        except ActionFailed as exc:
            raise _Abort(TransitionFailure("CANCELLED", f"{effect.action.dotted}: {exc}")) from None

    def _log(self, tx: Tx, data: TxData, work: _Work, defn: ProcessDefinition, moved: Moved, row: InstanceRow) -> None:
        """The history (stage visits) and the status log; events queued for after commit."""
        now, by = data.now, moved.events[0].by if moved.events else SYSTEM.user
        for op in moved.visits:
            if op.kind == "close":
                tx.close_visit(row.id, now)
            elif op.kind == "reopen":
                tx.reopen_visit(row.id)
            else:
                stage = defn.stage(op.stage)
                entity = stage.entity if stage is not None else defn.entity
                record_id = dict(row.bound).get(entity, row.record_id)
                # A stage with an sla: the visit is due then, from its entry (a new visit, a new clock).
                due = None if stage is None or stage.sla_seconds is None else \
                    now + dt.timedelta(seconds=stage.sla_seconds)
                tx.open_visit(row.id, defn.name, op.stage, entity, record_id, now, by, due)
                if due is not None and (work.due is None or due < work.due):
                    work.due = due
                if record_id != row.record_id:
                    tx.link_record(record_id, row.id)
                    # As in D365, the record a stage of another entity opens shows the process that opened it
                    # (its bar is carried on there); the record's own processes keep their state (Switch Process).
                    # The move read that record already (it binds it): written only when it changes.
                    opened = data.row(record_id)
                    if opened is None or opened.active_instance_id != row.id:
                        tx.set_active_instance(record_id, row.id)
                        if opened is not None:
                            data.remember(replace(opened, active_instance_id=row.id), locked=True)
        for event in moved.events:
            if event.kind in ("started", "finished", "abandoned", "reactivated"):
                tx.append_event(row.id, event.kind, event.stage, now, event.by, {})
            work.events.append(ProcessEvent(event.kind, row.id, row.record_id, defn.name, event.stage, now, event.by))


class ActionContext(BaseActionContext):
    """What an action (built-in or plugin) may do inside the move's transaction."""

    def __init__(self, service: Service, tx: Tx, data: TxData, work: _Work, effect: CallAction,
                 caller: Caller) -> None:
        self._service = service
        self._tx = tx
        self._data = data
        self._work = work
        self.origin = effect.origin
        self.caller = caller

    @property
    def now(self) -> dt.datetime:
        """The moment of the move."""
        return self._data.now

    def notify(self, role: str, message: str) -> None:
        """Record a notification for the users of ``role`` (their inbox, the instance's notifications, its
        history) and publish it."""
        o = self.origin
        # An argument whose expression came out empty (a field left empty) is stored as empty text.
        add_notification(self._tx, o.instance_id, o.process, o.stage, _text(role), _text(message), self.now, o.by)
        self._tx.append_event(o.instance_id, "notification", o.stage, self.now, o.by,
                              {"role": role, "message": message})
        record_id = self._record_of_instance()
        self._work.events.append(ProcessEvent("notification", o.instance_id, record_id, o.process, o.stage, self.now,
                                              o.by, {"role": role, "message": message}))

    def webhook(self, url: str, event: str) -> None:
        """Put a POST of ``event`` to ``url`` in the outbox, in the move's transaction: sent once the move has
        committed, never if it rolls back (:mod:`bpf_dsl.service.outbox`). The body carries the instance's
        record with its values as they are at this point of the move."""
        o = self.origin
        record_id = self._record_of_instance()
        record = self._data.row(record_id) if record_id else None
        values = self._service.values_of(record) if record is not None else {}
        delivery_id = ordered_id()
        body = webhook_body(delivery_id, _text(event), self.now, instance_id=o.instance_id, process=o.process,
                            stage=o.stage, trigger=o.trigger, by=o.by, record_id=record_id,
                            entity=record.entity if record is not None else None, values=values)
        # An empty url (a field left empty) is written all the same: its delivery fails at its first attempt,
        # where an operator sees it (`bpf deliveries list`), rather than the move failing or nothing showing.
        add_delivery(self._tx, DeliveryRow(delivery_id, o.instance_id, o.process, o.stage, _text(url), _text(event),
                                           body, PENDING, 0, self.now, None, self.now, None))
        self._work.deliveries += 1

    def _record_of_instance(self) -> str:
        instance_id = self.origin.instance_id
        known = self._data.primaries.get(instance_id)
        if known is not None:
            return known
        row = self._tx.get_instance(instance_id)
        if row is None:  # an instance being started: not written yet, on its primary record
            return self.origin.record_id or ""
        self._data.primaries[instance_id] = row.record_id
        return row.record_id

    def record(self, record_id: str | None = None) -> Mapping[str, Any] | None:
        """The values of a record (default: the one the action's stage works on)."""
        rid = record_id or self.origin.record_id
        if rid is None:
            return None
        row = self._data.row(rid)
        return None if row is None else self._data.values(row.entity, rid)

    def update(self, record_id: str, values: Mapping[str, Any]) -> None:
        """Change fields of a record (Python values; rules and validation apply)."""
        row = self._data.row(record_id, lock=True)
        if row is None:
            raise ActionFailed(f"no record {record_id}")
        self._service._write(self._data, row, values, enforce_locks=False)

    def create(self, entity: str, values: Mapping[str, Any], *, start_process: bool = True) -> str:
        """Create a record (Python values; defaults, rules and validation apply); returns its id.

        Like ``createRecord``, the record gets the entity's default process (the lowest order
        among the caller's) unless ``start_process`` is False: a lead handed over from
        marketing shows up in the sales process bar at once.
        """
        if entity not in self._service.program.entities:
            raise ActionFailed(f"unknown entity {entity}")
        row = self._service._insert_record(self._data, entity, values, enforce_locks=False, owner=self.caller.user)
        if start_process:
            mine = self._service.visible_processes(self.caller, entity)
            if mine:
                self._service._start_instance(self._tx, self._data, self._work, self.caller, mine[0], row.id,
                                              make_active=True)
        return row.id


def _stage_left(defn: ProcessDefinition, state: InstanceState, action: Action) -> StageDef | None:
    """The stage ``action`` would move an active instance out of, when that stage's ``roles`` govern it.

    Stage roles limit what LANGUAGE.md names: moving forward, back (``movePrevious``, ``setActiveStage`` to
    another stage) and finishing there. Abandon, reactivate, switching and action steps are the process
    roles' (docs/decisions.md). A finished or aborted instance is left to the engine: NOT_ACTIVE says more.
    """
    if not state.is_active:
        return None
    stage = defn.stages[state.active_stage]
    if not stage.roles:
        return None
    if isinstance(action, Next | Previous | Finish):
        return stage
    if isinstance(action, SetActive) and action.stage != stage.name:
        return stage
    return None


def _text(value: object) -> str:
    """An action's text argument as stored: empty (None) as empty text."""
    return "" if value is None else str(value)


def _move_failure(failure: TransitionFailure | ValidationFailure, what: str) -> TransitionFailure:
    if isinstance(failure, TransitionFailure):
        return failure
    details = "; ".join(f"{e.field + ': ' if e.field else ''}{e.message}" for e in failure.field_errors)
    return TransitionFailure("INVALID", f"{what} can't be saved: {details or failure.message}")
