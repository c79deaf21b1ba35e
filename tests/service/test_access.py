"""Who may see and change records (LANGUAGE.md, issue 12), through the service, on SQLite and PostgreSQL.

Every verb, ``own``, ``assign``, restricted fields (absent from values, hidden steps, refused writes, still
seen by rules and gates), the default of an entity without ``allow`` lines, and what a caller may not read
not existing for it (None, "no record", NOT_FOUND; never a "forbidden" that would tell it exists).
"""

from __future__ import annotations

from typing import Any

import pytest

from bpf_dsl.service import Caller, Service, TransitionFailure, ValidationFailure
from bpf_dsl.service.auth import Tokens
from bpf_dsl.service.bulk import Importer
from bpf_dsl.service.results import SYSTEM
from bpf_dsl.storage import RecordRow

from .conftest import ADMIN, OpenSvc, ok, program, snapshot

MODEL = """
role hr "HR"
role manager "Line Manager"
role it_desk "IT Desk"
role clerk "Clerk"

entity new_hire "New Hire" {
    full_name "Full Name": text required
    salary: money restricted to hr
    ssn "SSN": text restricted to hr
    band: choice(junior "Junior", senior "Senior")
    contract_signed "Contract Signed": bool
    buddy: text
    mentor: lookup(person)
    referred_by "Referred By": lookup(new_hire)
    allow hr to create, read, update, delete, assign
    allow manager to read, update own
    allow manager to create
    allow it_desk to read
}

entity laptop "Laptop" {
    serial: text
    hire: lookup(new_hire) required
    allow hr to create, read, update, delete
    allow manager, it_desk to read
}

entity person "Person" {
    name: text required
}

entity secret_note "Secret Note" {
    body: text
}

rule banding on new_hire {
    if salary > 100000 { set band = senior }
}

process onboarding "Onboarding" on new_hire {
    roles hr, it_desk, manager

    stage paperwork "Paperwork" {
        step contract_signed required
        step salary
        gate salary > 0 "Set the salary first"
    }
    stage kit "Kit" on laptop via hire {
        create { serial = full_name }
        step serial
    }
    stage welcome "Welcome" {
        step buddy required
    }
}
"""

HANA = Caller("hana", frozenset({"hr"}))
MAX = Caller("max", frozenset({"manager"}))
MO = Caller("mo", frozenset({"manager"}))
IDA = Caller("ida", frozenset({"it_desk"}))
CLIVE = Caller("clive", frozenset({"clerk"}))
NOBODY = Caller("nobody", frozenset({"no_such_role"}))


@pytest.fixture
def svc(open_svc: OpenSvc) -> Service:
    service = open_svc(program(MODEL))
    tokens = Tokens(service.storage)
    for caller in (HANA, MAX, MO, IDA, CLIVE):
        tokens.create(caller.user, sorted(caller.roles))  # users exist: assign checks the new owner
    return service


def state(svc: Service) -> dict[str, Any]:
    """What a command could have written, owners included."""
    with svc.storage.read() as tx:
        owners = {r.id: (r.owner, r.created_by, r.version)
                  for e in svc.program.entities for r in tx.list_records(e, {}, None, None, 500, None).items}
    return {**snapshot(svc), "owners": owners}


def refused(result: Any, message: str = "not allowed") -> ValidationFailure:
    assert isinstance(result, ValidationFailure), result
    assert result.message == message, result
    return result


def hire(svc: Service, caller: Caller = HANA, **values: Any) -> RecordRow:
    row: RecordRow = ok(svc.create_record(caller, "new_hire", {"full_name": "Pat Doe", **values}))
    return row


# -- owner and created_by ------------------------------------------------------------------------------------

def test_a_record_is_owned_and_was_created_by_its_creating_user(svc: Service) -> None:
    row = hire(svc, MAX)
    assert (row.owner, row.created_by) == ("max", "max")
    stored = svc.get_record(ADMIN, row.id)
    assert stored is not None and (stored.owner, stored.created_by) == ("max", "max")
    listed = svc.list_records(ADMIN, "new_hire").items
    assert [(r.owner, r.created_by) for r in listed] == [("max", "max")]


# -- every verb ----------------------------------------------------------------------------------------------

