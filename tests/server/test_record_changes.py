"""``recordChanged`` (a record's committed updates, assignments and deletion, pushed to subscribers on every server
process, never to one that may not read the record), and switching back to another record's process that reached
this record (issue 16), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bpf_dsl
from bpf_dsl.plugins import Registry
from bpf_dsl.service.auth import Tokens
from bpf_dsl.storage import open_storage
from tests.backends import PG_URL, database_url
from tests.server.helpers import Client, Live, Socket, example_paths, live_server, serve_process
from tests.server.test_access import ASSIGN, People, create, hr_live  # noqa: F401  (hr_live: a fixture)

CHANGES = """subscription($id: ID!) { recordChanged(id: $id) { id version deleted by
  record { id version owner values } } }"""
PROCESS_EVENTS = "subscription { processEvents { kind } }"
NEW_LEAD = """mutation($t: String!) { r: createRecord(entity: "lead", values: {topic: $t, budget_amount: 10}) {
  ... on Record { id version activeInstance { id version } } } }"""
UPDATE = """mutation($id: ID!, $v: JSON!) { r: updateRecord(id: $id, values: $v) {
  __typename ... on Record { id version } ... on ValidationError { message } } }"""
DELETE = """mutation($id: ID!) { r: deleteRecord(id: $id) { __typename ... on Record { id } } }"""


@pytest.fixture
def opened() -> Iterator[list[Socket]]:
    """Sockets a test opens, closed at the end."""
    sockets: list[Socket] = []
    yield sockets
    for ws in sockets:
        ws.close()


def listen(url: str, token: str, opened: list[Socket], query: str = CHANGES, **variables: str) -> Socket:
    ws = Socket(url, token)
    opened.append(ws)
    assert ws.init()["type"] == "connection_ack"
    ws.subscribe("s", query, **variables)
    return ws


def test_an_update_reaches_the_record_subscribers_and_processevents_keeps_its_kinds(
        live: Live, opened: list[Socket]) -> None:
    token = live.token("ann", "salesperson")
    ann = live.client(token)
    lead = ann.gql(NEW_LEAD, t="Live edits")["r"]
    other = ann.gql(NEW_LEAD, t="Another")["r"]
    watching = listen(live.url, token, opened, id=lead["id"])
    moves = listen(live.url, token, opened, PROCESS_EVENTS)
    # No message confirms a subscription: a moment for the server to set it up before the first change.
    time.sleep(0.3)
    assert ann.gql(UPDATE, id=other["id"], v={"company": "Elsewhere"})["r"]["__typename"] == "Record"
    saved = ann.gql(UPDATE, id=lead["id"], v={"company": "Contoso"})["r"]
    change = watching.events(1)[0]["data"]["recordChanged"]
    # Only the watched record's change came (the other's was left out), with its new values and version.
    assert change["id"] == lead["id"] and change["deleted"] is False and change["by"] == "ann"
    assert change["version"] == saved["version"] == change["record"]["version"]
    assert change["record"]["values"]["company"] == "Contoso"
    # processEvents carries only the contract's kinds: field edits are not among them.
    with pytest.raises(AssertionError, match="only 0 of 1"):
        moves.events(1, timeout=1)
    assert ann.gql(DELETE, id=lead["id"])["r"]["__typename"] == "Record"
    gone = watching.events(1)[0]["data"]["recordChanged"]
    assert gone["deleted"] is True and gone["record"] is None


def test_changes_never_reach_who_may_not_read_the_record(hr_live: Live, opened: list[Socket]) -> None:  # noqa: F811
    p = People(hr_live)
    made = create(p.hana, salary=99)  # hana's (hr): a manager reads only his own
    refused = Socket(hr_live.url, hr_live.token("mo3", "manager"))
    opened.append(refused)
    refused.init()
    refused.subscribe("s", CHANGES, id=made["id"])
    message = refused.recv()
    assert message["type"] == "next" and message["payload"]["errors"], message  # not one of its records
    mine = create(p.max)  # max's own: he reads it, without the salary
    max_ws = listen(hr_live.url, hr_live.token("max", "manager"), opened, id=mine["id"])
    hana_ws = listen(hr_live.url, hr_live.token("hana", "hr"), opened, id=mine["id"])
    time.sleep(0.3)
    p.hana.gql(UPDATE, id=mine["id"], v={"salary": 120000})
    seen = max_ws.events(1)[0]["data"]["recordChanged"]["record"]
    assert "salary" not in seen["values"] and seen["values"]["band"] == "senior"  # the rule's effect, not the pay
    assert hana_ws.events(1)[0]["data"]["recordChanged"]["record"]["values"]["salary"] == 120000
    # Given to mo: max may no longer read it, so he hears nothing more of it (not even its deletion).
    assert p.hana.gql(ASSIGN, id=mine["id"], o="mo")["r"]["owner"] == "mo"
    assert hana_ws.events(1)[0]["data"]["recordChanged"]["record"]["owner"] == "mo"
    p.hana.gql(UPDATE, id=mine["id"], v={"buddy": "Sam"})
    p.hana.gql(DELETE, id=mine["id"])
    assert [e["data"]["recordChanged"]["deleted"] for e in hana_ws.events(2)] == [False, True]
    with pytest.raises(AssertionError, match="only 0 of 1"):
        max_ws.events(1, timeout=1)


@pytest.mark.skipif(not PG_URL, reason="the cluster tests need BPF_TEST_POSTGRES_URL (.ci/run sets it)")
def test_a_change_through_one_server_reaches_a_subscriber_of_another(tmp_path: Path, opened: list[Socket]) -> None:
    with database_url("postgres", tmp_path) as db:
        storage = open_storage(db)
        token = Tokens(storage).create("ann", ["salesperson"]).token
        storage.close()
        with serve_process(db, *example_paths()) as a, serve_process(db, *example_paths()) as b:
            lead = Client(a, token).gql(NEW_LEAD, t="Across")["r"]
            ws = listen(a, token, opened, id=lead["id"])
            time.sleep(0.3)
            Client(b, token).gql(UPDATE, id=lead["id"], v={"company": "Fabrikam"})
            heard = ws.events(1)
            assert heard[0]["data"]["recordChanged"]["record"]["values"]["company"] == "Fabrikam"
            with pytest.raises(AssertionError, match="only 0 of 1"):
                ws.events(1, timeout=1)  # once, not twice


SWITCH = """mutation($r: ID!, $p: String!) { r: switchProcess(recordId: $r, process: $p) {
  __typename ... on ProcessInstance { id process { name } } ... on TransitionError { code message } } }"""
BAR = """query($r: ID!) { processBar(recordId: $r) { instance { id process { name } } }
  record(id: $r) { instances { id process { name } } } }"""
MOVE = """mutation($i: ID!) { r: moveNext(instanceId: $i) { __typename
  ... on ProcessInstance { activeRecord { id entity } } ... on TransitionError { code message } } }"""


OPPORTUNITY_SALES = """
process opportunity_sales "Opportunity Sales Process" on opportunity {
    roles salesperson, sales_manager
    stage develop "Develop" { step customer_need }
    stage close "Close" { step decision_date }
}
"""


@pytest.fixture
def two_processes(db_url: str, tmp_path: Path) -> Iterator[Live]:
    """The examples with a process of the opportunity's own (the sales pack has one)."""
    extra = tmp_path / "opportunity_sales.bpf"
    extra.write_text(OPPORTUNITY_SALES)
    prog = bpf_dsl.load([*example_paths(), str(extra)], Registry(entry_points=False))
    with live_server(db_url, prog) as server:
        yield server


