"""Two `bpf serve` processes on one PostgreSQL: events cross processes, concurrent moves lose nothing."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bpf_dsl.service.auth import Tokens
from bpf_dsl.storage import open_storage
from tests.backends import PG_URL, database_url
from tests.server.helpers import Client, Socket, example_paths, serve_process

pytestmark = pytest.mark.skipif(not PG_URL, reason="the cluster tests need BPF_TEST_POSTGRES_URL (.ci/run sets it)")

STATE = "query($i: ID!) { processInstance(id: $i) { version activeStage { name } } }"
MOVE = ("mutation($i: ID!, $v: Int) {{ r: {0}(instanceId: $i, expectedVersion: $v) {{ __typename "
        "... on ProcessInstance {{ version }} ... on TransitionError {{ code }} }} }}")
HISTORY = "query($i: ID!) { processInstance(id: $i) { version history { stage { name } } } }"


def test_two_servers_share_events_and_lose_no_move(tmp_path: Path) -> None:
    with database_url("postgres", tmp_path) as db:
        storage = open_storage(db)
        token = Tokens(storage).create("ann", ["salesperson"]).token
        storage.close()
        with serve_process(db, *example_paths()) as a, serve_process(db, *example_paths()) as b:
            ca, cb = Client(a, token), Client(b, token)
            leads = [ca.gql('mutation($t: String!) { createRecord(entity: "lead", values: {topic: $t, '
                            "budget_amount: 10}) { ... on Record { id activeInstance { id } } } }",
                            t=f"L{i}")["createRecord"] for i in range(4)]
            instances = [lead["activeInstance"]["id"] for lead in leads]

            # A subscriber on A hears a move made through B, once.
            ws = Socket(a, token)
            assert ws.init()["type"] == "connection_ack"
            ws.subscribe("one", "subscription($r: ID) { processEvents(recordId: $r) { kind stage { name } } }",
                         r=leads[0]["id"])
            every = Socket(a, token)
            every.init()
            every.subscribe("all", 'subscription { processEvents(process: "lead_to_opportunity") { kind '
                                   "instance { id } } }")
            first = cb.gql(MOVE.format("moveNext"), i=instances[0], v=1)["r"]
            assert first["__typename"] == "ProcessInstance"
            event = ws.events(1)[0]["data"]["processEvents"]
            assert event == {"kind": "stage_changed", "stage": {"name": "develop"}}

            # 8 clients, half through each server, moving the same instances back and forth.
            wins: Counter[str] = Counter({instances[0]: 1})
            lock = threading.Lock()
            odd: list[object] = []

            def client(n: int) -> None:
                c = Client(a if n % 2 else b, token)
                for k in range(12):
                    inst = instances[(n + k) % len(instances)]
                    now = c.gql(STATE, i=inst)["processInstance"]
                    verb = "moveNext" if now["activeStage"]["name"] == "qualify" else "movePrevious"
                    r = c.gql(MOVE.format(verb), i=inst, v=now["version"])["r"]
                    if r["__typename"] == "ProcessInstance":
                        with lock:
                            wins[inst] += 1
                    elif r["code"] not in ("VERSION_CONFLICT", "BEGINNING"):
                        odd.append(r)

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(client, range(8)))
            assert not odd, odd
            for inst in instances:
                final = ca.gql(HISTORY, i=inst)["processInstance"]
                assert final["version"] == 1 + wins[inst], (inst, final["version"], wins[inst])
                assert len(final["history"]) == 1 + wins[inst]
            total = sum(wins.values())
            heard = every.events(total, timeout=30)
            assert Counter(e["data"]["processEvents"]["instance"]["id"] for e in heard) == wins
            with pytest.raises(AssertionError, match="only 0 of 1"):
                every.events(1, timeout=1)  # and nothing twice
            ws.close()
            every.close()