def test_every_verb_is_granted_or_refused_as_the_allow_lines_say(svc: Service) -> None:
    row = hire(svc)
    # it_desk: read only.
    assert svc.get_record(IDA, row.id) is not None
    before = state(svc)
    refused(svc.create_record(IDA, "new_hire", {"full_name": "X"}))
    refused(svc.update_record(IDA, row.id, {"buddy": "Sam"}))
    refused(svc.delete_record(IDA, row.id))
    refused(svc.assign_record(IDA, row.id, "max"))
    assert state(svc) == before
    # hr: everything.
    updated = ok(svc.update_record(HANA, row.id, {"buddy": "Sam"}, expected_version=row.version))
    assigned = ok(svc.assign_record(HANA, row.id, "max", expected_version=updated.version))
    assert assigned.owner == "max" and assigned.version == updated.version + 1
    assert ok(svc.delete_record(HANA, row.id)).id == row.id
    assert svc.get_record(ADMIN, row.id) is None


def test_a_record_the_caller_may_not_read_does_not_exist_for_it(svc: Service) -> None:
    row = hire(svc)
    inst = svc.instances_of(HANA, row.id)[0]
    before = state(svc)
    for caller in (CLIVE, NOBODY):
        assert svc.get_record(caller, row.id) is None
        assert svc.get_records(caller, [row.id]) == {}
        assert svc.list_records(caller, "new_hire").total == 0
        assert svc.instances_of(caller, row.id) == []
        assert svc.get_instance(caller, inst.id) is None
        assert svc.process_bar(caller, row.id) is None
        # The same words as for an id that was never there: nothing tells the record exists.
        for rid in (row.id, "no-such-record"):
            assert refused(svc.update_record(caller, rid, {"buddy": "x"}, expected_version=99),
                           f"no record {rid}").current_version is None
            refused(svc.delete_record(caller, rid, expected_version=99), f"no record {rid}")
            refused(svc.assign_record(caller, rid, "max", expected_version=99), f"no record {rid}")
        refused(svc.create_record(caller, "new_hire", {"full_name": "X"}))
    assert state(svc) == before


def test_admin_may_do_everything(svc: Service) -> None:
    row = hire(svc, MAX, buddy="Sam")
    seen = svc.get_record(ADMIN, row.id)
    assert seen is not None and "salary" in svc.values_of(seen, ADMIN)
    secret = ok(svc.create_record(ADMIN, "secret_note", {"body": "x"}))
    assert ok(svc.assign_record(ADMIN, secret.id, "hana")).owner == "hana"
    assert ok(svc.update_record(ADMIN, row.id, {"salary": 5})).values["salary"] == 5


# -- own -----------------------------------------------------------------------------------------------------

def test_own_limits_a_grant_to_the_callers_records(svc: Service) -> None:
    mine = hire(svc, MAX, full_name="Mine")
    theirs = hire(svc, MO, full_name="Theirs")
    # Reading: a manager's read is `own`.
    assert svc.get_record(MAX, mine.id) is not None
    assert svc.get_record(MAX, theirs.id) is None
    page = svc.list_records(MAX, "new_hire")
    assert [r.id for r in page.items] == [mine.id] and page.total == 1
    assert svc.list_records(MAX, "new_hire", search="Theirs").total == 0
    in_stage = svc.list_records(MAX, "new_hire", stage="paperwork")
    assert [r.id for r in in_stage.items] == [mine.id] and in_stage.total == 1
    assert svc.list_records(MAX, "new_hire", stage="paperwork", process="onboarding").total == 1
    assert svc.list_records(IDA, "new_hire").total == 2  # it_desk reads every record
    # Updating: own too.
    assert ok(svc.update_record(MAX, mine.id, {"buddy": "Sam"})).values["buddy"] == "Sam"
    before = state(svc)
    refused(svc.update_record(MAX, theirs.id, {"buddy": "Sam"}), f"no record {theirs.id}")
    assert state(svc) == before
    # Their instances don't exist for him either.
    inst = svc.instances_of(MO, theirs.id)[0]
    assert svc.get_instance(MAX, inst.id) is None
    failure = svc.move_next(MAX, inst.id, expected_version=99)
    assert isinstance(failure, TransitionFailure) and failure.code == "NOT_FOUND" and failure.current_version is None
    assert svc.instances_of(MAX, theirs.id) == []
    # Analytics count records he may not all read: none for him, all for it_desk.
    assert svc.analytics(MAX, "onboarding") is None
    analytics = svc.analytics(IDA, "onboarding")
    assert analytics is not None and analytics.counts == {"paperwork": 2}


