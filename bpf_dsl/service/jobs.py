"""The service's timed work: visits past their stage's sla (:class:`Timers`) and the webhook outbox (:class:`Outbox`).

Both are commands of the service like any other: each call is one unit of work (a
transaction of its own, or a savepoint of a group commit's round), retried on a lost
race. Whoever drives them (``bpf serve``: :mod:`bpf_server.jobs`) says when; several
servers on one database may drive them at once: every due row is claimed by one
transaction (``FOR UPDATE ... SKIP LOCKED`` on PostgreSQL, the write lock on SQLite,
:mod:`bpf_dsl.storage.jobs`), so each visit fires once and each attempt is made once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import replace

from bpf_dsl.engine.overdue import overdue
from bpf_dsl.errors import ConflictError, TransientError
from bpf_dsl.service.core import Service, _Abort, _Conflict, _Work
from bpf_dsl.service.data import TxData
from bpf_dsl.service.outbox import SECRET_ENV, Attempt, DeliveryPolicy, post
from bpf_dsl.service.results import Caller, ProcessEvent
from bpf_dsl.service.rows import state_of
from bpf_dsl.storage import Tx
from bpf_dsl.storage.jobs import (
    DeliveryRow,
    DueVisit,
    claim_deliveries,
    claim_due_visits,
    count_deliveries,
    list_deliveries,
    mark_attempt_failed,
    mark_delivered,
    mark_overdue,
    next_delivery,
    next_due,
    retry_deliveries,
)

log = logging.getLogger("bpf.service.jobs")

#: Who runs ``on overdue`` (LANGUAGE.md: "as the user `bpf`"): no person moved the instance; time did.
BPF = Caller("bpf", frozenset({"admin"}))
#: The most visits one call of :meth:`Timers.fire_due` fires (one unit of work: a bound on how long it holds
#: its locks and keeps a group commit's other commands waiting).
FIRE_BATCH = 32


def _moment(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Timers:
    """Fires ``on overdue`` for the visits past their stage's sla, once per visit."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def next_due(self) -> dt.datetime | None:
        """When the next open visit passes its sla (None: no visit is waiting for one)."""
        with self.service.storage.read() as tx:
            return next_due(tx)

    def fire_due(self, limit: int = FIRE_BATCH) -> int:
        """Fire the visits due now (the service's clock), up to ``limit``, oldest due first, in one unit of work;
        how many fired. For each: its stage's ``on overdue`` runs as the user ``bpf`` (in a savepoint of its
        own: a hook that fails is rolled back alone, logged, and the visit still counts as overdue), the visit
        is marked, the instance's version goes up, and an ``overdue`` event is logged and, after the commit,
        published. A visit another server is firing (or a move holds) is left to it."""

        def command(tx: Tx, data: TxData, work: _Work) -> int:
            return sum(self._fire(tx, data, work, visit) for visit in claim_due_visits(tx, data.now, limit))

        fired: int = self.service._run(command)
        return fired

    def _fire(self, tx: Tx, data: TxData, work: _Work, visit: DueVisit) -> bool:
        svc, now = self.service, data.now
        row = tx.get_instance(visit.instance_id)  # locked by the claim, where rows are locked
        if row is None:
            return False
        if row.status != "active" or row.active_stage != visit.stage:
            # An open visit its instance has left (only a hand-made database has one): out of the timers, quietly.
            mark_overdue(tx, visit.id, now)
            return False
        error: str | None = None
        hook = _Work()
        defn = svc.versions.get(tx, row.process, row.definition_version)
        stage = defn.stage(visit.stage) if defn is not None else None
        if defn is None:
            error = f"the version {row.definition_version} of {row.process} can't be loaded"
        elif stage is not None and stage.on_overdue:
            try:
                with tx.savepoint():
                    state = state_of(row, defn)
                    hook_data = TxData(tx, svc.program, now)  # its reads and writes go with it if it fails
                    hook_data.primaries[row.id] = row.record_id
                    svc._apply(tx, hook_data, hook, defn, overdue(defn, state, now, hook_data, BPF.user), BPF, state)
            except _Abort as abort:
                error = abort.failure.message
            except (_Conflict, ConflictError, TransientError):
                raise  # the whole unit runs again
            except Exception as exc:
                if tx.lost:
                    raise
                log.exception("on overdue of %s failed", visit.stage)
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            log.warning("on overdue of the stage %s of the instance %s: %s", visit.stage, row.id, error)
            hook = _Work()  # rolled back: nothing of it to publish
        # Its overdue and its history changed: a kept answer that read the instance is stale now.
        if not tx.update_instance(replace(row, version=row.version + 1, updated_at=now), row.version, read=row):
            raise _Conflict()
        mark_overdue(tx, visit.id, now)
        info = {"dueAt": _moment(visit.due_at)} | ({"error": error} if error is not None else {})
        tx.append_event(row.id, "overdue", visit.stage, now, BPF.user, info)
        work.events.append(ProcessEvent("overdue", row.id, row.record_id, row.process, visit.stage, now, BPF.user,
                                        info))
        work.merge(hook)
        return True


