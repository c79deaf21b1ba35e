"""Timed work through a real server, with real clocks: SLAs firing `on overdue`, notifications, webhooks.

Short SLAs (`sla 2s`, tests/server/jobs.bpf) and real HTTP receivers on loopback
(`http.server` in a thread). Nothing here asserts how long anything took: a test waits,
with a generous deadline, for what must happen, and checks what must never happen
against something that happened after it. `bpf serve` runs as a subprocess where a test
kills it (SIGKILL) or runs two of them on one PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.plugins import ActionFailed, ActionSpec, Param, Registry, hookimpl
from bpf_dsl.service.auth import Tokens
from bpf_dsl.storage import open_storage
from tests.backends import PG_URL, database_url
from tests.server.helpers import Client, Socket, live_server, serve_subprocess

HERE = Path(__file__).resolve().parent
MODEL = HERE / "jobs.bpf"
SECRET = "s3cret-for-tests"
DEADLINE = 60  # seconds: generous, on 2 shared cores

# Fast retries and looks for the tests; the timeout only where a test needs one.
FAST = {"BPF_JOBS_POLL": "0.2", "BPF_WEBHOOK_BACKOFF": "0.2", "BPF_WEBHOOK_SECRET": SECRET}

CREATE = ('mutation($t: String!, $u: String) { createRecord(entity: "ticket", values: {title: $t, hook_url: $u}) '
          "{ ... on Record { id activeInstance { id version } } ... on ValidationError { message } } }")
MOVE = ("mutation($i: ID!) { moveNext(instanceId: $i) { __typename ... on ProcessInstance { version } "
        "... on TransitionError { code message } } }")
INSTANCE = """query($i: ID!) { processInstance(id: $i) {
    version dueAt overdue
    history { stage { name } enteredAt dueAt overdueAt exitedAt }
    notifications { id role message at instance { id } }
    deliveries { id url event status attempts lastError deliveredAt }
} }"""
BAR = "query($r: ID!) { processBar(recordId: $r) { stages { stage { name } state dueAt } } }"
INBOX = "query($n: Int) { notifications(first: $n) { id role message instance { id activeStage { name } } } }"


# -- a webhook receiver ---------------------------------------------------------------------------------------
class Receiver:
    """An HTTP endpoint on loopback that keeps every POST it gets.

    ``script`` says how it answers its requests in turn: ``fail`` (500), ``hang`` (holds the
    request until :meth:`release`, then 200), anything else 200; after the script, 200.
    """

    def __init__(self, script: tuple[str, ...] = ()) -> None:
        self.script = list(script)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.hanging = threading.Event()  # a request is being held
        self._release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    turn = len(receiver.requests)
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                what = receiver.script[turn] if turn < len(receiver.script) else "ok"
                if what == "hang":
                    receiver.hanging.set()
                    receiver._release.wait(DEADLINE)
                status = 500 if what == "fail" else 200
                with contextlib.suppress(OSError):  # the sender may have gone (killed, timed out)
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"no" if status == 500 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the listen backlog: concurrent senders must not be refused
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def release(self) -> None:
        self._release.set()

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def receiver(*script: str) -> Iterator[Receiver]:
    made = Receiver(tuple(script))
    try:
        yield made
    finally:
        made.close()


def wait_until(what: str, check: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """``check()``'s first truthy answer, looked for every 0.1 s until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def signed(headers: dict[str, str], body: bytes) -> bool:
    want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-bpf-signature", ""), want)


# -- servers -------------------------------------------------------------------------------------------------
_programs: dict[str, Any] = {}


def _program() -> Any:
    if "jobs" not in _programs:
        _programs["jobs"] = bpf_dsl.load([str(MODEL)], Registry(entry_points=False))
    return _programs["jobs"]


