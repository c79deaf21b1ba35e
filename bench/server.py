"""The GraphQL server against the ceiling of its stack, driven by a compiled load generator (wrk).

::

    python bench/server.py [--seconds 5] [--connections 1,16,64] [--rounds 3] [--db URL] [--json]

Two server processes, each one uvicorn worker on loopback with the same settings
(no access log, the same ``ws_max_size``), run side by side in one run:

- ours: ``bpf_server.app.create_app`` over the spec examples on a fresh SQLite file
  (or ``--db``), with a token;
- bare: ``strawberry.asgi.GraphQL`` over ``type Query { hello: String! }`` with
  strawberry's parser and validation caches on: what strawberry on uvicorn costs per
  request, nothing else.

The load comes from ``wrk`` (Debian's package, installed by this script when missing):
a compiled client, so that the client is never the ceiling. Python sets up the data
and reads wrk's report; it sends no measured request. For each number of connections,
the phases are run in turn, ``--rounds`` times (a drifting machine load slows all
alike), each for ``--seconds``, and the median round is quoted:

- ``moves``: moveNext / movePrevious of *Lead to Opportunity* instances (qualify ⇄
  develop), four instances per connection so that no two requests race for one; every
  request is a durable write with its gate, its branch and its history row. The
  history rows written are counted in the database afterwards: moves/s is what was
  really written, not what wrk sent;
- ``processBar``: the bar of a lead as a page redraws it (about 90 fields);
- ``hello`` on the bare app;
- ``sqlite3``: in this process, bare sqlite3 on a file of its own (WAL,
  ``synchronous=FULL``, as ours) making one commit per write (``BEGIN IMMEDIATE``;
  one UPDATE; one INSERT; ``COMMIT``) in a loop: what a server that commits each move
  on its own can reach on this disk. Only group commit can pass it, where the disk's
  flush is the ceiling. Where it is not (a disk that flushes faster than the HTTP stack
  answers ``{ hello }``, as on the machine these goals were measured on), no server
  can: ``moves per commit`` (history rows written / transactions the server's group
  commit made, read from the bench child at ``/_bench/commits``) shows the batching
  itself: above 1.5, a move costs less than two-thirds of a flush. See
  docs/decisions.md, "Group commit's proof on a fast disk".

Printed: requests/s, p50 and p99 of each, and the ratios against their goals (PASS
or MISS). It exits 0 either way: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLES = REPO / "docs" / "examples"
UVICORN = {"host": "127.0.0.1", "log_level": "warning", "access_log": False, "ws_max_size": 1_000_000}
INSTANCES_PER_CONNECTION = 4

GOALS = {  # name: goal at 16 connections on SQLite
    "moves / hello": 0.5,
    "moves / sqlite3 commits": 1.5,
    "moves per commit": 1.5,
    "processBar / hello": 0.8,
}
PG_GOALS = {"moves / hello": 0.3, "processBar / hello": 0.5}

MOVE = ("mutation($i: ID!) { r: %s(instanceId: $i) { __typename "
        "... on ProcessInstance { version } ... on TransitionError { code } } }")
BAR = ("query($r: ID!) { processBar(recordId: $r) { instance { id version activeStage { name } } "
       "stages { stage { name } state steps { step { name } value done required } } } }")
HELLO = "{ hello }"
COMMITS_PATH = "/_bench/commits"


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
    app = create_app(service, Settings(db=db, port=port))

    async def with_commits(scope: Any, receive: Any, send: Any) -> None:
        """The app, plus ``GET /_bench/commits``: how many transactions the group commit made (bench only)."""
        if scope["type"] == "http" and scope["path"] == COMMITS_PATH:
            committer = app.state.bpf.committer
            body = json.dumps({"commits": None if committer is None else committer.commits}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    uvicorn.run(with_commits, port=port, lifespan="on", **UVICORN)  # type: ignore[arg-type]


def serve_bare(port: int) -> None:
    import strawberry
    import uvicorn
    from strawberry.asgi import GraphQL
    from strawberry.extensions import ParserCache, ValidationCache

    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self) -> str:
            return "world"

    schema = strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])
    uvicorn.run(GraphQL(schema), port=port, **UVICORN)  # type: ignore[arg-type]


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


# -- wrk --------------------------------------------------------------------------------------------------------
def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing (as .ci/run does)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install wrk ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and could not be (apt-get install wrk)")
    return found


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for these ASCII texts


def lua_script(token: str | None, bodies: list[str]) -> str:
    """A wrk script sending ``bodies`` in turn (one list per thread; wrk runs one thread here)."""
    auth = f'wrk.headers["Authorization"] = {_lua_string("Bearer " + token)}\n' if token else ""
    items = ",\n".join(_lua_string(b) for b in bodies)
    return (f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n{auth}'
            f"local bodies = {{\n{items}\n}}\nlocal n = 0\n"
            "request = function()\n  n = n + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[(n - 1) % #bodies + 1])\nend\n")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(wrk: str, port: int, script: Path, connections: int, seconds: float) -> dict[str, float]:
    """One wrk run; requests/s, p50 and p99 (ms), and the count of non-2xx answers and socket errors."""
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}/graphql"], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"per_second": rate, "p50_ms": _ms(lat.get("50", "")), "p99_ms": _ms(lat.get("99", "")),
            "requests": total, "failed": (int(bad.group(1)) if bad else 0)
            + (sum(int(g) for g in errors.groups()) if errors else 0)}


# -- setting up and counting ------------------------------------------------------------------------------------
def post(port: int, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def commits(port: int) -> int | None:
    """Transactions our server's group commit has made so far (None: it has none)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{COMMITS_PATH}", timeout=30) as answer:
        return json.loads(answer.read())["commits"]  # type: ignore[no-any-return]