def test_switching_back_to_the_process_that_reached_the_record(two_processes: Live) -> None:
    live = two_processes
    ann = live.client(live.token("ann", "salesperson"))
    lead = ann.gql(NEW_LEAD, t="Reached")["r"]
    moved = ann.gql(MOVE, i=lead["activeInstance"]["id"])["r"]
    opportunity = moved["activeRecord"]
    assert opportunity["entity"] == "opportunity"
    started = ann.gql(SWITCH, r=opportunity["id"], p="opportunity_sales")["r"]
    assert started["process"]["name"] == "opportunity_sales"
    shown = ann.gql(BAR, r=opportunity["id"])
    assert shown["processBar"]["instance"]["id"] == started["id"]
    assert {i["process"]["name"] for i in shown["record"]["instances"]} == {"opportunity_sales",
                                                                              "lead_to_opportunity"}
    # Back to the lead's process, on the opportunity: it was refused ("runs on lead records").
    back = ann.gql(SWITCH, r=opportunity["id"], p="lead_to_opportunity")["r"]
    assert back == {"__typename": "ProcessInstance", "id": lead["activeInstance"]["id"],
                    "process": {"name": "lead_to_opportunity"}}
    assert ann.gql(BAR, r=opportunity["id"])["processBar"]["instance"]["id"] == lead["activeInstance"]["id"]
    # A process of another entity that never reached the record is still refused, and starts nothing.
    other = ann.gql(NEW_LEAD, t="Elsewhere")["r"]
    refused = ann.gql(SWITCH, r=other["id"], p="opportunity_sales")["r"]
    assert refused["__typename"] == "TransitionError" and refused["code"] == "INVALID"
