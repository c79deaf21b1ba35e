"""`on overdue` in the pure engine: a visit past its sla as effects, with no database and no clock."""

from __future__ import annotations

from bpf_dsl.engine import CallAction, Next, SetField
from bpf_dsl.engine.overdue import overdue

from .helpers import Walker, load

MODEL = """
role agent
entity ticket {
    title: text required
    escalated: bool
}
process support on ticket {
    roles agent
    stage triage {
        step title
        sla 4h
        on overdue {
            set escalated = true
            call bpf.notify(role: "agent", message: "late: " + title)
        }
    }
    stage resolve {
        step title
    }
}
"""


def test_overdue_runs_the_active_stages_hook_and_raises_the_version() -> None:
    w = Walker(load(MODEL), "support")
    w.data.save("ticket", "T1", {"title": "Printer"})
    w.start("T1")
    state = w.state
    assert state is not None
    moved = overdue(w.defn, state, w.tick(), w.data, "bpf")
    assert moved.state.version == state.version + 1
    assert moved.state._replace(version=state.version) == state  # nothing else changes: same stage, same visit
    assert moved.events == () and moved.visits == ()
    set_field, call = moved.effects
    assert set_field == SetField("ticket", "T1", "escalated", True)
    assert isinstance(call, CallAction) and call.action.dotted == "bpf.notify"
    assert dict(call.arguments) == {"role": "agent", "message": "late: Printer"}
    assert (call.origin.trigger, call.origin.by, call.origin.stage) == ("overdue", "bpf", "triage")


def test_a_stage_without_the_hook_has_no_effects() -> None:
    w = Walker(load(MODEL), "support")
    w.data.save("ticket", "T1", {"title": "Printer"})
    w.start("T1")
    w.ok(Next())
    assert w.state is not None
    moved = overdue(w.defn, w.state, w.tick(), w.data, "bpf")
    assert moved.effects == () and moved.state.version == w.state.version + 1