def history_rows(db: str) -> int:
    """Stage visits written so far: each move that really happened added one."""
    from bpf_dsl.storage import open_storage

    storage = open_storage(db, migrate=False)
    try:
        with storage.read() as tx:
            return int(tx.q("SELECT count(*) FROM stage_visits").fetchone()[0])
    finally:
        storage.close()


def bare_sqlite_commits(folder: Path, seconds: float) -> float:
    """One commit per write on a file of its own, with our pragmas: commits per second."""
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS instances (id INTEGER PRIMARY KEY, stage TEXT, version INTEGER)")
    conn.execute("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, instance INTEGER, stage TEXT, at TEXT)")
    conn.executemany("INSERT OR IGNORE INTO instances VALUES (?, 'qualify', 1)", [(i,) for i in range(256)])
    done, stop = 0, time.monotonic() + seconds
    t0 = time.monotonic()
    while time.monotonic() < stop:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE instances SET stage = ?, version = version + 1 WHERE id = ?",
                     ("develop" if done % 2 else "qualify", done % 256))
        conn.execute("INSERT INTO visits (instance, stage, at) VALUES (?, 'develop', datetime('now'))", (done % 256,))
        conn.execute("COMMIT")
        done += 1
    rate = done / (time.monotonic() - t0)
    conn.close()
    return rate


def reset_instances(port: int, token: str, instances: list[str]) -> None:
    """Every instance back on qualify, so that each wrk run starts its passes from the same state."""
    for i in instances:
        post(port, token, 'mutation($i: ID!) { setActiveStage(instanceId: $i, stage: "qualify") { __typename } }',
             {"i": i})


def make_instances(port: int, token: str, count: int) -> tuple[list[str], list[str]]:
    """``count`` new leads on Lead to Opportunity: their instance ids and record ids."""
    instances, records = [], []
    for _ in range(count):
        made = post(port, token, 'mutation { createRecord(entity: "lead", values: {topic: "Bench", budget_amount: 10})'
                                 " { ... on Record { id activeInstance { id } } } }")
        rec = made["data"]["createRecord"]
        records.append(rec["id"])
        instances.append(rec["activeInstance"]["id"])
    return instances, records


