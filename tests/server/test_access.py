"""Access control through GraphQL, on a real uvicorn over SQLite and PostgreSQL (issue 12).

``Record.owner``/``createdBy``/``permissions``, ``assignRecord``, values and forms without restricted fields,
the bar's restricted steps hidden, typed entity types and lookups, ``entities`` as the caller may read them,
records the caller may not read answering null, kept answers keyed by user where ``own`` grants make answers
personal, and subscriptions that carry nothing the subscriber may not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.plugins import Registry
from tests.server.helpers import Client, Live, Socket, live_server
from tests.service.test_access import MODEL

PROGRAMS: dict[str, Any] = {}


def compiled(text: str) -> Any:
    if text not in PROGRAMS:
        PROGRAMS[text] = bpf_dsl.load_source(text, registry=Registry(entry_points=False))
    return PROGRAMS[text]


@pytest.fixture
def hr_live(db_url: str) -> Iterator[Live]:
    with live_server(db_url, compiled(MODEL), Registry(entry_points=False)) as server:
        yield server


class People:
    """A client per user of the model's roles (tokens made on the live server)."""

    def __init__(self, live: Live) -> None:
        self.hana = live.client(live.token("hana", "hr"))
        self.max = live.client(live.token("max", "manager"))
        self.mo = live.client(live.token("mo", "manager"))
        self.ida = live.client(live.token("ida", "it_desk"))
        self.clive = live.client(live.token("clive", "clerk"))


CREATE = """mutation($v: JSON!) { r: createRecord(entity: "new_hire", values: $v) {
  __typename ... on Record { id version owner createdBy values permissions activeInstance { id version } }
  ... on ValidationError { message currentVersion fieldErrors { field message } } } }"""
UPDATE = """mutation($id: ID!, $v: JSON!, $e: Int) { r: updateRecord(id: $id, values: $v, expectedVersion: $e) {
  __typename ... on Record { id version values }
  ... on ValidationError { message currentVersion fieldErrors { field message } } } }"""
ASSIGN = """mutation($id: ID!, $o: String!, $e: Int) { r: assignRecord(id: $id, owner: $o, expectedVersion: $e) {
  __typename ... on Record { id version owner createdBy values }
  ... on ValidationError { message currentVersion fieldErrors { field message } } } }"""
RECORD = """query($id: ID!) { record(id: $id) { id owner createdBy values permissions
  form { name } } }"""


def create(client: Client, **values: Any) -> dict[str, Any]:
    made = client.gql(CREATE, v={"full_name": "Pat Doe", **values})["r"]
    assert made["__typename"] == "Record", made
    return made  # type: ignore[no-any-return]


def test_owner_created_by_permissions_and_assign(hr_live: Live) -> None:
    p = People(hr_live)
    made = create(p.max)
    assert (made["owner"], made["createdBy"]) == ("max", "max")
    assert made["permissions"] == ["create", "read", "update"]
    assert "salary" not in made["values"] and "full_name" in made["values"]
    refused = p.max.gql(ASSIGN, id=made["id"], o="mo")["r"]
    assert refused["__typename"] == "ValidationError" and refused["message"] == "not allowed"
    stale = p.hana.gql(ASSIGN, id=made["id"], o="mo", e=made["version"] + 3)["r"]
    assert stale["currentVersion"] == made["version"]
    unknown = p.hana.gql(ASSIGN, id=made["id"], o="zed")["r"]
    assert [e["field"] for e in unknown["fieldErrors"]] == ["owner"]
    done = p.hana.gql(ASSIGN, id=made["id"], o="mo", e=made["version"])["r"]
    assert (done["owner"], done["createdBy"], done["version"]) == ("mo", "max", made["version"] + 1)
    assert p.max.gql(RECORD, id=made["id"])["record"] is None  # his read was `own`: gone with the record
    theirs = p.mo.gql(RECORD, id=made["id"])["record"]
    assert theirs["owner"] == "mo" and theirs["permissions"] == ["create", "read", "update"]
    assert p.hana.gql(RECORD, id=made["id"])["record"]["permissions"] == ["create", "read", "update", "delete",
                                                                          "assign"]


