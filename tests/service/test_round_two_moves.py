"""Round two's moves through the service, on every backend: stage roles, gates and finish outcomes.

Walks docs/examples/next/onboarding.bpf (the spec's example of round two) on each of its
paths, and a small program of its own for what onboarding doesn't show (a gate on the
last stage, gates over empty values, an outcome chosen by the exit hook's writes, a flow
without outcomes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.definition import Program
from bpf_dsl.service import ActionContext, Caller, Service, TransitionFailure
from bpf_dsl.storage import InstanceRow, RecordRow
from tests.paths import EXAMPLES

from .conftest import ADMIN, OpenSvc, ok, program, registry, snapshot

HR = Caller("hana", frozenset({"hr"}))
IT = Caller("ivan", frozenset({"it_desk"}))
# The line manager reads only the new hires they own (`allow manager to read, update own`): HR's records don't
# exist for them, so the moves below are IT's, who reads them all.

GATE = "Start the background check first"

_onboarding: list[Program] = []


def onboarding_program() -> Program:
    """docs/examples/next/onboarding.bpf, compiled once."""
    if not _onboarding:
        _onboarding.append(bpf_dsl.load([str(EXAMPLES / "next" / "onboarding.bpf")], registry()))
    return _onboarding[0]


@pytest.fixture
def svc(open_svc: OpenSvc, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """Onboarding on this test's database. First Week's `on exit` calls bpf.webhook: where its outbox isn't
    built in this tree yet, a no-op stands in (these tests are about moves, not deliveries)."""
    if not hasattr(ActionContext, "webhook"):
        monkeypatch.setattr(ActionContext, "webhook", lambda self, url, event: None, raising=False)
    yield open_svc(onboarding_program())


def hire(svc: Service, **values: Any) -> tuple[RecordRow, InstanceRow]:
    """A new hire created by HR, with its Onboarding instance (the default process)."""
    row = ok(svc.create_record(HR, "new_hire", {"full_name": "Grace Hopper", "start_date": "2026-04-01",
                                                **values}))
    assert row.active_instance_id is not None
    return row, instance(svc, row.active_instance_id)


def instance(svc: Service, instance_id: str) -> InstanceRow:
    row = svc.get_instance(ADMIN, instance_id)
    assert row is not None
    return row


def update(svc: Service, record_id: str, **values: Any) -> None:
    ok(svc.update_record(HR, record_id, values))


def refused(svc: Service, result_of: Any, code: str) -> TransitionFailure:
    """The command is refused with ``code`` and writes nothing."""
    before = snapshot(svc)
    result = result_of()
    assert isinstance(result, TransitionFailure) and result.code == code, result
    assert snapshot(svc) == before
    return result


def at(svc: Service, inst: InstanceRow) -> str:
    return instance(svc, inst.id).active_stage


# -- stage roles --------------------------------------------------------------------------------------------

def test_paperwork_is_left_only_by_hr_and_admin(svc: Service) -> None:
    _record, inst = hire(svc, contract_signed=True, background_check="passed")
    failure = refused(svc, lambda: svc.move_next(IT, inst.id), "FORBIDDEN")
    assert failure.message == "only HR may move the instance out of the stage Paperwork"
    assert failure.current_version == inst.version
    refused(svc, lambda: svc.move_previous(IT, inst.id), "FORBIDDEN")  # before BEGINNING
    refused(svc, lambda: svc.finish(IT, inst.id), "FORBIDDEN")  # before INVALID
    # Setting the active stage active again moves nothing: no stage is left, so it is no one's to forbid.
    assert ok(svc.set_active_stage(IT, inst.id, "paperwork")).version == inst.version
    moved = ok(svc.move_next(HR, inst.id))
    assert moved.active_stage == "equipment"


def test_admin_may_leave_any_stage(svc: Service) -> None:
    _, inst = hire(svc, contract_signed=True, background_check="passed")
    assert ok(svc.move_next(ADMIN, inst.id)).active_stage == "equipment"


def test_stage_roles_govern_back_set_active_and_finish_on_withdraw(svc: Service) -> None:
    _record, inst = hire(svc, contract_signed=True, background_check="failed")
    assert ok(svc.move_next(HR, inst.id)).active_stage == "withdraw"
    inst = instance(svc, inst.id)
    refused(svc, lambda: svc.move_previous(IT, inst.id), "FORBIDDEN")
    refused(svc, lambda: svc.set_active_stage(IT, inst.id, "paperwork"), "FORBIDDEN")
    refused(svc, lambda: svc.finish(IT, inst.id), "FORBIDDEN")
    refused(svc, lambda: svc.move_next(IT, inst.id), "FORBIDDEN")  # before END: the stage is not theirs to leave
    # HR may do each of them.
    assert ok(svc.move_previous(HR, inst.id)).active_stage == "paperwork"
    assert ok(svc.move_next(HR, inst.id)).active_stage == "withdraw"
    assert ok(svc.set_active_stage(HR, inst.id, "paperwork")).active_stage == "paperwork"
    assert ok(svc.move_next(HR, inst.id)).active_stage == "withdraw"
    assert ok(svc.finish(HR, inst.id)).status == "finished"


def test_a_stage_without_roles_is_every_process_roles(svc: Service) -> None:
    record, inst = hire(svc, contract_signed=True, background_check="passed")
    ok(svc.move_next(HR, inst.id))
    update(svc, record.id, laptop_ready=True)
    # Equipment and First Week have no `roles`: every role of the process may leave them, forward and back.
    assert ok(svc.move_next(IT, inst.id)).active_stage == "first_week"
    assert ok(svc.move_previous(IT, inst.id)).active_stage == "equipment"
    assert ok(svc.move_previous(IT, inst.id)).active_stage == "paperwork"
    # ... and once back on Paperwork, it is HR's again.
    refused(svc, lambda: svc.move_next(IT, inst.id), "FORBIDDEN")


def test_abandon_reactivate_and_switch_are_the_process_roles(svc: Service) -> None:
    """Stage roles limit moving on, back and finishing (LANGUAGE.md); abandoning and reactivating stay with the
    process's roles (docs/decisions.md)."""
    _, inst = hire(svc)
    assert ok(svc.abandon(IT, inst.id)).status == "aborted"
    back = ok(svc.reactivate(IT, inst.id))
    assert (back.status, back.active_stage) == ("active", "paperwork")


