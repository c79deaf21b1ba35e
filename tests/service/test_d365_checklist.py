"""The D365 checklist (reference section 10), through the service, on every backend.

One test per point of the checklist (its first words quoted in each docstring),
adapted where our spec differs, then the behaviours API.md adds beyond it: action
steps, hooks and notifications, optimistic concurrency, history, analytics,
business rules and definition versions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.errors import SourceError
from bpf_dsl.plugins import ActionSpec, Change, Param, Registry, hookimpl
from bpf_dsl.service import ActionFailed, Caller, ProcessEvent, Service, TransitionFailure, ValidationFailure
from bpf_dsl.storage import InstanceRow, RecordRow

from .conftest import ADMIN, T0, Clock, OpenSvc, count, events_of, ok, program, registry, snapshot

ANN = Caller("ann", frozenset({"seller"}))
MIA = Caller("mia", frozenset({"manager"}))
OTTO = Caller("otto", frozenset({"auditor"}))
BOB = Caller("bob", frozenset())

SALES = """
role seller "Seller"
role manager "Manager"
role auditor "Auditor"

entity deal "Deal" {
    title: text required
    amount: money min 0
    urgency: choice(low "Low", high "High")
    region: choice(north "North", south "South")
    approved: bool
    note: text
    log: text
    status: choice(open "Open", won "Won", dropped "Dropped") default open
    manager_ok "Manager OK": bool
    closed_on: datetime
}

entity task "Task" {
    name: text
    deal: lookup(deal)
    done: bool
    copied: money
}

entity contract "Contract" {
    ref: text
    deal: lookup(deal)
    signed: bool
}

process sales "Sales" on deal {
    order 10
    roles seller, manager

    stage qualify "Qualify" category qualify {
        step amount required
        step approved required
        step urgency
        step region
        on enter { set log = coalesce(log, "") + "/enter qualify" }
        on exit { set log = coalesce(log, "") + "/exit qualify" }
    }

    if amount >= 1000 {
        stage review "Review" category develop {
            step note required
        }
        if urgency = high {
            stage fast_track "Fast Track" category close {
                step manager_ok required
                on exit { set log = coalesce(log, "") + "/exit fast_track" }
            }
            finish
        }
    } else if region = north {
        stage north_desk "North Desk" {
            step note
        }
    }

    stage work "Work" category develop on task via deal {
        create {
            name = title
            copied = amount
        }
        step done required
        on enter { call bpf.notify(role: "manager", message: "work on " + deal.title) }
    }

    stage sign "Sign" on contract via deal {
        step signed required
    }

    stage close "Close" category close on deal {
        step closed_on
        action "Ping Boss" call bpf.notify(role: "manager", message: "closing") required
        on exit { set log = coalesce(log, "") + "/exit close" }
    }

    on start { set log = "start" }
    on finish {
        set status = won
        set log = coalesce(log, "") + "/finish"
    }
    on abandon {
        set status = dropped
        set log = coalesce(log, "") + "/abandon"
    }
    on reactivate {
        set status = open
        set log = coalesce(log, "") + "/reactivate"
    }
}

process quick "Quick" on deal {
    order 5
    roles manager
    stage triage "Triage" { step note }
    stage done "Done" { step approved }
}

process audit "Audit" on deal {
    order 1
    roles auditor
    stage check "Check" { step note }
}

process admin_only "Admin Only" on deal {
    order 0
    stage vet "Vet" { step note }
}

rule lock_won on deal {
    if status = won {
        lock amount
    }
}
"""

QUOTES = """
role seller

entity quote "Quote" {
    name: text required
    amount: money
    discount: decimal min 0 max 100
    approval: bool
    reason: text
    state: choice(draft "Draft", sent "Sent", won "Won") default draft
    tier: choice(small "Small", big "Big")
    channel: text
}

rule quote_rules on quote {
    default channel = "web"
    if amount >= 1000 {
        set tier = big
    } else {
        set tier = small
    }
    if discount > 10 {
        require approval
        recommend approval "Ask a manager to approve"
    } else {
        optional approval
    }
    if discount > 50 {
        error discount "Discounts above 50% are not allowed"
    }
    if state = won {
        lock amount
    }
    if state != sent {
        hide reason
    }
}

process quoting "Quoting" on quote {
    roles seller
    stage prepare "Prepare" {
        step amount required
        step discount
        step approval
        step reason required
    }
    stage send "Send" {
        step state
    }
}
"""


@pytest.fixture
def service(open_svc: OpenSvc) -> Service:
    """The sales program on this test's database."""
    return open_svc(program(SALES))


# -- helpers ---------------------------------------------------------------------------------------------

def new_deal(svc: Service, caller: Caller = ANN, **values: Any) -> tuple[RecordRow, InstanceRow]:
    """A deal and the instance its creation started."""
    rec = ok(svc.create_record(caller, "deal", {"title": "Fleet", **values}))
    assert rec.active_instance_id is not None
    return rec, inst(svc, rec.active_instance_id)


def inst(svc: Service, instance_id: str) -> InstanceRow:
    row = svc.get_instance(ADMIN, instance_id)
    assert row is not None
    return row


def rec(svc: Service, record_id: str) -> RecordRow:
    row = svc.get_record(ADMIN, record_id)
    assert row is not None
    return row


def refused(result: Any, code: str) -> TransitionFailure:
    assert isinstance(result, TransitionFailure), result
    assert result.code == code, result
    return result


def unchanged(svc: Service, command: Any, code: str) -> TransitionFailure:
    """Run ``command``; it must be refused with ``code`` and write nothing at all."""
    before = snapshot(svc)
    failure = refused(command(), code)
    assert snapshot(svc) == before
    return failure


def update(svc: Service, record_id: str, caller: Caller = ANN, **values: Any) -> RecordRow:
    return ok(svc.update_record(caller, record_id, values))  # type: ignore[no-any-return]


def qualify(svc: Service, deal: RecordRow, **values: Any) -> None:
    """Fill Qualify's gate (amount defaults to a small deal)."""
    update(svc, deal.id, **{"amount": 500, "approved": True, **values})


def stage_of(svc: Service, instance_id: str) -> str:
    return inst(svc, instance_id).active_stage


def path(svc: Service, instance_id: str) -> list[str]:
    detail = svc.detail(inst(svc, instance_id))
    assert detail is not None
    return [s.name for s in detail.active_path]


