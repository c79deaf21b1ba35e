"""The sales pack's processes walked through the service layer: stages, gates, branches, outcomes, stage
roles, access, rules and actions (SQLite; PostgreSQL too when BPF_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bpf_dsl.service import Caller, Service

from .helpers import ADMIN, T0, OpenSvc, Walk, invalid, ok, records, refused

LEAD = {"topic": "Data warehouse modernisation", "first_name": "Sofia", "last_name": "Rossi", "job_title": "CTO",
        "company": "Litware, Inc.", "email": "sofia.rossi@litware.com", "phone": "+1 512 555 0170", "source": "web"}
SALLY = Caller("sally", frozenset({"salesperson"}))
MIKE = Caller("mike", frozenset({"sales_manager"}))


def new_lead(svc: Service, **values: Any) -> Walk:
    lead = ok(svc.create_record(ADMIN, "lead", {**LEAD, **values}))
    return Walk(svc, lead)


def qualify(w: Walk, **values: Any) -> None:
    w.fill({"budget_amount": 150_000, "purchase_timeframe": "this_quarter", "decision_maker": True, **values})
    ok(w.run("qualify_lead"))


def to_close(w: Walk) -> None:
    """From Qualify to Close with the required steps filled (as an admin: every stage role)."""
    qualify(w)
    ok(w.next())
    w.fill({"customer_need": "Reports off the old warehouse"}, "opportunity")
    ok(w.next())
    w.fill({"proposal_developed": True}, "opportunity")
    ok(w.next())
    assert w.stage == "close"


def test_lead_to_opportunity_from_qualify_to_won(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    assert w.row.process == "lead_to_opportunity"  # the default process on create
    assert w.stage == "qualify"
    assert w.path() == ["qualify", "develop", "propose", "close"]
    assert w.values()["status"] == "open"

    # The gate: the estimated budget and the Qualify button are required.
    assert sorted(refused(w.next(), "STAGE_GATE").missing_steps) == ["budget_amount", "qualify_lead"]
    w.fill({"budget_amount": 150_000, "purchase_timeframe": "this_quarter", "decision_maker": True})
    assert w.values()["score"] == 35 + 25 + 20  # the lead_scoring rule, through sales.lead_score
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("qualify_lead",)

    # Qualify lead: the lead is qualified, its account and contact are created (the crm pack's) and linked.
    ok(w.run("qualify_lead"))
    lead = w.values()
    assert lead["status"] == "qualified" and lead["qualified_on"] == T0.date().isoformat()
    [account] = records(svc, "account")
    assert account.values["name"] == "Litware, Inc." and lead["existing_account"] == account.id
    [contact] = records(svc, "contact")
    assert contact.values["full_name"] == "Sofia Rossi" and contact.values["account"] == account.id
    assert contact.values["email"] == "sofia.rossi@litware.com" and lead["existing_contact"] == contact.id
    # A qualified lead's key fields are locked for users.
    assert invalid(svc.update_record(ADMIN, w.record_id, {"budget_amount": 1})).field_errors[0].field == \
        "budget_amount"

    # Develop: the opportunity is created from the lead with mapped values; Develop sets its probability.
    ok(w.next())
    assert w.stage == "develop"
    opp = w.values("opportunity")
    assert opp["name"] == LEAD["topic"] and opp["originating_lead"] == w.record_id
    assert opp["account"] == account.id and opp["contact"] == contact.id
    assert opp["estimated_revenue"] == 150_000 and opp["budget_amount"] == 150_000
    assert opp["purchase_timeframe"] == "this_quarter" and opp["decision_maker"] is True
    assert opp["probability"] == 30  # Develop's, and nothing before it to overwrite
    assert opp["estimated_close_date"] == (T0.date() + dt.timedelta(days=60)).isoformat()  # this quarter: +60
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("customer_need",)
    w.fill({"customer_need": "Reports off the old warehouse", "stakeholders_identified": True}, "opportunity")
    ok(w.next())

    # Propose: a discount over 10% waits for the internal review; over 40% is refused.
    assert w.stage == "propose" and w.values("opportunity")["probability"] == 60
    w.fill({"proposal_developed": True, "discount_percent": 15}, "opportunity")
    assert w.bar()["discount_percent"]["recommendation"] == \
        "A discount over 10% needs your sales manager's internal review in Propose"
    gate = refused(w.next(), "STAGE_GATE")
    assert gate.missing_steps == () and gate.unmet_gates == ("A discount over 10% needs the internal review completed",)
    failure = invalid(svc.update_record(ADMIN, w.row.bound["opportunity"], {"discount_percent": 45}))
    assert failure.field_errors[0].message == "Discounts above 40% are not allowed"
    w.fill({"internal_review_completed": True}, "opportunity")
    ok(w.run("notify_manager"))
    assert w.notifications() == [{"role": "sales_manager", "message": f"Proposal ready for review: {LEAD['topic']}"}]
    ok(w.next())

    # Close: the decision date gates; finishing needs the opportunity closed as won or lost.
    assert w.stage == "close" and w.values("opportunity")["probability"] == 80
    assert refused(w.finish(), "STAGE_GATE").missing_steps == ("decision_date",)
    w.fill({"decision_date": "2026-03-20"}, "opportunity")
    assert "close the opportunity as won or lost" in refused(w.finish(), "CANCELLED").message
    ok(w.run("close_as_won"))
    opp = w.values("opportunity")
    assert opp["status"] == "won" and opp["status_reason"] == "won" and opp["probability"] == 100
    assert opp["actual_revenue"] == 150_000 and opp["actual_close_date"] == T0.date().isoformat()
    assert "Won: Data warehouse modernisation (150,000.00)" in [n["message"] for n in w.notifications()]
    ok(w.finish())
    assert (w.row.status, w.row.outcome) == ("finished", "won")
    # Closed deals are read-only.
    assert invalid(svc.update_record(ADMIN, w.row.bound["opportunity"], {"estimated_revenue": 1})).field_errors


def test_only_a_sales_manager_moves_a_proposal_on(open_svc: OpenSvc) -> None:
    """The internal review in Propose is the manager's: a stage role, not a box any salesperson may tick."""
    svc = open_svc("sales")
    lead = ok(svc.create_record(SALLY, "lead", LEAD))
    w = Walk(svc, lead)
    w.fill({"budget_amount": 150_000})
    ok(svc.run_action_step(SALLY, w.row.id, "qualify_lead"))
    w.row = ok(svc.move_next(SALLY, w.row.id))
    w.fill({"customer_need": "Reports"}, "opportunity")
    w.row = ok(svc.move_next(SALLY, w.row.id))
    assert w.stage == "propose"
    w.fill({"proposal_developed": True}, "opportunity")
    refused(svc.move_next(SALLY, w.row.id), "FORBIDDEN")
    refused(svc.move_previous(SALLY, w.row.id), "FORBIDDEN")  # back too: the stage is the manager's
    w.row = ok(svc.move_next(MIKE, w.row.id))
    assert w.stage == "close"


