"""The service pack's processes walked through the service layer: SLA rules, escalation, work orders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bpf_dsl.service import Service

from .helpers import ADMIN, T0, Clock, OpenSvc, Walk, invalid, ok, records, refused

D0 = T0.date()


def day(n: int) -> str:
    return (D0 + dt.timedelta(days=n)).isoformat()


def customer(svc: Service, level: str = "standard") -> str:
    row = ok(svc.create_record(ADMIN, "customer", {"name": "Contoso Pharmaceuticals", "service_level": level}))
    return str(row.id)


def new_case(svc: Service, process: str | None = None, **values: Any) -> Walk:
    case = ok(svc.create_record(ADMIN, "case", {"title": "Data sync fails every night", **values}, process=process))
    return Walk(svc, case, process)


def test_phone_to_case_with_escalation(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc, contact_name="Raj Patel")
    assert (w.row.process, w.stage) == ("phone_to_case", "identify")  # the default process on case
    case = w.values()
    assert (case["opened_on"], case["follow_up_by"], case["status"]) == (day(0), day(5), "active")  # normal: 5 days
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["case_type", "customer"]
    w.fill({"customer": customer(svc, "enterprise"), "case_type": "problem"})
    assert w.bar()["priority"]["recommendation"] == "Enterprise customers get at least high priority"
    ok(w.next())

    assert w.stage == "research"
    assert w.path() == ["identify", "research", "resolve"]
    assert w.bar()["escalated"]["recommendation"] is None
    ok(w.run("escalate"))  # escalated, one priority level up, the follow-up date recomputed, managers told
    case = w.values()
    assert (case["escalated"], case["priority"], case["follow_up_by"]) == (True, "high", day(2))
    assert case["escalation_reason"] == "Escalated by the agent during research"
    assert w.notifications() == [{"role": "service_manager",
                                  "message": "Escalated (high): Data sync fails every night"}]
    assert "already escalated" in refused(w.run("escalate"), "CANCELLED").message
    assert w.path() == ["identify", "research", "escalation", "resolve"]
    ok(w.next())

    assert w.stage == "escalation"
    assert w.notifications()[-1] == {"role": "service_manager",
                                     "message": "Escalated case: Data sync fails every night"}
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("escalation_approved",)
    w.fill({"escalation_approved": True})
    ok(w.next())

    assert w.stage == "resolve"
    assert sorted(refused(w.finish(), "STAGE_GATE").missing_steps) == ["resolution", "resolution_type", "resolve_case"]
    assert refused(w.run("resolve_case"), "CANCELLED").message == \
        "service.resolve_case: enter the resolution type and the resolution before resolving the case"
    satisfaction_first = invalid(svc.update_record(ADMIN, w.record_id, {"satisfaction": 5}))
    assert satisfaction_first.field_errors[0].message == "Record the resolution before the customer's satisfaction"
    w.fill({"resolution_type": "workaround", "resolution": "Batch size lowered", "satisfaction": 4})
    ok(w.run("resolve_case"))
    assert (w.values()["status"], w.values()["resolved_on"]) == ("resolved", "2026-03-02T09:00:00Z")
    ok(w.finish())
    assert w.row.status == "finished"
    assert invalid(svc.update_record(ADMIN, w.record_id, {"priority": "low"})).field_errors[0].field == "priority"


def test_phone_to_case_without_escalation(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc, customer=customer(svc), case_type="question", priority="low")
    assert w.values()["follow_up_by"] == day(10)  # low: 10 days
    ok(w.next())
    w.fill({"kb_article": "KB-0450"})
    ok(w.next())
    assert w.stage == "resolve"
    w.fill({"resolution_type": "information_provided", "resolution": "Sent the schedule"})
    ok(w.run("resolve_case"))
    ok(w.finish())


def test_priority_drives_the_follow_up_date(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc, priority="urgent")
    assert w.values()["follow_up_by"] == day(1)
    w.fill({"priority": "high"})
    assert w.values()["follow_up_by"] == day(2)
    assert invalid(svc.update_record(ADMIN, w.record_id, {"follow_up_by": day(30)})).field_errors[0].field == \
        "follow_up_by"  # computed, so locked


def test_escalation_recommendations(open_svc: OpenSvc, clock: Clock) -> None:
    svc = open_svc("service")
    urgent = new_case(svc, customer=customer(svc), case_type="problem", priority="urgent")
    ok(urgent.next())
    assert urgent.bar()["escalated"]["recommendation"] == "Urgent cases are escalated to a manager"
    late = new_case(svc, customer=customer(svc), case_type="problem")
    ok(late.next())
    assert late.bar()["escalated"]["recommendation"] is None
    clock.advance(days=6)  # past its follow-up date (normal: 5 days)
    assert late.bar()["escalated"]["recommendation"] == "This case is past its follow-up date: escalate it"
    late.fill({"escalated": True, "escalation_reason": "Customer called twice"})
    assert late.bar()["escalated"]["recommendation"] is None


def test_abandon_cancels_and_reactivate_reopens(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc)
    ok(w.abandon())
    assert w.values()["status"] == "cancelled"
    ok(w.reactivate())
    assert w.values()["status"] == "active"


def test_case_to_work_order_with_parts(open_svc: OpenSvc, clock: Clock) -> None:
    svc = open_svc("service")
    w = new_case(svc, "case_to_work_order", priority="high", description="Chiller trips on high pressure")
    assert (w.row.process, w.stage) == ("case_to_work_order", "triage")
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["customer", "incident_type"]
    w.fill({"customer": customer(svc), "incident_type": "breakdown", "functional_location": "Roof plant room"})
    ok(w.next())

    # The work order is created from the case with mapped values.
    assert w.stage == "create_work_order"
    wo = w.values("work_order")
    assert wo["name"] == "WO: Data sync fails every night" and wo["case"] == w.record_id
    assert (wo["primary_incident_type"], wo["instructions"], wo["functional_location"]) == \
        ("breakdown", "Chiller trips on high pressure", "Roof plant room")
    assert (wo["priority"], wo["promised_by"], wo["status"]) == ("high", day(2), "unscheduled")
    assert records(svc, "work_order", case=w.record_id)[0].id == w.row.bound["work_order"]
    assert w.bar()["parts_needed"]["required"] is False
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("work_order_type",)
    w.fill({"work_order_type": "repair", "estimated_hours": 3, "parts_needed": True}, "work_order")
    assert w.path() == ["triage", "create_work_order", "order_parts", "schedule", "perform", "close_work_order"]
    ok(w.next())

    assert w.stage == "order_parts"
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("parts_ordered",)
    w.fill({"parts_ordered": True}, "work_order")
    ok(w.next())

    assert w.stage == "schedule"
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["scheduled_for", "technician"]
    w.fill({"technician": "Sam Ortiz", "scheduled_for": "2026-03-03T08:00:00Z"}, "work_order")
    ok(w.next())
    assert w.values("work_order")["status"] == "scheduled"  # on exit of Schedule

    assert w.stage == "perform"
    w.fill({"arrived": True}, "work_order")
    assert w.values("work_order")["status"] == "in_progress"  # the rule, once the technician is on site
    w.fill({"work_performed": "Replaced the condenser fan motor", "hours_spent": 5}, "work_order")
    assert w.bar()["hours_spent"]["recommendation"] == \
        "This took half as long again as estimated: note why in the work performed"
    ok(w.next())

    assert w.stage == "close_work_order"
    assert refused(w.run("complete_work_order"), "CANCELLED").message == \
        "service.complete_work_order: the customer hasn't signed off the work yet"
    w.fill({"customer_signed_off": True}, "work_order")
    clock.advance(hours=2)
    ok(w.run("complete_work_order"))
    wo = w.values("work_order")
    assert (wo["status"], wo["completed_on"]) == ("completed", "2026-03-02T11:00:00Z")
    case = w.values()  # completing the work order resolved the case
    assert (case["status"], case["resolution_type"], case["resolution"]) == \
        ("resolved", "field_service", "Replaced the condenser fan motor")
    ok(w.finish())


def test_case_to_work_order_without_parts_and_abandoned(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc, "case_to_work_order", customer=customer(svc), incident_type="inspection")
    ok(w.next())
    w.fill({"work_order_type": "inspection"}, "work_order")
    assert w.path() == ["triage", "create_work_order", "schedule", "perform", "close_work_order"]
    ok(w.next())
    assert w.stage == "schedule"
    ok(w.abandon())
    assert w.values("work_order")["status"] == "cancelled"
    assert w.values()["status"] == "active"


def test_business_days() -> None:
    from bpf_service.actions import business_days

    monday = dt.date(2026, 3, 2)
    assert business_days(monday, monday + dt.timedelta(days=4)) == 4
    assert business_days(monday, monday + dt.timedelta(days=7)) == 5
    assert business_days(monday + dt.timedelta(days=14), monday) == -10
    assert business_days(dt.date(2026, 3, 6), dt.date(2026, 3, 9)) == 1  # Friday to Monday
    assert business_days(None, monday) is None
    assert business_days(T0, T0 + dt.timedelta(days=1)) == 1
