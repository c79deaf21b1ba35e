"""Timed work in the service, on a clock the test moves: SLAs and `on overdue`, notifications, the webhook outbox.

A visit of a stage with an `sla` is due at its entry plus the sla; `Timers.fire_due`
fires the visits due by the service's clock, each once, as the user `bpf`, and publishes
an `overdue` event. `bpf.notify` stores a notification in the move's transaction;
`bpf.webhook` writes a delivery to the outbox in it. Both backends; the HTTP side of
deliveries is in tests/server/test_jobs_server.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.plugins import ActionFailed, ActionSpec, Param, Registry, hookimpl
from bpf_dsl.service import (
    Attempt,
    Caller,
    DeliveryPolicy,
    Outbox,
    ProcessEvent,
    Service,
    Timers,
    TransitionFailure,
)
from bpf_dsl.service.bulk import import_batch
from bpf_dsl.storage import InstanceRow

from .conftest import ADMIN, Clock, OpenSvc, events_of, ok

MODEL = """
role agent
role boss
entity ticket {
    title: text required
    escalated: bool
    mode: text
}
process support on ticket {
    roles agent
    stage triage {
        step title
        sla 2s
        on overdue {
            set escalated = true
            call bpf.notify(role: "boss", message: "triage of " + title + " is late")
            call bpf.webhook(url: "http://127.0.0.1:9/late", event: "triage_late")
            call acme.check(mode: mode)
        }
    }
    stage resolve {
        step title
        on enter {
            call bpf.webhook(url: "http://127.0.0.1:9/resolving", event: "resolving")
            call acme.check(mode: mode)
        }
    }
}
"""

AGENT = Caller("ann", frozenset({"agent"}))
BOSS = Caller("bob", frozenset({"boss", "agent"}))
OUTSIDER = Caller("eve", frozenset({"boss"}))  # the role, but not the process's


class Acme:
    """A pack whose action refuses or breaks when the record's `mode` says so."""

    @hookimpl
    def bpf_actions(self) -> list[ActionSpec]:
        return [ActionSpec("acme", "check", (Param("mode", "text", required=False),), self.check)]

    def check(self, context: Any, mode: str | None = None) -> None:
        if mode == "refuse":
            raise ActionFailed("refused")
        if mode == "crash":
            raise RuntimeError("the action broke")


def _registry() -> Registry:
    return Registry([("acme", "1", Acme())], entry_points=False)


_PROGRAM: list[Any] = []


def _svc(open_svc: OpenSvc) -> Service:
    if not _PROGRAM:
        _PROGRAM.append(bpf_dsl.load_source(MODEL, registry=_registry()))
    return open_svc(_PROGRAM[0], _registry())


def _ticket(svc: Service, title: str = "Printer", **values: Any) -> InstanceRow:
    record = ok(svc.create_record(AGENT, "ticket", {"title": title, **values}))
    return svc.instances_of(AGENT, record.id)[0]


def _visits(svc: Service, row: InstanceRow) -> list[tuple[str, bool, bool]]:
    """(stage, has a due time, fired) of each visit."""
    return [(v.stage_name, v.due_at is not None, v.overdue_at is not None) for v in svc.history(row)]


