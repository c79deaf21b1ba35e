"""The GraphQL server against the ceiling of its stack: a bare strawberry app answering ``{ hello }``.

::

    python bench/server.py [--seconds 5] [--connections 16] [--slices 5] [--db URL] [--json]

Two server processes, each one uvicorn worker on loopback with the same settings
(no access log, the same ``ws_max_size``), run side by side in one run:

- ours: ``bpf_server.app.create_app`` over the spec examples on a fresh SQLite file
  (or ``--db``), with a token;
- bare: ``strawberry.asgi.GraphQL`` over ``type Query { hello: String! }``, no
  extensions: what strawberry on uvicorn costs per request, nothing else.

The client is this process: ``--connections`` keep-alive HTTP/1.1 connections over
asyncio streams (a few lines, so that the client is not what is measured), each
sending its next request as soon as its answer arrived. Measured, each for
``--seconds`` after a one-second warm-up, the phases taken in turn in ``--slices``
slices (so that a drifting machine load slows all alike):

- ``moveNext``: each connection owns instances of *Lead to Opportunity* and moves
  them qualify → develop and back (moveNext, then movePrevious, each with its
  ``expectedVersion``): every request is a durable write with its gate, its branch
  and its history row;
- ``processBar``: the bar of a random lead as a page redraws it (stage names and
  states, step names, values, done, required: about 90 fields);
- ``hello`` on the bare app.

Printed: requests/s and p50/p99 latency of each, the server process's CPU time per
request (read from /proc: robust to other load on the machine, blind to time spent
waiting for the disk), and the ratios ours / bare, by throughput (goal >= 0.5) and
by CPU per request. It exits 0 either way: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLES = REPO / "docs" / "examples"
GOAL = 0.5
UVICORN = {"host": "127.0.0.1", "log_level": "warning", "access_log": False, "ws_max_size": 1_000_000}

MOVE = ("mutation($i: ID!, $v: Int) { r: %s(instanceId: $i, expectedVersion: $v) { __typename "
        "... on ProcessInstance { version activeStage { name } } ... on TransitionError { code currentVersion } } }")
# What a page redraws after each change (labels come once with `processes`): about 90 fields for a lead.
BAR = ("query($r: ID!) { processBar(recordId: $r) { instance { id version activeStage { name } } "
       "stages { stage { name } state steps { step { name } value done required } } } }")
HELLO = "{ hello }"


# -- the servers (child processes) ------------------------------------------------------------------------------
def serve_ours(port: int, db: str) -> None:
    import uvicorn
    from bpf_server.app import create_app
    from bpf_server.settings import Settings

    import bpf_dsl
    from bpf_dsl.plugins import Registry
    from bpf_dsl.service import Service
    from bpf_dsl.storage import open_storage

    registry = Registry(entry_points=False)
    program = bpf_dsl.load([str(p) for p in sorted(EXAMPLES.glob("*.bpf"))], registry)
    service = Service(program, open_storage(db), registry)
    uvicorn.run(create_app(service, Settings(db=db, port=port)), port=port, **UVICORN)  # type: ignore[arg-type]


def serve_bare(port: int) -> None:
    import strawberry
    import uvicorn
    from strawberry.asgi import GraphQL

    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self) -> str:
            return "world"

    uvicorn.run(GraphQL(strawberry.Schema(query=Query)), port=port, **UVICORN)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str, port: int, db: str) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([str(REPO), str(REPO / "server")])
    return subprocess.Popen([sys.executable, __file__, "--child", kind, "--port", str(port), "--db", db],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": path})


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a bench server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("a bench server did not start")


# -- the client --------------------------------------------------------------------------------------------------
class Conn:
    """One keep-alive HTTP/1.1 connection speaking JSON POSTs."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        self.auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        head = (f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{self.auth}"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        if b" 200 " not in status:
            raise RuntimeError(f"{status!r} {data[:200]!r}")
        return json.loads(data)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.writer.close()