def to_sign(svc: Service, clock: Clock, caller: Caller = ANN) -> tuple[RecordRow, InstanceRow, RecordRow]:
    """A small deal walked to Sign (its task done, a contract given); returns deal, instance, contract."""
    deal, row = new_deal(svc, caller)
    qualify(svc, deal)
    clock.advance(60)
    row = ok(svc.move_next(caller, row.id))
    update(svc, row.bound["task"], caller, done=True)
    contract = ok(svc.create_record(caller, "contract", {"ref": "C-1", "deal": deal.id}))
    clock.advance(60)
    row = ok(svc.move_next(caller, row.id, target_record_id=contract.id))
    assert row.active_stage == "sign"
    return deal, row, contract


def to_close(svc: Service, clock: Clock, caller: Caller = ANN) -> tuple[RecordRow, InstanceRow]:
    deal, row, contract = to_sign(svc, clock, caller)
    update(svc, contract.id, caller, signed=True)
    clock.advance(60)
    row = ok(svc.move_next(caller, row.id))
    assert row.active_stage == "close"
    return deal, row


# -- the checklist ---------------------------------------------------------------------------------------

def test_01_definitions_are_checked_before_use_and_stored_on_open(open_svc: OpenSvc) -> None:
    """Point 1, "Activating a definition creates an instance store...".

    Ours: opening a service on an empty database migrates it and stores every process
    version it runs; a definition with errors can't be loaded at all; a process that
    isn't in the loaded program (D365's draft) can't be applied.
    """
    with pytest.raises(SourceError):
        bpf_dsl.load_source(SALES.replace("step amount required", "step amount_typo required"), registry=registry())
    svc = open_svc(program(SALES))
    assert svc.storage.migrate() == []  # already up to date
    with svc.storage.read() as tx:
        for proc in svc.program.processes.values():
            assert tx.definition_source(proc.name, proc.version) is not None
    failure = svc.create_record(ANN, "deal", {"title": "x"}, process="draft_process")
    assert isinstance(failure, ValidationFailure)
    assert count(svc, "deal") == 0
    deal = ok(svc.create_record(ANN, "deal", {"title": "x"}, no_process=True))
    unchanged(svc, lambda: svc.start_process(ADMIN, deal.id, "draft_process"), "INVALID")
    assert svc.instances_of(ADMIN, deal.id) == []


def _limits_text() -> str:
    fields = "\n".join(f"    f{i}: text" for i in range(31))
    entities = "\n".join(f"entity e{i} {{ name: text  up: lookup({'p' if i == 1 else f'e{i - 1}'}) }}"
                         for i in range(1, 6))
    many_stages = "\n".join(f"    stage s{i} {{ step f0 }}" for i in range(31))
    many_steps = "\n".join(f"        step f{i}" for i in range(31))
    cross = "\n".join(f"    stage x{i} on e{i} via up {{ step name }}" for i in range(1, 6))
    tiny = "\n".join(f"process t{i} on p {{ roles r\n    stage a {{ step f0 }} }}" for i in range(9))
    return f"""
role r
entity p {{
{fields}
}}
{entities}
process long on p {{
    roles r
{many_stages}
}}
process wide on p {{
    roles r
    stage one {{
{many_steps}
    }}
{cross}
}}
{tiny}
"""


def test_02_d365_limits_are_warnings_and_the_first_stage_is_on_the_primary_entity() -> None:
    """Point 2, "The 31st stage, the 31st step in a stage, a 6th distinct table and the 11th active BPF...".

    Ours (LANGUAGE.md): D365's limits are warnings, so such a program still loads; the
    first stage on another entity than the process's is an error.
    """
    report = bpf_dsl.check_text(_limits_text(), registry=registry())
    codes = {d.code for d in report.diagnostics}
    assert {"BPF090", "BPF091", "BPF092", "BPF093"} <= codes, report.render()
    assert report.ok, report.render()
    assert bpf_dsl.load_source(_limits_text(), registry=registry()).processes["long"].stages[30].name == "s30"
    bad = bpf_dsl.check_text(SALES.replace('stage check "Check" {', 'stage check "Check" on task {'),
                             registry=registry())
    assert not bad.ok and "BPF051" in {d.code for d in bad.diagnostics}, bad.render()


def test_03_cross_entity_stages_bind_a_related_record(service: Service, clock: Clock) -> None:
    """Point 3, "A stage on a different table than the previous stage requires a 1:N relationship."

    The `via` field must be a lookup to a bound entity (checked); moving in creates the
    related record with the mapped values, or binds the one given as target; without
    `create` and without a target: CROSS_ENTITY_TARGET_REQUIRED.
    """
    svc = service
    bad = bpf_dsl.check_text(SALES.replace("on task via deal", "on task via name"), registry=registry())
    assert "BPF042" in {d.code for d in bad.diagnostics}, bad.render()

    deal, row = new_deal(svc, title="Fleet renewal")
    qualify(svc, deal, amount=750)
    row = ok(svc.move_next(ANN, row.id))
    assert row.active_stage == "work"
    task = rec(svc, row.bound["task"])
    assert task.entity == "task"
    assert task.values == {"name": "Fleet renewal", "copied": 750, "deal": deal.id}
    assert row.bound == {"deal": deal.id, "task": task.id}
    update(svc, task.id, done=True)

    # Sign has no `create`: a target is needed, and it must be a contract linked to this deal.
    unchanged(svc, lambda: svc.move_next(ANN, row.id), "CROSS_ENTITY_TARGET_REQUIRED")
    other, _ = new_deal(svc, title="Other")
    elsewhere = ok(svc.create_record(ANN, "contract", {"ref": "E", "deal": other.id}))
    unchanged(svc, lambda: svc.move_next(ANN, row.id, target_record_id=elsewhere.id), "INVALID")
    unchanged(svc, lambda: svc.move_next(ANN, row.id, target_record_id="no-such-id"), "INVALID")
    contract = ok(svc.create_record(ANN, "contract", {"ref": "C", "deal": deal.id}))
    row = ok(svc.move_next(ANN, row.id, target_record_id=contract.id))
    assert (row.active_stage, row.bound["contract"]) == ("sign", contract.id)
    assert count(svc, "task") == 1

    # A related record given as the target of a `via ... create` stage is bound, nothing is created.
    third, row3 = new_deal(svc, title="Third")
    qualify(svc, third)
    mine = ok(svc.create_record(ANN, "task", {"name": "existing", "deal": third.id}))
    unchanged(svc, lambda: svc.move_next(ANN, row3.id, target_record_id=task.id), "INVALID")  # another deal's
    row3 = ok(svc.move_next(ANN, row3.id, target_record_id=mine.id))
    assert row3.bound["task"] == mine.id
    assert count(svc, "task") == 2
    assert rec(svc, mine.id).values["name"] == "existing"


