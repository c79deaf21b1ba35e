"""The durable timed work in storage (bpf_dsl/storage/jobs.py): due visits, notifications, the webhook outbox.

Both backends, the same test code; where writers run concurrently (PostgreSQL) two
transactions claiming at once each get their own rows (``FOR UPDATE ... SKIP LOCKED``),
and where the database takes one writer at a time (SQLite) the second waits for the
first's write lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from bpf_dsl.storage import Storage
from bpf_dsl.storage.jobs import (
    DeliveryRow,
    add_delivery,
    add_notification,
    claim_deliveries,
    claim_due_visits,
    count_deliveries,
    deliveries_of,
    get_instances,
    last_visit_timers,
    mark_attempt_failed,
    mark_delivered,
    mark_overdue,
    next_delivery,
    next_due,
    notifications_for,
    notifications_of,
    retry_deliveries,
)
from tests.storage.test_contract import NOW, instance, record


def _seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


def _instances(storage: Storage, count: int, due_in: float | None = 10) -> list[str]:
    """``count`` instances, each with one open visit due ``due_in`` seconds after NOW (None: no sla)."""
    ids = []
    with storage.write() as tx:
        for _ in range(count):
            rec = record()
            tx.insert_record(rec)
            inst = instance(rec.id)
            tx.insert_instance(inst)
            tx.open_visit(inst.id, "p", "a", "lead", rec.id, NOW, "ann",
                          None if due_in is None else NOW + _seconds(due_in))
            ids.append(inst.id)
    return ids


def test_due_visits_are_claimed_once_due_and_leave_when_fired_or_closed(storage: Storage) -> None:
    fired, closed, waiting = _instances(storage, 3)
    plain = _instances(storage, 1, due_in=None)[0]
    with storage.read() as tx:
        assert next_due(tx) == NOW + _seconds(10)
        timers = last_visit_timers(tx, [fired, plain])
        assert timers[fired].due_at == NOW + _seconds(10) and timers[fired].open
        assert timers[plain].due_at is None and timers[plain].overdue_at is None
        [visit] = tx.visits(fired)
        assert visit.due_at == NOW + _seconds(10) and visit.overdue_at is None
    with storage.write() as tx:
        assert claim_due_visits(tx, NOW + _seconds(9), 10) == []
        tx.close_visit(closed, NOW + _seconds(5))
        due = claim_due_visits(tx, NOW + _seconds(10), 10)
        assert sorted(v.instance_id for v in due) == sorted([fired, waiting])
        assert {v.stage for v in due} == {"a"} and {v.due_at for v in due} == {NOW + _seconds(10)}
        mark_overdue(tx, next(v.id for v in due if v.instance_id == fired), NOW + _seconds(11))
    with storage.write() as tx:
        assert [v.instance_id for v in claim_due_visits(tx, NOW + _seconds(60), 10)] == [waiting]
    with storage.read() as tx:
        assert last_visit_timers(tx, [fired])[fired].overdue_at == NOW + _seconds(11)
        assert not last_visit_timers(tx, [closed])[closed].open
        assert [v.overdue_at for v in tx.visits(fired)] == [NOW + _seconds(11)]


def test_two_transactions_claiming_at_once_get_different_visits(storage: Storage) -> None:
    _instances(storage, 3)
    first, second = storage.session(), storage.session()
    try:
        a = first.begin()
        assert a is not None
        taken = claim_due_visits(a, NOW + _seconds(60), 2)
        assert len(taken) == 2
        if storage.backend.skip_locked:
            b = second.begin()
            assert b is not None
            rest = claim_due_visits(b, NOW + _seconds(60), 10)  # skips the two the first holds; doesn't wait
            assert len(rest) == 1 and rest[0].id not in {v.id for v in taken}
            second.rollback()
        else:
            assert second.begin(wait=False) is None  # one writer at a time: the claim is the write lock's
        for visit in taken:
            mark_overdue(a, visit.id, NOW + _seconds(60))
        first.commit()
        b = second.begin()
        assert b is not None
        assert len(claim_due_visits(b, NOW + _seconds(60), 10)) == 1  # the fired ones are gone for good
        second.rollback()
    finally:
        first.close()
        second.close()


def test_notifications_by_role_process_and_instance(storage: Storage) -> None:
    one, two = _instances(storage, 2)
    with storage.write() as tx:
        add_notification(tx, one, "p", "a", "boss", "first", NOW, "ann")
        add_notification(tx, two, "p", "a", "agent", "second", NOW + _seconds(1), "bpf")
        add_notification(tx, one, "q", None, "boss", "third", NOW + _seconds(2), "ann")
        add_notification(tx, "gone", "p", "a", "boss", "of no instance", NOW, "ann")
    with storage.read() as tx:
        assert [n.message for n in notifications_for(tx, None, None, 10)] == ["third", "second", "first"]
        assert [n.message for n in notifications_for(tx, ["boss"], None, 10)] == ["third", "first"]
        assert [n.message for n in notifications_for(tx, ["boss"], ["p"], 10)] == ["first"]
        assert [n.message for n in notifications_for(tx, ["boss", "agent"], None, 2)] == ["third", "second"]
        assert notifications_for(tx, [], None, 10) == [] and notifications_for(tx, ["boss"], [], 10) == []
        found = notifications_of(tx, [one, two])
        assert [(n.message, n.stage, n.at, n.by) for n in found[one]] == [("first", "a", NOW, "ann"),
                                                                           ("third", None, NOW + _seconds(2), "ann")]
        assert [n.role for n in found[two]] == ["agent"]
        assert set(get_instances(tx, [one, two, "gone"])) == {one, two}


def _delivery(instance_id: str, url: str = "http://127.0.0.1:9/h") -> DeliveryRow:
    return DeliveryRow(str(uuid.uuid4()), instance_id, "p", "a", url, "e", '{"x":1}', "pending", 0, NOW, None, NOW,
                       None)


def test_deliveries_are_leased_counted_and_settled(storage: Storage) -> None:
    [inst] = _instances(storage, 1)
    first, second = _delivery(inst), _delivery(inst)
    with storage.write() as tx:
        add_delivery(tx, first)
        add_delivery(tx, dataclasses.replace(second, next_at=NOW + _seconds(5)))
    with storage.read() as tx:
        assert next_delivery(tx) == NOW
    lease = NOW + _seconds(25)
    with storage.write() as tx:
        [claimed] = claim_deliveries(tx, NOW, 10, lease)
    assert (claimed.id, claimed.attempts, claimed.next_at, claimed.body) == (first.id, 1, lease, '{"x":1}')
    with storage.write() as tx:
        assert [d.id for d in claim_deliveries(tx, NOW + _seconds(6), 10, lease)] == [second.id]
        assert claim_deliveries(tx, NOW + _seconds(24), 10, lease) == []  # both leased
        assert mark_attempt_failed(tx, first.id, 1, "HTTP 500", NOW + _seconds(30))
        assert not mark_attempt_failed(tx, first.id, 7, "an old attempt", None)  # not the latest: ignored
        assert mark_delivered(tx, second.id, NOW + _seconds(7))
        assert not mark_delivered(tx, second.id, NOW + _seconds(8))  # once
    with storage.write() as tx:
        [again] = claim_deliveries(tx, NOW + _seconds(30), 10, NOW + _seconds(55))
        assert (again.id, again.attempts, again.last_error) == (first.id, 2, "HTTP 500")
        assert mark_attempt_failed(tx, first.id, 2, "HTTP 503", None)
    with storage.read() as tx:
        assert count_deliveries(tx) == {"failed": 1, "delivered": 1}
        assert next_delivery(tx) is None
        got = {d.id: d for d in deliveries_of(tx, [inst])[inst]}
        assert (got[first.id].status, got[first.id].last_error) == ("failed", "HTTP 503")
        assert (got[second.id].status, got[second.id].delivered_at) == ("delivered", NOW + _seconds(7))
    with storage.write() as tx:
        assert retry_deliveries(tx, None, NOW + _seconds(60)) == [first.id]
        assert retry_deliveries(tx, [second.id], NOW + _seconds(60)) == []  # delivered: never again
    with storage.read() as tx:
        back = {d.id: d for d in deliveries_of(tx, [inst])[inst]}[first.id]
        assert (back.status, back.attempts, back.next_at) == ("pending", 0, NOW + _seconds(60))


def test_two_transactions_claiming_deliveries_at_once_get_different_ones(storage: Storage) -> None:
    [inst] = _instances(storage, 1)
    with storage.write() as tx:
        for _ in range(3):
            add_delivery(tx, _delivery(inst))
    if not storage.backend.skip_locked:
        return  # one writer at a time (SQLite): the test above covers it
    first, second = storage.session(), storage.session()
    try:
        a, b = first.begin(), second.begin()
        assert a is not None and b is not None
        taken = claim_deliveries(a, NOW, 2, NOW + _seconds(25))
        rest = claim_deliveries(b, NOW, 10, NOW + _seconds(25))
        assert len(taken) == 2 and len(rest) == 1 and rest[0].id not in {d.id for d in taken}
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
