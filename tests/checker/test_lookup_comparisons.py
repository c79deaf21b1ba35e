"""Comparing a lookup: with another lookup to the same entity, with the `id` of a record of that entity,
with a record's id written as a string, with `empty` (docs/language.md, "Types").

A lookup holds the id of the record it points at, so `parent = id` ("an account can't be its own
parent") was meant to check; it was BPF034 ("can't compare a lookup to account with a text")."""

from __future__ import annotations

import datetime as dt

import pytest

import bpf_dsl
from bpf_dsl import check_text
from bpf_dsl.engine import MemoryData
from bpf_dsl.plugins import Registry

MODEL = """
entity account {
    name: text
    parent: lookup(account)
    partner: lookup(account)
    flagged: bool
    note: text
}
entity contact {
    name: text
    account: lookup(account)
    self_ref: lookup(contact)
}
"""

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def codes(text: str) -> list[str]:
    report = check_text(MODEL + text, "m.bpf", Registry(entry_points=False))
    return [d.code for d in report.diagnostics]


@pytest.mark.parametrize("condition", [
    "parent = id",                      # the record's own id
    "id != parent",                     # either side
    "parent = partner",                 # two lookups to the same entity
    "parent = partner.id",              # the id of the record another lookup points at
    "parent.id = id",                   # through the lookup
    "parent.parent = id",               # two hops
    'parent = "0190a0b0-0000-7000-8000-000000000001"',   # a record's id written out
    "parent is empty",
    "parent is not empty and parent != id",
    "parent in [partner, id]",
])
def test_a_lookup_compares_with_ids_of_its_entity(condition: str) -> None:
    assert codes(f"rule r on account {{ if {condition} {{ set flagged = true }} }}") == []


@pytest.mark.parametrize(("text", "says"), [
    ("rule r on contact { if account = id { hide name } }", "a lookup to account with the id of a contact"),
    ("rule r on contact { if self_ref = account { hide name } }", "a lookup to contact with a lookup to account"),
    ("rule r on contact { if account = name { hide name } }", "a lookup to account with a text"),
    ("rule r on contact { if account > id { hide name } }", "can't compare"),
    ("rule r on contact { if account = 3 { hide name } }", "a lookup to account with an integer"),
])
def test_a_lookup_does_not_compare_with_other_things(text: str, says: str) -> None:
    report = check_text(MODEL + text, "m.bpf", Registry(entry_points=False))
    assert [d.code for d in report.diagnostics] == ["BPF034"], report.diagnostics
    assert says in report.diagnostics[0].message


def test_an_id_is_still_a_text() -> None:
    assert codes('rule r on account { if id contains "7" and len(id) = 36 { set note = "x" + id } }') == []


def test_a_lookup_takes_the_id_of_a_record_of_its_entity() -> None:
    assert codes("rule r on account { if parent is empty { set partner = id } }") == []
    assert codes("rule r on contact { set account = id }") == ["BPF037"]
    assert codes("rule r on account { set partner = coalesce(parent, id) }") == []


def test_the_engine_compares_a_lookup_with_the_records_id() -> None:
    text = MODEL + """
rule own_parent on account {
    if parent = id { error parent "an account can't be its own parent" }
    if parent != id and parent = partner { set flagged = true } else { set flagged = false }
}
"""
    program = bpf_dsl.load_source(text, registry=Registry(entry_points=False))
    data = MemoryData(program.entities, program.rules, now=T0)
    data.save("account", "A1", {"name": "root"})
    data.save("account", "A2", {"name": "child"})
    child = data.save("account", "A2", {"parent": "A1", "partner": "A1"})
    assert child.values["flagged"] is True
    refused = data.save("account", "A2", {"parent": "A2"})
    assert [e.message for e in refused.form.errors] == ["an account can't be its own parent"]
    assert data.values("account", "A2")["parent"] == "A1"  # nothing stored


def test_an_id_mixed_with_another_text_is_no_longer_an_id() -> None:
    assert codes("rule r on account { set partner = coalesce(id, note) }") == ["BPF037"]
    assert codes('rule r on account { set partner = id + "" }') == ["BPF037"]
