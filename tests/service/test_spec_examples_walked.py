"""The spec's two example processes walked through the service, on every backend.

opportunity.bpf (Lead to Opportunity) and case.bpf (Phone to Case), loaded together
as one program from the spec's folder: each walked start to finish and through each
branch, asserting stages, gates and the rules' effects.
"""

from __future__ import annotations

from typing import Any

import pytest

from bpf_dsl.service import Caller, ProcessEvent, Service, TransitionFailure, ValidationFailure
from bpf_dsl.service.data import TxData
from bpf_dsl.storage import InstanceRow, RecordRow

from .conftest import ADMIN, Clock, OpenSvc, count, example_program, ok, snapshot

SALLY = Caller("sally", frozenset({"salesperson"}))
MAX = Caller("max", frozenset({"sales_manager"}))
AGENT = Caller("alex", frozenset({"agent"}))


@pytest.fixture
def service(open_svc: OpenSvc) -> Service:
    """Both spec examples on this test's database."""
    return open_svc(example_program())


def inst(svc: Service, instance_id: str | None) -> InstanceRow:
    assert instance_id is not None
    row = svc.get_instance(ADMIN, instance_id)
    assert row is not None
    return row


def values(svc: Service, record_id: str) -> dict[str, Any]:
    row = svc.get_record(ADMIN, record_id)
    assert row is not None
    return row.values


def update(svc: Service, caller: Caller, record_id: str, **changes: Any) -> RecordRow:
    return ok(svc.update_record(caller, record_id, changes))  # type: ignore[no-any-return]


def refused(svc: Service, command: Any, code: str) -> TransitionFailure:
    """``command`` is refused with ``code`` and writes nothing."""
    before = snapshot(svc)
    result = command()
    assert isinstance(result, TransitionFailure) and result.code == code, result
    assert snapshot(svc) == before
    return result


def invalid_write(svc: Service, result: Any, field: str) -> None:
    assert isinstance(result, ValidationFailure), result
    assert field in [e.field for e in result.field_errors], result


