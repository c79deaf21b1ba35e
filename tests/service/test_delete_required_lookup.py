"""Deleting a record that a ``required`` lookup of another record points at is refused, on every backend.

Before, the delete emptied that lookup ("remove link") and the other record could no longer be
saved: every later update of it failed on its empty required field. Now the delete is a
ValidationFailure naming the referring entity and field, and nothing changes.
"""

from __future__ import annotations

from bpf_dsl.service import ValidationFailure

from .conftest import ADMIN, OpenSvc, ok, program, snapshot

MODEL = """
entity account "Account" { name: text required }
entity contact "Contact" {
    name: text
    account "Company": lookup(account) required
    referrer: lookup(account)
}
entity person "Person" {
    name: text
    mentor: lookup(person) required
}
"""


def test_a_delete_that_would_empty_a_required_lookup_is_refused(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    acme = ok(svc.create_record(ADMIN, "account", {"name": "Acme"}))
    other = ok(svc.create_record(ADMIN, "account", {"name": "Other"}))
    for n in range(5):
        ok(svc.create_record(ADMIN, "contact", {"name": f"c{n}", "account": acme.id, "referrer": other.id}))
    before = snapshot(svc)
    refused = svc.delete_record(ADMIN, acme.id)
    assert isinstance(refused, ValidationFailure), refused
    assert "5 Contact records" in refused.message and "contact.account" in refused.message
    assert "Company" in refused.message and "and 2 more" in refused.message
    assert refused.current_version == acme.version
    assert snapshot(svc) == before  # nothing deleted, nothing unlinked
    # A lookup that is not required is still emptied by the delete, as before.
    ok(svc.delete_record(ADMIN, other.id))
    contacts = svc.list_records(ADMIN, "contact").items
    assert {c.values.get("referrer") for c in contacts} == {None}
    assert all(ok(svc.update_record(ADMIN, c.id, {"name": c.values["name"] + "!"})) for c in contacts)


def test_a_record_that_only_itself_needs_may_be_deleted(open_svc: OpenSvc) -> None:
    # Made while the lookup was optional (no record can be its own mentor on create: it has no id yet).
    loose = open_svc(program(MODEL.replace("mentor: lookup(person) required", "mentor: lookup(person)")))
    first = ok(loose.create_record(ADMIN, "person", {"name": "first"}))
    ok(loose.update_record(ADMIN, first.id, {"mentor": first.id}))  # its own mentor
    svc = open_svc(program(MODEL))
    ok(svc.delete_record(ADMIN, first.id))
    assert svc.get_record(ADMIN, first.id) is None
