"""The security review's findings about the server, each with its regression test, through real servers.

Documents whose fragments double at each spread, documents that repeat a field hundreds of
times, sockets of revoked or expired tokens, slow request heads, numbers beyond what storage
holds, connections PostgreSQL ended, missing security headers, the demo's token, and the
``application/graphql-response+json`` media type. No test asserts a duration: where a
fix is about time, the test gives a generous timeout to what used to never end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bpf_server import limits
from bpf_server.direct import Plans
from bpf_server.headers import PAGE_CSP
from graphql import get_introspection_query
from websockets.exceptions import ConnectionClosed

import bpf_dsl
from bpf_dsl.errors import UnavailableError
from bpf_dsl.plugins import Registry
from bpf_dsl.service.auth import Tokens
from bpf_dsl.storage import open_storage
from tests.backends import PG_URL
from tests.server.helpers import Live, Socket, example_paths, live_server, serve_process

ME = "{ me { user } }"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def doubling(count: int, leaf: str = "name") -> str:
    """``fragment F0 on Entity { name } fragment Fn on Entity { ...Fn-1 ...Fn-1 }``: 2^(count-1) fields."""
    fragments = [f"fragment F0 on Entity {{ {leaf} }}"]
    fragments += [f"fragment F{i} on Entity {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, count)]
    return f"query {{ entities {{ ...F{count - 1} }} }} " + " ".join(fragments)


# -- 1. fragments measured once -------------------------------------------------------------------------------------
def test_fragments_doubling_at_each_spread_are_refused_at_once(sqlite_live: Live) -> None:
    token = sqlite_live.token("frag", "admin")
    with httpx.Client(base_url=sqlite_live.url, headers=_auth(token), timeout=60) as http:
        for document in (doubling(30), doubling(30, "a: name")):  # 1.3 KB; the alias limiter was exponential too
            assert len(document) < 1500
            for answer in (http.post("/graphql", json={"query": document}),  # the direct path
                           http.get("/graphql", params={"query": document})):  # strawberry's
                body = answer.json()
                assert answer.status_code == 200 and body["data"] is None, answer.text
                assert [e["message"] for e in body["errors"]] == [
                    f"'anonymous' selects more than {limits.MAX_FIELDS} fields once its fragments are expanded: "
                    "ask for less in one request"]
        # Fragments measured once still count every spread: a small document over a limit is refused.
        deep = doubling(12)  # 2,048 fields, nested 1 level
        assert "more than" in http.post("/graphql", json={"query": deep}).json()["errors"][0]["message"]
        assert http.post("/graphql", json={"query": doubling(4)}).json()["data"]["entities"]  # 8 repeats
        # A cycle is graphql-core's error, and the measure doesn't loop on it.
        cycle = "{ entities { ...A } } fragment A on Entity { ...B } fragment B on Entity { name ...A }"
        assert "within itself" in http.post("/graphql", json={"query": cycle}).text
    assert sqlite_live.client(token).gql(ME)["me"]["user"] == "frag"


def test_real_queries_pass_the_size_limits(sqlite_live: Live) -> None:
    client = sqlite_live.client(sqlite_live.token("intro", "admin"))
    # GraphiQL's own introspection query (229 fields once expanded, 9 levels of ofType).
    query = get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                    schema_description=True, input_value_deprecation=True)
    assert client.gql(query)["__schema"]["queryType"]["name"] == "Query"


# -- 2. a document repeating one field -----------------------------------------------------------------------------
def test_documents_repeating_a_field_are_refused_and_health_answers_meanwhile(
        sqlite_live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    token = sqlite_live.token("rep", "admin")
    repeated = "{ entities { " + "fields { name } " * 895 + "} }"  # 15 KB, validated for seconds before
    with httpx.Client(base_url=sqlite_live.url, headers=_auth(token), timeout=60) as http:
        assert "more than 2000 tokens" in http.post("/graphql", json={"query": repeated}).json()["errors"][0]["message"]
        fewer = "{ entities { " + "fields { name } " * 200 + "} }"  # under the token and field limits
        message = http.post("/graphql", json={"query": fewer}).json()["errors"][0]["message"]
        assert f"selects one field up to 200 times at the same place (at most {limits.MAX_REPEATS})" in message
        # A query text not seen before is parsed and validated in a worker thread, not on the event loop.
        on_loop: list[bool] = []
        make = Plans._make

        def noted(self: Plans, query: str) -> Any:
            try:
                asyncio.get_running_loop()
                on_loop.append(True)
            except RuntimeError:
                on_loop.append(False)
            return make(self, query)

        monkeypatch.setattr(Plans, "_make", noted)
        stop = threading.Event()

        def send() -> None:  # fresh texts (a comment apiece): no cache helps
            with httpx.Client(base_url=sqlite_live.url, headers=_auth(token), timeout=60) as mine:
                n = 0
                while not stop.is_set():
                    n += 1
                    text = f"# {uuid.uuid4()} {n}\n{{ __typename entities {{ {'fields { name } ' * 9} }} }}"
                    assert mine.post("/graphql", json={"query": text}).status_code == 200
        senders = [threading.Thread(target=send) for _ in range(4)]
        for sender in senders:
            sender.start()
        try:
            for _ in range(5):
                assert httpx.get(sqlite_live.url + "/healthz", timeout=30).status_code == 200
        finally:
            stop.set()
            for sender in senders:
                sender.join(60)
        assert on_loop and not any(on_loop)


# -- 3. sockets of revoked and expired tokens ----------------------------------------------------------------------
def closed_with(ws: Socket, timeout: float) -> int | None:
    """The close code the server sent within ``timeout`` seconds (pings answered); None if still open."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = ws.recv(left)
        except TimeoutError:
            return None
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else -1
        if message["type"] == "ping":
            ws.send({"type": "pong"})
    return None