def test_03_a_record_of_another_entity_is_not_a_target(service: Service, clock: Clock) -> None:
    """Point 3: the target of a move into a stage on contract must be a contract. A task linked to the
    same deal (read by this move for Work's gate) must be refused with INVALID, nothing written."""
    svc = service
    deal, row = new_deal(svc)
    qualify(svc, deal)
    row = ok(svc.move_next(ANN, row.id))
    task = row.bound["task"]
    update(svc, task, done=True)
    unchanged(svc, lambda: svc.move_next(ANN, row.id, target_record_id=task), "INVALID")


@pytest.mark.parametrize(("values", "expected"), [
    ({"amount": 500}, ["qualify", "work", "sign", "close"]),
    ({"amount": 500, "region": "north"}, ["qualify", "north_desk", "work", "sign", "close"]),
    ({"amount": 5000, "urgency": "low"}, ["qualify", "review", "work", "sign", "close"]),
    ({"amount": 5000}, ["qualify", "review", "work", "sign", "close"]),  # empty urgency: not the nested arm
    ({"amount": 5000, "urgency": "high", "region": "north"}, ["qualify", "review", "fast_track"]),
    ({"amount": 1000, "region": "south"}, ["qualify", "review", "work", "sign", "close"]),  # >= is inclusive
    ({"amount": 999.99, "region": "south"}, ["qualify", "work", "sign", "close"]),
])
def test_04_branches_follow_the_data(service: Service, clock: Clock, values: dict[str, Any],
                                     expected: list[str]) -> None:
    """Point 4, "A condition may reference only the immediately preceding stage's step fields...".

    Ours: conditions read any field (a warning when no earlier step asks for it), mixed
    `and`/`or` is allowed, and an arm may end while its peers merge. Here: the path
    each set of values takes, walked through the service (nested, empty to else, an
    arm that finishes).
    """
    svc = service
    deal, row = new_deal(svc)
    qualify(svc, deal, **values)
    assert path(svc, row.id) == expected
    stop = "fast_track" if "fast_track" in expected else "work"
    while row.active_stage != stop:
        update(svc, deal.id, note="checked")  # Review's gate
        clock.advance(10)
        row = ok(svc.move_next(ANN, row.id))
        assert row.traversed == tuple(expected[:len(row.traversed)])
        assert row.traversed[-1] == row.active_stage
    if stop == "fast_track":
        unchanged(svc, lambda: svc.move_next(ANN, row.id), "END")  # the arm ends the process
        update(svc, deal.id, manager_ok=True)
        assert ok(svc.finish(ANN, row.id)).status == "finished"
    else:
        assert rec(svc, row.bound["task"]).values["name"] == "Fleet"
    assert path(svc, row.id) == expected


def test_04_checker_warns_on_unprompted_fields_and_allows_mixed_logic(open_svc: OpenSvc) -> None:
    """Point 4 (static part): a condition on a field no earlier step asks for warns (BPF094);
    mixed `and`/`or` is accepted and evaluated with the usual precedence."""
    text = """
role r
entity thing {
    a: integer
    b: bool
    c: text
    hidden_flag: bool
}
process p on thing {
    roles r
    stage one { step a  step b }
    if a > 1 and b = true or hidden_flag = true {
        stage yes { step c }
    }
    stage last { step c }
}
"""
    report = bpf_dsl.check_text(text, registry=registry())
    assert report.ok, report.render()
    assert [d.code for d in report.diagnostics] == ["BPF094"], report.render()
    svc = open_svc(program(text))
    caller = Caller("u", frozenset({"r"}))
    for values, expected in [({"a": 2, "b": True}, "yes"), ({"a": 2, "b": False}, "last"),
                             ({"a": 0, "b": True, "hidden_flag": True}, "yes"), ({}, "last")]:
        thing = ok(svc.create_record(caller, "thing", values))
        moved = ok(svc.move_next(caller, thing.active_instance_id))
        assert moved.active_stage == expected, values


def test_05_stage_gate_blocks_until_the_required_steps_are_filled(service: Service, open_svc: OpenSvc,
                                                                  clock: Clock) -> None:
    """Point 5, "Next Stage with an empty required step (including a Boolean that is not Yes, or a
    disabled-but-required field) fails with `stageGate`. It succeeds once the step is filled."""
    svc = service
    deal, row = new_deal(svc)
    failure = unchanged(svc, lambda: svc.move_next(ANN, row.id), "STAGE_GATE")
    assert failure.missing_steps == ("amount", "approved")
    update(svc, deal.id, amount=500, approved=False)  # a required bool must be true
    failure = unchanged(svc, lambda: svc.move_next(ANN, row.id), "STAGE_GATE")
    assert failure.missing_steps == ("approved",)
    detail = svc.detail(inst(svc, row.id))
    assert detail is not None and not detail.can_move_next and [s.name for s in detail.missing] == ["approved"]
    update(svc, deal.id, approved=True)
    detail = svc.detail(inst(svc, row.id))
    assert detail is not None and detail.can_move_next and detail.missing == ()
    assert ok(svc.move_next(ANN, row.id)).active_stage == "work"

    # Disabled (locked) but required still blocks; hidden required doesn't (D365: "except hidden columns").
    quotes = open_svc(program(QUOTES))
    sam = Caller("sam", frozenset({"seller"}))
    won = ok(quotes.create_record(sam, "quote", {"name": "Q", "state": "won"}))
    assert won.active_instance_id is not None
    failure = unchanged(quotes, lambda: quotes.move_next(sam, won.active_instance_id), "STAGE_GATE")
    assert failure.missing_steps == ("amount",)  # `reason` is required but hidden: it doesn't gate
    refused_update = quotes.update_record(sam, won.id, {"amount": 10})
    assert isinstance(refused_update, ValidationFailure)
    assert [e.field for e in refused_update.field_errors] == ["amount"]
    bar = quotes.process_bar(sam, won.id)
    assert bar is not None
    steps = {s.step.name: s for s in bar[1][0].steps}
    assert (steps["amount"].required, steps["amount"].locked, steps["amount"].done) == (True, True, False)
    assert (steps["reason"].required, steps["reason"].hidden) == (True, True)