def test_big_near_term_budget_confirms_interest_first(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    qualify(w, budget_amount=1_500_000, purchase_timeframe="immediate", decision_maker=None)
    assert w.path() == ["qualify", "confirm_interest", "develop", "propose", "close"]
    ok(w.next())
    assert w.stage == "confirm_interest"
    assert w.notifications() == [{"role": "sales_manager", "message": "A lead with a budget over 1,000,000 needs its "
                                                                      f"interest confirmed: {LEAD['topic']}"}]
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("decision_maker",)
    w.fill({"decision_maker": False})
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("decision_maker",)  # a required yes/no must be yes
    w.fill({"decision_maker": True})
    ok(w.next())
    assert w.stage == "develop" and w.values("opportunity")["estimated_revenue"] == 1_500_000


def test_big_budget_later_in_the_year_skips_confirmation(open_svc: OpenSvc) -> None:
    w = new_lead(open_svc("sales"))
    qualify(w, budget_amount=1_500_000, purchase_timeframe="this_year")
    ok(w.next())
    assert w.stage == "develop"


def test_existing_account_and_contact_are_kept(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    account = ok(svc.create_record(ADMIN, "account", {"name": "Contoso Pharmaceuticals", "industry": "healthcare"}))
    contact = ok(svc.create_record(ADMIN, "contact", {"first_name": "Nancy", "last_name": "Anderson",
                                                      "account": account.id}))
    assert contact.values["full_name"] == "Nancy Anderson"  # the crm pack's rule
    w = new_lead(svc, existing_account=account.id, existing_contact=contact.id)
    qualify(w)
    assert len(records(svc, "account")) == 1 and len(records(svc, "contact")) == 1
    ok(w.next())
    assert w.values("opportunity")["account"] == account.id
    assert w.values("opportunity")["contact"] == contact.id


def test_qualify_without_creating_records(open_svc: OpenSvc) -> None:
    svc = open_svc("sales", extra="""
process quick_qualify on lead {
    order 2
    stage qualify category qualify {
        action "Qualify" call sales.qualify_lead(create_account: false, create_contact: false) required
    }
}
""")
    lead = ok(svc.create_record(ADMIN, "lead", LEAD, process="quick_qualify"))
    w = Walk(svc, lead, "quick_qualify")
    ok(w.run("qualify"))
    assert w.values()["status"] == "qualified"
    assert records(svc, "account") == [] and records(svc, "contact") == []


def test_abandoning_at_qualify_disqualifies_the_lead(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    ok(w.abandon())  # no opportunity yet: nothing to close
    lead = w.values()
    assert (w.row.status, lead["status"], lead["disqualify_reason"]) == ("aborted", "disqualified",
                                                                         "no_longer_interested")
    assert w.row.outcome is None
    ok(w.reactivate())  # D365's Reactivate Lead: the lead is open again
    assert (w.values()["status"], w.values().get("disqualify_reason")) == ("open", None)
    qualify(w)
    assert w.values()["status"] == "qualified"


def test_a_disqualified_lead_cant_be_qualified(open_svc: OpenSvc) -> None:
    svc = open_svc("sales", extra="""
process side_qualify on lead {
    order 2
    stage qualify category qualify {
        action "Qualify" call sales.qualify_lead()
    }
}
""")
    w = new_lead(svc)
    ok(w.abandon())
    started = ok(svc.start_process(ADMIN, w.record_id, "side_qualify"))
    message = refused(svc.run_action_step(ADMIN, started.id, "qualify"), "CANCELLED").message
    assert message == "sales.qualify_lead: a disqualified lead can't be qualified; reactivate the process to reopen it"


def test_abandoning_after_develop_loses_the_opportunity(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    qualify(w)
    ok(w.next())
    ok(w.abandon())
    opp = w.values("opportunity")
    assert (opp["status"], opp["status_reason"], opp["probability"]) == ("lost", "canceled", 0)
    assert opp["actual_close_date"] == T0.date().isoformat()
    assert w.values()["status"] == "qualified"  # a qualified lead stays qualified
    ok(w.reactivate())  # D365's Reopen Opportunity
    assert (w.values("opportunity")["status"], w.values("opportunity")["status_reason"]) == ("open", "in_progress")


def test_abandoning_a_won_deal_is_refused_in_both_processes(open_svc: OpenSvc) -> None:
    """After "Close as won", abandoning is refused: the Opportunity Sales Process's abandon closes the deal
    as lost, which sales.close_opportunity refuses for a won one; the Lead to Opportunity process calls the
    same action on its opportunity."""
    svc = open_svc("sales")
    w = new_lead(svc)
    to_close(w)
    ok(w.run("close_as_won"))
    failure = refused(w.abandon(), "CANCELLED")
    assert failure.message == "sales.close_opportunity: the opportunity is already closed as won"
    assert w.values("opportunity")["status"] == "won" and w.values("opportunity")["probability"] == 100
    [row] = svc.instances_of(ADMIN, w.record_id)
    assert row.status == "active" and row.active_stage == "close"

    account = ok(svc.create_record(ADMIN, "account", {"name": "Fabrikam, Inc."}))
    direct = Walk(svc, ok(svc.create_record(ADMIN, "opportunity", {"name": "Second site", "account": account.id,
                                                                   "budget_amount": 50_000})))
    for values in ({"customer_need": "MES"}, {"proposal_developed": True}):
        ok(direct.next())
        direct.fill(values)
    ok(direct.next())
    ok(direct.run("close_as_won"))
    assert refused(direct.abandon(), "CANCELLED").message == \
        "sales.close_opportunity: the opportunity is already closed as won"
    assert direct.values()["status"] == "won"


def test_close_as_lost_then_won_is_refused(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    to_close(w)
    ok(w.run("close_as_lost"))
    opp = w.values("opportunity")
    assert (opp["status"], opp["status_reason"], opp["probability"], opp["actual_revenue"]) == \
        ("lost", "out_sold", 0, 0)
    assert "already closed as lost" in refused(w.run("close_as_won"), "CANCELLED").message
    w.fill({"decision_date": "2026-03-10"}, "opportunity")
    ok(w.finish())
    assert (w.row.status, w.row.outcome) == ("finished", "lost")


def test_abandoning_a_lost_deal_keeps_its_reason(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    to_close(w)
    ok(w.run("close_as_lost"))
    ok(w.abandon())
    assert w.values("opportunity")["status_reason"] == "out_sold"


def test_opportunity_sales_process(open_svc: OpenSvc, clock: Any) -> None:
    svc = open_svc("sales")
    account = ok(svc.create_record(ADMIN, "account", {"name": "Fabrikam, Inc."}))
    opp = ok(svc.create_record(ADMIN, "opportunity", {"name": "Second site", "budget_amount": 520_000,
                                                      "purchase_timeframe": "next_quarter"}))
    w = Walk(svc, opp)
    assert w.row.process == "opportunity_sales" and w.stage == "qualify"
    assert w.values()["probability"] == 20  # Qualify's, set when the process starts
    assert w.values()["estimated_revenue"] == 520_000  # defaulted from the budget
    assert w.values()["estimated_close_date"] == (T0.date() + dt.timedelta(days=120)).isoformat()
    assert refused(w.next(), "STAGE_GATE").missing_steps == ("account",)
    w.fill({"account": account.id})
    ok(w.next())
    assert (w.stage, w.values()["probability"]) == ("develop", 30)
    w.fill({"customer_need": "MES in Dayton"})
    ok(w.next())
    w.fill({"proposal_developed": True})
    clock.advance(days=30)
    ok(w.next())
    assert w.stage == "close"
    w.fill({"decision_date": "2026-03-15"})  # before today now
    assert w.bar()["decision_date"]["recommendation"] == \
        "The decision date has passed: confirm a new one or close the opportunity"
    ok(w.run("close_as_won"))
    ok(w.finish())
    assert w.row.outcome == "won"
    ok(w.reactivate())  # reopens the deal
    assert (w.values()["status"], w.values()["status_reason"]) == ("open", "in_progress")
    assert w.row.outcome is None
    ok(w.abandon())
    assert (w.values()["status"], w.values()["status_reason"]) == ("lost", "canceled")


def test_who_sees_what(open_svc: OpenSvc) -> None:
    """The allow lines: salespeople work leads and opportunities and delete only their own; a marketer sees
    leads (the crm pack's grant) but no opportunity; a customer service representative sees no lead."""
    svc = open_svc("sales")
    mine = ok(svc.create_record(SALLY, "opportunity", {"name": "Sally's deal"}))
    theirs = ok(svc.create_record(MIKE, "opportunity", {"name": "Mike's deal"}))
    assert mine.owner == "sally" and theirs.owner == "mike"
    lead = ok(svc.create_record(SALLY, "lead", LEAD))
    assert svc.get_record(SALLY, theirs.id) is not None  # salespeople read every opportunity
    invalid(svc.delete_record(SALLY, theirs.id))
    ok(svc.delete_record(SALLY, mine.id))  # but delete only their own
    marketer = Caller("maria", frozenset({"marketer"}))
    agent = Caller("sam", frozenset({"service_agent"}))
    assert svc.get_record(marketer, lead.id) is not None and svc.get_record(marketer, theirs.id) is None
    assert svc.get_record(agent, lead.id) is None


def test_status_is_managed_by_the_process(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    w = new_lead(svc)
    assert invalid(svc.update_record(ADMIN, w.record_id, {"status": "qualified"})).field_errors[0].field == "status"
    assert invalid(svc.update_record(ADMIN, w.record_id, {"score": 99})).field_errors[0].field == "score"


def test_lead_score_function() -> None:
    from bpf_sales.actions import lead_score

    assert lead_score(None, None, None) == 0
    assert lead_score(600_000, "immediate", True) == 100
    assert lead_score(5_000, "unknown", False) == 5