def test_restricted_fields_are_absent_everywhere_for_other_roles(hr_live: Live) -> None:
    p = People(hr_live)
    made = create(p.hana, salary=150_000, ssn="123-45-6789")
    p.hana.gql(ASSIGN, id=made["id"], o="max")
    assert made["values"]["band"] == "senior" and made["values"]["salary"] == 150_000  # the rule saw it
    typed = "query($id: ID!) { newHire(id: $id) { full_name salary ssn band } }"
    for client in (p.max, p.ida):
        seen = client.gql(RECORD, id=made["id"])["record"]
        assert "salary" not in seen["values"] and "ssn" not in seen["values"] and seen["values"]["band"] == "senior"
        assert {f["name"] for f in seen["form"]} == {"full_name", "band", "contract_signed", "buddy", "mentor",
                                                     "referred_by"}
        assert client.gql(typed, id=made["id"])["newHire"] == {"full_name": "Pat Doe", "salary": None, "ssn": None,
                                                               "band": "senior"}
        entities = {e["name"]: [f["name"] for f in e["fields"]]
                    for e in client.gql("{ entities { name fields { name } } }")["entities"]}
        assert "salary" not in entities["new_hire"] and "full_name" in entities["new_hire"]
        assert "secret_note" not in entities  # no process binds it: admins only
        assert client.gql('{ records(entity: "new_hire", search: "45-67") { total } }')["records"]["total"] == 0
        where = client.post('{ records(entity: "new_hire", where: {ssn: "123-45-6789"}) { total } }').json()
        assert "`ssn` is not a field of new_hire" in where["errors"][0]["message"]
        bar = client.gql("query($id: ID!) { processBar(recordId: $id) { stages { stage { name } steps { "
                         "step { name } value done hidden } } } }", id=made["id"])["processBar"]
        steps = {s["step"]["name"]: s for s in bar["stages"][0]["steps"]}
        # Filled, but not done for them: whether it is filled would tell of the value.
        assert steps["salary"] == {"step": {"name": "salary"}, "value": None, "done": False, "hidden": True}
        assert steps["contract_signed"]["hidden"] is False
    hr = p.hana.gql(typed, id=made["id"])["newHire"]
    assert hr["salary"] == 150_000 and hr["ssn"] == "123-45-6789"
    assert p.hana.gql('{ records(entity: "new_hire", search: "45-67") { total } }')["records"]["total"] == 1
    # Writing one is a field error, and changes nothing.
    before = p.hana.gql(RECORD, id=made["id"])["record"]
    refused = p.max.gql(UPDATE, id=made["id"], v={"salary": 1, "buddy": "Sam"})["r"]
    assert refused["message"] == "not allowed" and [e["field"] for e in refused["fieldErrors"]] == ["salary"]
    assert p.hana.gql(RECORD, id=made["id"])["record"] == before
    clerk_entities = [e["name"] for e in p.clive.gql("{ entities { name } }")["entities"]]
    assert clerk_entities == []  # a clerk's roles bind nothing and are granted nothing


def test_a_record_the_caller_may_not_read_is_null_everywhere(hr_live: Live) -> None:
    p = People(hr_live)
    made = create(p.mo, buddy="Sam")
    inst = made["activeInstance"]["id"]
    for client in (p.max, p.clive):
        seen = client.gql("query($id: ID!, $i: ID!) { record(id: $id) { id } newHire(id: $id) { id } "
                          "processBar(recordId: $id) { instance { id } } processInstances(recordId: $id) { id } "
                          "processInstance(id: $i) { id } recordLookups(id: $id) { id } "
                          'records(entity: "new_hire") { total items { id } } }', id=made["id"], i=inst)
        assert seen == {"record": None, "newHire": None, "processBar": None, "processInstances": [],
                        "processInstance": None, "recordLookups": [], "records": {"total": 0, "items": []}}
        for text, args in ((UPDATE, {"v": {"buddy": "x"}, "e": 99}), (ASSIGN, {"o": "max", "e": 99})):
            result = client.gql(text, id=made["id"], **args)["r"]
            assert (result["message"], result["currentVersion"]) == (f"no record {made['id']}", None)
        moved = client.gql("mutation($i: ID!) { r: abandonProcess(instanceId: $i) { __typename "
                           "... on TransitionError { code currentVersion } } }", i=inst)["r"]
        assert moved["code"] in ("NOT_FOUND", "FORBIDDEN") and moved["currentVersion"] is None
    assert p.mo.gql(RECORD, id=made["id"])["record"]["values"]["buddy"] == "Sam"


