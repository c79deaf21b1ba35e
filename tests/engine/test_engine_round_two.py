"""The pure engine on round two's gates and finish outcomes (stage roles are the service's: the engine knows
the user, not their roles)."""

from __future__ import annotations

from bpf_dsl.engine import Abandon, Finish, Next, Previous, Reactivate, can_move_next, unmet_gates
from bpf_dsl.engine.outcome import TransitionErrorCode as Code

from .helpers import Walker, example_text, load

FLOW = """
role clerk

entity ticket {
    title: text required
    amount: money
    decision: choice(pending, approved, declined) default pending
    reviewer: lookup(person)
}
entity person { name: text  senior: bool }

process review on ticket {
    roles clerk
    stage intake {
        step title required
        step amount
        gate amount > 0 "Give an amount"
        gate amount < 1000 or reviewer.senior = true "A senior reviewer signs large amounts"
    }
    if decision = declined {
        stage explain { step title }
        finish declined "Declined"
    }
    stage decide {
        step decision
        gate decision != pending "Approve or decline first"
    }
    if decision = approved {
        finish approved "Approved"
    }
}
"""


def walker() -> Walker:
    w = Walker(load(FLOW), "review")
    w.set("ticket", "T1", title="Refund")
    w.start("T1")
    return w


def test_a_failing_gate_refuses_next_with_its_message_and_nothing_changes() -> None:
    w = walker()
    refused = w.refused(Next())
    assert refused.code == Code.STAGE_GATE
    assert refused.unmet_gates == ("Give an amount", "A senior reviewer signs large amounts")
    assert refused.missing_steps == ()
    assert refused.message == "Give an amount; A senior reviewer signs large amounts"
    assert not can_move_next(w.defn, w.st, w.data, w.now)


def test_gates_read_the_record_and_its_lookups_and_empty_is_false() -> None:
    w = walker()
    w.set("ticket", "T1", amount=5000)
    assert unmet_gates(w.defn, w.st, w.data, w.now) == ["A senior reviewer signs large amounts"]
    w.set("person", "P1", name="Rita", senior=True)
    w.set("ticket", "T1", reviewer="P1")
    assert unmet_gates(w.defn, w.st, w.data, w.now) == []
    assert can_move_next(w.defn, w.st, w.data, w.now)
    w.set("ticket", "T1", amount=None)
    assert unmet_gates(w.defn, w.st, w.data, w.now) == ["Give an amount"]


def test_a_gate_holds_finishing_where_no_step_is_required() -> None:
    w = walker()
    w.set("ticket", "T1", amount=5)
    w.ok(Next())
    w.set("ticket", "T1", decision=None)
    refused = w.refused(Finish())
    assert refused.code == Code.STAGE_GATE
    assert refused.unmet_gates == ("Approve or decline first",)
    assert refused.missing_steps == ()  # `decision` is an optional step: only the gate holds it


def test_finish_records_the_outcome_of_the_path_and_reactivate_clears_it() -> None:
    w = walker()
    w.set("ticket", "T1", amount=5)
    w.ok(Next())
    w.set("ticket", "T1", decision="approved")
    w.ok(Finish())
    assert (w.st.status, w.st.outcome) == ("finished", "approved")
    w.ok(Reactivate())
    assert (w.st.status, w.st.outcome) == ("active", None)
    w.ok(Previous())
    w.set("ticket", "T1", decision="declined")
    w.ok(Next())
    assert w.stage == "explain"
    w.ok(Finish())
    assert w.st.outcome == "declined"


def test_a_path_that_runs_off_its_end_has_no_outcome() -> None:
    w = walker()
    w.set("ticket", "T1", amount=5)
    w.ok(Next())
    w.set("ticket", "T1", decision="declined")
    # Declined after Decide: the `if decision = approved` chain falls through to the end, no `finish`.
    w.ok(Finish())
    assert (w.st.status, w.st.outcome) == ("finished", None)


def test_abandoning_records_no_outcome() -> None:
    w = walker()
    w.ok(Abandon())
    assert (w.st.status, w.st.outcome) == ("aborted", None)


def test_the_spec_examples_have_no_gates_and_no_outcomes() -> None:
    """Round one's processes move as they did: no gate lines, no outcome on finishing."""
    w = Walker(load(example_text("case.bpf")), "phone_to_case")
    assert all(not s.gates and not s.roles for s in w.defn.stages)
    assert w.defn.outcomes == ()