@contextlib.contextmanager
def served(db: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`bpf serve tests/server/jobs.bpf` as a subprocess, with ``env`` added; yields its URL and process (a test
    may kill it)."""
    with serve_subprocess(db, str(MODEL), env={**os.environ, **FAST, **(env or {})}) as served_:
        yield served_


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no lifespan shutdown, nothing flushed, nothing finished."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=15)


def tokens(db: str) -> tuple[str, str]:
    """An agent's token and a boss's."""
    storage = open_storage(db)
    try:
        made = Tokens(storage)
        return made.create("ann", ["agent"]).token, made.create("bob", ["boss"]).token
    finally:
        storage.close()


def create(client: Client, title: str, hook: str | None) -> tuple[str, str]:
    """A new ticket: its record id and its instance id."""
    made = client.gql(CREATE, t=title, u=hook)["createRecord"]
    return made["id"], made["activeInstance"]["id"]


def instance(client: Client, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.gql(INSTANCE, i=instance_id)["processInstance"]
    return found


def overdue(client: Client, instance_id: str) -> dict[str, Any] | None:
    now = instance(client, instance_id)
    return now if now["overdue"] else None


@pytest.fixture
def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process server's jobs read these when the app is made."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


# -- SLAs -----------------------------------------------------------------------------------------------------
def test_an_overdue_visit_fires_once_and_is_published(db_url: str, fast_env: None) -> None:
    with live_server(db_url, _program(), Registry(entry_points=False)) as live, receiver() as hook:
        ann, bob = live.client(live.token("ann", "agent")), live.client(live.token("bob", "boss"))
        ws = Socket(live.url, live.token("ann", "agent"))
        assert ws.init()["type"] == "connection_ack"
        ws.subscribe("s", 'subscription { processEvents(process: "support") { kind by stage { name } '
                          "instance { id overdue } } }")
        record_id, instance_id = create(ann, "Printer", hook.url)
        started = ws.events(1)[0]["data"]["processEvents"]
        assert started["kind"] == "started"
        before = instance(ann, instance_id)
        assert before["dueAt"] is not None and before["overdue"] is False
        assert before["history"][0]["dueAt"] == before["dueAt"] and before["history"][0]["overdueAt"] is None
        bar = ann.gql(BAR, r=record_id)["processBar"]["stages"]
        assert [(s["stage"]["name"], s["dueAt"] is not None) for s in bar] == \
            [("triage", True), ("resolve", False)]

        event, note_event = (e["data"]["processEvents"] for e in ws.events(2, timeout=DEADLINE))
        assert event == {"kind": "overdue", "by": "bpf", "stage": {"name": "triage"},
                         "instance": {"id": instance_id, "overdue": True}}
        assert note_event["kind"] == "notification"  # its hook's, after it
        after = instance(ann, instance_id)
        assert after["version"] == before["version"] + 1 and after["dueAt"] == before["dueAt"]
        [visit] = after["history"]
        assert visit["overdueAt"] is not None and visit["overdueAt"] >= visit["dueAt"]
        [note] = after["notifications"]
        assert (note["role"], note["message"], note["instance"]["id"]) == ("boss", "late: Printer", instance_id)
        inbox = bob.gql(INBOX)["notifications"]
        assert [(n["message"], n["instance"]["id"]) for n in inbox] == [("late: Printer", instance_id)]
        assert ann.gql(INBOX)["notifications"] == []  # not for the agents

        # The webhook of `on overdue` arrives, signed; the visit never fires again.
        wait_until("the overdue webhook", lambda: hook.requests)
        headers, body = hook.requests[0]
        assert signed(headers, body)
        sent = json.loads(body)
        assert (sent["event"], sent["stage"], sent["trigger"], sent["by"]) == \
            ("triage_late", "triage", "overdue", "bpf")
        assert sent["record"]["values"]["title"] == "Printer" and sent["instance"]["id"] == instance_id
        # Leaving the stage after it fired, then a later event: still one overdue, one notification.
        assert ann.gql(MOVE, i=instance_id)["moveNext"]["__typename"] == "ProcessInstance"
        heard = ws.events(1, timeout=DEADLINE)[0]["data"]["processEvents"]
        assert heard["kind"] == "stage_changed"
        final = instance(ann, instance_id)
        assert final["dueAt"] is None and final["overdue"] is False
        assert [v["overdueAt"] is not None for v in final["history"]] == [True, False]
        assert len(final["notifications"]) == 1
        ws.close()


def test_leaving_before_the_due_time_fires_nothing_and_coming_back_starts_a_new_clock(db_url: str,
                                                                                      fast_env: None) -> None:
    with live_server(db_url, _program(), Registry(entry_points=False)) as live:
        ann = live.client(live.token("ann", "agent"))
        _, early = create(ann, "Left early", None)
        assert ann.gql(MOVE, i=early)["moveNext"]["__typename"] == "ProcessInstance"  # well before its 2 s
        # Another ticket, made after: once it has fired, the first one's time had long passed too.
        _, later = create(ann, "Stays", None)
        wait_until("the second ticket's overdue", lambda: overdue(ann, later))
        left = instance(ann, early)
        assert [v["overdueAt"] for v in left["history"]] == [None, None] and left["notifications"] == []
        # Back to triage: a new visit, a new clock, which fires in its turn.
        back = ann.gql('mutation($i: ID!) { movePrevious(instanceId: $i) { ... on ProcessInstance { version } } }',
                       i=early)["movePrevious"]
        assert back["version"] == left["version"] + 1
        now = instance(ann, early)
        assert now["history"][-1]["dueAt"] > left["history"][0]["dueAt"] and not now["overdue"]
        done = wait_until("the new visit's overdue", lambda: overdue(ann, early))
        assert [v["overdueAt"] is not None for v in done["history"]] == [False, False, True]
        assert len(done["notifications"]) == 1


def test_a_server_killed_before_the_due_time_fires_it_after_restart(db_url: str) -> None:
    agent, _ = tokens(db_url)
    with served(db_url) as (url, proc):
        _, instance_id = create(Client(url, agent), "Killed", None)
        kill(proc)  # before its 2 s
    time.sleep(2.5)  # the due time passes while no server runs
    with served(db_url) as (url, _proc):
        client = Client(url, agent)
        fired = wait_until("the overdue after restart", lambda: overdue(client, instance_id))
        assert len(fired["notifications"]) == 1
        assert fired["history"][0]["overdueAt"] >= fired["history"][0]["dueAt"]


@pytest.mark.skipif(not PG_URL, reason="two servers on one PostgreSQL need BPF_TEST_POSTGRES_URL")
def test_two_servers_on_one_postgres_fire_each_visit_and_send_each_webhook_once(tmp_path: Path) -> None:
    count = 24
    with database_url("postgres", tmp_path) as db, receiver() as hook:
        agent, boss = tokens(db)
        with served(db) as (a, _pa), served(db) as (b, _pb):
            clients = [Client(a, agent), Client(b, agent)]
            made = [create(clients[i % 2], f"T{i}", hook.url) for i in range(count)]
            for _, instance_id in made:
                wait_until("every overdue", lambda i=instance_id: overdue(clients[0], i))  # type: ignore[misc]
            wait_until("every webhook", lambda: len(hook.requests) >= count)
            inbox = Client(b, boss).gql(INBOX, n=500)["notifications"]
            assert Counter(n["instance"]["id"] for n in inbox) == Counter(i for _, i in made)
            for _, instance_id in made:
                now = instance(clients[1], instance_id)
                assert [v["overdueAt"] is not None for v in now["history"]] == [True]
                assert len(now["notifications"]) == 1
                [delivery] = wait_until("delivered", lambda i=instance_id: [  # type: ignore[misc]
                    d for d in instance(clients[1], i)["deliveries"] if d["status"] == "delivered"])
                assert delivery["attempts"] == 1
        keys = Counter(headers["idempotency-key"] for headers, _ in hook.requests)
        assert len(keys) == count and set(keys.values()) == {1}, keys


# -- webhooks --------------------------------------------------------------------------------------------------
def test_a_failing_endpoint_gets_the_same_delivery_again_until_it_takes_it(db_url: str, fast_env: None) -> None:
    with live_server(db_url, _program(), Registry(entry_points=False)) as live, receiver("fail", "fail") as hook:
        ann = live.client(live.token("ann", "agent"))
        _, instance_id = create(ann, "Flaky", hook.url)
        moved = ann.gql(MOVE, i=instance_id)["moveNext"]
        assert moved["__typename"] == "ProcessInstance"  # the endpoint's failures are not the move's
        done = wait_until("the delivery", lambda: [d for d in instance(ann, instance_id)["deliveries"]
                                                   if d["status"] == "delivered"])
        [delivery] = done
        assert delivery["attempts"] == 3 and delivery["lastError"] is None and delivery["deliveredAt"]
        assert len(hook.requests) == 3
        keys = {headers["idempotency-key"] for headers, _ in hook.requests}
        assert keys == {delivery["id"]}
        assert all(signed(headers, body) for headers, body in hook.requests)
        assert len({body for _, body in hook.requests}) == 1  # the same bytes every time
        assert [headers["x-bpf-attempt"] for headers, _ in hook.requests] == ["1", "2", "3"]
        assert hook.bodies()[0]["event"] == "resolving" and hook.bodies()[0]["id"] == delivery["id"]


def test_an_endpoint_that_never_works_ends_failed(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                 fast_env: None) -> None:
    monkeypatch.setenv("BPF_WEBHOOK_ATTEMPTS", "2")
    with live_server(db_url, _program(), Registry(entry_points=False)) as live, receiver("fail", "fail") as hook:
        ann = live.client(live.token("ann", "agent"))
        _, instance_id = create(ann, "Down", hook.url)
        ann.gql(MOVE, i=instance_id)
        [delivery] = wait_until("the delivery to fail", lambda: [
            d for d in instance(ann, instance_id)["deliveries"] if d["status"] == "failed"])
        assert delivery["attempts"] == 2 and delivery["lastError"].startswith("HTTP 500")
        assert delivery["deliveredAt"] is None and len(hook.requests) == 2


def test_a_hanging_endpoint_delays_no_move_and_no_other_delivery(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                                fast_env: None) -> None:
    monkeypatch.setenv("BPF_WEBHOOK_TIMEOUT", "60")  # longer than the test: the hang lasts until it is released
    with live_server(db_url, _program(), Registry(entry_points=False)) as live, \
            receiver("hang") as stuck, receiver() as fine:
        ann = live.client(live.token("ann", "agent"))
        _, slow = create(ann, "Slow", stuck.url)
        ann.gql(MOVE, i=slow)
        assert stuck.hanging.wait(DEADLINE)
        # While that request hangs: moves go on, and their webhooks are delivered.
        others = [create(ann, f"Fast {i}", fine.url)[1] for i in range(3)]
        for other in others:
            assert ann.gql(MOVE, i=other)["moveNext"]["__typename"] == "ProcessInstance"
        wait_until("the other deliveries", lambda: len(fine.requests) >= 3)
        assert stuck.hanging.is_set() and len(stuck.requests) == 1
        assert [d["status"] for d in instance(ann, slow)["deliveries"]] == ["pending"]
        stuck.release()
        wait_until("the slow delivery", lambda: instance(ann, slow)["deliveries"][0]["status"] == "delivered")


class Acme:
    """A pack whose action refuses when the ticket's title says so (after the move's webhook was written)."""

    @hookimpl
    def bpf_actions(self) -> list[ActionSpec]:
        return [ActionSpec("acme", "check", (Param("title", "text"),), self.check)]

    def check(self, context: Any, title: str) -> None:
        if title == "refuse":
            raise ActionFailed("refused")


ROLLBACK_MODEL = MODEL.read_text(encoding="utf-8").replace(
    'call bpf.webhook(url: hook_url, event: "resolving")',
    'call bpf.webhook(url: hook_url, event: "resolving")\n            call acme.check(title: title)')


def test_a_webhook_written_by_a_move_that_rolls_back_is_never_sent(db_url: str, fast_env: None) -> None:
    registry = Registry([("acme", "1", Acme())], entry_points=False)
    prog = bpf_dsl.load_source(ROLLBACK_MODEL, registry=registry)
    with live_server(db_url, prog, registry) as live, receiver() as hook:
        ann = live.client(live.token("ann", "agent"))
        _, refused = create(ann, "refuse", hook.url)
        failed = ann.gql(MOVE, i=refused)["moveNext"]
        assert failed["__typename"] == "TransitionError" and failed["code"] == "CANCELLED"
        _, accepted = create(ann, "accept", hook.url)
        assert ann.gql(MOVE, i=accepted)["moveNext"]["__typename"] == "ProcessInstance"
        wait_until("the later move's webhook", lambda: instance(ann, accepted)["deliveries"][0]["status"]
                   == "delivered")
        assert [b["record"]["values"]["title"] for b in hook.bodies() if b["event"] == "resolving"] == ["accept"]
        assert instance(ann, refused)["deliveries"] == []


def test_a_server_killed_between_commit_and_delivery_delivers_after_restart(db_url: str) -> None:
    agent, _ = tokens(db_url)
    with receiver("hang") as hook:
        # A short timeout: the killed server's lease on the delivery (2 x timeout + 5 s) ends soon after.
        env = {"BPF_WEBHOOK_TIMEOUT": "1"}
        with served(db_url, env) as (url, proc):
            client = Client(url, agent)
            _, instance_id = create(client, "Crash", hook.url)
            assert client.gql(MOVE, i=instance_id)["moveNext"]["__typename"] == "ProcessInstance"
            assert hook.hanging.wait(DEADLINE)  # committed, claimed, being sent: not delivered
            kill(proc)
        hook.release()
        with served(db_url, env) as (url, _proc):
            client = Client(url, agent)
            [delivery] = wait_until("the delivery after restart", lambda: [
                d for d in instance(client, instance_id)["deliveries"] if d["status"] == "delivered"])
        assert len(hook.requests) == 2 and delivery["attempts"] == 2
        assert {headers["idempotency-key"] for headers, _ in hook.requests} == {delivery["id"]}
        assert all(signed(headers, body) for headers, body in hook.requests)