def test_assign_moves_a_record_from_one_owner_to_another(svc: Service) -> None:
    row = hire(svc, MAX)
    refused(svc.assign_record(MAX, row.id, "mo"))  # a manager may not assign
    stale = svc.assign_record(HANA, row.id, "mo", expected_version=row.version + 5)
    assert isinstance(stale, ValidationFailure) and stale.current_version == row.version
    unknown = svc.assign_record(HANA, row.id, "nobody-by-that-name")
    assert isinstance(unknown, ValidationFailure) and unknown.field_errors[0].field == "owner"
    assert isinstance(svc.assign_record(HANA, row.id, "  "), ValidationFailure)
    moved = ok(svc.assign_record(HANA, row.id, " mo ", expected_version=row.version))
    assert (moved.owner, moved.created_by, moved.version) == ("mo", "max", row.version + 1)
    again = ok(svc.assign_record(HANA, row.id, "mo"))
    assert again.version == moved.version  # already theirs: nothing changed
    # The record went with its owner: max no longer sees it, mo does (and may update it).
    assert svc.get_record(MAX, row.id) is None
    assert svc.list_records(MAX, "new_hire").total == 0
    assert ok(svc.update_record(MO, row.id, {"buddy": "Kim"})).values["buddy"] == "Kim"


def test_an_assign_that_hands_away_the_callers_own_read_answers_the_id_only(open_svc: OpenSvc) -> None:
    text = MODEL.replace("allow manager to create", "allow manager to create, assign own")
    svc = open_svc(program(text))
    for caller in (MAX, MO):
        Tokens(svc.storage).create(caller.user, ["manager"])
    row = hire(svc, MAX, buddy="Sam")
    given = ok(svc.assign_record(MAX, row.id, "mo"))
    assert (given.id, given.owner, given.values) == (row.id, "mo", {})  # his no more: only what he did
    assert svc.get_record(MAX, row.id) is None and svc.get_record(MO, row.id) is not None


# -- restricted fields -------------------------------------------------------------------------------------

def test_restricted_fields_are_absent_for_other_roles(svc: Service) -> None:
    row = hire(svc, HANA, salary=50_000, ssn="123-45-6789", buddy="Sam")
    ok(svc.assign_record(HANA, row.id, "max"))
    for caller in (MAX, IDA):
        seen = svc.get_record(caller, row.id)
        assert seen is not None and "salary" not in seen.values and "ssn" not in seen.values
        values = svc.values_of(seen, caller)
        assert "salary" not in values and "ssn" not in values and values["buddy"] == "Sam"
        assert "band" in values and values["band"] is None  # readable fields are all there, empty ones as null
        listed = svc.list_records(caller, "new_hire").items
        assert all("salary" not in r.values for r in listed)
        [form] = svc.forms([seen], caller)
        assert {f.spec.name for f in form} == {"full_name", "band", "contract_signed", "buddy", "mentor",
                                               "referred_by"}
        assert {e.name for e in svc.readable_entities(caller)} >= {"new_hire"}
        spec = next(e for e in svc.readable_entities(caller) if e.name == "new_hire")
        assert "salary" not in spec.fields and "full_name" in spec.fields
    seen = svc.get_record(HANA, row.id)
    assert seen is not None and seen.values["salary"] == 50_000 and svc.values_of(seen, HANA)["ssn"] == "123-45-6789"


def test_a_restricted_value_can_not_be_searched_or_matched_by_other_roles(svc: Service) -> None:
    row = hire(svc, HANA, ssn="123-45-6789")
    ok(svc.assign_record(HANA, row.id, "max"))
    assert svc.list_records(HANA, "new_hire", search="45-67").total == 1
    assert svc.list_records(IDA, "new_hire", search="45-67").total == 0
    assert svc.list_records(MAX, "new_hire", search="45-67").total == 0
    assert svc.list_records(MAX, "new_hire", search="Pat").total == 1
    with pytest.raises(ValueError, match="`ssn` is not a field of new_hire"):
        svc.list_records(MAX, "new_hire", where={"ssn": "123-45-6789"})
    assert svc.list_records(HANA, "new_hire", where={"ssn": "123-45-6789"}).total == 1


def test_writing_a_restricted_field_without_its_role_is_a_field_error_and_changes_nothing(svc: Service) -> None:
    row = hire(svc, MAX)
    before = state(svc)
    failure = refused(svc.update_record(MAX, row.id, {"salary": 1, "buddy": "Sam"}))
    assert [e.field for e in failure.field_errors] == ["salary"]
    failure = refused(svc.create_record(MAX, "new_hire", {"full_name": "X", "ssn": "1"}))
    assert [e.field for e in failure.field_errors] == ["ssn"]
    assert state(svc) == before
    assert ok(svc.update_record(HANA, row.id, {"salary": 1})).values["salary"] == 1