def test_06_end_beginning_and_moves_across_entities(service: Service, clock: Clock) -> None:
    """Point 6, "`moveNext` on the last stage returns `end`. `movePrevious` on the first stage returns
    `beginning`. `moveNext` across tables without a target record fails. `movePrevious` across tables
    succeeds." (The target is only needed where there is no `create`.)"""
    svc = service
    _, row = new_deal(svc)
    unchanged(svc, lambda: svc.move_previous(ANN, row.id), "BEGINNING")
    _, row = to_close(svc, clock)
    unchanged(svc, lambda: svc.move_next(ANN, row.id), "END")
    row = ok(svc.move_previous(ANN, row.id))  # close (deal) back to sign (contract)
    assert (row.active_stage, row.traversed) == ("sign", ("qualify", "work", "sign"))
    row = ok(svc.move_previous(ANN, row.id))  # sign (contract) back to work (task)
    row = ok(svc.move_previous(ANN, row.id))  # work (task) back to qualify (deal)
    assert (row.active_stage, row.traversed) == ("qualify", ("qualify",))
    unchanged(svc, lambda: svc.move_previous(ANN, row.id), "BEGINNING")
    # Forward again: the records bound before are bound again, nothing new is created.
    tasks, contracts = count(svc, "task"), count(svc, "contract")
    row = ok(svc.move_next(ANN, row.id))
    row = ok(svc.move_next(ANN, row.id))  # the contract bound earlier still points at this deal
    assert row.active_stage == "sign"
    assert (count(svc, "task"), count(svc, "contract")) == (tasks, contracts)


def test_07_set_active_stage_only_to_the_traversed_path(service: Service, clock: Clock) -> None:
    """Point 7, "`setActiveStage` on a not-yet-completed stage, or on a stage on another branch, returns
    `unreachable`/`invalid`. On a completed stage it succeeds. Afterwards the traversed path's last id
    equals the active stage." (Ours: UNREACHABLE for a stage off the path, INVALID for an unknown name.)"""
    svc = service
    deal, row, _ = to_sign(svc, clock)
    assert row.traversed == ("qualify", "work", "sign")
    unchanged(svc, lambda: svc.set_active_stage(ANN, row.id, "close"), "UNREACHABLE")  # ahead
    unchanged(svc, lambda: svc.set_active_stage(ANN, row.id, "review"), "UNREACHABLE")  # another branch
    unchanged(svc, lambda: svc.set_active_stage(ANN, row.id, "nowhere"), "INVALID")
    assert ok(svc.set_active_stage(ANN, row.id, "sign")).version == row.version  # already there: no change
    row = ok(svc.set_active_stage(ANN, row.id, "qualify"))
    assert (row.active_stage, row.traversed) == ("qualify", ("qualify",))
    # Forward again re-evaluates the branch on current data.
    update(svc, deal.id, amount=5000)
    row = ok(svc.move_next(ANN, row.id))
    assert row.traversed == ("qualify", "review") and row.traversed[-1] == row.active_stage
    unchanged(svc, lambda: svc.set_active_stage(ANN, row.id, "work"), "UNREACHABLE")  # cut off the path
    history = [v.stage_name for v in svc.history(row)]
    assert history == ["qualify", "work", "sign", "qualify", "review"]


def test_08_active_path_follows_data_history_stays(service: Service, clock: Clock) -> None:
    """Point 8, "Changing a condition field updates the predicted active path. It does not change
    completed history." """
    svc = service
    deal, row = new_deal(svc)
    assert path(svc, row.id) == ["qualify", "work", "sign", "close"]  # empty amount: no arm is taken
    update(svc, deal.id, amount=5000)
    assert path(svc, row.id) == ["qualify", "review", "work", "sign", "close"]
    update(svc, deal.id, urgency="high")
    assert path(svc, row.id) == ["qualify", "review", "fast_track"]
    update(svc, deal.id, approved=True)
    row = ok(svc.move_next(ANN, row.id))
    update(svc, deal.id, amount=10, urgency="low")
    row = inst(svc, row.id)
    assert row.traversed == ("qualify", "review")
    assert path(svc, row.id) == ["qualify", "review", "work", "sign", "close"]
    assert [v.stage_name for v in svc.history(row)] == ["qualify", "review"]


def test_09_finish_abandon_reactivate(service: Service, clock: Clock) -> None:
    """Point 9, "Finish is allowed only on the last stage of the active path and sets status Finished
    ... and `completedOn`. Abandon is allowed on any stage. Reactivate returns ... A finished or aborted
    instance cannot move." """
    svc = service
    deal, row = new_deal(svc, amount=5000, urgency="high", approved=True)
    unchanged(svc, lambda: svc.finish(ANN, row.id), "INVALID")  # not the last stage
    row = ok(svc.move_next(ANN, row.id))
    unchanged(svc, lambda: svc.finish(ANN, row.id), "INVALID")  # review: fast_track comes after
    update(svc, deal.id, note="ok")
    row = ok(svc.move_next(ANN, row.id))
    assert row.active_stage == "fast_track"
    failure = unchanged(svc, lambda: svc.finish(ANN, row.id), "STAGE_GATE")  # last stage, gate not met
    assert failure.missing_steps == ("manager_ok",)
    update(svc, deal.id, manager_ok=True)
    clock.advance(90)
    row = ok(svc.finish(ANN, row.id))
    assert (row.status, row.completed_at, row.active_stage) == ("finished", clock.now, "fast_track")
    for move in (lambda: svc.move_next(ANN, row.id), lambda: svc.move_previous(ANN, row.id),
                 lambda: svc.set_active_stage(ANN, row.id, "qualify"), lambda: svc.finish(ANN, row.id),
                 lambda: svc.abandon(ANN, row.id), lambda: svc.run_action_step(ANN, row.id, "ping_boss")):
        unchanged(svc, move, "NOT_ACTIVE")
    row = ok(svc.reactivate(ANN, row.id))
    assert (row.status, row.completed_at, row.active_stage) == ("active", None, "fast_track")
    unchanged(svc, lambda: svc.reactivate(ANN, row.id), "INVALID")  # already active

    # Abandon from a middle stage; reactivate returns to it.
    other, row2 = new_deal(svc)
    qualify(svc, other)
    row2 = ok(svc.move_next(ANN, row2.id))
    clock.advance(30)
    row2 = ok(svc.abandon(ANN, row2.id))
    assert (row2.status, row2.completed_at, row2.active_stage) == ("aborted", clock.now, "work")
    unchanged(svc, lambda: svc.move_previous(ANN, row2.id), "NOT_ACTIVE")
    row2 = ok(svc.reactivate(ANN, row2.id))
    assert (row2.status, row2.active_stage, row2.traversed) == ("active", "work", ("qualify", "work"))
    assert ok(svc.abandon(ANN, new_deal(svc)[1].id)).status == "aborted"  # from the first stage too


