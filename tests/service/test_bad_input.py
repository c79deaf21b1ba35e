"""Bad input is refused field by field and writes nothing, on every backend.

Each bad value is tried on create and on update of a stored record: the answer is a
ValidationFailure whose field errors name the field, and the database is exactly as
before (records, their values and versions, instances, history). A hook whose `set`
would break a rule or a validation makes the move fail, also writing nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bpf_dsl.service import Caller, Service, TransitionFailure, ValidationFailure
from bpf_dsl.service.values import check_values
from bpf_dsl.storage import open_storage
from tests.backends import BACKENDS, database_url

from .conftest import ADMIN, Clock, OpenSvc, count, ok, program, registry, snapshot

CLERK = Caller("cleo", frozenset({"clerk"}))

PEOPLE = """
role clerk

entity account "Account" {
    name: text required unique
    code: text min 2 max 5
}

entity person "Person" {
    name: text required
    age: integer min 0 max 150
    score: decimal min 0 max 10
    budget: money
    active: bool
    born: date
    seen: datetime
    email: email
    phone: phone
    site: url
    size: choice(s "Small", m "Medium", l "Large")
    tags: choices(red "Red", blue "Blue")
    account: lookup(account)
    nick: text min 2 max 5
    badge: text unique
    state: text
}

entity card "Card" {
    label: text required
    person: lookup(person)
}

rule no_bad_nicks on person {
    if state = "shout" {
        set nick = "LOUDER!"
    }
    if nick = "bad" {
        error nick "That nick is not allowed"
    }
}

process onboarding "Onboarding" on person {
    roles clerk
    stage intake "Intake" {
        step name
        on exit {
            set nick = coalesce(state, "ok")
            set age = coalesce(age, 0) + 100
        }
    }
    stage issue "Issue Card" on card via person {
        create {
            label = state
        }
        step label
    }
}
"""

PERSON_ID = "<another person's id>"

BAD_VALUES: list[tuple[str, Any]] = [
    ("nope", 1),                                  # unknown field
    ("id", "x"),                                  # built-in columns are the server's
    ("version", 7),
    ("age", "abc"),                               # text for a number
    ("budget", "lots"),
    ("age", 1.5),                                 # not a whole number
    ("age", True),                                # a bool is not a number
    ("age", [1]),
    ("active", 1),                                # a number for a bool
    ("active", "true"),
    ("name", 5),                                  # a number for text
    ("born", "2026-02-30"),                       # no such day
    ("born", "31/01/2026"),
    ("born", "2026-01-31T00:00:00Z"),
    ("born", 20260131),
    ("seen", "2026-01-31T09:00:00"),              # a datetime without a zone
    ("seen", "yesterday"),
    ("email", "not-an-email"),
    ("phone", "call me"),
    ("site", "example.com"),
    ("size", "xl"),                               # an option not in the list
    ("size", "Small"),                            # a label is not an option's name
    ("tags", ["red", "green"]),                   # choices with an unknown option
    ("tags", "red"),                              # choices take a list
    ("age", -1),                                  # out of range
    ("age", 151),
    ("score", 10.5),
    ("score", -0.01),
    ("nick", "a"),                                # text shorter than min
    ("nick", "abcdef"),                           # longer than max
    ("account", "no-such-record"),                # a lookup to a missing record
    ("account", PERSON_ID),                       # a lookup to a record of another entity
    ("account", 42),
    ("nick", "bad"),                              # a rule's `error`
    ("badge", "B-2"),                             # a unique value another person has
]


@dataclass
class World:
    svc: Service
    person_id: str
    other_id: str
    account_id: str


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One database per backend for the whole module: nothing in it may change after seeding."""
    with database_url(request.param, Path(tmp_path_factory.mktemp("bad-input"))) as url:
        storage = open_storage(url)
        try:
            svc = Service(program(PEOPLE), storage, registry(), clock=Clock())
            account = ok(svc.create_record(CLERK, "account", {"name": "Acme", "code": "AC"}))
            person = ok(svc.create_record(CLERK, "person", {
                "name": "Pat", "age": 40, "score": 7.5, "active": True, "born": "1986-05-01",
                "seen": "2026-01-31T09:00:00+02:00", "email": "pat@example.com", "size": "m", "tags": ["red"],
                "account": account.id, "nick": "pat", "badge": "B-1"}))
            other = ok(svc.create_record(CLERK, "person", {"name": "Sam", "badge": "B-2"}, no_process=True))
            yield World(svc, person.id, other.id, account.id)
        finally:
            storage.close()