def test_rules_and_gates_still_see_restricted_fields(svc: Service) -> None:
    row = hire(svc, MAX)
    inst = svc.instances_of(MAX, row.id)[0]
    # The bar: the salary step is hidden for a manager, its value absent; hr sees it.
    ok(svc.update_record(HANA, row.id, {"salary": 150_000}))
    bar = svc.process_bar(MAX, row.id)
    assert bar is not None
    steps = {s.step.name: s for s in bar[1][0].steps}
    assert steps["salary"].hidden and steps["salary"].value is None
    assert not steps["contract_signed"].hidden
    hr_bar = svc.process_bar(HANA, row.id)
    assert hr_bar is not None
    hr_steps = {s.step.name: s for s in hr_bar[1][0].steps}
    assert not hr_steps["salary"].hidden and hr_steps["salary"].value == 150_000
    # A rule on the restricted salary set the band, which the manager reads.
    seen = svc.get_record(MAX, row.id)
    assert seen is not None and seen.values["band"] == "senior"
    # The manager's own update runs the rules on every value, his unseen salary included.
    ok(svc.update_record(HANA, row.id, {"band": "junior"}))
    assert ok(svc.update_record(MAX, row.id, {"contract_signed": True})).values["band"] == "senior"
    # The gate reads the salary too: it holds, and he may move on though he can't see why.
    moved = svc.move_next(HANA, inst.id)
    assert not isinstance(moved, TransitionFailure), moved
    assert moved.active_stage == "kit"


def test_the_gate_on_a_restricted_field_blocks_a_caller_who_can_not_see_it(svc: Service) -> None:
    row = hire(svc, MAX, contract_signed=True)
    inst = svc.instances_of(MAX, row.id)[0]
    failure = svc.move_next(MAX, inst.id)
    assert isinstance(failure, TransitionFailure) and failure.code == "STAGE_GATE"


# -- moves -------------------------------------------------------------------------------------------------

def test_a_move_that_creates_a_record_needs_create_on_its_entity(svc: Service) -> None:
    row = hire(svc, MAX, contract_signed=True)
    ok(svc.update_record(HANA, row.id, {"salary": 10}))
    inst = svc.instances_of(MAX, row.id)[0]
    before = state(svc)
    failure = svc.move_next(MAX, inst.id)  # entering `kit` creates a laptop: managers may not create laptops
    assert isinstance(failure, TransitionFailure) and failure.code == "FORBIDDEN", failure
    assert failure.current_version == inst.version
    assert state(svc) == before
    moved = svc.move_next(HANA, inst.id)
    assert not isinstance(moved, TransitionFailure), moved
    laptop = svc.get_record(ADMIN, moved.bound["laptop"])
    assert laptop is not None and (laptop.owner, laptop.values["serial"]) == ("hana", "Pat Doe")


def test_a_target_record_the_caller_may_not_read_is_refused_as_a_missing_one(open_svc: OpenSvc) -> None:
    text = MODEL.replace("allow manager, it_desk to read\n}", "allow manager to create, read own\n"
                                                              "    allow it_desk to read\n}")
    svc = open_svc(program(text))
    row = hire(svc, MAX, contract_signed=True)
    ok(svc.update_record(HANA, row.id, {"salary": 10}))
    inst = svc.instances_of(MAX, row.id)[0]
    hers = ok(svc.create_record(HANA, "laptop", {"serial": "L1", "hire": row.id}))
    unseen = svc.move_next(MAX, inst.id, target_record_id=hers.id)
    missing = svc.move_next(MAX, inst.id, target_record_id="no-such-laptop")
    assert isinstance(unseen, TransitionFailure) and isinstance(missing, TransitionFailure)
    assert (unseen.code, unseen.message.replace(hers.id, "ID")) == \
        (missing.code, missing.message.replace("no-such-laptop", "ID")) == ("INVALID", "there is no laptop record ID")
    his = ok(svc.create_record(MAX, "laptop", {"serial": "L2", "hire": row.id}))
    moved = svc.move_next(MAX, inst.id, target_record_id=his.id)
    assert not isinstance(moved, TransitionFailure) and moved.bound["laptop"] == his.id


def test_an_unreadable_stage_record_shows_its_steps_hidden_and_its_id_only(open_svc: OpenSvc) -> None:
    text = MODEL.replace("allow manager, it_desk to read\n}", "allow it_desk to read\n}")
    svc = open_svc(program(text))
    row = hire(svc, MAX, contract_signed=True)
    ok(svc.update_record(HANA, row.id, {"salary": 10}))
    inst = svc.instances_of(MAX, row.id)[0]
    moved = ok(svc.move_next(HANA, inst.id))
    bar = svc.process_bar(MAX, row.id)
    assert bar is not None
    kit = next(b for b in bar[1] if b.stage.name == "kit")
    assert [(s.step.name, s.hidden, s.value) for s in kit.steps] == [("serial", True, None)]
    assert svc.get_record(MAX, moved.bound["laptop"]) is None
    veil = svc.veiled(moved.bound["laptop"], "laptop")
    assert svc.values_of(veil, MAX) == {} and svc.forms([veil], MAX) == [[]] and svc.allowed_verbs(MAX, veil) == ()