# -- the run ----------------------------------------------------------------------------------------------------
def measure(args: argparse.Namespace, tmp: Path, db: str, token: str, ours: int, bare: int) -> dict[str, Any]:
    wrk = ensure_wrk()
    levels = [int(c) for c in args.connections.split(",")]
    instances, records = make_instances(ours, token, INSTANCES_PER_CONNECTION * max(levels))
    # Moves: one pass of moveNext over every instance, then one of movePrevious, and again: a request
    # comes back to an instance only after len(instances) others, so no two race for one.
    moves = [json.dumps({"query": MOVE % "moveNext", "variables": {"i": i}}) for i in instances] + \
            [json.dumps({"query": MOVE % "movePrevious", "variables": {"i": i}}) for i in instances]
    bars = [json.dumps({"query": BAR, "variables": {"r": r}}) for r in records]
    scripts = {"moves": (ours, lua_script(token, moves)), "processBar": (ours, lua_script(token, bars)),
               "hello": (bare, lua_script(None, [json.dumps({"query": HELLO})]))}
    paths = {}
    for name, (_, text) in scripts.items():
        paths[name] = tmp / f"{name}.lua"
        paths[name].write_text(text, encoding="utf-8")
    for name, (port, _) in scripts.items():  # warm-up
        run_wrk(wrk, port, paths[name], 4, 1)
    reset_instances(ours, token, instances)
    results: dict[str, Any] = {}
    for level in levels:
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in [*scripts, "sqlite3"]}
        for _ in range(args.rounds):
            for name, (port, _) in scripts.items():
                if name == "moves":
                    reset_instances(ours, token, instances)
                before = history_rows(db) if name == "moves" else 0
                commits_before = commits(ours) if name == "moves" else None
                t0 = time.monotonic()
                got = run_wrk(wrk, port, paths[name], level, args.seconds)
                if name == "moves":
                    written = history_rows(db) - before
                    got["written"] = written
                    got["written_per_second"] = written / (time.monotonic() - t0)
                    commits_after = commits(ours)
                    if commits_before is not None and commits_after is not None:
                        got["per_commit"] = written / max(1, commits_after - commits_before)
                rounds[name].append(got)
            rate = bare_sqlite_commits(tmp, args.seconds)
            rounds["sqlite3"].append({"per_second": rate, "p50_ms": float("nan"), "p99_ms": float("nan")})
        results[str(level)] = {name: _median_round(runs) for name, runs in rounds.items()}
    return results


def _median_round(runs: list[dict[str, float]]) -> dict[str, float]:
    ordered = sorted(runs, key=lambda r: r["per_second"])
    middle = dict(ordered[len(ordered) // 2])
    middle["rounds"] = [round(r["per_second"], 1) for r in runs]  # type: ignore[assignment]
    return middle


def ratios(level: dict[str, Any]) -> dict[str, float]:
    hello = level["hello"]["per_second"]
    moves = level["moves"].get("written_per_second", level["moves"]["per_second"])
    out = {"moves / hello": moves / hello, "moves / sqlite3 commits": moves / level["sqlite3"]["per_second"],
           "processBar / hello": level["processBar"]["per_second"] / hello}
    if "per_commit" in level["moves"]:
        out["moves per commit"] = level["moves"]["per_commit"]
    return out


def report(results: dict[str, Any], args: argparse.Namespace, db: str) -> None:
    postgres = not db.startswith("sqlite")
    goals = PG_GOALS if postgres else GOALS
    print(f"wrk, one uvicorn worker per server, {args.seconds:g} s a phase, median of {args.rounds} rounds, "
          f"db {db.split(':')[0]}")
    for level, phases in results.items():
        print(f"\n{level} connection(s):")
        for name in ("moves", "processBar", "hello", "sqlite3"):
            r = phases[name]
            extra = ""
            if name == "moves":
                extra = (f"   written {r['written_per_second']:7.0f}/s ({r['written']} history rows"
                         f" for {r['requests']} requests, {r['failed']} failed)")
            lat = "" if name == "sqlite3" else f"   p50 {r['p50_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms"
            print(f"  {name:<11} {r['per_second']:8.0f} req/s{lat}{extra}")
        for name, value in ratios(phases).items():
            goal = goals.get(name)
            judged = level == "16" and goal is not None
            verdict = ("PASS" if value >= goal else "MISS") if judged and goal is not None else ""
            goal_text = f"(goal >= {goal} at 16 connections)" if goal is not None else ""
            print(f"  {name:<26} {value:6.2f}  {goal_text} {verdict}")
    if "1" in results and "64" in results:
        rate_1 = results["1"]["moves"]["written_per_second"]
        rate_64 = results["64"]["moves"]["written_per_second"]
        print(f"\nmoves at 64 connections / at 1: {rate_64 / rate_1:.2f} (goal >= 1: no collapse under contention) "
              f"{'PASS' if rate_64 >= rate_1 else 'MISS'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="1,16,64", help="comma-separated numbers of connections")
    parser.add_argument("--rounds", type=int, default=3, help="each phase this many times; the median is quoted")
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
            results = measure(args, Path(tmp), db, token, ours_port, bare_port)
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    if args.json:
        print(json.dumps({"results": results, "ratios": {k: ratios(v) for k, v in results.items()}}, indent=2))
    else:
        report(results, args, db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
