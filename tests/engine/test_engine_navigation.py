"""Every navigation rule of the engine, on a small process made for it (flow.bpf).

flow: draft (deal) -> [review if the exit hook marked it and amount > 100] -> work (task via deal, no
`create`) -> wrap (deal again).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bpf_dsl.engine import (
    Abandon,
    CallAction,
    CreateRecord,
    Event,
    Finish,
    Moved,
    Next,
    Previous,
    Reactivate,
    Refused,
    RunAction,
    SetActive,
    SetField,
    Start,
    TransitionErrorCode,
    VisitOp,
    can_move_next,
    missing_steps,
    stage_steps,
    step,
)

from .helpers import T0, Walker, load

Code = TransitionErrorCode
FLOW = (Path(__file__).parent / "flow.bpf").read_text()


@pytest.fixture
def w() -> Walker:
    walker = Walker(load(FLOW), "flow")
    walker.data.save("deal", "D1", {"title": "Boat"})
    walker.start("D1")
    return walker


def fill_draft(w: Walker, amount: int = 50) -> None:
    w.set("deal", "D1", amount=amount)
    w.ok(RunAction("ping_boss"))


def to_work(w: Walker) -> None:
    fill_draft(w)
    w.data.save("task", "T1", {"name": "do it", "deal": "D1"})
    w.ok(Next("T1"))
    assert w.stage == "work"


# -- start ----------------------------------------------------------------------------------------


def test_start_enters_the_first_stage_runs_on_start_and_opens_a_visit() -> None:
    w = Walker(load(FLOW), "flow")
    w.data.save("deal", "D1", {"title": "Boat"})
    moved = w.start("D1", instance_id="I9", by="bob")
    s = moved.state
    assert (s.id, s.process, s.record_id, s.status, s.version) == ("I9", "flow", "D1", "active", 1)
    assert s.definition_version == w.defn.version
    assert (s.active_stage, s.traversed, s.bound) == (0, (0,), (("deal", "D1"),))
    assert s.created_at == s.stage_started_at == w.now and s.completed_at is None
    assert moved.events == (Event("started", "I9", "draft", w.now, "bob"),)
    assert moved.effects == (SetField("deal", "D1", "audit", "started"),)
    assert moved.visits == (VisitOp("open", "draft"),)
    assert w.data.values("deal", "D1")["audit"] == "started"  # type: ignore[index]


def test_start_on_an_existing_instance_is_invalid(w: Walker) -> None:
    assert w.refused(Start("I1", "D1")).code == Code.INVALID


def test_a_missing_instance_is_invalid(w: Walker) -> None:
    outcome = step(w.defn, None, Next(), T0, w.data, "ann")
    assert isinstance(outcome, Refused) and outcome.code == Code.INVALID


def test_a_state_of_another_definition_version_is_a_caller_bug(w: Walker) -> None:
    stale = w.st._replace(definition_version="0ld")
    with pytest.raises(ValueError, match="version"):
        step(w.defn, stale, Next(), T0, w.data, "ann")


# -- next and the gate ----------------------------------------------------------------------------


def test_next_is_gated_by_required_data_and_action_steps(w: Walker) -> None:
    refused = w.refused(Next())
    assert refused.code == Code.STAGE_GATE
    assert refused.missing_steps == ("amount", "ping_boss")
    assert "Amount" in refused.message and "Ping Boss" in refused.message
    w.set("deal", "D1", amount=10)
    assert w.refused(Next()).missing_steps == ("ping_boss",)
    assert not can_move_next(w.defn, w.st, w.data, w.now)
    w.ok(RunAction("ping_boss"))
    assert missing_steps(w.defn, w.st, w.data) == []
    assert can_move_next(w.defn, w.st, w.data, w.now)


def test_run_action_calls_the_action_and_marks_it_done_for_this_visit_only(w: Walker) -> None:
    moved = w.ok(RunAction("ping_boss"), by="cy")
    (call,) = moved.effects
    assert isinstance(call, CallAction)
    assert call.action.dotted == "bpf.notify"
    assert dict(call.arguments) == {"role": "clerk", "message": "ping"}
    assert (call.origin.stage, call.origin.entity, call.origin.record_id, call.origin.trigger, call.origin.by) == (
        "draft", "deal", "D1", "step", "cy")
    assert moved.events == () and moved.visits == ()
    assert moved.state.actions_done == {"ping_boss"} and moved.state.version == 2
    # Leaving the stage and coming back starts a new visit: the action must run again.
    w.set("deal", "D1", amount=10)
    w.data.save("task", "T1", {"deal": "D1"})
    w.ok(Next("T1"))
    assert w.st.actions_done == frozenset()
    w.ok(Previous())
    assert w.refused(Next()).missing_steps == ("ping_boss",)


def test_run_action_on_an_unknown_or_data_step_or_other_stage_is_invalid(w: Walker) -> None:
    assert w.refused(RunAction("nope")).code == Code.INVALID
    assert w.refused(RunAction("amount")).code == Code.INVALID
    to_work(w)
    assert w.refused(RunAction("ping_boss")).code == Code.INVALID


def test_next_runs_exit_then_branches_on_what_the_exit_wrote(w: Walker) -> None:
    # The branch reads `audit`, which only the exit hook sets: the condition must see it.
    fill_draft(w, amount=500)
    moved = w.ok(Next())
    assert w.stage == "review"
    assert moved.effects == (SetField("deal", "D1", "audit", "left draft"),)
    assert moved.events == (Event("stage_changed", "I1", "review", w.now, "ann"),)
    assert moved.visits == (VisitOp("close", "draft"), VisitOp("open", "review"))
    assert moved.state.stage_started_at == w.now and moved.state.version == 3  # start, action, next


def test_next_across_entities_needs_a_target_without_create(w: Walker) -> None:
    fill_draft(w)
    refused = w.refused(Next())
    assert refused.code == Code.CROSS_ENTITY_TARGET_REQUIRED
    assert "create a task" in refused.message
    w.data.save("task", "T1", {"deal": "D1"})
    w.data.save("task", "T2", {"deal": "D1"})
    refused = w.refused(Next())
    assert refused.code == Code.CROSS_ENTITY_TARGET_REQUIRED
    assert "2 linked task records" in refused.message


def test_a_target_must_exist_and_point_at_the_bound_record(w: Walker) -> None:
    fill_draft(w)
    w.data.save("deal", "D2", {"title": "Other"})
    w.data.save("task", "T9", {"deal": "D2"})
    assert w.refused(Next("T9")).code == Code.INVALID
    assert w.refused(Next("nope")).code == Code.INVALID


def test_next_binds_the_given_target_and_runs_on_enter_with_its_records(w: Walker) -> None:
    fill_draft(w)
    w.data.save("task", "T1", {"deal": "D1"})
    moved = w.ok(Next("T1"))
    assert moved.state.bound == (("deal", "D1"), ("task", "T1"))
    assert w.stage == "work"
    calls = [e for e in moved.effects if isinstance(e, CallAction)]
    assert [dict(c.arguments) for c in calls] == [{"role": "clerk", "message": "work on Boat"}]
    assert calls[0].origin.trigger == "enter" and calls[0].origin.record_id == "T1"


def test_a_target_for_a_stage_on_a_bound_entity_is_invalid_unless_it_is_that_record(w: Walker) -> None:
    to_work(w)
    w.set("task", "T1", done=True)
    assert w.refused(Next("D2")).code == Code.INVALID
    w.ok(Next("D1"))
    assert w.stage == "wrap"


def test_moving_forward_again_reuses_the_bound_cross_entity_record(w: Walker) -> None:
    to_work(w)
    w.ok(Previous())
    w.ok(RunAction("ping_boss"))
    w.ok(Next())  # no target needed: the task bound before still points at the deal
    assert w.st.record_of("task") == "T1"


def test_a_required_bool_step_must_be_true(w: Walker) -> None:
    to_work(w)
    assert w.refused(Next()).missing_steps == ("done",)
    w.set("task", "T1", done=False)
    assert w.refused(Next()).missing_steps == ("done",)
    w.set("task", "T1", done=True)
    w.ok(Next())


def test_end_on_the_last_stage(w: Walker) -> None:
    to_work(w)
    w.set("task", "T1", done=True)
    w.ok(Next())
    refused = w.refused(Next())
    assert refused.code == Code.END
    assert not can_move_next(w.defn, w.st, w.data, w.now)


# -- previous and set active ----------------------------------------------------------------------


def test_previous_on_the_first_stage_is_beginning(w: Walker) -> None:
    assert w.refused(Previous()).code == Code.BEGINNING


def test_previous_goes_back_one_stage_across_entities_and_cuts_the_path(w: Walker) -> None:
    to_work(w)
    moved = w.ok(Previous())
    assert w.traversed == ["draft"] and w.stage == "draft"
    assert moved.effects == ()  # going back runs no hooks
    assert moved.events == (Event("stage_changed", "I1", "draft", w.now, "ann"),)
    assert moved.visits == (VisitOp("close", "work"), VisitOp("open", "draft"))
    assert moved.state.stage_started_at == w.now
    assert moved.state.bound == (("deal", "D1"), ("task", "T1"))  # bindings stay


def test_set_active_unknown_is_invalid_and_untraversed_is_unreachable(w: Walker) -> None:
    assert w.refused(SetActive("nowhere")).code == Code.INVALID
    assert w.refused(SetActive("wrap")).code == Code.UNREACHABLE
    to_work(w)
    assert w.refused(SetActive("review")).code == Code.UNREACHABLE  # the branch not taken


def test_set_active_returns_to_a_traversed_stage_and_cuts_after_it(w: Walker) -> None:
    to_work(w)
    w.set("task", "T1", done=True)
    w.ok(Next())
    assert w.traversed == ["draft", "work", "wrap"]
    version = w.st.version
    moved = w.ok(SetActive("draft"))
    assert w.traversed == ["draft"] and moved.state.version == version + 1
    assert moved.visits == (VisitOp("close", "wrap"), VisitOp("open", "draft"))


def test_set_active_on_the_active_stage_changes_nothing(w: Walker) -> None:
    before = w.st
    moved = w.ok(SetActive("draft"))
    assert moved.state is before and not moved.changed


def test_going_back_and_changing_data_takes_the_other_branch(w: Walker) -> None:
    to_work(w)
    assert w.traversed == ["draft", "work"]
    w.ok(Previous())
    assert w.path() == ["draft", "work", "wrap"]
    w.set("deal", "D1", amount=1000)
    assert w.path() == ["draft", "review", "work", "wrap"]  # predicted on current data
    w.ok(RunAction("ping_boss"))
    w.ok(Next())
    assert w.traversed == ["draft", "review"]
    w.set("deal", "D1", approved=True)
    w.ok(Next())
    assert w.traversed == ["draft", "review", "work"]


# -- finish, abandon, reactivate ------------------------------------------------------------------


def test_finish_only_on_the_last_stage_of_the_active_path(w: Walker) -> None:
    refused = w.refused(Finish())
    assert refused.code == Code.INVALID and "Work" in refused.message


def test_finish_with_the_gate_unmet_is_stage_gate() -> None:
    text = FLOW.replace("step note\n        on exit", "step note required\n        on exit")
    w = Walker(load(text), "flow")
    w.data.save("deal", "D1", {"title": "Boat"})
    w.start("D1")
    to_work(w)
    w.set("task", "T1", done=True)
    w.data.save("deal", "D1", {"note": None})
    w.ok(Next())
    refused = w.refused(Finish())
    assert (refused.code, refused.missing_steps) == (Code.STAGE_GATE, ("note",))


def test_finish_runs_the_last_exit_then_on_finish(w: Walker) -> None:
    to_work(w)
    w.set("task", "T1", done=True)
    w.ok(Next())
    moved = w.ok(Finish(), by="dee")
    assert moved.state.status == "finished" and moved.state.completed_at == w.now
    assert moved.effects[:2] == (SetField("deal", "D1", "note", "wrapped"), SetField("task", "T1", "copied", 50))
    assert isinstance(moved.effects[2], CallAction) and moved.effects[2].origin.trigger == "finish"
    assert moved.events == (Event("finished", "I1", "wrap", w.now, "dee"),)
    assert moved.visits == (VisitOp("close", "wrap"),)
    assert w.traversed == ["draft", "work", "wrap"]


@pytest.mark.parametrize("action", [Next(), Previous(), SetActive("draft"), Finish(), Abandon(), RunAction("x")])
def test_a_finished_or_aborted_instance_does_not_move(w: Walker, action: object) -> None:
    w.ok(Abandon())
    assert w.refused(action).code == Code.NOT_ACTIVE  # type: ignore[arg-type]


def test_abandon_from_any_stage_runs_on_abandon(w: Walker) -> None:
    to_work(w)
    moved = w.ok(Abandon())
    assert moved.state.status == "aborted" and moved.state.completed_at == w.now
    assert moved.effects == (SetField("deal", "D1", "audit", "abandoned"),)
    assert moved.events == (Event("abandoned", "I1", "work", w.now, "ann"),)
    assert moved.visits == (VisitOp("close", "work"),)


def test_reactivate_only_when_not_active_and_back_on_the_same_stage(w: Walker) -> None:
    assert w.refused(Reactivate()).code == Code.INVALID
    to_work(w)
    started = w.st.stage_started_at
    stopped = w.ok(Abandon()).state.completed_at
    assert stopped is not None
    moved = w.ok(Reactivate())
    s = moved.state
    # Time in stage is active time: the start moves on by the stretch the instance sat abandoned.
    assert (s.status, w.stage, s.completed_at, s.stage_started_at) == ("active", "work", None,
                                                                       started + (w.now - stopped))
    assert w.now > stopped
    assert moved.effects == (SetField("deal", "D1", "audit", "again"),)
    assert moved.events == (Event("reactivated", "I1", "work", w.now, "ann"),)
    assert moved.visits == (VisitOp("reopen", "work"),)
    w.set("task", "T1", done=True)
    w.ok(Next())


def test_reactivate_a_finished_instance(w: Walker) -> None:
    to_work(w)
    w.set("task", "T1", done=True)
    w.ok(Next())
    w.ok(Finish())
    w.ok(Reactivate())
    assert w.st.status == "active" and w.stage == "wrap"
    w.ok(Previous())


def test_every_change_raises_the_version_by_one(w: Walker) -> None:
    versions = [w.st.version]
    fill_draft(w)
    versions.append(w.st.version)
    w.data.save("task", "T1", {"deal": "D1"})
    for action in (Next("T1"), Previous(), Abandon(), Reactivate()):
        w.ok(action)
        versions.append(w.st.version)
    assert versions == [1, 2, 3, 4, 5, 6]


def test_a_refusal_changes_nothing(w: Walker) -> None:
    before = (w.st, {k: dict(v) for k, v in w.data.records.items()})
    for action in (Next(), Previous(), SetActive("wrap"), Finish(), Reactivate(), RunAction("no")):
        outcome = w.do(action)
        assert isinstance(outcome, Refused)
    assert (w.st, {k: dict(v) for k, v in w.data.records.items()}) == before


def test_created_records_get_a_temporary_id_without_new_id() -> None:
    text = FLOW.replace('stage work "Work" on task via deal {',
                        'stage work "Work" on task via deal {\n        create { name = title }')
    w = Walker(load(text), "flow")
    w.data.save("deal", "D1", {"title": "Boat"})
    w.start("D1")
    fill_draft(w)
    outcome = step(w.defn, w.st, Next(), w.now, w.data, "ann")
    assert isinstance(outcome, Moved)
    (create,) = [e for e in outcome.effects if isinstance(e, CreateRecord)]
    assert create.temp_id == "new:I1:3:work"
    assert dict(create.values) == {"name": "Boat", "deal": "D1"}
    assert outcome.state.record_of("task") == "new:I1:3:work"
    renamed = outcome.state.with_record_id("new:I1:3:work", "T42")
    assert renamed.record_of("task") == "T42" and renamed.record_id == "D1"


def test_a_step_on_a_field_declared_required_shows_as_required() -> None:
    text = FLOW.replace("step amount required\n", "step amount required\n        step title\n")
    assert text != FLOW
    w = Walker(load(text), "flow")
    w.data.save("deal", "D1", {"title": "Boat"})
    w.start("D1")
    statuses = {s.step.name: s for s in stage_steps(w.defn, w.st, w.data, 0)}
    assert statuses["title"].required and statuses["title"].done
    assert not statuses["note"].required and not statuses["note"].done