def test_a_caller_outside_the_process_is_still_refused_as_before(svc: Service) -> None:
    _, inst = hire(svc)
    stranger = Caller("sam", frozenset({"salesperson"}))
    refused(svc, lambda: svc.move_next(stranger, inst.id), "FORBIDDEN")


def test_a_finished_instance_says_not_active_whatever_the_roles(svc: Service) -> None:
    _, inst = hire(svc, contract_signed=True, background_check="failed")
    ok(svc.move_next(HR, inst.id))
    ok(svc.finish(HR, inst.id))
    refused(svc, lambda: svc.move_previous(IT, inst.id), "NOT_ACTIVE")


# -- gates ----------------------------------------------------------------------------------------------

def test_a_failing_gate_refuses_as_stage_gate_with_its_message(svc: Service) -> None:
    # The default `not_started` fills the required step: only the gate holds Paperwork.
    record, inst = hire(svc, contract_signed=True)
    failure = refused(svc, lambda: svc.move_next(HR, inst.id), "STAGE_GATE")
    assert failure.unmet_gates == (GATE,)
    assert failure.missing_steps == () and failure.missing_step_defs == ()
    assert GATE in failure.message
    detail = svc.detail(instance(svc, inst.id))
    assert detail is not None and detail.unmet_gates == (GATE,) and not detail.can_move_next
    update(svc, record.id, background_check="passed")
    detail = svc.detail(instance(svc, inst.id))
    assert detail is not None and detail.unmet_gates == () and detail.can_move_next
    assert ok(svc.move_next(HR, inst.id)).active_stage == "equipment"


def test_steps_and_gates_are_said_together(svc: Service) -> None:
    _record, inst = hire(svc)
    failure = refused(svc, lambda: svc.move_next(HR, inst.id), "STAGE_GATE")
    assert failure.missing_steps == ("contract_signed",)
    assert [s.name for s in failure.missing_step_defs] == ["contract_signed"]
    assert failure.unmet_gates == (GATE,)
    assert "Contract Signed" in failure.message and GATE in failure.message


def test_an_empty_value_fails_a_gate(svc: Service) -> None:
    record, inst = hire(svc, contract_signed=True)
    update(svc, record.id, background_check=None)  # `!= not_started` on empty: false, like any comparison
    failure = refused(svc, lambda: svc.move_next(HR, inst.id), "STAGE_GATE")
    assert failure.unmet_gates == (GATE,) and failure.missing_steps == ("background_check",)