def resolve(world: World, value: Any) -> Any:
    return world.other_id if value == PERSON_ID else value


def refused_write(svc: Service, result: Any, field: str | None) -> ValidationFailure:
    assert isinstance(result, ValidationFailure), result
    fields = [e.field for e in result.field_errors]
    if field is not None:
        assert field in fields, result
    return result


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v in BAD_VALUES])
def test_bad_value_on_create(world: World, field: str, value: Any) -> None:
    svc = world.svc
    before = snapshot(svc)
    result = svc.create_record(CLERK, "person", {"name": "New", field: resolve(world, value)})
    refused_write(svc, result, field)
    assert snapshot(svc) == before


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v in BAD_VALUES])
def test_bad_value_on_update(world: World, field: str, value: Any) -> None:
    svc = world.svc
    before = snapshot(svc)
    stored = svc.get_record(ADMIN, world.person_id)
    assert stored is not None
    result = svc.update_record(CLERK, world.person_id, {field: resolve(world, value), "state": "changed"},
                               expected_version=stored.version)
    failure = refused_write(svc, result, field)
    assert failure.field_errors and all(e.field == field for e in failure.field_errors), failure
    assert snapshot(svc) == before
    assert svc.get_record(ADMIN, world.person_id) == stored


def test_every_bad_field_is_reported_at_once(world: World) -> None:
    svc = world.svc
    before = snapshot(svc)
    result = svc.create_record(CLERK, "person", {"name": "New", "age": "old", "active": "yes", "size": "xl",
                                                 "unknown": 1})
    failure = refused_write(svc, result, None)
    assert sorted(e.field for e in failure.field_errors if e.field) == ["active", "age", "size", "unknown"]
    assert snapshot(svc) == before


def test_required_unique_and_entity_errors(world: World) -> None:
    svc = world.svc
    before = snapshot(svc)
    refused_write(svc, svc.create_record(CLERK, "person", {"age": 3}), "name")           # required, missing
    refused_write(svc, svc.create_record(CLERK, "person", {"name": None}), "name")
    refused_write(svc, svc.create_record(CLERK, "person", {"name": ""}), "name")         # empty text is empty
    refused_write(svc, svc.update_record(CLERK, world.person_id, {"name": None}), "name")
    refused_write(svc, svc.update_record(CLERK, world.person_id, {"name": ""}), "name")
    refused_write(svc, svc.create_record(CLERK, "account", {"name": "Acme"}), "name")    # unique
    refused_write(svc, svc.create_record(CLERK, "account", {"name": "Other", "code": "A"}), "code")
    refused_write(svc, svc.create_record(CLERK, "account", {"name": "Other", "code": "ABCDEF"}), "code")
    unknown = svc.create_record(CLERK, "martian", {"name": "x"})
    assert isinstance(unknown, ValidationFailure) and "martian" in unknown.message
    assert isinstance(svc.create_record(CLERK, "person", ["name", "x"]), ValidationFailure)  # not an object
    assert isinstance(svc.update_record(CLERK, "no-such-id", {"name": "x"}), ValidationFailure)
    assert snapshot(svc) == before
    assert (count(svc, "person"), count(svc, "account"), count(svc, "card")) == (2, 1, 0)