# -- lookups -----------------------------------------------------------------------------------------------

def test_a_lookup_to_a_record_the_caller_may_not_read(svc: Service) -> None:
    theirs = hire(svc, MO, full_name="Theirs")
    mine = hire(svc, MAX, full_name="Mine")
    # Pointing at it is refused as pointing at nothing (the words of a missing record).
    failure = svc.update_record(MAX, mine.id, {"referred_by": theirs.id})
    assert isinstance(failure, ValidationFailure)
    assert failure.field_errors[0].message == f"Referred By: there is no new_hire record with id {theirs.id}"
    # One set by someone who may keeps its id: the value is there, the record it names isn't.
    ok(svc.update_record(HANA, mine.id, {"referred_by": theirs.id}))
    seen = svc.get_record(MAX, mine.id)
    assert seen is not None and seen.values["referred_by"] == theirs.id
    assert svc.get_records(MAX, [theirs.id]) == {}
    # Saving the form again with the same id is no new pointing.
    assert ok(svc.update_record(MAX, mine.id, {"referred_by": theirs.id, "buddy": "x"})).values["buddy"] == "x"


# -- the default of an entity without `allow` ----------------------------------------------------------------

def test_an_entity_without_allow_lines_is_its_processes_roles(svc: Service) -> None:
    # `person` is looked up by new_hire, which onboarding binds: its roles get create, read, update, delete.
    for caller in (HANA, MAX, IDA):
        person = ok(svc.create_record(caller, "person", {"name": caller.user}))
        assert svc.get_record(MAX, person.id) is not None  # all of them, not only their own
        assert ok(svc.update_record(caller, person.id, {"name": "x"})).values["name"] == "x"
        refused(svc.assign_record(caller, person.id, "hana"))  # assign is not derived
        ok(svc.delete_record(caller, person.id))
    refused(svc.create_record(CLIVE, "person", {"name": "c"}))
    kept = ok(svc.create_record(HANA, "person", {"name": "kept"}))
    assert svc.get_record(CLIVE, kept.id) is None
    # No process binds `secret_note`: only admin.
    for caller in (HANA, MAX, IDA, CLIVE):
        refused(svc.create_record(caller, "secret_note", {"body": "b"}))
    note = ok(svc.create_record(ADMIN, "secret_note", {"body": "b"}))
    assert all(svc.get_record(c, note.id) is None for c in (HANA, MAX, IDA, CLIVE))
    assert svc.access.scope(HANA, "read", "secret_note") is None


def test_grants_add_up_and_the_wider_wins(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    both = Caller("bo", frozenset({"manager", "it_desk"}))
    assert svc.access.scope(both, "read", "new_hire") == "all"  # manager's own + it_desk's all
    assert svc.access.scope(both, "update", "new_hire") == "own"
    assert svc.access.scope(MAX, "create", "new_hire") == "all"
    assert svc.access.personal  # some grant is `own`: answers depend on the user too
    assert svc.audience(MAX) != svc.audience(MO)


# -- import ------------------------------------------------------------------------------------------------

def test_import_sets_owners_from_a_column_or_the_importer(svc: Service) -> None:
    importer = Importer(svc, SYSTEM, "new_hire", start_process=False, owner="hana")
    rows = [(2, {"full_name": "A"}), (3, {"full_name": "B", "owner": "max", "created_by": "mo"})]
    assert importer.batch(rows) == []
    got = {r.values["full_name"]: (r.owner, r.created_by) for r in svc.list_records(ADMIN, "new_hire").items}
    assert got == {"A": ("hana", "hana"), "B": ("max", "mo")}
    assert svc.list_records(MAX, "new_hire").total == 1
    # An importer whose roles may not create, or not write a field, imports nothing.
    assert Importer(svc, IDA, "new_hire", start_process=False).batch([(2, {"full_name": "C"})])
    problems = Importer(svc, MAX, "new_hire", start_process=False).batch([(2, {"full_name": "D", "salary": 1})])
    assert problems and problems[0].errors[0].field == "salary"
    assert svc.list_records(ADMIN, "new_hire").total == 2
