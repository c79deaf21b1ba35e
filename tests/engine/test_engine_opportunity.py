"""The spec's opportunity.bpf walked start to finish through every branch, and its rules."""

from __future__ import annotations

import datetime as dt

import pytest

from bpf_dsl.engine import (
    Abandon,
    CallAction,
    CreateRecord,
    Event,
    Finish,
    Next,
    Previous,
    RunAction,
    SetActive,
    SetField,
    TransitionErrorCode,
    active_path,
    missing_steps,
    stage_steps,
)

from .helpers import Walker, example_text, load

Code = TransitionErrorCode
BIG = {"budget_amount": 2_000_000, "purchase_timeframe": "immediate"}


def develop_to_close(w: Walker) -> str:
    """From Develop to Close, filling each gate; returns the opportunity's id."""
    assert w.stage == "develop"
    opp = w.st.record_of("opportunity")
    assert opp is not None
    assert w.refused(Next()).missing_steps == ("customer_need",)
    w.set("opportunity", opp, customer_need="Replace 40 vans")
    w.ok(Next())
    assert w.stage == "propose" and w.st.record_of("opportunity") == opp  # `on opportunity` reuses it
    assert w.refused(Next()).missing_steps == ("proposal_developed",)
    w.set("opportunity", opp, proposal_developed=False)
    assert w.refused(Next()).missing_steps == ("proposal_developed",)  # a required yes/no must be yes
    w.set("opportunity", opp, proposal_developed=True)
    w.ok(Next())
    assert w.stage == "close"
    return opp


def close_and_finish(w: Walker, opp: str) -> None:
    assert w.refused(Next()).code == Code.END
    assert w.refused(Finish()).missing_steps == ("decision_date",)
    w.set("opportunity", opp, decision_date=dt.date(2026, 4, 1))
    moved = w.ok(Finish())
    assert moved.effects == (SetField("opportunity", opp, "status", "won"),)
    assert moved.events == (Event("finished", "I1", "close", w.now, "ann"),)
    assert w.st.status == "finished" and w.st.completed_at == w.now
    assert w.data.values("opportunity", opp)["status"] == "won"  # type: ignore[index]


def test_small_budget_goes_straight_to_develop_creating_the_opportunity(lead: Walker) -> None:
    w = lead
    assert w.path() == ["qualify", "develop", "propose", "close"]
    refused = w.refused(Next())
    assert (refused.code, refused.missing_steps) == (Code.STAGE_GATE, ("budget_amount",))
    assert "Estimated Budget" in refused.message  # the step's own label
    w.set("lead", "L1", budget_amount=50_000)
    moved = w.ok(Next())
    assert moved.effects == (
        SetField("lead", "L1", "status", "qualified"),  # qualify's `on exit`
        CreateRecord("opportunity", {"name": "Fleet renewal", "estimated_revenue": 50_000, "originating_lead": "L1"},
                     "R1"),
    )
    assert moved.state.bound == (("lead", "L1"), ("opportunity", "R1"))
    assert moved.events == (Event("stage_changed", "I1", "develop", w.now, "ann"),)
    assert w.data.values("opportunity", "R1")["status"] == "open"  # type: ignore[index]  # entity default, by the service
    assert w.data.values("lead", "L1")["status"] == "qualified"  # type: ignore[index]
    opp = develop_to_close(w)
    close_and_finish(w, opp)
    assert w.traversed == ["qualify", "develop", "propose", "close"]


def test_big_budget_this_quarter_confirms_interest_first(lead: Walker) -> None:
    w = lead
    w.set("lead", "L1", **BIG)
    assert w.path() == ["qualify", "confirm_interest", "develop", "propose", "close"]
    w.ok(Next())
    assert w.stage == "confirm_interest"
    assert w.st.record_of("opportunity") is None
    assert w.refused(Next()).missing_steps == ("decision_maker",)
    w.set("lead", "L1", decision_maker=True)
    moved = w.ok(Next())
    assert [type(e).__name__ for e in moved.effects] == ["CreateRecord"]
    opp = develop_to_close(w)
    close_and_finish(w, opp)
    assert w.traversed == ["qualify", "confirm_interest", "develop", "propose", "close"]