class Outbox:
    """The webhook outbox: claims of due deliveries, one attempt each, and their outcomes."""

    def __init__(self, service: Service, policy: DeliveryPolicy | None = None, secret: str | None = None) -> None:
        self.service = service
        self.policy = policy or DeliveryPolicy.from_env()
        #: The signing secret (``BPF_WEBHOOK_SECRET`` unless given; empty: deliveries are not signed).
        self.secret = os.environ.get(SECRET_ENV, "") if secret is None else secret

    def next_due(self) -> dt.datetime | None:
        """When the next pending delivery is due (None: nothing is pending)."""
        with self.service.storage.read() as tx:
            return next_delivery(tx)

    def claim(self, limit: int) -> list[DeliveryRow]:
        """Up to ``limit`` deliveries due now, each counted as one more attempt and held for this caller for
        :attr:`DeliveryPolicy.lease` seconds (then another server may send it again)."""

        def command(tx: Tx, data: TxData, work: _Work) -> list[DeliveryRow]:
            lease = data.now + dt.timedelta(seconds=self.policy.lease)
            return claim_deliveries(tx, data.now, limit, lease)

        claimed: list[DeliveryRow] = self.service._run(command)
        return claimed

    def send(self, delivery: DeliveryRow) -> Attempt:
        """One POST of a claimed delivery (no transaction is open meanwhile); never raises."""
        return post(delivery.id, delivery.url, delivery.body, delivery.event, delivery.attempts, self.policy,
                    self.secret or None)

    def record(self, delivery: DeliveryRow, attempt: Attempt) -> str:
        """Write the outcome of the attempt ``delivery.attempts``: delivered; or pending again after a backoff;
        or failed, after the last attempt (or one that can never succeed). Returns the status written (the
        delivery's own status if another attempt or an operator changed it meanwhile: then nothing is)."""
        policy = self.policy

        def command(tx: Tx, data: TxData, work: _Work) -> str:
            if attempt.delivered:
                return "delivered" if mark_delivered(tx, delivery.id, data.now) else "unchanged"
            last = attempt.final or delivery.attempts >= policy.attempts
            retry_at = None if last else data.now + dt.timedelta(seconds=policy.retry_delay(delivery.attempts))
            changed = mark_attempt_failed(tx, delivery.id, delivery.attempts, attempt.error or "failed", retry_at)
            if changed and retry_at is not None:
                work.deliveries += 1  # wakes the deliverer for the next attempt (it looks at the due time)
            return ("failed" if last else "pending") if changed else "unchanged"

        status: str = self.service._run(command)
        return status

    def deliver(self, delivery: DeliveryRow) -> str:
        """:meth:`send`, then :meth:`record` (blocking: for scripts and tests; the server sends in threads)."""
        return self.record(delivery, self.send(delivery))

    def retry(self, ids: Sequence[str] | None = None) -> list[str]:
        """Send again from now, with a fresh count of attempts: every failed delivery (``ids`` None) or those of
        ``ids`` not delivered yet. Returns the ids set to pending."""

        def command(tx: Tx, data: TxData, work: _Work) -> list[str]:
            chosen = retry_deliveries(tx, ids, data.now)
            work.deliveries += len(chosen)
            return chosen

        retried: list[str] = self.service._run(command)
        return retried

    def recent(self, status: str | None = None, first: int = 50) -> list[DeliveryRow]:
        """The newest ``first`` deliveries (of one status, or all), newest first."""
        with self.service.storage.read() as tx:
            return list_deliveries(tx, status, first)

    def counts(self) -> dict[str, int]:
        """How many deliveries there are of each status."""
        with self.service.storage.read() as tx:
            return count_deliveries(tx)
