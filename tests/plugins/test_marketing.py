"""The marketing pack's flows walked through the service layer, with and without the sales pack."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bpf_dsl.service import Service

from .helpers import ADMIN, T0, OpenSvc, Walk, invalid, ok, records, refused

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
    ok(w.next())

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
    svc = open_svc("sales", "marketing")  # both packs in the program: the hand-off creates a sales lead
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
    w.fill({"job_title": "BI Manager", "phone": "+1 555 0300"})
    ok(w.run("hand_off_to_sales"))
    prospect = w.values()
    [lead] = records(svc, "lead")
    assert prospect["sales_lead"] == lead.id
    assert (prospect["status"], prospect["handed_off_on"]) == ("handed_off", day(0))
    assert lead.values["topic"] == "Trey Research: interested in analytics"
    assert (lead.values["first_name"], lead.values["last_name"], lead.values["company"]) == \
        ("Harper", "Lewis", "Trey Research")
    assert (lead.values["email"], lead.values["phone"], lead.values["job_title"]) == \
        ("harper@trey.net", "+1 555 0300", "BI Manager")
    assert (lead.values["source"], lead.values["budget_amount"], lead.values["purchase_timeframe"]) == \
        ("marketing", 120_000, "this_quarter")
    assert lead.values["status"] == "open" and lead.values["score"] == 60  # the sales pack's rules ran on it
    assert w.notifications()[-1] == {"role": "salesperson",
                                     "message": "New lead from marketing: Trey Research: interested in analytics"}
    assert "already handed off" in refused(w.run("hand_off_to_sales"), "CANCELLED").message
    ok(w.finish())
    assert len(records(svc, "lead")) == 1


def test_hand_off_without_the_sales_pack_fails_clearly(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")  # the marketing module checks and runs on its own
    assert "lead" not in svc.program.entities
    w = new_prospect(svc)
    nurture_to_qualified(w)
    w.fill({"mql": True})
    ok(w.next())
    failure = refused(w.run("hand_off_to_sales"), "CANCELLED")
    assert failure.message.startswith("marketing.hand_off: the sales pack isn't installed")
    assert "import sales" in failure.message
    assert w.values()["status"] == "qualified" and "sales_lead" not in w.values()  # nothing was written
    assert refused(w.finish(), "STAGE_GATE").missing_steps == ("hand_off_to_sales",)


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
    assert w.values()["status"] == "disqualified"


def test_engagement_score_function() -> None:
    from bpf_marketing.actions import engagement_score

    assert engagement_score(None, None, None) == 0
    assert engagement_score(20, 20, 5) == 100
    assert engagement_score(1, 1, 1) == 17