def test_big_budget_with_a_later_timeframe_skips_confirm_interest(lead: Walker) -> None:
    lead.set("lead", "L1", budget_amount=2_000_000, purchase_timeframe="next_quarter")
    lead.ok(Next())
    assert lead.stage == "develop"


def test_going_back_and_changing_data_reevaluates_the_branch(lead: Walker) -> None:
    w = lead
    w.set("lead", "L1", **BIG)
    w.ok(Next())
    assert w.traversed == ["qualify", "confirm_interest"]
    w.ok(Previous())
    assert w.traversed == ["qualify"]
    w.set("lead", "L1", budget_amount=10_000)
    assert w.path() == ["qualify", "develop", "propose", "close"]
    w.ok(Next())
    assert w.traversed == ["qualify", "develop"]


def test_changing_data_later_changes_the_prediction_not_the_history(lead: Walker) -> None:
    w = lead
    w.set("lead", "L1", **BIG)
    w.ok(Next())
    w.set("lead", "L1", decision_maker=True)
    w.ok(Next())
    w.set("lead", "L1", budget_amount=10)
    assert w.traversed == ["qualify", "confirm_interest", "develop"]
    assert w.path() == ["qualify", "confirm_interest", "develop", "propose", "close"]


def test_set_active_back_to_qualify_across_entities_and_forward_reuses_the_opportunity(lead: Walker) -> None:
    w = lead
    w.set("lead", "L1", budget_amount=10)
    w.ok(Next())
    opp = develop_to_close(w)
    assert w.refused(SetActive("confirm_interest")).code == Code.UNREACHABLE
    w.ok(SetActive("qualify"))
    assert w.traversed == ["qualify"] and w.stage == "qualify"
    moved = w.ok(Next())
    assert not any(isinstance(e, CreateRecord) for e in moved.effects)
    assert w.st.record_of("opportunity") == opp


def test_an_existing_opportunity_can_be_given_as_the_target(lead: Walker) -> None:
    w = lead
    w.set("lead", "L1", budget_amount=10)
    w.data.save("opportunity", "O7", {"name": "Earlier", "originating_lead": "L1"})
    w.data.save("lead", "L2", {"topic": "Other"})
    w.data.save("opportunity", "O8", {"name": "Not ours", "originating_lead": "L2"})
    assert w.refused(Next("O8")).code == Code.INVALID
    assert w.refused(Next("L2")).code == Code.INVALID  # not an opportunity
    moved = w.ok(Next("O7"))
    assert not any(isinstance(e, CreateRecord) for e in moved.effects)
    assert w.st.record_of("opportunity") == "O7"


def test_without_create_the_move_needs_a_target() -> None:
    text = example_text("opportunity.bpf")
    start = text.index("        create {")
    end = text.index("}", start) + 1
    w = Walker(load(text[:start] + text[end:]), "lead_to_opportunity")
    w.data.save("lead", "L1", {"topic": "Fleet", "budget_amount": 10})
    w.start("L1")
    assert w.refused(Next()).code == Code.CROSS_ENTITY_TARGET_REQUIRED
    w.data.save("opportunity", "O1", {"name": "Fleet", "originating_lead": "L1"})
    assert "pick one of the 1 linked opportunity records" in w.refused(Next()).message
    w.ok(Next("O1"))


def test_the_action_step_notifies_the_manager(lead: Walker) -> None:
    w = lead
    w.set("lead", "L1", budget_amount=10)
    w.ok(Next())
    opp = w.st.record_of("opportunity")
    w.set("opportunity", opp, customer_need="x")  # type: ignore[arg-type]
    w.ok(Next())
    moved = w.ok(RunAction("notify_manager"))
    (call,) = moved.effects
    assert isinstance(call, CallAction)
    assert dict(call.arguments) == {"role": "sales_manager", "message": "Proposal ready"}
    assert (call.origin.entity, call.origin.record_id, call.origin.stage) == ("opportunity", opp, "propose")
    statuses = {s.step.name: s for s in stage_steps(w.defn, w.st, w.data, w.st.active_stage)}
    assert statuses["notify_manager"].done and not statuses["notify_manager"].required


def test_abandon_disqualifies_the_lead(lead: Walker) -> None:
    moved = lead.ok(Abandon())
    assert moved.effects == (SetField("lead", "L1", "status", "disqualified"),)
    assert lead.st.status == "aborted"


