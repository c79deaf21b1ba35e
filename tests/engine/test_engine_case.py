"""The spec's case.bpf walked through every branch: a finishing arm, `else if`, `else`, hooks, rules."""

from __future__ import annotations

import pytest

from bpf_dsl.engine import (
    CallAction,
    Event,
    Finish,
    Next,
    Previous,
    SetField,
    TransitionErrorCode,
    missing_steps,
    stage_steps,
)

from .helpers import Walker

Code = TransitionErrorCode


def to_research(w: Walker) -> None:
    refused = w.refused(Next())
    assert refused.missing_steps == ("customer_email", "case_type")
    w.set("case", "C1", customer_email="ann@example.com", case_type="question")
    moved = w.ok(Next())
    assert w.stage == "research"
    (call,) = moved.effects
    assert isinstance(call, CallAction)
    assert dict(call.arguments) == {"role": "supervisor", "message": "A case needs research"}
    assert (call.origin.trigger, call.origin.stage) == ("enter", "research")


def test_a_known_solution_resolves_quickly_and_ends_there(case: Walker) -> None:
    w = case
    to_research(w)
    assert w.refused(Finish()).code == Code.INVALID
    w.set("case", "C1", known_solution=True)
    assert w.path() == ["identify", "research", "quick_resolve"]
    w.ok(Next())
    assert w.stage == "quick_resolve"
    assert w.refused(Next()).code == Code.END  # the arm ends with `finish`
    assert w.refused(Finish()).missing_steps == ("resolution",)
    w.set("case", "C1", resolution="Restarted it")
    moved = w.ok(Finish())
    assert moved.effects == (SetField("case", "C1", "resolved_on", w.now),)
    assert moved.events == (Event("finished", "I1", "quick_resolve", w.now, "ann"),)
    assert w.traversed == ["identify", "research", "quick_resolve"]
    assert w.data.values("case", "C1")["resolved_on"] == w.now  # type: ignore[index]


@pytest.mark.parametrize("values", [{"priority": "high"}, {"case_type": "problem"}])
def test_high_priority_or_problems_escalate(case: Walker, values: dict[str, str]) -> None:
    w = case
    to_research(w)
    w.set("case", "C1", **values)
    assert w.path() == ["identify", "research", "escalate", "resolve"]
    w.ok(Next())
    assert w.stage == "escalate"
    # escalation_reason is hidden until escalated is true, and a hidden step does not gate.
    assert w.refused(Next()).missing_steps == ("escalated",)
    hidden = {s.step.name: s.hidden for s in stage_steps(w.defn, w.st, w.data, w.st.active_stage)}
    assert hidden == {"escalated": False, "escalation_reason": True}
    w.set("case", "C1", escalated=True)
    assert w.refused(Next()).missing_steps == ("escalation_reason",)
    w.set("case", "C1", escalation_reason="Angry customer")
    w.ok(Next())
    finish_resolve(w)
    assert w.traversed == ["identify", "research", "escalate", "resolve"]


def test_otherwise_investigate_then_resolve(case: Walker) -> None:
    w = case
    to_research(w)
    assert w.path() == ["identify", "research", "investigate", "resolve"]
    w.ok(Next())
    assert w.stage == "investigate"
    assert missing_steps(w.defn, w.st, w.data) == []
    (kb,) = stage_steps(w.defn, w.st, w.data, w.st.active_stage)
    assert kb.step.label == "Candidate article"
    w.ok(Next())
    finish_resolve(w)
    assert w.traversed == ["identify", "research", "investigate", "resolve"]


def finish_resolve(w: Walker) -> None:
    assert w.stage == "resolve"
    assert w.refused(Next()).code == Code.END
    assert w.refused(Finish()).missing_steps == ("resolution",)
    w.set("case", "C1", resolution="Fixed", satisfaction=5)
    w.ok(Finish())
    assert w.st.status == "finished"
    assert w.refused(Previous()).code == Code.NOT_ACTIVE


def test_going_back_from_escalate_and_finding_a_solution(case: Walker) -> None:
    w = case
    to_research(w)
    w.set("case", "C1", priority="high")
    w.ok(Next())
    w.ok(Previous())
    w.set("case", "C1", known_solution=True)
    w.ok(Next())
    assert w.traversed == ["identify", "research", "quick_resolve"]


def test_satisfaction_needs_a_resolution_first(case: Walker) -> None:
    result = case.data.save("case", "C1", {"satisfaction": 4})
    assert [e.field for e in result.form.errors] == ["satisfaction"]
    assert "satisfaction" not in case.data.values("case", "C1")  # type: ignore[operator]