def test_10_exit_hooks_run_on_finish_not_on_abandon(service: Service, clock: Clock) -> None:
    """Point 10, "Stage Exit triggers are not fired by Finish or Abandon. Process Completed and Abandoned
    triggers are." Ours (LANGUAGE.md): `on exit` of the last stage does run on finish (a known D365
    complaint), before `on finish`; abandon runs only `on abandon`."""
    svc = service
    deal, row = new_deal(svc, amount=5000, urgency="high", approved=True, note="n", manager_ok=True)
    assert rec(svc, deal.id).values["log"] == "start/enter qualify"
    row = ok(svc.move_next(ANN, row.id))
    row = ok(svc.move_next(ANN, row.id))
    ok(svc.finish(ANN, row.id))
    assert rec(svc, deal.id).values["log"] == "start/enter qualify/exit qualify/exit fast_track/finish"
    assert rec(svc, deal.id).values["status"] == "won"

    other, row2 = new_deal(svc, amount=5000, urgency="high", approved=True, note="n")
    row2 = ok(svc.move_next(ANN, row2.id))
    row2 = ok(svc.move_next(ANN, row2.id))
    ok(svc.abandon(ANN, row2.id))
    assert rec(svc, other.id).values["log"] == "start/enter qualify/exit qualify/abandon"
    assert rec(svc, other.id).values["status"] == "dropped"
    ok(svc.reactivate(ANN, row2.id))
    assert rec(svc, other.id).values["log"] == "start/enter qualify/exit qualify/abandon/reactivate"
    assert rec(svc, other.id).values["status"] == "open"


class Gatekeeper:
    """An in-process plugin: vetoes the changes in ``block`` and records what it was asked and told."""

    def __init__(self) -> None:
        self.block: set[tuple[str, str | None]] = set()
        self.before: list[Change] = []
        self.after: list[Change] = []

    @hookimpl
    def bpf_before_change(self, change: Change) -> str | None:
        self.before.append(change)
        if (change.kind, change.to_stage) in self.block:
            return f"no {change.kind} to {change.to_stage}"
        return None

    @hookimpl
    def bpf_after_change(self, change: Change) -> None:
        self.after.append(change)


def test_11_pre_change_hooks_veto_stage_and_status_changes(open_svc: OpenSvc, clock: Clock) -> None:
    """Point 11, "A pre-stage-change hook can cancel navigation, and the post hook is then not called.
    A pre-status-change hook can cancel a status change." A veto answers CANCELLED and writes nothing
    (not even the hooks' writes or a created record); no event is published."""
    keeper = Gatekeeper()
    svc = open_svc(program(SALES), Registry([("veto", "1", keeper)], entry_points=False))
    published: list[ProcessEvent] = []
    svc.subscribe(published.append)
    deal, row = new_deal(svc)
    assert [c.kind for c in keeper.after] == ["started"]
    qualify(svc, deal)
    keeper.block = {("stage_changed", "work")}
    published.clear()
    keeper.after.clear()
    failure = unchanged(svc, lambda: svc.move_next(ANN, row.id), "CANCELLED")
    assert failure.message == "no stage_changed to work"
    assert keeper.before[-1] == Change("stage_changed", "sales", row.id, deal.id, "qualify", "work", "active", "ann")
    assert count(svc, "task") == 0 and "exit" not in rec(svc, deal.id).values["log"]
    assert keeper.after == [] and published == []

    keeper.block = {("abandoned", "qualify")}
    unchanged(svc, lambda: svc.abandon(ANN, row.id), "CANCELLED")
    keeper.block = set()
    row = ok(svc.move_next(ANN, row.id))
    assert [c.kind for c in keeper.after] == ["stage_changed"]
    assert {e.kind for e in published} == {"stage_changed", "notification"}


def test_11_a_veto_of_the_start_refuses_the_create(open_svc: OpenSvc) -> None:
    """Point 11 on create: vetoing the default process's start refuses the whole create, as a
    ValidationFailure (createRecord answers Record | ValidationError), with nothing written."""
    keeper = Gatekeeper()
    keeper.block = {("started", "qualify")}
    svc = open_svc(program(SALES), Registry([("veto", "1", keeper)], entry_points=False))
    before = snapshot(svc)
    result = svc.create_record(ANN, "deal", {"title": "Vetoed"})
    assert not isinstance(result, RecordRow)
    assert snapshot(svc) == before
    assert isinstance(result, ValidationFailure), result
    assert "no started to qualify" in result.message


def test_12_concurrent_instances_and_switching(service: Service, clock: Clock) -> None:
    """Point 12, "A record can hold concurrent instances of different definitions (max 10, one per
    definition). Switching preserves the other instance's stage. The most recently modified instance is
    the default shown." """
    svc = service
    deal, sales = new_deal(svc)
    qualify(svc, deal)
    clock.advance(60)
    sales = ok(svc.move_next(MIA, sales.id))
    clock.advance(60)
    quick = ok(svc.start_process(MIA, deal.id, "quick"))
    assert quick.process == "quick" and quick.active_stage == "triage"
    assert rec(svc, deal.id).active_instance_id == sales.id  # start doesn't take over an active record
    again = ok(svc.start_process(MIA, deal.id, "quick"))
    assert (again.id, again.version) == (quick.id, quick.version)  # one instance per process per record
    assert [i.id for i in svc.instances_of(MIA, deal.id)] == [quick.id, sales.id]  # newest activity first
    clock.advance(60)
    switched = ok(svc.switch_process(MIA, deal.id, "quick"))
    assert switched.id == quick.id
    assert rec(svc, deal.id).active_instance_id == quick.id
    assert events_of(svc, quick.id)[-1][:3] == ("switched", "triage", "mia")
    kept = inst(svc, sales.id)
    assert (kept.active_stage, kept.traversed, kept.status) == ("work", ("qualify", "work"), "active")
    assert [v.stage_name for v in svc.history(kept)] == ["qualify", "work"]
    clock.advance(60)
    ok(svc.move_next(MIA, quick.id))
    assert inst(svc, sales.id) == kept
    # The bar shows the active instance; a seller can't see `quick` and gets the newest one she may see.
    bar = svc.process_bar(MIA, deal.id)
    assert bar is not None and bar[0].row.id == quick.id
    active = svc.active_instance(ANN, rec(svc, deal.id))
    assert active is not None and active.id == sales.id
    unchanged(svc, lambda: svc.switch_process(ANN, deal.id, "quick"), "FORBIDDEN")
    unchanged(svc, lambda: svc.start_process(MIA, "no-such-record", "quick"), "NOT_FOUND")
    task = ok(svc.create_record(MIA, "task", {"name": "t"}))
    unchanged(svc, lambda: svc.start_process(MIA, task.id, "quick"), "INVALID")  # quick runs on deals
    unchanged(svc, lambda: svc.start_process(MIA, deal.id, "no_such_process"), "INVALID")
    back = ok(svc.switch_process(MIA, deal.id, "sales"))
    assert (back.id, back.active_stage) == (sales.id, "work")
    assert rec(svc, deal.id).active_instance_id == sales.id
    assert inst(svc, quick.id).active_stage == "done"


