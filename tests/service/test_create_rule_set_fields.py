"""createRecord and the fields a rule sets: a set field takes the rule's value (LANGUAGE.md: `set` applies
to the values being saved); a set and locked one refuses a given value rather than drop it in silence."""

from __future__ import annotations

from bpf_dsl.service import ValidationFailure

from .conftest import ADMIN, OpenSvc, count, ok, program

MODEL = """
entity quote "Quote" {
    net: money
    gross: money
    score: integer
}

rule compute "Compute" on quote {
    set gross = net * 1.2
    set score = 7
    lock score
}
"""


def test_a_field_a_rule_sets_takes_the_rules_value_on_create(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    row = ok(svc.create_record(ADMIN, "quote", {"net": 100, "gross": 5}))
    assert row.values["gross"] == 120


def test_a_locked_field_a_rule_sets_refuses_a_given_value_and_writes_nothing(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    refused = svc.create_record(ADMIN, "quote", {"net": 100, "score": 3})
    assert isinstance(refused, ValidationFailure)
    assert [e.field for e in refused.field_errors] == ["score"]
    assert count(svc, "quote") == 0
    assert ok(svc.create_record(ADMIN, "quote", {"net": 100, "score": 7})).values["score"] == 7