def test_a_socket_is_closed_when_its_token_is_revoked(live: Live, tmp_path: Path) -> None:
    made = Tokens(live.service.storage).create("listener", ["admin"])
    ws = Socket(live.url, made.token)
    assert ws.init()["type"] == "connection_ack"
    ws.subscribe("s", "subscription { processEvents { kind } }")
    writer = live.client(live.token("writer", "admin"))
    writer.gql('mutation { createRecord(entity: "lead", values: {topic: "Before"}) { __typename } }')
    assert [e["data"]["processEvents"]["kind"] for e in ws.events(1)] == ["started"]
    # Revoked as an administrator does it: `bpf token revoke` in a process of its own.
    revoked = subprocess.run([sys.executable, "-m", "bpf_dsl.cli", "token", "revoke", made.id, "--db", live.db],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    writer.gql('mutation { createRecord(entity: "lead", values: {topic: "After"}) { __typename } }')
    assert closed_with(ws, 8) == 4403
    ws.close()
    assert writer.gql(ME)["me"]["user"] == "writer"


def test_a_socket_is_closed_when_its_token_expires(live: Live) -> None:
    made = Tokens(live.service.storage).create("brief", ["admin"], expires_days=4 / 86_400)  # four seconds
    ws = Socket(live.url, made.token)
    assert ws.init()["type"] == "connection_ack"
    ws.subscribe("s", "subscription { processEvents { kind } }")
    assert closed_with(ws, 12) == 4403
    ws.close()


# -- 4. uvicorn's limits and slow request heads --------------------------------------------------------------------
def test_serve_sets_uvicorn_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from bpf_server.protocol import GuardedH11

    from bpf_dsl.cli.main import main

    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: given.update(kwargs))
    monkeypatch.setattr(GuardedH11, "header_timeout", GuardedH11.header_timeout)  # restored afterwards
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    assert main(["serve", *example_paths(), "--db", db, "--port", str(_free_port())]) == 0
    assert (given["timeout_keep_alive"], given["limit_concurrency"], given["h11_max_incomplete_event_size"],
            given["http"], GuardedH11.header_timeout) == (limits.KEEP_ALIVE_SECONDS, limits.LIMIT_CONCURRENCY,
                                                          limits.MAX_HEADER_BYTES, GuardedH11, limits.HEADER_TIMEOUT)
    assert main(["serve", *example_paths(), "--db", db, "--port", str(_free_port()), "--limit-concurrency", "7",
                 "--header-timeout", "2.5"]) == 0
    assert (given["limit_concurrency"], GuardedH11.header_timeout) == (7, 2.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _connection(url: str) -> Iterator[socket.socket]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        yield sock


def test_a_request_head_sent_slowly_is_cut_off(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    with serve_process(db, *example_paths(), extra=("--header-timeout", "2")) as url, _connection(url) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for n in range(3):  # a header line every half second: trickling doesn't move the deadline
            time.sleep(0.5)
            slow.sendall(f"X-Slow-{n}: y\r\n".encode())
        # Then nothing more is sent (bytes arriving after the close would make the peer reset the connection,
        # and the 408 could be lost): the server must close it by itself. Before, it waited forever.
        slow.settimeout(30)
        answer = b""
        while chunk := slow.recv(1000):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer
        with _connection(url) as trickling:  # a line every half second, for up to a minute: cut off on the way
            trickling.settimeout(0.5)
            closed = False
            for n in range(120):
                try:
                    trickling.sendall(b"GET /healthz HTTP/1.1\r\n" if n == 0 else f"X-Slow-{n}: y\r\n".encode())
                    closed = trickling.recv(1000) == b""
                except TimeoutError:
                    continue
                except OSError:  # reset: the server closed it while bytes were on their way
                    closed = True
                if closed:
                    break
            assert closed
        assert httpx.get(url + "/healthz", timeout=30).status_code == 200


def test_past_the_concurrency_limit_the_answer_is_503(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    with serve_process(db, *example_paths(), extra=("--limit-concurrency", "4")) as url:
        with contextlib.ExitStack() as stack:
            for _ in range(4):  # connections whose heads are not whole yet hold their slots
                stack.enter_context(_connection(url)).sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.2)  # accepted by the server
            assert httpx.get(url + "/healthz", timeout=30).status_code == 503
        deadline = time.monotonic() + 30
        while httpx.get(url + "/healthz", timeout=30).status_code != 200:  # serving again once they are gone
            assert time.monotonic() < deadline
            time.sleep(0.2)


# -- 6. numbers beyond what storage holds --------------------------------------------------------------------------
def test_numbers_beyond_their_kinds_bounds_are_field_errors(live: Live) -> None:
    client = live.client(live.token("num", "admin"))
    create = ('mutation($v: JSON!) { createRecord(entity: $e, values: $v) { __typename '
              '... on ValidationError { fieldErrors { field message } } ... on Record { values } } }')
    for entity, values, field, says in (
            ("lead", {"topic": "T", "budget_amount": 1e308}, "budget_amount", "less than 10^15"),
            ("lead", {"topic": "T", "budget_amount": 10**15}, "budget_amount", "less than 10^15"),
            ("lead", {"topic": "T", "budget_amount": "0.123456789012345678"}, "budget_amount", "significant digits"),
            ("case", {"title": "T", "satisfaction": 2**63}, "satisfaction", "64-bit integer")):
        result = client.gql(create.replace("$e", f'"{entity}"'), v=values)["createRecord"]
        assert result["__typename"] == "ValidationError", result
        assert result["fieldErrors"][0]["field"] == field and says in result["fieldErrors"][0]["message"], result
    kept = client.gql(create.replace("$e", '"lead"'), v={"topic": "T", "budget_amount": 999_999_999_999_999.0})
    assert kept["createRecord"]["values"]["budget_amount"] == 999_999_999_999_999
    for where in ({"budget_amount": 1e308}, {"budget_amount": -1e308}, {"budget_amount": 1e15}):
        body = client.post('query($w: JSON) { records(entity: "lead", where: $w) { total } }', {"w": where}).json()
        assert body["data"] is None and "less than 10^15" in body["errors"][0]["message"], body
        assert "INTERNAL" not in json.dumps(body)
    inline = client.post('{ records(entity: "lead", where: {budget_amount: 1e308}) { total } }').json()
    assert "less than 10^15" in inline["errors"][0]["message"] and "INTERNAL" not in json.dumps(inline)


# -- 8. connections PostgreSQL ended; a database that can't be used ----------------------------------------------
@pytest.fixture
def pg_app_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema's URL whose connections carry an application name of their own, and that name."""
    if not PG_URL:
        pytest.skip("needs BPF_TEST_POSTGRES_URL (.ci/run sets it)")
    from tests.backends import database_url

    name = f"bpf_test_{uuid.uuid4().hex[:10]}"
    with database_url("postgres", tmp_path) as url:
        yield url + "&application_name=" + name, name


def _terminate(application_name: str) -> int:
    import psycopg

    assert PG_URL is not None
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        # Returns once each is gone (the timeout): ended connections, not ones being ended as the next request
        # comes (a request that races an ending may fail with a 503, as one in flight then does).
        rows = conn.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                            "WHERE application_name = %s", (application_name,)).fetchall()
    return len(rows)


def test_connections_postgres_ended_are_replaced(pg_app_url: tuple[str, str]) -> None:
    url, name = pg_app_url
    with live_server(url) as live:
        token = live.token("pg", "admin")
        client = live.client(token)
        lead = client.gql('mutation { createRecord(entity: "lead", values: {topic: "T"}) '
                          "{ ... on Record { id activeInstance { id } } } }")["createRecord"]
        for _ in range(3):
            assert _terminate(name) >= 1  # every connection of this server: pool, group commit, LISTEN
            fresh = live.client(live.token(f"u{uuid.uuid4().hex[:6]}", "admin"))  # verified: a read by key
            for c in (client, fresh):
                response = c.post("query($r: ID!) { record(id: $r) { id } }", {"r": lead["id"]})
                assert response.status_code == 200, response.text
                assert response.json()["data"]["record"]["id"] == lead["id"]
            moved = c.post("mutation($i: ID!) { moveNext(instanceId: $i) { __typename } }",
                           {"i": lead["activeInstance"]["id"]})
            assert moved.status_code == 200 and "errors" not in moved.json(), moved.text


def test_a_database_that_cannot_be_used_is_a_json_503(sqlite_live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    token = sqlite_live.token("down", "admin")
    lead = sqlite_live.client(token).gql('mutation { createRecord(entity: "lead", values: {topic: "T"}) '
                                         "{ ... on Record { id } } }")["createRecord"]["id"]

    def unavailable(*args: object, **kwargs: object) -> None:
        raise UnavailableError("connection refused")

    monkeypatch.setattr(sqlite_live.service, "process_bar", unavailable)
    bar = "query($r: ID!) { processBar(recordId: $r) { instance { id } } }"
    with httpx.Client(base_url=sqlite_live.url, headers=_auth(token), timeout=30) as http:
        for response in (http.post("/graphql", json={"query": bar, "variables": {"r": lead}}),  # direct
                         http.get("/graphql", params={"query": bar, "variables": json.dumps({"r": lead})})):
            assert response.status_code == 503, response.text
            assert response.json() == {"errors": [{"message": "the database is unavailable at the moment: "
                                                              "try again shortly"}]}
            assert response.headers["content-type"] == "application/json"
        monkeypatch.setattr(Tokens, "verify", unavailable)  # the token is checked first: a new one, not cached
        fresh = Tokens(sqlite_live.service.storage).create("new", ["admin"]).token
        response = http.post("/graphql", json={"query": ME}, headers=_auth(fresh))
        assert response.status_code == 503 and response.json()["errors"][0]["message"].startswith("the database")
    monkeypatch.undo()
    assert sqlite_live.client(token).gql(ME)["me"]["user"] == "down"


# -- 9. security headers --------------------------------------------------------------------------------------------
def test_every_answer_carries_the_security_headers(sqlite_live: Live) -> None:
    token = sqlite_live.token("hdr", "admin")
    page = httpx.get(sqlite_live.url + "/")
    script = re.search(r'src="(/static/[^"]+\.js)"', page.text)
    assert script is not None
    answers = [page, httpx.get(sqlite_live.url + script.group(1)), httpx.get(sqlite_live.url + "/records/x"),
               httpx.post(sqlite_live.url + "/graphql", json={"query": ME}, headers=_auth(token)),
               httpx.post(sqlite_live.url + "/graphql", json={"query": ME}),  # a 401
               httpx.get(sqlite_live.url + "/healthz"), httpx.get(sqlite_live.url + "/static/nope.js")]
    for answer in answers:
        assert answer.headers["content-security-policy"] == PAGE_CSP, answer.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in PAGE_CSP and "script-src 'self';" in PAGE_CSP
    graphiql = httpx.get(sqlite_live.url + "/graphql", headers={"Accept": "text/html"})
    policy = graphiql.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", graphiql.text, re.DOTALL)
    assert inline
    for body in inline:  # the inline script runs by its hash, not by 'unsafe-inline'
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "https://unpkg.com" in policy and "script-src 'self' https://unpkg.com 'sha256-" in policy
    assert "'unsafe-eval'" not in policy and "frame-ancestors 'none'" in policy
    assert graphiql.headers["x-content-type-options"] == "nosniff"


# -- 11. the demo's token -------------------------------------------------------------------------------------------
def test_demo_starts_leave_one_short_lived_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    for _ in range(2):
        with serve_process(db, extra=("--demo",)):
            pass
    storage = open_storage(db)
    try:
        demo = [t for t in Tokens(storage).list() if t.user == "demo"]
    finally:
        storage.close()
    assert len(demo) == 2
    working = [t for t in demo if t.revoked_at is None]
    assert len(working) == 1  # the first start's token was revoked by the second
    assert working[0].expires_at is not None
    assert (working[0].expires_at - working[0].created_at).total_seconds() <= 8 * 3600


# -- 12. application/graphql-response+json --------------------------------------------------------------------------
GRAPHQL_RESPONSE = "application/graphql-response+json"
SEVERAL = ('mutation Make { createRecord(entity: "lead", values: {topic: "several"}) { __typename } } '
           "query Me { me { user } }")


def test_graphql_response_json_answers_requests_that_did_not_run_with_400(sqlite_live: Live) -> None:
    token = sqlite_live.token("media", "admin")
    wants = {**_auth(token), "Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    cases = [
        ("{", None),  # does not parse
        ("{ nope }", None),  # does not validate
        ("query($r: ID!) { record(id: $r) { id } }", {"r": None}),  # variables that can't be coerced
        (doubling(30), None),  # over the limits
        (SEVERAL, None),  # several operations, none named: not the first one run
    ]
    with httpx.Client(base_url=sqlite_live.url, timeout=30) as http:
        for query, variables in cases:
            for _ in range(2):  # the second from the kept outcome
                for response in (http.post("/graphql", json={"query": query, "variables": variables}, headers=wants),
                                 http.post("/graphql", json={"query": query, "variables": variables,
                                                             "extensions": {}}, headers=wants),  # strawberry's
                                 http.get("/graphql", params={"query": query, **(
                                     {"variables": json.dumps(variables)} if variables else {})}, headers=wants)):
                    assert response.status_code == 400, (query, response.text)
                    assert response.headers["content-type"] == GRAPHQL_RESPONSE
                    body = response.json()
                    assert "data" not in body and body["errors"][0]["message"], body
                # The same with application/json: 200 and "data": null, as before.
                plain = http.post("/graphql", json={"query": query, "variables": variables}, headers=_auth(token))
                assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
                assert plain.json()["data"] is None and plain.json()["errors"]
        ok = http.post("/graphql", json={"query": ME}, headers=wants)
        assert ok.status_code == 200 and ok.headers["content-type"] == GRAPHQL_RESPONSE
        assert ok.json() == {"data": {"me": {"user": "media"}}}
        # A field's error is an executed request's: 200, with data.
        field = http.post("/graphql", json={"query": '{ records(entity: "nope") { total } }'}, headers=wants)
        assert field.status_code == 200 and field.json()["data"] is None and field.json()["errors"][0]["path"]
        # Each of the several was refused, the mutation among them too; naming one runs that one.
        assert http.post("/graphql", json={"query": '{ records(entity: "lead", where: {topic: "several"}) { total } }'},
                         headers=wants).json() == {"data": {"records": {"total": 0}}}
        named = http.post("/graphql", json={"query": SEVERAL, "operationName": "Me"}, headers=wants)
        assert named.json() == {"data": {"me": {"user": "media"}}}
        for accept in ("*/*", "application/json", f"application/json, {GRAPHQL_RESPONSE}", ""):
            same = http.post("/graphql", json={"query": "{"}, headers={**_auth(token), "Accept": accept})
            assert same.status_code == 200 and same.headers["content-type"] == "application/json", accept


AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "graphql_http_audit.mjs"


@pytest.fixture(scope="module")
def audit_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with graphql-http and graphql installed (.ci/node_modules if .ci/run installed them)."""
    import shutil

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the graphql-http audit needs Node.js and npm (not found on PATH): skipped")
    if (AUDIT.parent / "node_modules" / "graphql-http").is_dir():
        return AUDIT.parent
    folder = tmp_path_factory.mktemp("audit")
    installed = subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(folder),
                                "graphql-http", "graphql"], capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"the graphql-http audit could not install graphql-http with npm (offline?): skipped\n"
                    f"{installed.stderr[-2000:]}")
    return folder


def test_the_graphql_over_http_audit_passes(audit_modules: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    storage = open_storage(db)
    try:
        token = Tokens(storage).create("audit", ["admin"]).token
    finally:
        storage.close()
    with serve_process(db, *example_paths()) as url:
        result = subprocess.run(["node", str(AUDIT), url + "/graphql"], capture_output=True, text=True, timeout=300,
                                env={**_environ(), "BPF_AUDIT_TOKEN": token,
                                     "BPF_AUDIT_NODE_MODULES": str(audit_modules)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "graphql-http audit: 61/61 ok" in result.stdout, result.stdout


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


# -- 5. deleting a record a required lookup needs (through the API; the service's own test is in tests/service) ----
REQUIRED_LOOKUP = """
role r
entity account { name: text required }
entity contact {
    name: text
    account: lookup(account) required
}
process keep on contact {
    roles r
    stage s { step name }
}
"""


def test_deleting_a_record_a_required_lookup_needs_is_refused(db_url: str) -> None:
    registry = Registry(entry_points=False)
    with live_server(db_url, bpf_dsl.load_source(REQUIRED_LOOKUP, registry=registry), registry) as live:
        client = live.client(live.token("u", "r"))
        account = client.gql('mutation { createRecord(entity: "account", values: {name: "Acme"}) '
                             "{ ... on Record { id } } }")["createRecord"]["id"]
        client.gql('mutation($a: ID!) { createRecord(entity: "contact", values: {account: $a}) { __typename } }',
                   a=account)
        refused = client.gql('mutation($a: ID!) { deleteRecord(id: $a) { __typename '
                             "... on ValidationError { message currentVersion } } }", a=account)["deleteRecord"]
        assert refused["__typename"] == "ValidationError" and refused["currentVersion"] == 1
        assert "1 contact record" in refused["message"].lower() and "contact.account" in refused["message"]
        assert client.gql("query($a: ID!) { record(id: $a) { id } }", a=account)["record"] == {"id": account}