@pytest.mark.parametrize(("caller", "expected"), [
    (ANN, "sales"),                                            # order 10: the only one a seller may use
    (MIA, "quick"),                                            # order 5 beats sales' 10
    (OTTO, "audit"),
    (Caller("both", frozenset({"seller", "auditor"})), "audit"),  # order 1
    (ADMIN, "admin_only"),                                      # admins see every process; order 0 wins
    (BOB, None),                                               # no process for his roles
])
def test_13_default_process_on_create(service: Service, caller: Caller, expected: str | None) -> None:
    """Point 13, "The default process on create is the lowest process order among definitions the user
    can access (filtered by app). An explicit "none" skips it." """
    svc = service
    if expected is None:
        # Round two: `deal` has no `allow` line, so only the roles of the processes that bind it may create
        # deals (LANGUAGE.md); a caller with none of them may do nothing with them.
        refused = svc.create_record(caller, "deal", {"title": "D"})
        assert isinstance(refused, ValidationFailure) and refused.message == "not allowed"
        assert count(svc, "deal") == 0
        return
    deal = ok(svc.create_record(caller, "deal", {"title": "D"}))
    started = svc.instances_of(ADMIN, deal.id)
    assert [i.process for i in started] == ([expected] if expected else [])
    assert deal.active_instance_id == (started[0].id if started else None)
    none = ok(svc.create_record(caller, "deal", {"title": "N"}, no_process=True))
    assert none.active_instance_id is None and svc.instances_of(ADMIN, none.id) == []
    named = svc.create_record(caller, "deal", {"title": "P"}, process="sales")
    if caller.may_use(("seller", "manager")):
        assert [i.process for i in svc.instances_of(ADMIN, ok(named).id)] == ["sales"]
    else:
        assert isinstance(named, ValidationFailure)  # a process the caller may not use can't be named
        assert count(svc, "deal") == 2


def test_13_role_security(service: Service, clock: Clock) -> None:
    """Point 13's access filter, everywhere: FORBIDDEN on moves of a process the caller's roles don't
    include, and such instances are absent from reads; admin sees and may do everything."""
    svc = service
    deal, row = new_deal(svc)
    qualify(svc, deal)
    for move in (lambda: svc.move_next(BOB, row.id), lambda: svc.move_previous(BOB, row.id),
                 lambda: svc.set_active_stage(BOB, row.id, "qualify"), lambda: svc.finish(BOB, row.id),
                 lambda: svc.abandon(BOB, row.id), lambda: svc.run_action_step(BOB, row.id, "ping_boss"),
                 lambda: svc.move_next(OTTO, row.id), lambda: svc.start_process(ANN, deal.id, "audit"),
                 lambda: svc.start_process(BOB, deal.id, "sales")):
        unchanged(svc, move, "FORBIDDEN")
    assert svc.instances_of(BOB, deal.id) == [] and svc.instances_of(OTTO, deal.id) == []
    assert svc.get_instance(BOB, row.id) is None
    assert svc.process_bar(BOB, deal.id) is None
    assert svc.analytics(BOB, "sales") is None
    assert ok(svc.start_process(ADMIN, deal.id, "audit")).process == "audit"
    assert {i.process for i in svc.instances_of(ADMIN, deal.id)} == {"sales", "audit"}
    assert [i.process for i in svc.instances_of(OTTO, deal.id)] == ["audit"]
    assert [i.process for i in svc.instances_of(ANN, deal.id)] == ["sales"]
    assert ok(svc.move_next(ADMIN, row.id)).active_stage == "work"


VERSIONED = """
role seller
entity ticket {
    title: text required
    a_done: bool
    extra: text
    b_done: bool
}
process flow "Flow" on ticket {
    roles seller
    stage a { step a_done required }
    stage b { step b_done }
}
"""


def test_14_instances_keep_their_definition_and_stage_start_resets(open_svc: OpenSvc, clock: Clock) -> None:
    """Point 14, "The instance name is frozen at creation. `activeStageStartedOn` resets on each stage
    change." Ours: an instance keeps its process and definition version when the definition changes (a
    new server on the same database), and still moves by its old definition; new records get the new
    version. `stage_started_at` is the moment of the last stage change."""
    sam = Caller("sam", frozenset({"seller"}))
    v1 = open_svc(program(VERSIONED))
    old = ok(v1.create_record(sam, "ticket", {"title": "old", "a_done": True}))
    old_row = inst(v1, old.active_instance_id)
    assert (old_row.stage_started_at, old_row.created_at) == (T0, T0)

    changed = VERSIONED.replace("stage b {", "stage middle { step extra required }\n    stage b {")
    clock.advance(100)
    v2 = open_svc(program(changed))
    version1, version2 = v1.program.processes["flow"].version, v2.program.processes["flow"].version
    assert version1 != version2 and old_row.definition_version == version1
    new = ok(v2.create_record(sam, "ticket", {"title": "new", "a_done": True}))
    new_row = inst(v2, new.active_instance_id)
    assert new_row.definition_version == version2
    detail = v2.detail(inst(v2, old_row.id))
    assert detail is not None and [s.name for s in detail.active_path] == ["a", "b"]

    clock.advance(50)
    moved = ok(v2.move_next(sam, old_row.id))
    assert (moved.active_stage, moved.definition_version, moved.process) == ("b", version1, "flow")
    assert (moved.stage_started_at, moved.created_at) == (clock.now, T0)
    moved_new = ok(v2.move_next(sam, new_row.id))
    assert moved_new.active_stage == "middle"
    clock.advance(5)
    back = ok(v2.move_previous(sam, old_row.id))
    assert back.stage_started_at == clock.now
    assert ok(v2.move_next(sam, old_row.id)).active_stage == "b"  # still the old definition


# -- beyond the checklist (API.md) -------------------------------------------------------------------------