async def phase(conns: list[Conn], seconds: float, one: Any) -> tuple[float, list[float]]:
    """Every connection calls ``one(conn, i)`` in a loop; returns (requests/s, latencies)."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def loop(c: Conn, n: int) -> int:
        done = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            await one(c, n)
            latencies.append(time.perf_counter() - t0)
            done += 1
        return done

    t0 = time.monotonic()
    counts = await asyncio.gather(*(loop(c, n) for n, c in enumerate(conns)))
    return sum(counts) / (time.monotonic() - t0), latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


async def run(args: argparse.Namespace, ours: int, bare: int, token: str, pids: dict[str, int]) -> dict[str, Any]:
    conns = [await Conn(ours, token).open() for _ in range(args.connections)]
    bare_conns = [await Conn(bare, None).open() for _ in range(args.connections)]
    # Each connection owns four leads, so moves never race each other (what is measured is the server).
    owned: list[list[dict[str, Any]]] = []
    leads: list[str] = []
    for c in conns:
        mine = []
        for _ in range(4):
            made = await c.post('mutation { createRecord(entity: "lead", values: {topic: "Bench", budget_amount: 10}) '
                                "{ ... on Record { id activeInstance { id version } } } }")
            rec = made["data"]["createRecord"]
            leads.append(rec["id"])
            mine.append({"id": rec["activeInstance"]["id"], "v": rec["activeInstance"]["version"], "at": "qualify"})
        owned.append(mine)
    rng = random.Random(1)
    counter = [0]
    failures: list[Any] = []

    async def move(c: Conn, n: int) -> None:
        counter[0] += 1
        inst = owned[n][counter[0] % 4]
        verb = "moveNext" if inst["at"] == "qualify" else "movePrevious"
        r = (await c.post(MOVE % verb, {"i": inst["id"], "v": inst["v"]}))["data"]["r"]
        if r["__typename"] != "ProcessInstance":
            failures.append(r)
            inst["v"] = r.get("currentVersion") or inst["v"]
            return
        inst["v"], inst["at"] = r["version"], r["activeStage"]["name"]

    async def bar(c: Conn, n: int) -> None:
        r = await c.post(BAR, {"r": rng.choice(leads)})
        if r.get("errors"):
            failures.append(r["errors"])

    async def hello(c: Conn, n: int) -> None:
        await c.post(HELLO)

    phases = (("moveNext", move, conns), ("processBar", bar, conns), ("hello", hello, bare_conns))
    for _name, fn, pool in phases:
        await phase(pool, 1.0, fn)  # warm-up
    # The phases in turn, in slices: a machine whose load drifts slows all three alike.
    done: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name, _, _ in phases}
    lats: dict[str, list[float]] = {name: [] for name, _, _ in phases}
    for _ in range(args.slices):
        for name, fn, pool in phases:
            pid = pids["bare" if name == "hello" else "ours"]
            t0, c0 = time.monotonic(), cpu_seconds(pid)
            rate, lat = await phase(pool, args.seconds / args.slices, fn)
            took = time.monotonic() - t0
            done[name][0] += rate * took
            done[name][1] += took
            done[name][2] += cpu_seconds(pid) - c0
            lats[name] += lat
    # The server's CPU time per request: what the throughput of one worker would be on an idle core.
    results: dict[str, Any] = {name: {"per_second": n / t, "p50_ms": pct(lats[name], 0.5),
                                      "p99_ms": pct(lats[name], 0.99), "server_cpu_ms": 1000 * cpu / max(n, 1)}
                               for name, (n, t, cpu) in done.items()}
    for c in conns + bare_conns:
        c.close()
    results["failures"] = len(failures)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--slices", type=int, default=5, help="each phase's time cut in this many turns")
    parser.add_argument("--db", help="database URL for our server (default: a fresh SQLite file)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=["bpf", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "bpf":
        serve_ours(args.port, args.db)
        return 0
    if args.child == "bare":
        serve_bare(args.port)
        return 0

    sys.path[:0] = [str(REPO), str(REPO / "server")]
    from bpf_dsl.service.auth import Tokens
    from bpf_dsl.storage import open_storage

    with tempfile.TemporaryDirectory(prefix="bpf-bench-") as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        storage = open_storage(db)
        token = Tokens(storage).create("bench", ["salesperson"]).token
        storage.close()
        ours_port, bare_port = free_port(), free_port()
        procs = [start("bpf", ours_port, db), start("bare", bare_port, db)]
        try:
            wait_up(ours_port, procs[0])
            wait_up(bare_port, procs[1])
            results = asyncio.run(run(args, ours_port, bare_port, token,
                                      {"ours": procs[0].pid, "bare": procs[1].pid}))
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    hello = results["hello"]["per_second"]
    results["ratios"] = {name: results[name]["per_second"] / hello for name in ("moveNext", "processBar")}
    hello_cpu = results["hello"]["server_cpu_ms"]
    results["cpu_ratios"] = {name: hello_cpu / results[name]["server_cpu_ms"] if results[name]["server_cpu_ms"] else 0
                             for name in ("moveNext", "processBar")}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"one uvicorn worker each, {args.connections} connections, {args.seconds:.0f}s per phase, "
          f"db {db.split(':')[0]}")
    for name in ("moveNext", "processBar", "hello"):
        r = results[name]
        print(f"  {name:<11} {r['per_second']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   "
              f"server CPU {r['server_cpu_ms']:5.2f} ms/request")
    for name, ratio in results["ratios"].items():
        verdict = "PASS" if ratio >= GOAL else "MISS"
        print(f"  {name} / bare hello = {ratio:.2f} (goal >= {GOAL}) {verdict}; "
              f"by server CPU per request: {results['cpu_ratios'][name]:.2f}")
    if results["failures"]:
        print(f"  {results['failures']} request(s) did not succeed (see --json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
