"""Timed work against moves on one server: due visits fired and webhooks delivered per second, and lateness.

::

    python bench/jobs.py [--seconds 10] [--connections 16] [--backlog 2000] [--due-rate 50] [--db URL] [--json]

One ``bpf serve`` (a subprocess, one worker, its jobs on: the code under test) over a
fresh SQLite file (or ``--db``), a webhook receiver in a process of its own on loopback
(answers 200 at once, notes when each delivery arrived), and ``wrk`` driving moves (the
load generator of bench/server.py, whose helpers this script uses). The model has two
processes on one entity: ``plain`` (two stages, nothing timed: the moves) and ``timed``
(a stage whose ``on overdue`` calls ``bpf.notify`` and ``bpf.webhook`` to the receiver).
Visits of ``timed`` are written by this script through the service with a clock of its
own, so that each comes due exactly when a phase wants it to.

Phases, in order:

1. **moves alone**: ``wrk`` moving ``plain`` instances (moveNext / movePrevious) for
   ``--seconds``; moves/s is history rows written / seconds, as bench/server.py counts.
2. **backlog**: the server stopped, ``--backlog`` visits written already past their
   due time, the server started again (as after an outage): due visits fired per second
   (from the first firing to the last, by the database's ``overdue_at``), and webhooks
   delivered per second (by the receiver's clock), each against moves alone.
3. **at load**: visits written to come due at ``--due-rate`` per second through a
   ``wrk`` run like phase 1; moves/s then against moves alone, and how late each visit
   fired past its due time (p50, p99, max), and each webhook arrived after its firing.

Everything is printed, ratios included; nothing is asserted (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MODEL = """
role bench
entity ticket {
    title: text
}
process plain on ticket {
    roles bench
    stage a { step title }
    stage b { step title }
}
process timed on ticket {
    roles bench
    stage waiting {
        step title
        sla 1h
        on overdue {
            call bpf.notify(role: "bench", message: "late")
            call bpf.webhook(url: "RECEIVER", event: "late")
        }
    }
    stage done { step title }
}
"""
SLA = dt.timedelta(hours=1)
MOVE = ("mutation($i: ID!) { r: %s(instanceId: $i) { __typename "
        "... on ProcessInstance { version } ... on TransitionError { code } } }")
INSTANCES_PER_CONNECTION = 4


def _bench_server() -> Any:
    """bench/server.py, for its wrk helpers (not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("bench_server", HERE / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the receiver (a child process) -------------------------------------------------------------------------
def receive(port: int) -> None:
    """Answer every POST with 200 at once; ``GET /stats``: [arrival (epoch seconds), delivery id, its `at`]."""
    arrivals: list[tuple[float, str, str]] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.time()
            sent = json.loads(body)
            with lock:
                arrivals.append((now, self.headers.get("Idempotency-Key", ""), sent.get("at", "")))
            self._answer(b"ok")

        def do_GET(self) -> None:
            with lock:
                data = json.dumps(arrivals).encode()
            self._answer(data)

        def _answer(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256  # the listen backlog: 16 senders connecting at once must not be refused
        daemon_threads = True

    Server(("127.0.0.1", port), Handler).serve_forever()


def arrivals(port: int) -> list[tuple[float, str, str]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as answer:
        return [tuple(a) for a in json.loads(answer.read())]


# -- the server ----------------------------------------------------------------------------------------------
def serve(model: Path, db: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bpf_dsl.cli", "serve", str(model), "--db", db, "--port",
                             str(port)], cwd=REPO, stdout=subprocess.DEVNULL, env=dict(os.environ))


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Writer:
    """The service in this process, on the bench's database, with a clock this script sets per write."""

    def __init__(self, model: Path, db: str) -> None:
        import bpf_dsl
        from bpf_dsl.plugins import Registry
        from bpf_dsl.service import Caller, Service
        from bpf_dsl.storage import open_storage

        self.at = dt.datetime.now(dt.UTC)
        registry = Registry(entry_points=False)
        self.service = Service(bpf_dsl.load([str(model)], registry), open_storage(db), registry,
                               clock=lambda: self.at)
        self.caller = Caller("bench", frozenset({"bench"}))

    def due_at(self, moments: list[dt.datetime]) -> None:
        """One `timed` ticket per moment, its visit due then (entered one sla before)."""
        for moment in moments:
            self.at = moment - SLA
            made = self.service.create_record(self.caller, "ticket", {"title": "due"}, process="timed")
            assert hasattr(made, "id"), made

    def close(self) -> None:
        self.service.storage.close()


def timed_visits(db: str) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """(due, fired) of every visit with a due time."""
    from bpf_dsl.storage import open_storage

    storage = open_storage(db, migrate=False)
    try:
        with storage.read() as tx:
            rows = tx.q("SELECT due_at, overdue_at FROM stage_visits WHERE due_at IS NOT NULL").fetchall()  # type: ignore[attr-defined]
    finally:
        storage.close()
    return [(dt.datetime.fromisoformat(r[0]), None if r[1] is None else dt.datetime.fromisoformat(r[1]))
            for r in rows]


def wait_for(what: str, check: Any, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _epoch(at: dt.datetime) -> float:
    return at.timestamp()


# -- the run ---------------------------------------------------------------------------------------------------
def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    bs = _bench_server()
    wrk = bs.ensure_wrk()
    db = args.db or f"sqlite:///{tmp / 'jobs.db'}"
    receiver_port, port = bs.free_port(), bs.free_port()
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(receiver_port)], cwd=REPO)
    model = tmp / "jobs.bpf"
    model.write_text(MODEL.replace("RECEIVER", f"http://127.0.0.1:{receiver_port}/hook"), encoding="utf-8")
    from bpf_dsl.service.auth import Tokens
    from bpf_dsl.storage import open_storage

    storage = open_storage(db)
    token = Tokens(storage).create("bench", ["bench"]).token
    storage.close()
    server = serve(model, db, port)
    writer: Writer | None = None
    out: dict[str, Any] = {"db": db.split(":")[0], "connections": args.connections, "seconds": args.seconds}
    try:
        bs.wait_up(receiver_port, receiver)
        bs.wait_up(port, server)
        made = [bs.post(port, token, 'mutation { createRecord(entity: "ticket", values: {title: "m"}, process: '
                                     '"plain") { ... on Record { activeInstance { id } } } }')
                for _ in range(INSTANCES_PER_CONNECTION * args.connections)]
        instances = [m["data"]["createRecord"]["activeInstance"]["id"] for m in made]
        moves = [json.dumps({"query": MOVE % "moveNext", "variables": {"i": i}}) for i in instances] + \
                [json.dumps({"query": MOVE % "movePrevious", "variables": {"i": i}}) for i in instances]
        script = tmp / "moves.lua"
        script.write_text(bs.lua_script(token, moves), encoding="utf-8")
        bs.run_wrk(wrk, port, script, 4, 1)  # warm-up

        def moves_phase() -> float:
            for i in instances:  # every instance back on its first stage
                bs.post(port, token, 'mutation($i: ID!) { setActiveStage(instanceId: $i, stage: "a") '
                                     "{ __typename } }", {"i": i})
            before = bs.history_rows(db)
            t0 = time.monotonic()
            bs.run_wrk(wrk, port, script, args.connections, args.seconds)
            return float((bs.history_rows(db) - before) / (time.monotonic() - t0))

        # 1. moves alone
        alone = moves_phase()
        out["moves_per_second"] = alone

        # 2. a backlog: the server down while visits came due
        stop(server)
        writer = Writer(model, db)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        writer.due_at([past + dt.timedelta(milliseconds=i) for i in range(args.backlog)])
        server = serve(model, db, port)
        bs.wait_up(port, server)
        wait_for("the backlog to fire", lambda: sum(1 for _, f in timed_visits(db) if f) >= args.backlog)
        wait_for("the backlog's webhooks", lambda: len(arrivals(receiver_port)) >= args.backlog)
        fired = sorted(f for _, f in timed_visits(db) if f is not None)
        got = sorted(a[0] for a in arrivals(receiver_port))
        fire_span = max(1e-6, (fired[-1] - fired[0]).total_seconds())
        send_span = max(1e-6, got[-1] - got[0])
        out["backlog"] = {"visits": args.backlog, "fired_per_second": args.backlog / fire_span,
                          "delivered_per_second": args.backlog / send_span}

        # 3. at load: visits coming due at --due-rate per second during a moves phase
        count = int(args.due_rate * args.seconds)
        # The first comes due once they are written and the phase has set up (about 3 ms a write, a second more).
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2 + count * 0.003)
        moments = [start + dt.timedelta(seconds=i / args.due_rate) for i in range(count)]
        writer.due_at(moments)
        seen_before = {a[1] for a in arrivals(receiver_port)}
        under_load = moves_phase()
        wait_for("the last due visits", lambda: sum(1 for _, f in timed_visits(db) if f) >= args.backlog + count)
        wait_for("their webhooks", lambda: len(arrivals(receiver_port)) >= args.backlog + count)
        window = set(moments)
        late = [(f - d).total_seconds() for d, f in timed_visits(db) if d in window and f is not None]
        sent = [a for a in arrivals(receiver_port) if a[1] not in seen_before]
        after_firing = [a[0] - _epoch(dt.datetime.fromisoformat(a[2])) for a in sent]
        out["at_load"] = {
            "due_visits": count, "due_per_second": args.due_rate, "moves_per_second": under_load,
            "late_p50": _pct(late, 0.5), "late_p99": _pct(late, 0.99), "late_max": max(late) if late else float("nan"),
            "webhook_p50": _pct(after_firing, 0.5), "webhook_p99": _pct(after_firing, 0.99),
        }
    finally:
        if writer is not None:
            writer.close()
        stop(server)
        stop(receiver)
    backlog, load = out["backlog"], out["at_load"]
    out["ratios"] = {
        "due visits fired per second / moves per second": backlog["fired_per_second"] / alone,
        "webhooks delivered per second / moves per second": backlog["delivered_per_second"] / alone,
        "moves per second with visits coming due / moves alone": load["moves_per_second"] / alone,
    }
    return out


def report(r: dict[str, Any]) -> None:
    backlog, load = r["backlog"], r["at_load"]
    print(f"bpf serve (one worker) on {r['db']}, wrk at {r['connections']} connections, {r['seconds']:g} s a phase")
    print(f"  moves alone                         {r['moves_per_second']:8.0f} /s")
    print(f"  backlog of {backlog['visits']} due visits after a restart:")
    print(f"    fired                             {backlog['fired_per_second']:8.0f} /s")
    print(f"    webhooks delivered                {backlog['delivered_per_second']:8.0f} /s")
    print(f"  at load: {load['due_per_second']:g} visits coming due per second, {load['due_visits']} in all")
    print(f"    moves                             {load['moves_per_second']:8.0f} /s")
    print(f"    a due visit fired after its time  p50 {load['late_p50'] * 1000:7.1f} ms   "
          f"p99 {load['late_p99'] * 1000:7.1f} ms   max {load['late_max'] * 1000:7.1f} ms")
    print(f"    its webhook arrived after that    p50 {load['webhook_p50'] * 1000:7.1f} ms   "
          f"p99 {load['webhook_p99'] * 1000:7.1f} ms")
    print("  ratios:")
    for name, value in r["ratios"].items():
        print(f"    {name:<56} {value:6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="each moves phase")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=2000, help="visits due while the server was down")
    parser.add_argument("--due-rate", type=float, default=50.0, help="visits coming due per second at load")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receive(args.receiver)
        return 0
    sys.path[:0] = [str(REPO), str(REPO / "server")]
    with tempfile.TemporaryDirectory(prefix="bpf-bench-jobs-") as tmp:
        result = measure(args, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