def test_the_bar_shows_the_active_stages_unmet_gates(svc: Service) -> None:
    record, _inst = hire(svc, contract_signed=True)
    found = svc.process_bar(HR, record.id)
    assert found is not None
    detail, bars = found
    assert detail.unmet_gates == (GATE,) and not detail.can_move_next
    by_stage = {b.stage.name: b for b in bars}
    assert by_stage["paperwork"].unmet_gates == (GATE,)
    assert all(b.unmet_gates == () for name, b in by_stage.items() if name != "paperwork")
    update(svc, record.id, background_check="passed")
    found = svc.process_bar(HR, record.id)
    assert found is not None
    assert found[1][0].unmet_gates == () and found[0].can_move_next


def test_a_reader_who_may_not_leave_still_sees_the_gate(svc: Service) -> None:
    """canMoveNext answers the data (steps, gates, the end), not who asks: IT sees the same instance."""
    _record, inst = hire(svc, contract_signed=True, background_check="passed")
    detail = svc.detail(instance(svc, inst.id))
    assert detail is not None and detail.can_move_next


# -- outcomes ---------------------------------------------------------------------------------------------

def test_each_path_of_onboarding_records_its_outcome(svc: Service) -> None:
    _withdrawn, first = hire(svc, contract_signed=True, background_check="failed")
    ok(svc.move_next(HR, first.id))
    assert instance(svc, first.id).outcome is None  # active: no outcome yet
    done = ok(svc.finish(HR, first.id))
    assert (done.status, done.outcome) == ("finished", "withdrawn")
    assert instance(svc, first.id).outcome == "withdrawn"  # stored

    onboarded, second = hire(svc, full_name="Ada Lovelace", contract_signed=True, background_check="passed")
    ok(svc.move_next(HR, second.id))
    update(svc, onboarded.id, laptop_ready=True)
    ok(svc.move_next(IT, second.id))
    update(svc, onboarded.id, buddy="Linus")
    refused(svc, lambda: svc.move_next(IT, second.id), "END")
    done = ok(svc.finish(IT, second.id))
    assert (done.status, done.outcome) == ("finished", "onboarded")
    assert instance(svc, second.id).outcome == "onboarded"

    stats = svc.analytics(ADMIN, "onboarding")
    assert stats is not None
    assert [(o.name, o.label, o.count) for o in stats.outcomes] == [
        ("withdrawn", "Offer Withdrawn", 1), ("onboarded", "Onboarded", 1)]


def test_reactivation_clears_the_outcome_and_finishing_again_records_the_new_path(svc: Service) -> None:
    _record, inst = hire(svc, contract_signed=True, background_check="failed")
    ok(svc.move_next(HR, inst.id))
    assert ok(svc.finish(HR, inst.id)).outcome == "withdrawn"
    back = ok(svc.reactivate(HR, inst.id))
    assert (back.status, back.outcome) == ("active", None)
    assert instance(svc, inst.id).outcome is None
    stats = svc.analytics(ADMIN, "onboarding")
    assert stats is not None and [o.count for o in stats.outcomes] == [0, 0]
    assert ok(svc.finish(HR, inst.id)).outcome == "withdrawn"


def test_an_abandoned_instance_has_no_outcome(svc: Service) -> None:
    _, inst = hire(svc)
    assert ok(svc.abandon(HR, inst.id)).outcome is None


# -- a program of its own: a gate on the last stage, empty values, outcomes the exit hook picks ----------------

OWN = """
role clerk

entity ticket {
    title: text required
    amount: money
    decision: choice(pending, approved, declined) default pending
    urgent: bool
}

process review "Review" on ticket {
    roles clerk
    stage intake {
        step title required
        gate amount > 0 "Give an amount"
    }
    stage decide {
        step decision
        gate decision != pending "Approve or decline first"
        gate amount < 1000 or urgent = true "Large amounts are for urgent tickets only"
    }
    finish decided "Decided"
}

process settle "Settle" on ticket {
    order 2000
    roles clerk
    stage close {
        step title
        on exit { set decision = approved }
    }
    if decision = approved {
        finish won "Won"
    }
    finish lost "Lost"
}

process plain "Plain" on ticket {
    order 3000
    roles clerk
    stage only { step title }
}

process detour "Detour" on ticket {
    order 4000
    roles clerk
    stage first {
        step title
        on exit { set urgent = true }
    }
    if urgent = true {
        stage extra { step amount }
    }
    finish done "Done"
}
"""

CLERK = Caller("cleo", frozenset({"clerk"}))


@pytest.fixture
def own(open_svc: OpenSvc) -> Service:
    return open_svc(program(OWN))


