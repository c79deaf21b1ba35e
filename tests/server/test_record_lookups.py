"""``recordLookups(id)``: the records a record's lookups point at, read with the record in one request
(the web page's record view shows their titles without asking for each)."""

from __future__ import annotations

from typing import Any

from tests.server.helpers import Client, Live

PAGE = """query($id: ID!) {
  record(id: $id) { id values }
  recordLookups(id: $id) { id entity values }
}"""


def create(client: Client, entity: str, values: dict[str, Any]) -> str:
    made = client.gql("""mutation($e: String!, $v: JSON!) { createRecord(entity: $e, values: $v, noProcess: true) {
        __typename ... on Record { id } ... on ValidationError { message } } }""", e=entity, v=values)["createRecord"]
    assert made["__typename"] == "Record", made
    return str(made["id"])


def test_the_records_a_records_lookups_point_at(sqlite_live: Live) -> None:
    client = sqlite_live.client(sqlite_live.token("ann", "salesperson"))
    account = create(client, "account", {"name": "Northwind"})
    contact = create(client, "contact", {"full_name": "Ada", "account": account})
    lead = create(client, "lead", {"topic": "Fleet", "existing_contact": contact, "existing_account": account})

    data = client.gql(PAGE, id=lead)
    assert data["record"]["id"] == lead
    found = data["recordLookups"]
    assert [(r["id"], r["entity"]) for r in found] == [(contact, "contact"), (account, "account")]  # field order
    assert found[0]["values"]["full_name"] == "Ada" and found[1]["values"]["name"] == "Northwind"

    # The same record twice is listed once; a record without lookups set, or no record, lists none.
    both = create(client, "lead", {"topic": "Twice", "existing_contact": contact})
    assert [r["id"] for r in client.gql(PAGE, id=both)["recordLookups"]] == [contact]
    assert client.gql(PAGE, id=account)["recordLookups"] == []
    assert client.gql(PAGE, id="no-such-record") == {"record": None, "recordLookups": []}

    # A record deleted since is left out (deleting empties the lookups that pointed at it, too).
    gone = client.gql("""mutation($id: ID!) { deleteRecord(id: $id) { __typename } }""", id=contact)
    assert gone["deleteRecord"]["__typename"] != "ValidationError", gone
    assert [r["id"] for r in client.gql(PAGE, id=lead)["recordLookups"]] == [account]