def stamp(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def active_path(svc: Service, row: InstanceRow) -> list[str]:
    detail = svc.detail(inst(svc, row.id))
    assert detail is not None
    return [s.name for s in detail.active_path]


# -- Lead to Opportunity ---------------------------------------------------------------------------------

def new_lead(svc: Service, caller: Caller = SALLY, **lead: Any) -> tuple[RecordRow, InstanceRow]:
    row = ok(svc.create_record(caller, "lead", {"topic": "Fleet renewal", **lead}))
    return row, inst(svc, row.active_instance_id)


def test_opportunity_small_budget_walked_to_won(service: Service, clock: Clock) -> None:
    svc = service
    published: list[ProcessEvent] = []
    svc.subscribe(published.append)
    lead, row = new_lead(svc)
    assert lead.values == {"topic": "Fleet renewal", "purchase_timeframe": "unknown", "status": "open"}
    assert (row.process, row.active_stage, row.status) == ("lead_to_opportunity", "qualify", "active")
    assert refused(svc, lambda: svc.move_next(SALLY, row.id), "STAGE_GATE").missing_steps == ("budget_amount",)
    refused(svc, lambda: svc.finish(SALLY, row.id), "INVALID")
    update(svc, SALLY, lead.id, budget_amount=250_000, purchase_timeframe="immediate")
    assert active_path(svc, row) == ["qualify", "develop", "propose", "close"]

    clock.advance(600)
    row = ok(svc.move_next(SALLY, row.id))
    assert row.active_stage == "develop"
    assert values(svc, lead.id)["status"] == "qualified"  # on exit of qualify
    opp_id = row.bound["opportunity"]
    assert values(svc, opp_id) == {"name": "Fleet renewal", "estimated_revenue": 250_000,
                                   "originating_lead": lead.id, "status": "open"}
    assert svc.list_records(ADMIN, "opportunity", where={"originating_lead": lead.id}).total == 1

    assert refused(svc, lambda: svc.move_next(SALLY, row.id), "STAGE_GATE").missing_steps == ("customer_need",)
    update(svc, SALLY, opp_id, customer_need="Twelve vans")
    row = ok(svc.move_next(SALLY, row.id))
    assert row.active_stage == "propose"
    assert refused(svc, lambda: svc.move_next(SALLY, row.id), "STAGE_GATE").missing_steps == \
        ("proposal_developed",)
    update(svc, SALLY, opp_id, proposal_developed=False)  # a required bool must be true
    refused(svc, lambda: svc.move_next(SALLY, row.id), "STAGE_GATE")
    update(svc, SALLY, opp_id, proposal_developed=True)
    published.clear()
    row = ok(svc.run_action_step(SALLY, row.id, "notify_manager"))
    assert [(e.kind, e.stage, dict(e.data)) for e in published] == [
        ("notification", "propose", {"role": "sales_manager", "message": "Proposal ready"})]
    row = ok(svc.move_next(SALLY, row.id))
    assert row.active_stage == "close"
    refused(svc, lambda: svc.move_next(SALLY, row.id), "END")
    assert refused(svc, lambda: svc.finish(SALLY, row.id), "STAGE_GATE").missing_steps == ("decision_date",)
    update(svc, SALLY, opp_id, decision_date="2026-04-30")
    clock.advance(60)
    row = ok(svc.finish(SALLY, row.id))
    assert (row.status, row.completed_at, row.traversed) == ("finished", clock.now,
                                                            ("qualify", "develop", "propose", "close"))
    assert values(svc, opp_id)["status"] == "won"  # on finish
    assert count(svc, "opportunity") == 1

    # lock_closed_deals: a won deal's revenue and discount can't be changed through the API.
    before = snapshot(svc)
    invalid_write(svc, svc.update_record(SALLY, opp_id, {"estimated_revenue": 1}), "estimated_revenue")
    invalid_write(svc, svc.update_record(SALLY, opp_id, {"discount_percent": 5}), "discount_percent")
    assert snapshot(svc) == before
    assert update(svc, SALLY, opp_id, thank_you_sent=True).values["thank_you_sent"] is True


@pytest.mark.parametrize(("budget", "timeframe", "second"), [
    (2_000_000, "immediate", "confirm_interest"),
    (1_000_000, "this_quarter", "confirm_interest"),   # >= is inclusive
    (2_000_000, "next_quarter", "develop"),
    (999_999, "immediate", "develop"),
    (2_000_000, None, "develop"),                       # the default `unknown`: not in the list
])
def test_opportunity_branches_on_budget_and_timeframe(service: Service, budget: int, timeframe: str | None,
                                                      second: str) -> None:
    svc = service
    lead, row = new_lead(svc, budget_amount=budget, **({"purchase_timeframe": timeframe} if timeframe else {}))
    row = ok(svc.move_next(SALLY, row.id))
    assert row.active_stage == second
    if second == "confirm_interest":
        assert count(svc, "opportunity") == 0  # not yet: Develop creates it
        assert refused(svc, lambda: svc.move_next(SALLY, row.id), "STAGE_GATE").missing_steps == \
            ("decision_maker",)
        update(svc, SALLY, lead.id, decision_maker=False)
        refused(svc, lambda: svc.move_next(SALLY, row.id), "STAGE_GATE")
        update(svc, SALLY, lead.id, decision_maker=True)
        row = ok(svc.move_next(SALLY, row.id))
        assert row.traversed == ("qualify", "confirm_interest", "develop")
    assert row.active_stage == "develop"
    assert values(svc, row.bound["opportunity"])["estimated_revenue"] == budget


def test_opportunity_going_back_reevaluates_the_branch_and_keeps_the_opportunity(service: Service) -> None:
    svc = service
    lead, row = new_lead(svc, budget_amount=5000)
    row = ok(svc.move_next(SALLY, row.id))
    opp_id = row.bound["opportunity"]
    row = ok(svc.move_previous(SALLY, row.id))  # across entities, back to the lead
    assert (row.active_stage, row.traversed) == ("qualify", ("qualify",))
    update(svc, SALLY, lead.id, budget_amount=3_000_000, purchase_timeframe="this_quarter", decision_maker=True)
    assert active_path(svc, row) == ["qualify", "confirm_interest", "develop", "propose", "close"]
    row = ok(svc.move_next(SALLY, row.id))
    assert row.active_stage == "confirm_interest"
    row = ok(svc.move_next(SALLY, row.id))
    assert (row.active_stage, row.bound["opportunity"]) == ("develop", opp_id)  # bound again, not recreated
    assert count(svc, "opportunity") == 1
    assert values(svc, opp_id)["estimated_revenue"] == 5000  # `create` values are set once, at creation
    refused(svc, lambda: svc.set_active_stage(SALLY, row.id, "close"), "UNREACHABLE")
    row = ok(svc.set_active_stage(SALLY, row.id, "qualify"))
    assert row.traversed == ("qualify",)


def test_opportunity_abandon_disqualifies_the_lead(service: Service, clock: Clock) -> None:
    svc = service
    lead, row = new_lead(svc)
    clock.advance(30)
    row = ok(svc.abandon(SALLY, row.id))  # from the first stage
    assert (row.status, row.completed_at) == ("aborted", clock.now)
    assert values(svc, lead.id)["status"] == "disqualified"
    refused(svc, lambda: svc.move_next(SALLY, row.id), "NOT_ACTIVE")
    row = ok(svc.reactivate(SALLY, row.id))
    assert (row.status, row.active_stage) == ("active", "qualify")

    lead2, row2 = new_lead(svc, budget_amount=10)
    row2 = ok(svc.move_next(SALLY, row2.id))
    assert values(svc, lead2.id)["status"] == "qualified"
    row2 = ok(svc.abandon(MAX, row2.id))  # from develop, on the opportunity
    assert (row2.status, row2.active_stage) == ("aborted", "develop")
    assert values(svc, lead2.id)["status"] == "disqualified"
    assert values(svc, row2.bound["opportunity"])["status"] == "open"  # only `on finish` wins it


def form_of(svc: Service, entity: str, record_id: str) -> Any:
    """The rules' form state of a stored record (what the bar shows for steps)."""
    with svc.storage.read() as tx:
        return TxData(tx, svc.program, svc.clock()).form(entity, record_id)


def test_opportunity_rules_discount_and_negative_revenue(service: Service) -> None:
    svc = service
    lead, row = new_lead(svc, budget_amount=10)
    row = ok(svc.move_next(SALLY, row.id))
    opp_id = row.bound["opportunity"]
    update(svc, SALLY, opp_id, customer_need="vans")
    row = ok(svc.move_next(SALLY, row.id))
    assert row.active_stage == "propose"

    form = form_of(svc, "opportunity", opp_id)
    assert form.is_required("manager_approved", False) is False  # discount empty: `optional`
    update(svc, SALLY, opp_id, discount_percent=15)
    form = form_of(svc, "opportunity", opp_id)
    assert form.is_required("manager_approved", False) is True
    assert form.recommendation("manager_approved") == "Ask your sales manager to approve the discount"
    # manager_approved is not a step of any stage, so the bar has no step to mark; and only steps gate
    # (docs/service.md), so Propose can still be left once its own steps are done.
    bar = svc.process_bar(SALLY, lead.id)
    assert bar is not None
    assert all(s.step.field != "manager_approved" for stage in bar[1] for s in stage.steps)
    update(svc, SALLY, opp_id, proposal_developed=True)
    assert ok(svc.move_next(SALLY, row.id)).active_stage == "close"
    update(svc, SALLY, opp_id, discount_percent=10)
    assert form_of(svc, "opportunity", opp_id).is_required("manager_approved", False) is False

    before = snapshot(svc)
    invalid_write(svc, svc.update_record(SALLY, opp_id, {"estimated_revenue": -1}), "estimated_revenue")
    invalid_write(svc, svc.update_record(SALLY, opp_id, {"discount_percent": 101}), "discount_percent")
    invalid_write(svc, svc.create_record(SALLY, "opportunity", {"name": "x", "estimated_revenue": -5}),
                  "estimated_revenue")
    assert snapshot(svc) == before


def test_opportunity_role_security(service: Service) -> None:
    svc = service
    # Round two: no process of an agent's roles binds leads (and `lead` has no `allow` line), so an agent may
    # do nothing with them: not create one, not see one (LANGUAGE.md, "Who may see and change records").
    agent_lead = svc.create_record(AGENT, "lead", {"topic": "x"})
    assert getattr(agent_lead, "message", None) == "not allowed"
    lead, row = new_lead(svc)
    refused(svc, lambda: svc.move_next(AGENT, row.id), "FORBIDDEN")
    assert svc.instances_of(AGENT, lead.id) == []
    assert svc.get_record(AGENT, lead.id) is None
    assert [i.id for i in svc.instances_of(MAX, lead.id)] == [row.id]


# -- Phone to Case ---------------------------------------------------------------------------------------

def new_case(svc: Service, **case: Any) -> tuple[RecordRow, InstanceRow]:
    row = ok(svc.create_record(AGENT, "case", {"title": "Printer on fire", **case}))
    return row, inst(svc, row.active_instance_id)


def to_research(svc: Service, **identify: Any) -> tuple[RecordRow, InstanceRow]:
    case, row = new_case(svc)
    assert refused(svc, lambda: svc.move_next(AGENT, row.id), "STAGE_GATE").missing_steps == \
        ("customer_email", "case_type")
    update(svc, AGENT, case.id, **{"customer_email": "pat@example.com", "case_type": "question", **identify})
    row = ok(svc.move_next(AGENT, row.id))
    assert row.active_stage == "research"
    return case, row


def test_case_identify_defaults_and_research_notification(service: Service, clock: Clock) -> None:
    svc = service
    published: list[ProcessEvent] = []
    svc.subscribe(published.append)
    case, row = new_case(svc)
    assert case.values == {"title": "Printer on fire", "origin": "phone", "priority": "normal"}
    assert (row.process, row.active_stage) == ("phone_to_case", "identify")
    published.clear()
    case, row = to_research(svc)
    notes = [(e.kind, e.stage, dict(e.data)) for e in published if e.kind == "notification"]
    assert notes == [("notification", "research", {"role": "supervisor", "message": "A case needs research"})]
    assert active_path(svc, row) == ["identify", "research", "investigate", "resolve"]


def test_case_known_solution_resolves_quickly_and_ends(service: Service, clock: Clock) -> None:
    svc = service
    case, row = to_research(svc, priority="high")  # known_solution wins over priority: first arm first
    update(svc, AGENT, case.id, known_solution=True, kb_article="KB-1")
    assert active_path(svc, row) == ["identify", "research", "quick_resolve"]
    row = ok(svc.move_next(AGENT, row.id))
    assert row.active_stage == "quick_resolve"
    refused(svc, lambda: svc.move_next(AGENT, row.id), "END")
    assert refused(svc, lambda: svc.finish(AGENT, row.id), "STAGE_GATE").missing_steps == ("resolution",)
    update(svc, AGENT, case.id, resolution="Unplugged it")
    refused(svc, lambda: svc.move_next(AGENT, row.id), "END")
    clock.advance(3600)
    row = ok(svc.finish(AGENT, row.id))
    assert (row.status, row.completed_at) == ("finished", clock.now)
    assert values(svc, case.id)["resolved_on"] == stamp(clock.now)  # on finish: set resolved_on = now()


@pytest.mark.parametrize("identify", [{"priority": "high"}, {"case_type": "problem"},
                                      {"priority": "high", "case_type": "problem"}])
def test_case_escalates_high_priority_or_problems(service: Service, clock: Clock, identify: dict[str, str]) -> None:
    svc = service
    case, row = to_research(svc, **identify)
    update(svc, AGENT, case.id, known_solution=False)
    row = ok(svc.move_next(AGENT, row.id))
    assert row.active_stage == "escalate"

    def reason() -> Any:
        bar = svc.process_bar(AGENT, case.id)
        assert bar is not None
        escalate = next(b for b in bar[1] if b.stage.name == "escalate")
        assert escalate.state == "ACTIVE"
        return next(s for s in escalate.steps if s.step.name == "escalation_reason")

    assert (reason().required, reason().hidden) == (True, True)  # hidden until escalated: it doesn't gate
    assert refused(svc, lambda: svc.move_next(AGENT, row.id), "STAGE_GATE").missing_steps == ("escalated",)
    update(svc, AGENT, case.id, escalated=True)
    assert (reason().required, reason().hidden) == (True, False)  # shown and required
    assert refused(svc, lambda: svc.move_next(AGENT, row.id), "STAGE_GATE").missing_steps == \
        ("escalation_reason",)
    update(svc, AGENT, case.id, escalation_reason="VIP customer")
    row = ok(svc.move_next(AGENT, row.id))
    assert row.traversed == ("identify", "research", "escalate", "resolve")
    update(svc, AGENT, case.id, resolution="Replaced")
    assert ok(svc.finish(AGENT, row.id)).status == "finished"


@pytest.mark.parametrize("known", [False, None])
def test_case_investigates_otherwise_and_needs_a_resolution_before_satisfaction(
        service: Service, clock: Clock, known: bool | None) -> None:
    svc = service
    case, row = to_research(svc)
    if known is not None:
        update(svc, AGENT, case.id, known_solution=known)
    row = ok(svc.move_next(AGENT, row.id))  # empty known_solution: no arm's condition holds, else arm
    assert row.active_stage == "investigate"
    row = ok(svc.move_next(AGENT, row.id))
    assert row.active_stage == "resolve"
    refused(svc, lambda: svc.move_next(AGENT, row.id), "END")

    before = snapshot(svc)
    failure = svc.update_record(AGENT, case.id, {"satisfaction": 4})
    assert isinstance(failure, ValidationFailure)
    assert [(e.field, e.message) for e in failure.field_errors] == [
        ("satisfaction", "Record the resolution before the customer's satisfaction")]
    assert snapshot(svc) == before
    assert refused(svc, lambda: svc.finish(AGENT, row.id), "STAGE_GATE").missing_steps == ("resolution",)
    update(svc, AGENT, case.id, resolution="Reset", satisfaction=4)
    clock.advance(120)
    row = ok(svc.finish(AGENT, row.id))
    assert row.traversed == ("identify", "research", "investigate", "resolve")
    assert values(svc, case.id)["resolved_on"] == stamp(clock.now)
    assert [v.stage_name for v in svc.history(row)] == ["identify", "research", "investigate", "resolve"]
