"""The service pack's processes walked through the service layer: Phone to Case (customer gate, Find Case,
the owner, the research SLA, escalation), Case to Work Order and Work Order Business Process (service and
billing accounts, the life cycle to the invoice), the knowledge article processes, stage roles and access
(SQLite; PostgreSQL too when BPF_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bpf_dsl.service import Caller, Service, Timers
from bpf_dsl.service.auth import Tokens

from .helpers import ADMIN, T0, Clock, OpenSvc, Walk, invalid, ok, records, refused

D0 = T0.date()
SAM = Caller("sam", frozenset({"service_agent"}))
TINA = Caller("tina", frozenset({"service_agent"}))
MEG = Caller("meg", frozenset({"service_manager"}))
DAN = Caller("dan", frozenset({"dispatcher"}))
TED = Caller("ted", frozenset({"field_technician"}))
KIM = Caller("kim", frozenset({"knowledge_manager"}))


def day(n: int) -> str:
    return (D0 + dt.timedelta(days=n)).isoformat()


def account(svc: Service, name: str = "Contoso Pharmaceuticals", **values: Any) -> str:
    return str(ok(svc.create_record(ADMIN, "account", {"name": name, **values})).id)


def contact(svc: Service, first: str, last: str, account_id: str | None = None) -> str:
    values = {"first_name": first, "last_name": last, "account": account_id}
    return str(ok(svc.create_record(ADMIN, "contact", {k: v for k, v in values.items() if v})).id)


def new_case(svc: Service, process: str | None = None, caller: Caller = ADMIN, **values: Any) -> Walk:
    case = ok(svc.create_record(caller, "case", {"title": "Data sync fails every night", **values}, process=process))
    return Walk(svc, case, process)


# -- Phone to Case ---------------------------------------------------------------------------------------

def test_phone_to_case_with_escalation(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    contoso = account(svc, relationship="customer", annual_revenue=2_000_000_000)
    raj = contact(svc, "Raj", "Patel", contoso)
    w = new_case(svc)
    assert (w.row.process, w.stage) == ("phone_to_case", "identify")  # the default process on case
    case = w.values()
    assert (case["opened_on"], case["follow_up_by"], case["status"]) == (day(0), day(5), "active")  # normal: 5 days

    # Identify: the customer (an account or a contact) is the gate's; the case type a required step.
    gate = refused(w.next(), "STAGE_GATE")
    assert gate.missing_steps == ("case_type",)
    assert gate.unmet_gates == ("Find the customer: an account or a contact",)
    w.fill({"customer_account": contoso, "primary_contact": raj, "case_type": "problem"})
    assert w.bar()["priority"]["recommendation"] == "One of our largest customers: consider a higher priority"
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

    # Escalation (ours): a manager's stage.
    assert w.stage == "escalation"
    assert w.notifications()[-1] == {"role": "service_manager",
                                     "message": "Escalated case: Data sync fails every night"}
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("escalation_approved",)
    w.fill({"escalation_approved": True})
    refused(svc.move_next(SAM, w.row.id), "FORBIDDEN")
    w.row = ok(svc.move_next(MEG, w.row.id))

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
    assert (w.row.status, w.row.outcome) == ("finished", "resolved")
    assert invalid(svc.update_record(ADMIN, w.record_id, {"priority": "low"})).field_errors[0].field == "priority"


def test_a_customer_is_an_account_or_a_contact(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    contoso = account(svc)
    fabrikam = account(svc, "Fabrikam, Inc.")
    margaret = contact(svc, "Margaret", "Ellis")  # a private customer: no account
    tom = contact(svc, "Tom", "Becker", fabrikam)
    both = invalid(svc.create_record(ADMIN, "case", {"title": "Both", "customer_account": contoso,
                                                     "customer_contact": margaret}))
    assert both.field_errors[0].field == "customer_contact"
    assert both.field_errors[0].message == \
        "A case's customer is an account or a contact, not both: clear one of them"

    # A contact as the customer: the contact (D365's Find Contact) defaults to them, and the gate is met.
    w = new_case(svc, customer_contact=margaret, case_type="problem")
    assert w.values()["primary_contact"] == margaret
    ok(w.next())

    # A contact of another company than the customer account is questioned.
    other = new_case(svc, customer_account=contoso, primary_contact=tom)
    assert other.bar()["primary_contact"]["recommendation"] == \
        "This contact works for another account than the customer"


def test_find_case_is_a_lookup_to_an_existing_case(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    contoso = account(svc)
    first = new_case(svc, customer_account=contoso, case_type="problem")
    again = new_case(svc, title="Sync failed again", customer_account=contoso, existing_case=first.record_id,
                     case_type="problem")
    assert again.values()["existing_case"] == first.record_id
    assert again.bar()["existing_case"]["recommendation"] == \
        "That case is still open: add to it rather than opening another"
    assert invalid(svc.update_record(ADMIN, again.record_id, {"existing_case": "no-such-case"})).field_errors
    # Once the first is resolved the recommendation goes.
    ok(first.next())
    ok(first.next())
    first.fill({"resolution_type": "workaround", "resolution": "Batch size lowered"})
    ok(first.run("resolve_case"))
    assert again.bar()["existing_case"]["recommendation"] is None
    ok(first.finish())  # no escalation: Identify, Research, Resolve
    assert (first.row.traversed, first.row.outcome) == (("identify", "research", "resolve"), "resolved")


def test_the_owner_works_the_case_and_may_hand_it_on(open_svc: OpenSvc) -> None:
    """D365's Owner step in Research: here the case's built-in owner, changed by assignRecord. An agent may
    assign their own cases; a manager any."""
    svc = open_svc("service")
    tokens = Tokens(svc.storage)
    for caller in (SAM, TINA, MEG):
        tokens.create(caller.user, sorted(caller.roles))
    contoso = account(svc)
    w = new_case(svc, caller=SAM, customer_account=contoso, case_type="question")
    assert ok(svc.get_record(SAM, w.record_id)).owner == "sam"
    w.row = ok(svc.move_next(SAM, w.row.id))
    assert w.stage == "research"
    handed = ok(svc.assign_record(SAM, w.record_id, "tina"))
    assert handed.owner == "tina"
    invalid(svc.assign_record(SAM, w.record_id, "sam"))  # not sam's any more
    assert ok(svc.assign_record(MEG, w.record_id, "sam")).owner == "sam"


def test_research_past_its_sla_is_escalated(open_svc: OpenSvc, clock: Clock) -> None:
    svc = open_svc("service")
    timers = Timers(svc)
    w = new_case(svc, customer_account=account(svc), case_type="problem")
    ok(w.next())
    assert w.stage == "research"
    clock.advance(days=1, hours=23)
    assert timers.fire_due() == 0
    clock.advance(hours=2)  # two days in Research
    assert timers.fire_due() == 1
    case = w.values()
    assert case["escalated"] is True
    assert case["escalation_reason"] == "Research took longer than the two-day service level"
    assert {"role": "service_manager", "message": "Past its two-day research service level: Data sync fails "
                                                  "every night"} in w.notifications()
    assert w.path() == ["identify", "research", "escalation", "resolve"]
    assert timers.fire_due() == 0  # once a visit

    # A case that leaves Research in time fires nothing.
    quick = new_case(svc, customer_account=account(svc, "Fabrikam, Inc."), case_type="question")
    ok(quick.next())
    ok(quick.next())
    clock.advance(days=5)
    assert timers.fire_due() == 0
    assert quick.values().get("escalated") is None


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
    urgent = new_case(svc, customer_account=account(svc), case_type="problem", priority="urgent")
    ok(urgent.next())
    assert urgent.bar()["escalated"]["recommendation"] == "Urgent cases are escalated to a manager"
    late = new_case(svc, customer_account=account(svc, "Fabrikam, Inc."), case_type="problem")
    ok(late.next())
    assert late.bar()["escalated"]["recommendation"] is None
    clock.advance(days=1)
    ok(late.next())  # resolve: out of Research before its SLA
    ok(late.svc.move_previous(ADMIN, late.row.id))
    late.row = svc.instances_of(ADMIN, late.record_id)[0]
    clock.advance(days=5)  # past its follow-up date (normal: 5 days)
    assert late.bar()["escalated"]["recommendation"] == "This case is past its follow-up date: escalate it"
    late.fill({"escalated": True, "escalation_reason": "Customer called twice"})
    assert late.bar()["escalated"]["recommendation"] is None


def test_abandon_cancels_and_reactivate_reopens(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc)
    ok(w.abandon())
    assert w.values()["status"] == "cancelled" and w.row.outcome is None
    ok(w.reactivate())
    assert w.values()["status"] == "active"


# -- Field Service ---------------------------------------------------------------------------------------

def test_case_to_work_order_to_the_invoice(open_svc: OpenSvc, clock: Clock) -> None:
    svc = open_svc("service")
    woodgrove = account(svc, "Woodgrove Bank")
    branch = account(svc, "Woodgrove Bank UK", billing_account=woodgrove)  # billed to its parent
    james = contact(svc, "James", "Carter", branch)
    w = new_case(svc, "case_to_work_order", priority="high", description="Fire doors to inspect")
    assert (w.row.process, w.stage) == ("case_to_work_order", "identify")
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("incident_type",)
    w.fill({"customer_contact": contact(svc, "Margaret", "Ellis"), "incident_type": "inspection"})
    gate = refused(w.next(), "STAGE_GATE")  # a private customer: a work order needs an account
    assert gate.unmet_gates == ("A work order is for an account: find the customer's account",)
    w.fill({"customer_contact": None, "primary_contact": james})
    w.fill({"customer_account": branch, "functional_location": "Gresham Street branch"})
    ok(w.next())

    # The work order is created from the case, as Field Service maps it; the billing account follows.
    assert w.stage == "work_order"
    wo = w.values("work_order")
    assert wo["name"] == "WO: Data sync fails every night" and wo["case"] == w.record_id
    assert (wo["service_account"], wo["billing_account"], wo["reported_by_contact"]) == (branch, woodgrove, james)
    assert (wo["primary_incident_type"], wo["instructions"], wo["functional_location"]) == \
        ("inspection", "Fire doors to inspect", "Gresham Street branch")
    assert (wo["priority"], wo["promised_by"], wo["system_status"]) == ("high", day(2), "unscheduled")
    assert records(svc, "work_order", case=w.record_id)[0].id == w.row.bound["work_order"]
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("work_order_type",)
    w.fill({"work_order_type": "repair", "estimated_hours": 3, "parts_needed": True}, "work_order")
    assert w.values("work_order")["substatus"] == "awaiting_parts"
    assert w.path() == ["identify", "work_order", "order_parts", "schedule", "service_visit", "review", "invoice"]
    ok(w.next())

    assert w.stage == "order_parts"
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("parts_ordered",)
    w.fill({"parts_ordered": True}, "work_order")
    ok(w.next())

    # Schedule: the dispatcher's; leaving it dispatches the work order to the technicians.
    assert w.stage == "schedule"
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["scheduled_for", "technician"]
    w.fill({"technician": "Callum Reid", "scheduled_for": "2026-03-03T08:00:00Z"}, "work_order")
    refused(svc.move_next(SAM, w.row.id), "FORBIDDEN")
    w.row = ok(svc.move_next(DAN, w.row.id))
    assert w.values("work_order")["system_status"] == "scheduled"
    assert w.notifications()[-1] == {"role": "field_technician",
                                     "message": "Dispatched to Callum Reid: WO: Data sync fails every night"}

    # Service: the technician on site, the work done and signed off, the work order completed.
    assert w.stage == "service_visit"
    w.fill({"arrived": True}, "work_order")
    assert w.values("work_order")["system_status"] == "in_progress"  # the rule, once the technician is on site
    w.fill({"work_performed": "Replaced two door closers", "hours_spent": 5}, "work_order")
    assert w.bar()["hours_spent"]["recommendation"] == \
        "This took half as long again as estimated: note why in the work performed"
    assert refused(w.run("complete_work_order"), "CANCELLED").message == \
        "service.complete_work_order: the customer hasn't signed off the work yet"
    w.fill({"customer_signed_off": True}, "work_order")
    clock.advance(hours=2)
    ok(w.run("complete_work_order"))
    wo = w.values("work_order")
    assert (wo["system_status"], wo["completed_on"]) == ("completed", "2026-03-02T11:00:00Z")
    case = w.values()  # completing the work order resolved the case
    assert (case["status"], case["resolution_type"], case["resolution"]) == \
        ("resolved", "field_service", "Replaced two door closers")
    w.row = ok(svc.move_next(TED, w.row.id))

    # Review (a manager's), then the invoice: posted, and the process ends invoiced.
    assert w.stage == "review"
    w.fill({"reviewed": True, "total_amount": 605}, "work_order")
    refused(svc.move_next(DAN, w.row.id), "FORBIDDEN")
    w.row = ok(svc.move_next(MEG, w.row.id))
    assert w.stage == "invoice"
    assert refused(w.run("post_work_order"), "CANCELLED").message == \
        "service.post_work_order: enter the invoice number before posting the work order"
    w.fill({"invoice_number": "INV-24310"}, "work_order")
    ok(w.run("post_work_order"))
    wo = w.values("work_order")
    assert (wo["system_status"], wo["posted_on"]) == ("posted", day(0))
    assert invalid(svc.update_record(ADMIN, w.row.bound["work_order"], {"total_amount": 1})).field_errors
    ok(w.finish())
    assert (w.row.status, w.row.outcome) == ("finished", "invoiced")


def test_case_to_work_order_abandoned_cancels_the_work_order(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    w = new_case(svc, "case_to_work_order", customer_account=account(svc), incident_type="inspection")
    ok(w.next())
    assert w.values("work_order")["billing_account"] == w.values()["customer_account"]  # no billing account: itself
    w.fill({"work_order_type": "inspection"}, "work_order")
    assert w.path() == ["identify", "work_order", "schedule", "service_visit", "review", "invoice"]
    ok(w.next())
    assert w.stage == "schedule"
    ok(w.abandon())
    assert w.values("work_order")["system_status"] == "cancelled"
    assert w.values()["status"] == "active"


def test_work_order_business_process(open_svc: OpenSvc, clock: Clock) -> None:
    """A work order no case started: the same life cycle, and a schedule that waits a day is flagged."""
    svc = open_svc("service")
    fourth = account(svc, "Fourth Coffee")
    assert invalid(svc.create_record(ADMIN, "work_order", {"name": "No account"})).field_errors[0].field == \
        "service_account"
    wo = ok(svc.create_record(DAN, "work_order", {"name": "Espresso machine descaling", "service_account": fourth,
                                                  "primary_incident_type": "maintenance"}))
    w = Walk(svc, wo)
    assert (w.row.process, w.stage) == ("work_order_process", "work_order")
    assert w.values()["billing_account"] == fourth
    w.fill({"work_order_type": "maintenance", "estimated_hours": 6})
    assert w.path() == ["work_order", "schedule", "service_visit", "review", "invoice"]
    w.row = ok(svc.move_next(DAN, w.row.id))

    timers = Timers(svc)
    clock.advance(days=1, minutes=1)
    assert timers.fire_due() == 1
    assert {"role": "dispatcher", "message": "Not scheduled within a day: Espresso machine descaling"} in \
        w.notifications()
    w.fill({"technician": "Jo Wright", "scheduled_for": "2026-03-05T07:00:00Z"})
    w.row = ok(svc.move_next(DAN, w.row.id))
    w.fill({"arrived": True, "work_performed": "Descaled twelve machines", "hours_spent": 6,
            "customer_signed_off": True})
    ok(svc.run_action_step(TED, w.row.id, "complete_work_order"))
    w.row = ok(svc.move_next(TED, w.row.id))
    assert w.values()["system_status"] == "completed"
    w.fill({"total_amount": 570})
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("reviewed",)
    w.fill({"reviewed": True})
    ok(w.next())
    w.fill({"invoice_number": "INV-24411"})
    assert refused(w.finish(), "STAGE_GATE").missing_steps == ("post_work_order",)  # the button is required
    ok(w.run("post_work_order"))
    ok(w.finish())
    assert (w.row.status, w.row.outcome, w.values()["system_status"]) == ("finished", "invoiced", "posted")

    # Parts to order: a stage of its own before the schedule.
    parts = Walk(svc, ok(svc.create_record(DAN, "work_order", {
        "name": "Install a bike fitting studio", "service_account": fourth, "primary_incident_type": "installation",
        "work_order_type": "installation", "parts_needed": True})))
    assert parts.path() == ["work_order", "order_parts", "schedule", "service_visit", "review", "invoice"]
    parts.row = ok(svc.move_next(DAN, parts.row.id))
    assert refused(parts.next(), "STAGE_GATE").missing_steps == ("parts_ordered",)


def test_a_technician_updates_only_the_work_orders_assigned_to_them(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    Tokens(svc.storage).create(TED.user, ["field_technician"])
    wo = ok(svc.create_record(DAN, "work_order", {"name": "Lift inspection", "service_account": account(svc)}))
    invalid(svc.update_record(TED, wo.id, {"work_performed": "Done"}))
    ok(svc.assign_record(DAN, wo.id, "ted"))  # the dispatcher books Ted: the work order is his
    ok(svc.update_record(TED, wo.id, {"work_performed": "All four lifts certified"}))
    assert svc.get_record(Caller("sally", frozenset({"salesperson"})), wo.id) is None


# -- knowledge articles ----------------------------------------------------------------------------------

def test_new_process_author_review_publish(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    article = ok(svc.create_record(SAM, "knowledge_article", {"title": "Sync timeouts on large tables"}))
    w = Walk(svc, article)
    assert (w.row.process, w.stage) == ("new_article", "author")
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["content", "ready_for_review"]
    w.fill({"content": "Lower the batch size to 5,000 rows.", "keywords": "sync, timeout", "subject": "software",
            "primary_author": "Megan Bowen", "ready_for_review": True})
    w.row = ok(svc.move_next(SAM, w.row.id))

    # Review: the knowledge manager's; a rejection sends it back to its author.
    assert w.stage == "review"
    w.fill({"review": "rejected"})
    assert w.bar()["review"]["recommendation"] == \
        "Rejected: go back to the author (Previous Stage) with what to change"
    assert refused(w.next(), "STAGE_GATE").unmet_gates == ("Approve the article, or send it back to its author",)
    refused(svc.move_previous(SAM, w.row.id), "FORBIDDEN")
    w.row = ok(svc.move_previous(KIM, w.row.id))
    assert w.stage == "author"
    w.fill({"content": "Lower the batch size to 5,000 rows and move the job out of the backup window."})
    w.row = ok(svc.move_next(SAM, w.row.id))
    w.fill({"review": "approved"})
    w.row = ok(svc.move_next(KIM, w.row.id))

    assert w.stage == "publish"
    w.fill({"expiration_date": day(-1)})
    assert refused(w.run("publish"), "CANCELLED").message == \
        "service.publish_article: the expiration date has passed: set a later one before publishing"
    w.fill({"expiration_date": day(180)})
    ok(svc.run_action_step(KIM, w.row.id, "publish"))
    assert (w.values()["status"], w.values()["published_on"]) == ("published", day(0))
    w.row = ok(svc.finish(KIM, w.row.id))
    assert w.row.outcome == "published"


def test_translation_process(open_svc: OpenSvc) -> None:
    svc = open_svc("service")
    original = ok(svc.create_record(ADMIN, "knowledge_article", {"title": "Payment terminal cannot reach its host",
                                                                 "language": "en_us"}, no_process=True))
    translation = ok(svc.create_record(ADMIN, "knowledge_article", {"title": "Zahlungsterminal"},
                                       process="translation"))
    w = Walk(svc, translation, "translation")
    assert w.stage == "translate"
    same = invalid(svc.update_record(ADMIN, w.record_id, {"root_article": original.id, "language": "en_us"}))
    assert same.field_errors[0].message == "A translation is in another language than its original"
    w.fill({"root_article": original.id, "language": "de_de", "content": "Zuerst die Router-Firmware prüfen.",
            "ready_for_review": True})
    ok(w.next())
    w.fill({"review": "approved"})
    ok(w.next())
    w.fill({"expiration_date": day(200)})
    ok(w.run("publish"))
    ok(w.finish())
    assert (w.row.outcome, w.values()["status"], w.values()["language"]) == ("published", "published", "de_de")


def test_expired_process_archives_or_republishes(open_svc: OpenSvc) -> None:
    svc = open_svc("service")

    def expired(title: str) -> Walk:
        row = ok(svc.create_record(ADMIN, "knowledge_article", {"title": title, "content": "Old text",
                                                                "expiration_date": day(-3)},
                                   process="expired_article"))
        return Walk(svc, row, "expired_article")

    old = expired("Resetting the 2023 handheld scanners")
    assert old.values()["status"] == "expired"  # starting the Expired Process marks it expired
    assert refused(old.next(), "STAGE_GATE").missing_steps == ("expired_review_option",)
    old.fill({"expired_review_option": "archive"})
    assert old.path() == ["expired_review", "archive"]
    ok(old.next())
    ok(old.run("archive"))
    ok(old.finish())
    assert (old.row.outcome, old.values()["status"]) == ("archived", "archived")

    fine = expired("Connecting to the guest Wi-Fi")
    fine.fill({"expired_review_option": "republish"})
    assert fine.path() == ["expired_review", "republish"]

    stale = expired("Quarter-end closing checklist")
    stale.fill({"expired_review_option": "needs_updating"})
    assert stale.path() == ["expired_review", "update", "republish"]
    ok(stale.next())
    assert refused(stale.next(), "STAGE_GATE").missing_steps == ("update_content",)
    stale.fill({"content": "Run the accruals report, then close the period.", "update_content": True})
    ok(stale.next())
    assert refused(stale.finish(), "STAGE_GATE").unmet_gates == \
        ("Give the article an expiration date in the future",)
    stale.fill({"expiration_date": day(365)})
    ok(stale.run("publish"))
    ok(stale.finish())
    assert (stale.row.outcome, stale.values()["status"]) == ("republished", "published")


def test_business_days() -> None:
    from bpf_service.actions import business_days

    monday = dt.date(2026, 3, 2)
    assert business_days(monday, monday + dt.timedelta(days=4)) == 4
    assert business_days(monday, monday + dt.timedelta(days=7)) == 5
    assert business_days(monday + dt.timedelta(days=14), monday) == -10
    assert business_days(dt.date(2026, 3, 6), dt.date(2026, 3, 9)) == 1  # Friday to Monday
    assert business_days(None, monday) is None
    assert business_days(T0, T0 + dt.timedelta(days=1)) == 1