def test_lookups_to_records_the_caller_may_not_read_keep_their_id_only(hr_live: Live) -> None:
    p = People(hr_live)
    theirs = create(p.mo, full_name="Theirs")
    mine = create(p.max, full_name="Mine")
    p.hana.gql(UPDATE, id=mine["id"], v={"referred_by": theirs["id"]})
    seen = p.max.gql("query($id: ID!) { record(id: $id) { values } recordLookups(id: $id) { id } "
                     "newHire(id: $id) { referred_by { id } } }", id=mine["id"])
    assert seen["record"]["values"]["referred_by"] == theirs["id"]  # the id is kept
    assert seen["recordLookups"] == [] and seen["newHire"]["referred_by"] is None  # nothing else
    hers = p.hana.gql("query($id: ID!) { recordLookups(id: $id) { id } }", id=mine["id"])["recordLookups"]
    assert hers == [{"id": theirs["id"]}]


def test_an_instances_record_the_caller_may_not_read_shows_its_id_only(db_url: str) -> None:
    text = MODEL.replace("allow manager, it_desk to read\n}", "allow it_desk to read\n}")
    with live_server(db_url, compiled(text), Registry(entry_points=False)) as live:
        p = People(live)
        made = create(p.max, contract_signed=True)
        p.hana.gql(UPDATE, id=made["id"], v={"salary": 10})
        moved = p.hana.gql("mutation($i: ID!) { r: moveNext(instanceId: $i) { __typename } }",
                           i=made["activeInstance"]["id"])["r"]
        assert moved["__typename"] == "ProcessInstance"
        seen = p.max.gql("query($id: ID!) { record(id: $id) { activeInstance { record { id } activeRecord { "
                         "id entity version owner values permissions form { name } instances { id } } } } }",
                         id=made["id"])["record"]["activeInstance"]
        laptop = seen["activeRecord"]
        assert seen["record"] == {"id": made["id"]}
        assert laptop["entity"] == "laptop" and laptop["id"] != made["id"]
        assert {k: v for k, v in laptop.items() if k not in ("id", "entity")} == {
            "version": 0, "owner": "", "values": {}, "permissions": [], "form": [], "instances": []}
        assert p.hana.gql("query($id: ID!) { record(id: $id) { values } }", id=laptop["id"])["record"]["values"] == \
            {"serial": "Pat Doe", "hire": made["id"]}


def test_kept_answers_are_the_users_where_own_grants_make_them_personal(hr_live: Live) -> None:
    p = People(hr_live)
    made = create(p.max)
    query = "query($id: ID!) { record(id: $id) { id owner } processBar(recordId: $id) { instance { id } } }"
    for _ in range(2):  # the second time, max's answer is kept: mo, of the same roles, must not get it
        assert p.max.gql(query, id=made["id"])["record"] == {"id": made["id"], "owner": "max"}
        assert p.mo.gql(query, id=made["id"]) == {"record": None, "processBar": None}
    p.hana.gql(ASSIGN, id=made["id"], o="mo")
    assert p.max.gql(query, id=made["id"]) == {"record": None, "processBar": None}
    assert p.mo.gql(query, id=made["id"])["record"] == {"id": made["id"], "owner": "mo"}


def test_subscriptions_carry_nothing_the_subscriber_may_not_read(hr_live: Live) -> None:
    p = People(hr_live)
    sub = ("subscription { processEvents { kind instance { id record { id owner values } "
           "activeRecord { values } } } }")
    sockets = {}
    for user, role in (("mo2", "manager"), ("hana2", "hr"), ("clive2", "clerk")):
        ws = Socket(hr_live.url, hr_live.token(user, role))
        assert ws.init()["type"] == "connection_ack"
        ws.subscribe("s", sub)
        sockets[user] = ws
    try:
        made = create(p.hana, salary=99, buddy="Sam")  # hana's: mo may not read it, clive nothing at all
        own = create(Client(hr_live.url, hr_live.token("mo2", "manager")), full_name="Mo's")
        # hr hears both, with the salary; mo hears only his own, without it; the clerk hears nothing.
        heard = [e["data"]["processEvents"] for e in sockets["hana2"].events(2)]
        assert [e["instance"]["record"]["id"] for e in heard] == [made["id"], own["id"]]
        assert heard[0]["instance"]["record"]["values"]["salary"] == 99
        mine = sockets["mo2"].events(1)[0]["data"]["processEvents"]
        assert mine["instance"]["record"]["id"] == own["id"] and mine["instance"]["record"]["owner"] == "mo2"
        assert "salary" not in mine["instance"]["record"]["values"]
        assert "salary" not in mine["instance"]["activeRecord"]["values"]
        with pytest.raises(AssertionError, match="only 0 of 1"):
            sockets["clive2"].events(1, timeout=1.5)
        with pytest.raises(AssertionError, match="only 0 of 1"):
            sockets["mo2"].events(1, timeout=1.0)  # nothing about max's record came, nor will
    finally:
        for ws in sockets.values():
            ws.close()