def test_action_steps(service: Service, clock: Clock) -> None:
    """A required action step gates its stage until it ran in this visit; `run_action_step` runs it."""
    svc = service
    published: list[ProcessEvent] = []
    svc.subscribe(published.append)
    deal, row = to_close(svc, clock)
    failure = unchanged(svc, lambda: svc.finish(ANN, row.id), "STAGE_GATE")
    assert failure.missing_steps == ("ping_boss",)
    unchanged(svc, lambda: svc.run_action_step(ANN, row.id, "no_such_step"), "INVALID")
    unchanged(svc, lambda: svc.run_action_step(ANN, row.id, "closed_on"), "INVALID")  # a data step
    published.clear()
    ran = ok(svc.run_action_step(ANN, row.id, "ping_boss"))
    assert ran.actions_done == ("ping_boss",) and ran.version == row.version + 1
    assert [(e.kind, e.data) for e in published] == [("notification", {"role": "manager", "message": "closing"})]
    bar = svc.process_bar(ANN, deal.id)
    assert bar is not None
    close_bar = next(b for b in bar[1] if b.stage.name == "close")
    assert {s.step.name: s.done for s in close_bar.steps} == {"closed_on": False, "ping_boss": True}
    # A new visit of the stage needs the action again.
    ok(svc.move_previous(ANN, row.id))
    row = ok(svc.move_next(ANN, row.id))
    assert row.actions_done == ()
    unchanged(svc, lambda: svc.finish(ANN, row.id), "STAGE_GATE")
    ok(svc.run_action_step(ANN, row.id, "ping_boss"))
    assert ok(svc.finish(ANN, row.id)).status == "finished"


BILLING = """
role r
entity bill {
    amount: money
    paid: bool
    note: text
}
process pay on bill {
    roles r
    stage charge {
        step amount required
        action "Charge card" call acme.charge(amount: amount) required
    }
    stage done {
        step note
        on enter { call acme.charge(amount: amount * 2) }
    }
}
"""