def ticket(svc: Service, process: str = "review", **values: Any) -> tuple[RecordRow, InstanceRow]:
    row = ok(svc.create_record(CLERK, "ticket", {"title": "Refund", **values}, process=process))
    assert row.active_instance_id is not None
    return row, instance(svc, row.active_instance_id)


def test_gates_with_empty_values_are_false(own: Service) -> None:
    record, inst = ticket(own)
    assert refused(own, lambda: own.move_next(CLERK, inst.id), "STAGE_GATE").unmet_gates == ("Give an amount",)
    ok(own.update_record(CLERK, record.id, {"amount": 0}))
    assert refused(own, lambda: own.move_next(CLERK, inst.id), "STAGE_GATE").unmet_gates == ("Give an amount",)
    ok(own.update_record(CLERK, record.id, {"amount": 5}))
    assert ok(own.move_next(CLERK, inst.id)).active_stage == "decide"


def test_gates_hold_finishing_and_each_failing_one_is_said(own: Service) -> None:
    record, inst = ticket(own, amount=5000)
    ok(own.move_next(CLERK, inst.id))
    failure = refused(own, lambda: own.finish(CLERK, inst.id), "STAGE_GATE")
    assert failure.unmet_gates == ("Approve or decline first", "Large amounts are for urgent tickets only")
    assert failure.missing_steps == ()
    ok(own.update_record(CLERK, record.id, {"decision": "approved"}))
    failure = refused(own, lambda: own.finish(CLERK, inst.id), "STAGE_GATE")
    assert failure.unmet_gates == ("Large amounts are for urgent tickets only",)
    ok(own.update_record(CLERK, record.id, {"urgent": True}))
    done = ok(own.finish(CLERK, inst.id))
    assert (done.status, done.outcome) == ("finished", "decided")


def test_upcoming_stages_show_their_gates_and_completed_ones_none(own: Service) -> None:
    record, inst = ticket(own)
    found = own.process_bar(CLERK, record.id)
    assert found is not None
    gates = {b.stage.name: (b.state, b.unmet_gates) for b in found[1]}
    # An empty amount and urgent make both of Decide's gates false.
    assert gates == {"intake": ("ACTIVE", ("Give an amount",)),
                     "decide": ("UPCOMING", ("Approve or decline first", "Large amounts are for urgent tickets only"))}
    ok(own.update_record(CLERK, record.id, {"amount": 5}))
    ok(own.move_next(CLERK, inst.id))
    ok(own.update_record(CLERK, record.id, {"amount": 0}))  # intake's gate fails again, but intake was passed
    found = own.process_bar(CLERK, record.id)
    assert found is not None
    gates = {b.stage.name: (b.state, b.unmet_gates) for b in found[1]}
    assert gates == {"intake": ("COMPLETED", ()), "decide": ("ACTIVE", ("Approve or decline first",))}


def test_the_outcome_is_chosen_on_the_data_the_exit_hook_leaves(own: Service) -> None:
    _record, inst = ticket(own, "settle")
    # Before leaving, the data says `lost`; the stage's `on exit` approves, so the path ends `won`.
    done = ok(own.finish(CLERK, inst.id))
    assert done.outcome == "won"
    stats = own.analytics(CLERK, "settle")
    assert stats is not None and [(o.name, o.count) for o in stats.outcomes] == [("won", 1), ("lost", 0)]


def test_an_exit_hook_that_sends_the_path_on_refuses_the_finish(own: Service) -> None:
    _record, inst = ticket(own, "detour")
    failure = refused(own, lambda: own.finish(CLERK, inst.id), "INVALID")
    assert "Extra" in failure.message


def test_a_flow_without_finish_outcome_has_none(own: Service) -> None:
    _record, inst = ticket(own, "plain")
    done = ok(own.finish(CLERK, inst.id))
    assert (done.status, done.outcome) == ("finished", None)
    stats = own.analytics(CLERK, "plain")
    assert stats is not None and stats.outcomes == ()


def test_a_gate_that_reads_the_clock_keeps_no_answers(open_svc: OpenSvc, own: Service) -> None:
    """unmetGates and canMoveNext are computed when reading: a gate with `today()` changes them with the clock
    alone, so the server may keep no answer (docs/service.md, "Kept answers")."""
    assert own.reads_timeless
    dated = open_svc(program(OWN.replace('gate amount > 0 "Give an amount"',
                                         'gate created_at < today() "Wait a day"')))
    assert not dated.reads_timeless