def test_stale_expected_version_on_update_and_delete(world: World) -> None:
    svc = world.svc
    before = snapshot(svc)
    stored = svc.get_record(ADMIN, world.person_id)
    assert stored is not None
    for stale in (stored.version - 1, stored.version + 1):
        failure = svc.update_record(CLERK, world.person_id, {"state": "new"}, expected_version=stale)
        assert isinstance(failure, ValidationFailure) and failure.current_version == stored.version, failure
        failure = svc.delete_record(CLERK, world.person_id, expected_version=stale)
        assert isinstance(failure, ValidationFailure) and failure.current_version == stored.version, failure
    assert snapshot(svc) == before


def at_intake(svc: Service, **values: Any) -> str:
    """A new person's Onboarding instance, at Intake."""
    person = ok(svc.create_record(CLERK, "person", {"name": "Pat", **values}))
    assert person.active_instance_id is not None
    return str(person.active_instance_id)


def refused_move(svc: Service, instance_id: str, why: str) -> None:
    before = snapshot(svc)
    result = svc.move_next(CLERK, instance_id)
    assert isinstance(result, TransitionFailure) and result.code == "INVALID", result
    assert why in result.message, result
    assert snapshot(svc) == before


def test_a_hook_that_would_break_a_rule_fails_the_move(open_svc: OpenSvc) -> None:
    """The hooks of a move write through the rules; a refused write rolls the whole move back."""
    svc = open_svc(program(PEOPLE))
    refused_move(svc, at_intake(svc, state="bad"), "nick")  # on exit sets nick = "bad": the rule's error
    refused_move(svc, at_intake(svc), "label")  # Card's `create` leaves its required label empty
    assert count(svc, "card") == 0

    moved = ok(svc.move_next(CLERK, at_intake(svc, state="fine", age=10)))
    assert moved.active_stage == "issue"
    person = svc.get_record(ADMIN, moved.record_id)
    card = svc.get_record(ADMIN, moved.bound["card"])
    assert person is not None and card is not None
    assert (person.values["nick"], person.values["age"]) == ("fine", 110)
    assert card.values == {"label": "fine", "person": person.id}


def test_a_hook_that_would_break_a_validation_fails_the_move(open_svc: OpenSvc) -> None:
    """service.md: a hook's `set` that breaks a validation rolls the move back (INVALID)."""
    svc = open_svc(program(PEOPLE))
    refused_move(svc, at_intake(svc, state="fine", age=60), "age")  # on exit sets age = 160 > max 150


def test_a_rule_set_that_breaks_a_validation_is_refused(open_svc: OpenSvc) -> None:
    svc = open_svc(program(PEOPLE))
    person = ok(svc.create_record(CLERK, "person", {"name": "Pat"}, no_process=True))
    before = snapshot(svc)
    refused_write(svc, svc.update_record(CLERK, person.id, {"state": "shout"}), "nick")
    refused_write(svc, svc.create_record(CLERK, "person", {"name": "Pat", "state": "shout"}), "nick")
    assert snapshot(svc) == before


@pytest.mark.parametrize(("field", "value", "says"), [
    ("born", 5, "must be a date"),
    ("born", "2020-01-01", "must be a date"),
    ("active", "yes", "must be true or false"),
    ("age", "12", "must be a number"),
    ("name", 7, "must be text"),
    ("name", "a\x00b", "NUL"),
    ("email", "nope", "must be an email address"),
    ("site", "not a url", "must be a URL"),
    ("phone", "abc", "must be a phone number"),
    ("age", 1e20, "a 64-bit integer"),
])
def test_values_computed_on_the_server_must_fit_their_field(field: str, value: Any, says: str) -> None:
    """The safety net under rules, hooks and actions: a value of the wrong type is never stored."""
    entity = program(PEOPLE).entities["person"]
    errors = check_values(entity, {field: value})
    assert [e.field for e in errors] == [field] and says in errors[0].message, errors
    assert check_values(entity, {"born": dt.date(2020, 1, 1), "active": True, "age": 3}) == []
