"""Records at the edges, over a live server on each backend, with a model of the tests' own (hiring).

- ``records(where:)`` matches the same records on SQLite and PostgreSQL: null (an empty field),
  a list of choices (that very set, not a superset), and a clear error for ``id`` and a bad ``first``;
- text no database can store (NUL, an unpaired surrogate) is a clear client error on both, never
  an internal one;
- deleting a record another record's process works on is refused; deleting a record others look up
  empties those lookups ("remove link") and raises their versions;
- the offer a candidate's process moved on to lists that instance and shows its bar;
- a revoked token is refused on the very next request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

import bpf_dsl
from bpf_dsl.plugins import Registry
from bpf_dsl.service import Caller, ValidationFailure
from bpf_dsl.service.auth import Tokens
from tests.server.helpers import Client, Live, live_server

MODEL = """
role recruiter "Recruiter"

entity candidate "Candidate" {
    full_name "Full Name": text required
    skills: choices(python "Python", sql "SQL", go "Go")
    notes: text
}

entity offer "Offer" {
    title: text required
    salary: money
    candidate: lookup(candidate)
}

process hiring "Hiring" on candidate {
    roles recruiter
    stage screen "Screen" {
        step full_name
    }
    stage make_offer "Make Offer" on offer via candidate {
        create {
            title = full_name
        }
        step salary required
    }
}
"""

CREATE = """mutation($v: JSON!) { createRecord(entity: "candidate", values: $v) {
  __typename ... on Record { id version activeInstance { id version } }
  ... on ValidationError { message fieldErrors { field message } } } }"""
IDS = 'query($w: JSON) { records(entity: "candidate", where: $w) { total items { id } } }'


@pytest.fixture
def hiring(db_url: str) -> Iterator[tuple[Live, Client]]:
    prog = bpf_dsl.load_source(MODEL, "hiring.bpf", Registry(entry_points=False))
    with live_server(db_url, prog, Registry(entry_points=False)) as live:
        yield live, live.client(live.token("rita", "recruiter"))


def create(client: Client, **values: object) -> dict[str, object]:
    made = client.gql(CREATE, v=values)["createRecord"]
    assert made["__typename"] == "Record", made
    return made  # type: ignore[no-any-return]


def post_ascii(client: Client, query: str, variables: dict[str, object]) -> httpx.Response:
    """A POST whose JSON escapes every non-ASCII character (``\\ud800`` included, as a client may send it)."""
    body = json.dumps({"query": query, "variables": variables})
    return client.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})


def ids(client: Client, where: dict[str, object]) -> set[str]:
    return {r["id"] for r in client.gql(IDS, w=where)["records"]["items"]}


def test_where_matches_empty_fields_and_exact_choice_sets(hiring: tuple[Live, Client]) -> None:
    _, client = hiring
    both = create(client, full_name="Ada", skills=["sql", "python"], notes="strong")["id"]
    one = create(client, full_name="Bob", skills=["python"])["id"]
    three = create(client, full_name="Cy", skills=["python", "sql", "go"])["id"]
    none = create(client, full_name="Dee")["id"]
    assert ids(client, {"skills": ["python", "sql"]}) == {both}  # the same set, in any order
    assert ids(client, {"skills": ["python"]}) == {one}
    assert ids(client, {"notes": None}) == {one, three, none}
    assert ids(client, {"skills": None}) == {none}
    assert ids(client, {"skills": []}) == {none}  # an empty set is an empty field
    assert ids(client, {"notes": "strong", "skills": ["python", "sql"]}) == {both}


@pytest.mark.parametrize(("args", "says"), [
    ('where: {id: "x"}', "record(id:)"),
    ("first: -1", "between 0 and 500"),
    ("first: 501", "between 0 and 500"),
])
def test_bad_records_arguments_say_what_to_do(hiring: tuple[Live, Client], args: str, says: str) -> None:
    _, client = hiring
    body = client.post(f'{{ records(entity: "candidate", {args}) {{ total }} }}').json()
    assert body["data"] is None and says in body["errors"][0]["message"], body
    assert "Internal error" not in body["errors"][0]["message"]


def test_an_unknown_entity_is_an_error_and_an_unknown_stage_an_empty_page(hiring: tuple[Live, Client]) -> None:
    """An entity name is checked wherever one is given; a stage name no process of the caller's has answers no
    records, whether or not a hidden process has it (an error would tell which)."""
    _, client = hiring
    for query in ('{ processes(entity: "nope") { name } }', '{ records(entity: "nope", stage: "x") { total } }'):
        body = client.post(query).json()
        assert body["data"] is None and "unknown entity 'nope'" in body["errors"][0]["message"], body
    assert client.gql('{ records(entity: "candidate", stage: "nosuch") { total } }') == {"records": {"total": 0}}


@pytest.mark.parametrize("text", ["x\u0000y", "\ud800x"])
def test_unstorable_text_is_a_client_error_on_both_backends(hiring: tuple[Live, Client], text: str) -> None:
    live, client = hiring
    # In variables: refused at the door with a 400 that says why.
    response = post_ascii(client, CREATE, {"v": {"full_name": text}})
    assert response.status_code == 400 and "no value may contain" in response.text, response.text
    response = post_ascii(client, 'query($i: ID!) { record(id: $i) { id } }', {"i": text})
    assert response.status_code == 400, response.text
    # Raw in the body's bytes (a surrogate as the 3 bytes UTF-8 would give it, which json.loads lets through).
    raw = json.dumps({"query": CREATE, "variables": {"v": {"full_name": text}}}, ensure_ascii=False)
    response = client.http.post("/graphql", content=raw.encode("utf-8", "surrogatepass"),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "no value may contain" in response.text, response.text
    # In the query text: a validation error, never an internal one.
    literal = '{ record(id: "a\\u0000b") { id } }'
    body = client.post(literal).json()
    assert body["data"] is None and "NUL" in body["errors"][0]["message"], body
    assert client.gql('{ records(entity: "candidate") { total } }')["records"]["total"] == 0  # nothing written
    # Below the API (import, hooks, actions), the service refuses it as a field error.
    made = live.service.create_record(Caller("rita", frozenset({"recruiter"})), "candidate", {"full_name": text})
    assert isinstance(made, ValidationFailure) and "can't be stored" in made.field_errors[0].message, made


MOVE = """mutation($i: ID!) { moveNext(instanceId: $i) { __typename
  ... on ProcessInstance { version activeStage { name } activeRecord { id } }
  ... on TransitionError { code message } } }"""


def test_the_record_a_process_moved_on_to_shows_that_process(hiring: tuple[Live, Client]) -> None:
    _, client = hiring
    cand = create(client, full_name="Ada")
    inst = cand["activeInstance"]["id"]  # type: ignore[index]
    moved = client.gql(MOVE, i=inst)["moveNext"]
    assert moved["activeStage"]["name"] == "make_offer", moved
    offer = moved["activeRecord"]["id"]
    seen = client.gql("""query($r: ID!) { record(id: $r) { instances { id } activeInstance { id record { id } } }
        processInstances(recordId: $r) { id }
        processBar(recordId: $r) { instance { id } stages { stage { name } state } } }""", r=offer)
    assert seen["record"]["activeInstance"] == {"id": inst, "record": {"id": cand["id"]}}
    assert [i["id"] for i in seen["record"]["instances"]] == [inst] == [i["id"] for i in seen["processInstances"]]
    bar = seen["processBar"]
    assert bar["instance"]["id"] == inst
    assert [(s["stage"]["name"], s["state"]) for s in bar["stages"]] == [("screen", "COMPLETED"),
                                                                         ("make_offer", "ACTIVE")]


DELETE = """mutation($r: ID!) { deleteRecord(id: $r) { __typename ... on ValidationError { message } } }"""


def test_deleting_a_record_a_process_works_on_is_refused_and_lookups_are_unlinked(
        hiring: tuple[Live, Client]) -> None:
    _, client = hiring
    cand = create(client, full_name="Ada")
    moved = client.gql(MOVE, i=cand["activeInstance"]["id"])["moveNext"]  # type: ignore[index]
    offer = moved["activeRecord"]["id"]
    refused = client.gql(DELETE, r=offer)["deleteRecord"]
    assert refused["__typename"] == "ValidationError" and "delete that record" in refused["message"], refused
    listing = client.gql('{ records(entity: "candidate") { items { id instances { activeRecord { id } } } } }')
    assert listing["records"]["items"][0]["instances"][0]["activeRecord"]["id"] == offer  # still whole
    # An offer that merely looks the candidate up (no process on it) loses the link, not its existence.
    other = client.gql("""mutation($c: ID!) { createRecord(entity: "offer", values: {title: "Side", candidate: $c})
        { ... on Record { id version } } }""", c=cand["id"])["createRecord"]
    assert client.gql(DELETE, r=cand["id"])["deleteRecord"]["__typename"] == "Record"
    after = client.gql('query($r: ID!) { record(id: $r) { version values } }', r=other["id"])["record"]
    assert after["values"]["candidate"] is None and after["values"]["title"] == "Side"
    assert after["version"] == other["version"] + 1
    # The offer the process created went with nothing to hold it back: it is deleted with its own rights.
    assert client.gql(DELETE, r=offer)["deleteRecord"]["__typename"] == "Record"


def test_a_revoked_token_is_refused_on_the_next_request(hiring: tuple[Live, Client]) -> None:
    live, _ = hiring
    made = Tokens(live.service.storage).create("sam", ["recruiter"])
    client = live.client(made.token)
    assert client.post("{ me { user } }").status_code == 200  # verified, now cached
    revoked = subprocess.run([sys.executable, "-m", "bpf_dsl.cli", "token", "revoke", made.id,
                              "--db", live.db], capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    if "postgres" in live.db:  # NOTIFY arrives within milliseconds, after the command's commit
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and client.post("{ me { user } }").status_code == 200:
            time.sleep(0.01)
    response = client.post("{ me { user } }")  # on SQLite each request re-reads the token's row
    assert response.status_code == 401 and "revoked" in response.text, response.text


def test_stages_say_how_their_record_is_found(hiring: tuple[Live, Client]) -> None:
    _, client = hiring
    stages = client.gql("{ processes { name stages { name entity via viaEntity creates } } }")["processes"][0]["stages"]
    assert stages == [
        {"name": "screen", "entity": "candidate", "via": None, "viaEntity": None, "creates": False},
        {"name": "make_offer", "entity": "offer", "via": "candidate", "viaEntity": "candidate", "creates": True},
    ]


def test_records_come_newest_first_page_by_page(hiring: tuple[Live, Client]) -> None:
    _, client = hiring
    made = [create(client, full_name=f"C{i}")["id"] for i in range(5)]
    seen: list[str] = []
    after = None
    while True:
        page = client.gql('query($a: String) { records(entity: "candidate", first: 2, after: $a) '
                          "{ total nextCursor items { id } } }", a=after)["records"]
        assert page["total"] == 5
        seen += [r["id"] for r in page["items"]]
        after = page["nextCursor"]
        if after is None:
            break
    assert seen == made[::-1]  # the newest first, each once
    body = client.post('{ records(entity: "candidate", after: "garbage") { total } }').json()
    assert body["data"] is None and "nextCursor" in body["errors"][0]["message"], body
