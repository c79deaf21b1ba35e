"""The marketing pack's flows walked through the service layer, alone and with the sales pack: D365's Lead to
opportunity marketing sales process (with and without teleprospecting) and Event Main Business Process Flow,
and our Campaign Launch and Lead Nurture (SQLite; PostgreSQL too when BPF_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bpf_dsl.service import Caller, Service, Timers

from .helpers import ADMIN, T0, Clock, OpenSvc, Walk, invalid, ok, records, refused

MARY = Caller("mary", frozenset({"marketer"}))
MONA = Caller("mona", frozenset({"marketing_manager"}))
MIKE = Caller("mike", frozenset({"sales_manager"}))

D0 = T0.date()


def day(n: int) -> str:
    return (D0 + dt.timedelta(days=n)).isoformat()


def new_campaign(svc: Service, **values: Any) -> Walk:
    return Walk(svc, ok(svc.create_record(ADMIN, "campaign", {"name": "Spring Product Launch Webinar", **values})))


PLAN = {"campaign_type": "webinar", "objective": "Introduce the spring release", "budget": 60_000,
        "launch_date": day(30), "end_date": day(31)}


def test_campaign_launch_for_a_webinar(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")
    w = new_campaign(svc)
    assert (w.row.process, w.stage, w.values()["status"]) == ("campaign_launch", "plan", "planning")
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["budget", "campaign_type", "launch_date",
                                                                      "objective"]
    failure = invalid(svc.update_record(ADMIN, w.record_id, {**PLAN, "end_date": day(20)}))
    assert failure.field_errors[0].message == "The campaign can't end before it starts"
    w.fill({**PLAN, "launch_date": day(7), "end_date": day(8)})
    assert w.bar()["launch_date"]["recommendation"] == \
        "Launching in under two weeks leaves little time to build and approve"
    w.fill(PLAN)
    assert w.bar()["launch_date"]["recommendation"] is None
    assert w.path() == ["plan", "build", "logistics", "approve", "launch", "review"]  # webinars get logistics
    ok(w.next())

    assert (w.stage, w.values()["status"]) == ("build", "building")
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["content_ready", "tracking_configured"]
    w.fill({"channels": ["email", "web"], "content_ready": True, "tracking_configured": True,
            "landing_page": "https://www.example.com/spring"})
    ok(w.next())

    assert w.stage == "logistics"
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["speakers_confirmed", "venue_booked"]
    w.fill({"venue_booked": True, "speakers_confirmed": True})
    ok(w.next())

    assert (w.stage, w.values()["status"]) == ("approve", "awaiting_approval")
    bar = w.bar()
    assert bar["budget_approved"]["required"] is True  # over 50,000
    assert bar["budget_approved"]["recommendation"] == "Budgets over 50,000 need the marketing manager's sign-off"
    ok(w.run("request_approval"))
    assert w.notifications() == [{"role": "marketing_manager",
                                  "message": "Campaign awaiting approval: Spring Product Launch Webinar"}]
    w.fill({"compliance_checked": True, "approved": True})
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("budget_approved",)
    w.fill({"budget_approved": True})
    refused(svc.move_next(MARY, w.row.id), "FORBIDDEN")  # the approval is the marketing manager's
    w.row = ok(svc.move_next(MONA, w.row.id))

    assert w.stage == "launch"
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("launch_campaign",)
    ok(w.run("launch_campaign"))
    assert (w.values()["status"], w.values()["launched_on"]) == ("launched", day(0))
    assert invalid(svc.update_record(ADMIN, w.record_id, {"budget": 1})).field_errors[0].field == "budget"  # locked
    ok(w.next())

    assert w.stage == "review"
    assert sorted(refused(w.finish(), "STAGE_GATE").missing_steps) == ["actual_cost", "leads_generated",
                                                                        "lessons_learned", "responses"]
    w.fill({"actual_cost": 70_000, "responses": 820, "leads_generated": 64, "lessons_learned": "Tuesdays work"})
    assert w.bar()["actual_cost"]["recommendation"] == "More than 10% over budget: explain it in the lessons learned"
    ok(w.finish())
    assert (w.row.status, w.values()["status"]) == ("finished", "completed")


def test_email_campaign_skips_logistics_and_small_budgets_need_no_sign_off(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")
    w = new_campaign(svc, name="Q3 Email Nurture Series")
    w.fill({**PLAN, "campaign_type": "email", "budget": 6_000})
    assert w.path() == ["plan", "build", "approve", "launch", "review"]
    ok(w.next())
    w.fill({"content_ready": True, "tracking_configured": True})
    ok(w.next())
    assert w.stage == "approve" and w.bar()["budget_approved"]["hidden"] is True
    w.fill({"compliance_checked": True, "approved": True})
    ok(w.next())
    ok(w.run("launch_campaign"))


def test_abandon_cancels_and_reactivate_plans_again(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")
    w = new_campaign(svc)
    ok(w.abandon())
    assert w.values()["status"] == "cancelled"
    ok(w.reactivate())
    assert w.values()["status"] == "planning"


def test_launch_refuses_an_unapproved_campaign(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing", extra="""
process fast_launch on campaign {
    order 2
    stage launch category launch {
        action "Launch" call marketing.launch_campaign()
    }
}
""")
    row = ok(svc.create_record(ADMIN, "campaign", {"name": "Flash sale", "budget": 80_000}, process="fast_launch"))
    w = Walk(svc, row, "fast_launch")
    assert refused(w.run("launch"), "CANCELLED").message == "marketing.launch_campaign: the campaign isn't approved yet"
    w.fill({"approved": True})
    assert "needs the marketing manager's approval" in refused(w.run("launch"), "CANCELLED").message
    w.fill({"budget_approved": True})
    ok(w.run("launch"))


def new_prospect(svc: Service, **values: Any) -> Walk:
    campaign = ok(svc.create_record(ADMIN, "campaign", {"name": "Analytics Buyer's Guide"}, no_process=True))
    prospect = ok(svc.create_record(ADMIN, "prospect", {"full_name": "Harper Lewis", "email": "harper@trey.net",
                                                        "source_campaign": campaign.id, **values}))
    return Walk(svc, prospect)


def nurture_to_qualified(w: Walk) -> None:
    w.fill({"channel": "content_download", "consent": True, "company": "Trey Research"})
    ok(w.next())
    w.fill({"interests": ["analytics"], "emails_opened": 5, "web_visits": 4, "fit": "good"})
    ok(w.next())


def test_lead_nurture_hands_off_to_sales(open_svc: OpenSvc) -> None:
    svc = open_svc("sales", "marketing")  # with the sales pack: its rules score the lead, its process takes it
    w = new_prospect(svc)
    assert (w.row.process, w.stage, w.values()["status"]) == ("lead_nurture", "capture", "new")
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["channel", "consent"]
    w.fill({"channel": "content_download", "consent": False, "company": "Trey Research"})
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("consent",)  # consent must be given
    w.fill({"consent": True})
    ok(w.next())

    assert (w.stage, w.values()["status"]) == ("nurture", "nurturing")
    w.fill({"interests": ["analytics"], "emails_opened": 2, "web_visits": 1})
    assert w.values()["engagement_score"] == 11  # marketing.engagement_score: 2*4 + 1*3
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("fit",)
    w.fill({"fit": "good"})
    assert w.path() == ["capture", "nurture", "qualified", "hand_off"]
    ok(w.next())

    assert w.stage == "qualified"
    too_early = invalid(svc.update_record(ADMIN, w.record_id, {"mql": True}))
    assert too_early.field_errors[0].message == \
        "A prospect needs an engagement score of at least 30 to be marketing-qualified"
    w.fill({"emails_opened": 5, "web_visits": 4, "budget_indicated": 120_000, "timeframe": "this_quarter"})
    w.fill({"mql": True})
    assert (w.values()["status"], w.values()["mql_on"], w.values()["engagement_score"]) == ("qualified", day(0), 32)
    ok(w.next())

    assert w.stage == "hand_off"
    w.fill({"job_title": "BI Manager", "phone": "+33 4 72 10 45 52"})
    ok(w.run("hand_off_to_sales"))
    prospect = w.values()
    [lead] = records(svc, "lead")
    assert prospect["sales_lead"] == lead.id
    assert (prospect["status"], prospect["handed_off_on"]) == ("handed_off", day(0))
    assert lead.values["topic"] == "Trey Research: interested in analytics"
    assert (lead.values["first_name"], lead.values["last_name"], lead.values["company"]) == \
        ("Harper", "Lewis", "Trey Research")
    assert (lead.values["email"], lead.values["phone"], lead.values["job_title"]) == \
        ("harper@trey.net", "+33 4 72 10 45 52", "BI Manager")
    assert (lead.values["source"], lead.values["budget_amount"], lead.values["purchase_timeframe"]) == \
        ("marketing", 120_000, "this_quarter")
    # The hand-off keeps the source campaign, and the lead is sales ready with the engagement as its score.
    assert lead.values["source_campaign"] == prospect["source_campaign"]
    assert (lead.values["sales_ready"], lead.values["marketing_score"]) == (True, 32)
    assert lead.values["status"] == "open" and lead.values["score"] == 60  # the sales pack's rules ran on it
    [instance] = svc.instances_of(ADMIN, lead.id)
    assert instance.process == "lead_to_opportunity"  # the sales process: the lowest order
    assert w.notifications()[-1] == {"role": "salesperson",
                                     "message": "New lead from marketing: Trey Research: interested in analytics"}
    assert "already handed off" in refused(w.run("hand_off_to_sales"), "CANCELLED").message
    ok(w.finish())
    assert (w.row.outcome, len(records(svc, "lead"))) == ("handed_off", 1)


def test_hand_off_without_the_sales_pack(open_svc: OpenSvc) -> None:
    """The lead is the crm pack's: marketing hands off on its own, and the lead starts marketing's process."""
    svc = open_svc("marketing")
    assert "opportunity" not in svc.program.entities
    felix = ok(svc.create_record(ADMIN, "contact", {"first_name": "Felix", "last_name": "Wagner",
                                                    "account": ok(svc.create_record(
                                                        ADMIN, "account", {"name": "Contoso Pharmaceuticals"})).id}))
    w = new_prospect(svc, full_name="Felix Wagner", contact=felix.id)
    nurture_to_qualified(w)
    w.fill({"mql": True})
    ok(w.next())
    ok(w.run("hand_off_to_sales"))
    [lead] = records(svc, "lead")
    assert (lead.values["existing_contact"], lead.values["existing_account"]) == (felix.id, felix.values["account"])
    assert lead.values["source_campaign"] == w.values()["source_campaign"]
    [instance] = svc.instances_of(ADMIN, lead.id)
    assert instance.process == "lead_to_opportunity_marketing"
    # Sales ready: it will skip the teleprospecting stages.
    lw = Walk(svc, lead)
    ok(lw.next())
    assert lw.path() == ["inquiry", "automated_qualification", "sales_acceptance"]


def test_a_poor_fit_is_disqualified(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")
    w = new_prospect(svc)
    w.fill({"channel": "web_form", "consent": True})
    ok(w.next())
    w.fill({"fit": "poor"})
    assert w.path() == ["capture", "nurture", "disqualify"]
    ok(w.next())
    assert refused(w.finish(), "STAGE_GATE").missing_steps == ("disqualify_reason",)
    w.fill({"disqualify_reason": "Student"})
    ok(w.finish())
    assert (w.values()["status"], w.row.outcome) == ("disqualified", "disqualified")


# -- D365's Lead to opportunity marketing sales process --------------------------------------------------

def new_inquiry(svc: Service, caller: Caller = MARY, **values: Any) -> Walk:
    lead = ok(svc.create_record(caller, "lead", {"topic": "Security assessment enquiry", "first_name": "Lucas",
                                                 "last_name": "Meyer", "company": "Woodgrove Bank", **values}))
    return Walk(svc, lead)


def test_a_sales_ready_lead_skips_teleprospecting(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")
    w = new_inquiry(svc)
    assert (w.row.process, w.stage) == ("lead_to_opportunity_marketing", "inquiry")
    values = w.values()
    assert (values["sales_ready"], values["teleprospecting_ready"], values["sales_accepted"]) == (False, False, False)
    assert w.path() == ["inquiry", "automated_qualification", "teleprospecting_acceptance",
                        "teleprospecting_qualification", "sales_acceptance"]
    ok(w.next())

    # Automated marketing qualification: the lead waits here until it is sales ready (or teleprospecting ready).
    assert w.stage == "automated_qualification"
    assert refused(w.next(), "STAGE_GATE").unmet_gates == \
        ("The lead waits here until it is sales ready or ready for teleprospecting",)
    w.fill({"marketing_score": 72})  # past the sales-ready threshold: the rule marks it
    assert w.values()["sales_ready"] is True
    assert w.path() == ["inquiry", "automated_qualification", "sales_acceptance"]
    ok(w.next())

    # Sales acceptance: the sales manager's.
    assert w.stage == "sales_acceptance"
    assert w.notifications()[-1] == {"role": "sales_manager",
                                     "message": "A sales-ready lead to accept: Security assessment enquiry"}
    assert refused(w.finish(), "STAGE_GATE").missing_steps == ("sales_accepted",)
    w.fill({"sales_accepted": True})
    refused(svc.finish(MARY, w.row.id), "FORBIDDEN")
    w.row = ok(svc.finish(MIKE, w.row.id))
    assert (w.row.status, w.row.outcome) == ("finished", "accepted")


def test_teleprospecting_qualifies_the_others(open_svc: OpenSvc, clock: Clock) -> None:
    svc = open_svc("sales", "marketing")  # with sales too: a marketer's lead still gets marketing's process
    w = new_inquiry(svc, source_campaign=ok(svc.create_record(ADMIN, "campaign", {"name": "Security Month"},
                                                              no_process=True)).id)
    assert w.row.process == "lead_to_opportunity_marketing"
    ok(w.next())
    w.fill({"marketing_score": 52, "teleprospecting_ready": True})
    w.row = ok(svc.move_next(MARY, w.row.id))

    assert w.stage == "teleprospecting_acceptance"
    timers = Timers(svc)
    clock.advance(days=2, minutes=1)  # nobody picked it up for two days
    assert timers.fire_due() == 1
    assert {"role": "marketing_manager", "message": "Waiting two days for a teleprospector: Security assessment "
                                                    "enquiry"} in w.notifications()
    [w.row] = svc.instances_of(ADMIN, w.record_id)  # firing raised its version
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("teleprospect_accepted",)
    w.fill({"teleprospect_accepted": True})
    refused(svc.move_next(MIKE, w.row.id), "FORBIDDEN")  # teleprospecting is marketing's
    w.row = ok(svc.move_next(MARY, w.row.id))

    assert w.stage == "teleprospecting_qualification"
    w.fill({"purchase_timeframe": "this_year", "budget_amount": 90_000, "decision_maker": True,
            "description": "Called: audit in the autumn"})
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("sales_ready",)
    w.fill({"sales_ready": True})
    w.row = ok(svc.move_next(MARY, w.row.id))
    assert w.stage == "sales_acceptance"
    assert w.row.traversed == ("inquiry", "automated_qualification", "teleprospecting_acceptance",
                               "teleprospecting_qualification", "sales_acceptance")
    w.fill({"sales_accepted": True})
    w.row = ok(svc.finish(MIKE, w.row.id))
    assert w.row.outcome == "accepted"


# -- D365's Event Main Business Process Flow -------------------------------------------------------------

def test_event_main_business_process_flow(open_svc: OpenSvc, clock: Clock) -> None:
    svc = open_svc("marketing")
    event = ok(svc.create_record(MARY, "event", {"name": "Field Service Roadshow Manchester", "city": "Manchester",
                                                 "country": "United Kingdom"}))
    w = Walk(svc, event)
    assert (w.row.process, w.stage) == ("event_main", "preliminaries")
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["end_date", "event_type", "marketing_plan",
                                                                      "start_date", "team_defined"]
    assert invalid(svc.update_record(MARY, w.record_id, {"start_date": day(20), "end_date": day(19)})) \
        .field_errors[0].message == "The event can't end before it starts"
    w.fill({"event_type": "roadshow", "team_defined": True, "marketing_plan": True, "budget": 22_000,
            "start_date": day(20)})
    assert w.values()["end_date"] == day(20)  # a one-day event unless said otherwise
    ok(w.next())

    assert w.stage == "initial_planning"
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("sessions_scheduled",)
    w.fill({"venue": "Manchester Central", "speakers_engaged": True, "rooms_booked": True, "catering_ordered": True,
            "sessions_scheduled": True, "max_attendees": 150})
    ok(w.next())

    assert w.stage == "final_planning"
    w.fill({"registration_open": True, "invitations_sent": True, "reminders_sent": True, "registrations": 170})
    assert w.bar()["registrations"]["recommendation"] == \
        "More registrations than places: find a bigger room or start a waiting list"
    clock.advance(days=21)
    ok(w.next())

    assert w.stage == "post_event"
    assert sorted(refused(w.finish(), "STAGE_GATE").missing_steps) == ["debrief", "leads_followed_up",
                                                                        "thank_you_sent"]
    w.fill({"attendees": 141, "thank_you_sent": True, "leads_followed_up": True,
            "debrief": "Demos of the scheduling board drew the most questions"})
    ok(w.finish())
    assert w.row.status == "finished"


def test_who_sees_what(open_svc: OpenSvc) -> None:
    svc = open_svc("sales", "marketing")
    campaign = ok(svc.create_record(MARY, "campaign", {"name": "Spring webinar"}, no_process=True))
    sally = Caller("sally", frozenset({"salesperson"}))
    agent = Caller("sam", frozenset({"service_agent"}))
    assert svc.get_record(sally, campaign.id) is not None  # sales may read campaigns (a lead's source)
    invalid(svc.update_record(sally, campaign.id, {"objective": "Mine now"}))
    assert svc.get_record(agent, campaign.id) is None
    prospect = ok(svc.create_record(MARY, "prospect", {"full_name": "Harper Lewis"}, no_process=True))
    assert svc.get_record(sally, prospect.id) is None  # prospects are marketing's until handed off


def test_engagement_score_function() -> None:
    from bpf_marketing.actions import engagement_score

    assert engagement_score(None, None, None) == 0
    assert engagement_score(20, 20, 5) == 100
    assert engagement_score(1, 1, 1) == 17