class Billing:
    """A plugin pack with one action, `acme.charge`, that declines amounts over 100."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    @hookimpl
    def bpf_actions(self) -> list[ActionSpec]:
        return [ActionSpec("acme", "charge", (Param("amount", "number"),), self.charge)]

    def charge(self, context: Any, amount: Any) -> None:
        self.calls.append(amount)
        if amount > 100:
            raise ActionFailed("card declined")
        context.update(context.origin.record_id, {"paid": True})


def test_an_action_that_fails_cancels(open_svc: OpenSvc) -> None:
    """service.md: an action raising ActionFailed cancels the command (CANCELLED), nothing written."""
    billing = Billing()
    reg = Registry([("acme", "1", billing)], entry_points=False)
    svc = open_svc(bpf_dsl.load_source(BILLING, registry=reg), reg)
    user = Caller("u", frozenset({"r"}))
    bill = ok(svc.create_record(user, "bill", {"amount": 500}))
    instance_id = bill.active_instance_id
    failure = unchanged(svc, lambda: svc.run_action_step(user, instance_id, "charge_card"), "CANCELLED")
    assert "card declined" in failure.message
    assert inst(svc, instance_id).actions_done == ()
    refused(svc.move_next(user, instance_id), "STAGE_GATE")
    ok(svc.update_record(user, bill.id, {"amount": 60}))
    ran = ok(svc.run_action_step(user, instance_id, "charge_card"))
    assert ran.actions_done == ("charge_card",) and rec(svc, bill.id).values["paid"] is True
    unchanged(svc, lambda: svc.move_next(user, instance_id), "CANCELLED")  # on enter charges 120
    ok(svc.update_record(user, bill.id, {"amount": 40}))
    assert ok(svc.move_next(user, instance_id)).active_stage == "done"
    assert billing.calls == [500, 60, 120, 80]


def test_hooks_and_notifications(service: Service, clock: Clock) -> None:
    """Hooks run on start, enter, exit, finish, abandon and reactivate; `bpf.notify` records a
    notification in the history and publishes a `notification` event after the commit."""
    svc = service
    published: list[ProcessEvent] = []
    svc.subscribe(published.append)
    deal, row = new_deal(svc, title="Fleet renewal")
    assert [(e.kind, e.stage, e.by) for e in published] == [("started", "qualify", "ann")]
    assert rec(svc, deal.id).values["log"] == "start/enter qualify"
    qualify(svc, deal)
    published.clear()
    clock.advance(5)
    row = ok(svc.move_next(ANN, row.id))
    assert rec(svc, deal.id).values["log"] == "start/enter qualify/exit qualify"
    kinds = sorted((e.kind, e.stage, e.at, e.by, e.record_id, e.process, dict(e.data)) for e in published)
    assert kinds == [
        ("notification", "work", clock.now, "ann", deal.id, "sales",
         {"role": "manager", "message": "work on Fleet renewal"}),
        ("stage_changed", "work", clock.now, "ann", deal.id, "sales", {}),
    ]
    assert ("notification", "work", "ann", {"role": "manager", "message": "work on Fleet renewal"}) \
        in events_of(svc, row.id)
    unsubscribe = svc.subscribe(lambda e: (_ for _ in ()).throw(RuntimeError("a bad listener")))
    ok(svc.abandon(ANN, row.id))  # a failing listener doesn't fail the command
    unsubscribe()
    assert [e.kind for e in published][-1] == "abandoned"
    ok(svc.reactivate(ANN, row.id))
    assert [e.kind for e in published][-1] == "reactivated"
    assert [k for k, *_ in events_of(svc, row.id)] == ["started", "notification", "abandoned", "reactivated"]


def test_version_conflict_changes_nothing(service: Service, clock: Clock) -> None:
    """A stale expected_version answers VERSION_CONFLICT with the current version and writes nothing."""
    svc = service
    deal, row = new_deal(svc)
    qualify(svc, deal)
    assert row.version == 1
    for stale in (0, 2, 99):
        for move in (lambda v=stale: svc.move_next(ANN, row.id, expected_version=v),
                     lambda v=stale: svc.move_previous(ANN, row.id, expected_version=v),
                     lambda v=stale: svc.set_active_stage(ANN, row.id, "qualify", expected_version=v),
                     lambda v=stale: svc.finish(ANN, row.id, expected_version=v),
                     lambda v=stale: svc.abandon(ANN, row.id, expected_version=v)):
            assert unchanged(svc, move, "VERSION_CONFLICT").current_version == 1
    moved = ok(svc.move_next(ANN, row.id, expected_version=1))
    assert moved.version == 2
    assert unchanged(svc, lambda: svc.move_previous(ANN, row.id, expected_version=1),
                     "VERSION_CONFLICT").current_version == 2


def test_history_keeps_every_visit(service: Service, clock: Clock) -> None:
    """Every stage visit with entry and exit time, seconds and who; time in stage survives moving on."""
    svc = service
    deal, row = new_deal(svc)                       # T0, by ann
    qualify(svc, deal)
    clock.advance(120)
    row = ok(svc.move_next(MIA, row.id))            # T0+120, by mia
    clock.advance(30)
    row = ok(svc.move_previous(ANN, row.id))        # T0+150
    clock.advance(45)
    row = ok(svc.move_next(ADMIN, row.id))          # T0+195
    clock.advance(10)
    row = ok(svc.abandon(ANN, row.id))              # T0+205: closes the open visit
    clock.advance(1000)
    row = ok(svc.reactivate(MIA, row.id))           # reopens it
    s = dt.timedelta(seconds=1)
    visits = [(v.stage_name, v.entered_at, v.exited_at, v.seconds, v.by) for v in svc.history(row)]
    assert visits == [
        ("qualify", T0, T0 + 120 * s, 120.0, "ann"),
        ("work", T0 + 120 * s, T0 + 150 * s, 30.0, "mia"),
        ("qualify", T0 + 150 * s, T0 + 195 * s, 45.0, "ann"),
        ("work", T0 + 195 * s, None, None, "root"),
    ]
    assert all(v.stage is not None and v.stage.name == v.stage_name for v in svc.history(row))


ANALYTICS = """
role r
entity item { name: text  a_note: text  b_note: text  c_note: text }
process pipe on item {
    roles r
    stage a { step a_note }
    stage b { step b_note }
    stage c { step c_note }
}
"""


def test_analytics_exact_numbers(open_svc: OpenSvc, clock: Clock) -> None:
    """Counts per active stage, conversion between consecutive stages, median and p90 seconds in stage."""
    svc = open_svc(program(ANALYTICS))
    user = Caller("u", frozenset({"r"}))

    def item() -> str:
        row = ok(svc.create_record(user, "item", {"name": "x"}))
        return str(row.active_instance_id)

    def at(seconds: int, command: Any) -> None:
        clock.now = T0 + dt.timedelta(seconds=seconds)
        ok(command())

    i1, i2, i3, i4, i5, _i6 = (item() for _ in range(6))  # all enter `a` at T0
    at(10, lambda: svc.move_next(user, i1))          # a: 10
    at(20, lambda: svc.move_next(user, i2))          # a: 20
    at(30, lambda: svc.move_next(user, i3))          # a: 30
    at(60, lambda: svc.move_next(user, i4))          # a: 60
    at(60, lambda: svc.abandon(user, i5))            # a: 60 (its visit closed by the abandon)
    at(110, lambda: svc.move_next(user, i1))         # b: 100, then c
    at(320, lambda: svc.move_next(user, i2))         # b: 300, then c
    at(360, lambda: svc.move_previous(user, i4))     # b: 300, back to a (not a conversion)
    # i6 stays in `a`, i3 in `b`.
    stats = svc.analytics(user, "pipe")
    assert stats is not None
    assert stats.counts == {"a": 2, "b": 1, "c": 2}
    assert stats.conversion == {("a", "b"): pytest.approx(4 / 6), ("b", "c"): pytest.approx(2 / 4)}
    assert stats.median_seconds == {"a": 30.0, "b": 300.0}
    assert stats.p90_seconds == {"a": 60.0, "b": 300.0}


def test_business_rules_on_create_and_update(open_svc: OpenSvc) -> None:
    """Rules run at every create and update: set, default, error (refused with the field), require and
    optional (the bar's `required`), lock (the API can't change the field), hide, recommend."""
    svc = open_svc(program(QUOTES))
    sam = Caller("sam", frozenset({"seller"}))
    q = ok(svc.create_record(sam, "quote", {"name": "Q1", "amount": 2000}))
    assert q.values == {"name": "Q1", "amount": 2000, "tier": "big", "channel": "web", "state": "draft"}
    phone = ok(svc.create_record(sam, "quote", {"name": "Q2", "channel": "phone"}))
    assert phone.values["channel"] == "phone" and phone.values["tier"] == "small"  # `default` only fills empties
    q = ok(svc.update_record(sam, q.id, {"amount": 10}))
    assert (q.values["tier"], q.version) == ("small", 2)

    def steps(record_id: str) -> dict[str, Any]:
        bar = svc.process_bar(sam, record_id)
        assert bar is not None
        return {s.step.name: s for s in bar[1][0].steps}

    assert (steps(q.id)["approval"].required, steps(q.id)["approval"].recommendation) == (False, None)
    assert steps(q.id)["reason"].hidden is True
    q = ok(svc.update_record(sam, q.id, {"discount": 20}))
    approval = steps(q.id)["approval"]
    assert (approval.required, approval.recommendation) == (True, "Ask a manager to approve")
    assert refused(svc.move_next(sam, q.active_instance_id), "STAGE_GATE").missing_steps == ("approval",)

    before = snapshot(svc)
    failure = svc.update_record(sam, q.id, {"discount": 60})
    assert isinstance(failure, ValidationFailure)
    assert [(e.field, e.message) for e in failure.field_errors] == [("discount",
                                                                     "Discounts above 50% are not allowed")]
    assert snapshot(svc) == before
    failure = svc.create_record(sam, "quote", {"name": "Q3", "discount": 51})
    assert isinstance(failure, ValidationFailure) and [e.field for e in failure.field_errors] == ["discount"]
    assert snapshot(svc) == before

    q = ok(svc.update_record(sam, q.id, {"discount": 5}))
    assert steps(q.id)["approval"].required is False
    q = ok(svc.update_record(sam, q.id, {"state": "sent"}))
    assert steps(q.id)["reason"].hidden is False
    assert refused(svc.move_next(sam, q.active_instance_id), "STAGE_GATE").missing_steps == ("reason",)

    q = ok(svc.update_record(sam, q.id, {"state": "won"}))
    assert steps(q.id)["amount"].locked is True
    before = snapshot(svc)
    failure = svc.update_record(sam, q.id, {"amount": 99})
    assert isinstance(failure, ValidationFailure) and [e.field for e in failure.field_errors] == ["amount"]
    assert snapshot(svc) == before
    assert ok(svc.update_record(sam, q.id, {"amount": 10, "name": "Q1b"})).values["name"] == "Q1b"  # unchanged value
    q = ok(svc.update_record(sam, q.id, {"state": "draft"}))  # the lock is lifted with its condition
    assert ok(svc.update_record(sam, q.id, {"amount": 99})).values["amount"] == 99


def test_locks_bind_the_api_not_the_hooks(service: Service, clock: Clock) -> None:
    """decisions (service.md): a rule's lock refuses `update_record`, while hooks may still write."""
    svc = service
    deal, row = new_deal(svc, amount=5000, urgency="high", approved=True, note="n", manager_ok=True)
    row = ok(svc.move_next(ANN, row.id))
    row = ok(svc.move_next(ANN, row.id))
    ok(svc.finish(ANN, row.id))  # status = won: amount is locked
    assert isinstance(svc.update_record(ANN, deal.id, {"amount": 1}), ValidationFailure)
    ok(svc.reactivate(ANN, row.id))  # on reactivate sets status = open, through the lock rule
    assert rec(svc, deal.id).values["status"] == "open"
    assert ok(svc.update_record(ANN, deal.id, {"amount": 1})).values["amount"] == 1