def test_an_overdue_visit_fires_once(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    heard: list[ProcessEvent] = []
    svc.subscribe(heard.append)
    timers = Timers(svc)
    row = _ticket(svc)
    entered = clock.now
    assert timers.next_due() == entered + _seconds(2)
    [visit] = svc.history(row)
    assert visit.due_at == entered + _seconds(2) and visit.overdue_at is None
    assert svc.timers([row])[0].due_at == entered + _seconds(2) and not svc.timers([row])[0].overdue
    clock.advance(1.9)
    assert timers.fire_due() == 0  # not yet
    clock.advance(0.2)
    heard.clear()
    assert timers.fire_due() == 1
    assert timers.fire_due() == 0  # once
    assert timers.next_due() is None
    after = ok(svc.get_instance(AGENT, row.id))
    assert after.version == row.version + 1 and after.active_stage == "triage"
    [visit] = svc.history(after)
    assert visit.overdue_at == clock.now and visit.exited_at is None
    timer = svc.timers([after])[0]
    assert timer.overdue and timer.overdue_at == clock.now
    # The hook ran as `bpf`: its set, its notification, its webhook; the event came first.
    record = svc.get_record(ADMIN, row.record_id)
    assert record is not None and record.values["escalated"] is True
    assert [(e.kind, e.by) for e in heard] == [("overdue", "bpf"), ("notification", "bpf")]
    assert heard[0].stage == "triage" and heard[0].data["dueAt"] == "2026-03-02T09:00:02.000000Z"
    [note] = svc.notifications_of([after])[0]
    assert (note.role, note.message, note.stage, note.by) == ("boss", "triage of Printer is late", "triage", "bpf")
    [delivery] = svc.deliveries_of([after])[0]
    assert (delivery.event, delivery.status, delivery.attempts) == ("triage_late", "pending", 0)
    assert ("overdue", "triage", "bpf") in [(k, s, b) for k, s, b, _ in events_of(svc, row.id)]


def test_leaving_before_the_due_time_fires_nothing(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    timers = Timers(svc)
    row = _ticket(svc)
    clock.advance(1)
    row = ok(svc.move_next(AGENT, row.id))
    clock.advance(10)
    assert timers.next_due() is None
    assert timers.fire_due() == 0
    assert _visits(svc, row) == [("triage", True, False), ("resolve", False, False)]
    assert svc.timers([row])[0].due_at is None
    assert svc.notifications_of([row]) == [[]]


def test_coming_back_starts_a_new_clock(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    timers = Timers(svc)
    row = _ticket(svc)
    clock.advance(1.5)
    row = ok(svc.move_next(AGENT, row.id))
    clock.advance(1)  # the first visit would have been due now
    row = ok(svc.move_previous(AGENT, row.id))
    back = clock.now
    assert svc.timers([row])[0].due_at == back + _seconds(2)
    clock.advance(1.5)
    assert timers.fire_due() == 0
    clock.advance(1)
    assert timers.fire_due() == 1
    assert _visits(svc, row) == [("triage", True, False), ("resolve", False, False), ("triage", True, True)]


@pytest.mark.parametrize("mode", ["refuse", "crash"])
def test_a_failing_overdue_hook_is_rolled_back_and_the_visit_still_fires(open_svc: OpenSvc, clock: Clock,
                                                                         mode: str) -> None:
    svc = _svc(open_svc)
    heard: list[ProcessEvent] = []
    svc.subscribe(heard.append)
    row = _ticket(svc, mode=mode)
    clock.advance(3)
    heard.clear()
    assert Timers(svc).fire_due() == 1
    assert [e.kind for e in heard] == ["overdue"]
    assert "error" in heard[0].data
    record = svc.get_record(ADMIN, row.record_id)
    assert record is not None and record.values.get("escalated") is None  # the hook's set rolled back with it
    after = ok(svc.get_instance(AGENT, row.id))
    assert svc.notifications_of([after]) == [[]] and svc.deliveries_of([after]) == [[]]
    assert svc.timers([after])[0].overdue
    assert Timers(svc).fire_due() == 0


def test_finished_and_moved_on_instances_have_no_due_time(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    row = _ticket(svc)
    row = ok(svc.abandon(AGENT, row.id))
    assert svc.timers([row])[0].due_at is None
    clock.advance(5)
    assert Timers(svc).fire_due() == 0
    row = ok(svc.reactivate(AGENT, row.id))  # the visit reopened keeps its clock: past due, it fires
    assert Timers(svc).fire_due() == 1


def test_two_services_on_one_database_fire_each_visit_once(open_svc: OpenSvc, clock: Clock) -> None:
    first, second = _svc(open_svc), _svc(open_svc)
    rows = [_ticket(first, f"T{i}") for i in range(40)]
    clock.advance(3)
    fired = [0, 0]
    start = threading.Barrier(4)

    def fire(svc: Service, slot: int) -> None:
        start.wait()
        while True:
            n = Timers(svc).fire_due(limit=3)
            fired[slot] += n
            if n == 0 and Timers(svc).next_due() is None:
                return

    threads = [threading.Thread(target=fire, args=(svc, i % 2)) for i, svc in enumerate([first, second] * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(fired) == 40
    notes = first.notifications_of(rows)
    assert [len(n) for n in notes] == [1] * 40
    assert [len(d) for d in first.deliveries_of(rows)] == [1] * 40
    for row in rows:
        assert [k for k, *_ in events_of(first, row.id)].count("overdue") == 1


def test_notifications_are_stored_for_their_role(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    rows = [_ticket(svc, f"T{i}") for i in range(3)]
    clock.advance(3)
    assert Timers(svc).fire_due() == 3
    mine = svc.notifications(BOSS)
    assert [n.message for n in mine] == ["triage of T2 is late", "triage of T1 is late", "triage of T0 is late"]
    assert [n.instance_id for n in mine] == [r.id for r in reversed(rows)]
    assert [n.message for n in svc.notifications(BOSS, first=1)] == ["triage of T2 is late"]
    assert svc.notifications(AGENT) == []  # not for its role
    assert svc.notifications(OUTSIDER) == []  # its role, but a process it may not see
    assert len(svc.notifications(ADMIN)) == 3
    with pytest.raises(ValueError):
        svc.notifications(BOSS, first=501)


def test_a_webhook_is_written_in_the_moves_transaction(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    row = _ticket(svc)
    moved = ok(svc.move_next(AGENT, row.id))
    [delivery] = svc.deliveries_of([moved])[0]
    assert (delivery.url, delivery.event, delivery.stage, delivery.status) == \
        ("http://127.0.0.1:9/resolving", "resolving", "resolve", "pending")
    body = json.loads(delivery.body)
    assert body["id"] == delivery.id and body["event"] == "resolving" and body["trigger"] == "enter"
    assert body["instance"] == {"id": row.id, "process": "support"} and body["by"] == "ann"
    assert body["record"]["id"] == row.record_id and body["record"]["values"]["title"] == "Printer"
    # A move that rolls back (its action refuses after the webhook was written) sends nothing.
    other = _ticket(svc, "Fax", mode="refuse")
    refused = svc.move_next(AGENT, other.id)
    assert isinstance(refused, TransitionFailure) and refused.code == "CANCELLED"
    assert svc.deliveries_of([other]) == [[]]
    assert Outbox(svc).counts() == {"pending": 1}


def test_outbox_attempts_backoff_failure_and_retry(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    policy = DeliveryPolicy(timeout=1, attempts=3, backoff=10)
    outbox = Outbox(svc, policy, secret="")
    row = ok(svc.move_next(AGENT, _ticket(svc).id))
    assert outbox.next_due() == clock.now
    [claimed] = outbox.claim(10)
    assert claimed.attempts == 1
    assert outbox.claim(10) == []  # leased to the first claim
    assert outbox.record(claimed, Attempt(False, "HTTP 500")) == "pending"
    [pending] = svc.deliveries_of([row])[0]
    assert pending.last_error == "HTTP 500" and pending.attempts == 1
    assert clock.now + _seconds(5) <= pending.next_at <= clock.now + _seconds(10)  # backoff 10 s, half jittered
    assert outbox.claim(10) == []
    clock.advance(10)
    [second] = outbox.claim(10)
    assert outbox.record(second, Attempt(False, "timed out")) == "pending"
    clock.advance(20)
    [third] = outbox.claim(10)
    assert third.attempts == 3
    assert outbox.record(claimed, Attempt(False, "late")) == "unchanged"  # an old attempt's outcome is ignored
    assert outbox.record(third, Attempt(False, "HTTP 503")) == "failed"
    assert outbox.next_due() is None
    assert [d.status for d in outbox.recent("failed")] == ["failed"]
    assert outbox.retry() == [third.id]
    [again] = outbox.claim(10)
    assert again.attempts == 1
    assert outbox.record(again, Attempt(True, status=204)) == "delivered"
    [done] = svc.deliveries_of([row])[0]
    assert (done.status, done.delivered_at, done.last_error) == ("delivered", clock.now, None)
    assert outbox.retry([done.id]) == []  # delivered: nothing to send again


def test_a_lease_runs_out_and_the_delivery_is_claimed_again(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    outbox = Outbox(svc, DeliveryPolicy(timeout=1), secret="")
    ok(svc.move_next(AGENT, _ticket(svc).id))
    [claimed] = outbox.claim(10)
    clock.advance(outbox.policy.lease + 1)  # its server died while sending
    [again] = outbox.claim(10)
    assert again.id == claimed.id and again.attempts == 2


def test_a_url_that_can_never_work_fails_at_once(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    outbox = Outbox(svc, DeliveryPolicy(timeout=1), secret="")
    ok(svc.move_next(AGENT, _ticket(svc).id))
    [claimed] = outbox.claim(10)
    attempt = outbox.send(dataclasses.replace(claimed, url="ftp://example.com/x"))
    assert attempt.final and not attempt.delivered and "http" in (attempt.error or "")
    assert outbox.record(claimed, attempt) == "failed"


def test_an_import_into_a_stage_with_an_sla_sets_due_times(open_svc: OpenSvc, clock: Clock) -> None:
    svc = _svc(open_svc)
    problems = import_batch(svc, AGENT, "ticket", [(1, {"title": "A"}), (2, {"title": "B"})], start_process=True)
    assert problems == []
    clock.advance(3)
    assert Timers(svc).fire_due() == 2


def _seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)