def at_propose(w: Walker, discount: int) -> str:
    w.set("lead", "L1", budget_amount=10)
    w.ok(Next())
    opp = w.st.record_of("opportunity")
    assert opp is not None
    w.set("opportunity", opp, customer_need="x")
    w.ok(Next())
    w.set("opportunity", opp, proposal_developed=True, discount_percent=discount)
    return opp


def test_a_rule_requirement_without_a_step_marks_the_form_but_does_not_gate(lead: Walker) -> None:
    # discount_needs_approval requires manager_approved, which no step asks for: only steps gate
    # (LANGUAGE.md), so the move goes on and the form state carries the requirement.
    w = lead
    opp = at_propose(w, 15)
    form = w.data.form("opportunity", opp)
    assert form.is_required("manager_approved", False)
    assert form.recommendation("manager_approved") == "Ask your sales manager to approve the discount"
    w.ok(Next())


def test_a_small_discount_needs_no_approval(lead: Walker) -> None:
    at_propose(lead, 5)
    lead.ok(Next())
    assert lead.stage == "close"


def test_a_rule_can_make_a_step_of_the_stage_required() -> None:
    text = example_text("opportunity.bpf").replace("step proposal_presented\n",
                                                   "step proposal_presented\n        step manager_approved\n")
    w = Walker(load(text), "lead_to_opportunity")
    w.data.save("lead", "L1", {"topic": "Fleet"})
    w.start("L1")
    opp = at_propose(w, 20)
    statuses = {s.step.name: s for s in stage_steps(w.defn, w.st, w.data, w.st.active_stage)}
    approval = statuses["manager_approved"]
    assert approval.required and not approval.done and approval.blocks
    assert approval.recommendation == "Ask your sales manager to approve the discount"
    assert [s.name for s in missing_steps(w.defn, w.st, w.data)] == ["manager_approved"]
    w.set("opportunity", opp, discount_percent=0)
    assert missing_steps(w.defn, w.st, w.data) == []


def test_won_deals_lock_their_revenue_and_discount(lead: Walker) -> None:
    w = lead
    opp = at_propose(w, 5)
    assert w.data.form("opportunity", opp).locked == frozenset()
    w.ok(Next())
    close_and_finish(w, opp)
    assert w.data.form("opportunity", opp).locked == {"estimated_revenue", "discount_percent"}
    propose = w.defn.stage("propose")
    assert propose is not None
    statuses = {s.step.name: s for s in stage_steps(w.defn, w.st, w.data, propose.index)}
    assert statuses["discount_percent"].locked and not statuses["proposal_developed"].locked


def test_negative_revenue_is_rejected_by_the_rules(lead: Walker) -> None:
    lead.set("lead", "L1", budget_amount=10)
    lead.ok(Next())
    result = lead.data.save("opportunity", "R1", {"estimated_revenue": -5})
    assert [(e.field, e.message) for e in result.form.errors] == [
        ("estimated_revenue", "Estimated revenue can't be negative")]


def test_upcoming_stages_on_an_unbound_entity_show_empty_steps(lead: Walker) -> None:
    develop = lead.defn.stage("develop")
    assert develop is not None
    statuses = stage_steps(lead.defn, lead.st, lead.data, develop.index)
    assert [s.value for s in statuses] == [None] * 4 and not any(s.done for s in statuses)
    path = active_path(lead.defn, lead.st, lead.data, lead.now)
    assert [s.entity for s in path] == ["lead", "opportunity", "opportunity", "opportunity"]


@pytest.mark.parametrize("budget, timeframe, expected", [
    (2_000_000, "this_quarter", "confirm_interest"),
    (1_000_000, "immediate", "confirm_interest"),
    (999_999, "immediate", "develop"),
    (2_000_000, None, "develop"),
    (None, "immediate", "develop"),
])
def test_the_budget_branch(lead: Walker, budget: int | None, timeframe: str | None, expected: str) -> None:
    lead.data.put("lead", "L1", {**lead.data.values("lead", "L1"), "budget_amount": budget,  # type: ignore[dict-item]
                                 "purchase_timeframe": timeframe})
    assert lead.path()[1] == expected
