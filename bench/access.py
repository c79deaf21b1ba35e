"""What access control costs a `processBar` request: a model with `allow` lines and restricted fields against
the same model without, two servers side by side in one run, driven by wrk.

::

    python bench/access.py [--seconds 5] [--connections 16] [--rounds 3] [--postgres URL] [--json]

Two server processes, one uvicorn worker each, the same settings as ``bench/server.py``:

- plain: the spec's ``opportunity.bpf`` as it is: no `allow` line, so the default holds (the roles of
  Lead to Opportunity create, read, update and delete leads and opportunities), nothing restricted;
- grants: the same file with `allow` lines on leads (a salesperson reads and updates only the leads it
  owns: ``own``, the dearer check: the owner is compared, and answers are the user's) and on
  opportunities, and three fields restricted to sales managers (a lead's budget and summary, an
  opportunity's revenue): their values are dropped from what is read and their steps show hidden.

Both get the same data, made through GraphQL by an admin and assigned to the bench user (a
salesperson): 16 leads, half of them moved on to Develop (an opportunity created and bound, so
the bar reads a record of each entity). The bench user asks for the bar of each lead in turn, as
the page does, and every request's body is new (a counter among its variables): no answer is
kept, each request reads and checks afresh (``bpf_server.direct.Answers`` would otherwise answer
the repeated ones from memory, access checks and all).

Each round drives both servers at once, one wrk each with ``--connections``, for ``--seconds``:
whatever else the shared machine does meanwhile, it does to both alike. A request's cost is the
CPU time its server process spent per request answered (read from ``/proc/PID/stat`` around the
round: the server is one process, its reads inline on SQLite); on a shared machine requests/s
mostly measures the other processes, CPU time per request much less (docs/decisions.md,
"Benchmarks judge in-memory figures by CPU time"). The cost ratio is the median, over
``--rounds`` rounds, of each round's grants-over-plain ratio; the figures printed per server are
their median rounds. Beside it, in this process, the CPU time of ``Service.process_bar`` alone
(where the checks are), the least of ``--rounds`` passes over the leads, the two services
interleaved.

Printed: each server's CPU per request, requests/s and latency, and the cost ratio against its
goal, ≤ 1.10 (access checks cost at most 10%), PASS or MISS, with each round's ratio, the
requests/s ratio and the in-process ratio beside it. It exits 0 either way: a measurement, not
a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SOURCE = REPO / "docs" / "examples" / "opportunity.bpf"
GOAL = 1.10
LEADS = 16

# bench/server.py's servers' settings and wrk's driver, loaded by path (``server`` is also the repo's folder).
_spec = importlib.util.spec_from_file_location("bench_server", HERE / "server.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

BAR = ("query($r: ID!) { processBar(recordId: $r) { instance { id version activeStage { name } } "
       "stages { stage { name } state steps { step { name } value done required hidden } } } }")


def with_grants(text: str) -> str:
    """The example with access control: `allow` lines on leads and opportunities, three restricted fields."""
    restrict = {
        'budget_amount "Budget Amount": money min 0': 'budget_amount "Budget Amount": money min 0 '
                                                     "restricted to sales_manager",
        'description "Summary": text max 2000': 'description "Summary": text max 2000 restricted to sales_manager',
        'estimated_revenue "Est. Revenue": money': 'estimated_revenue "Est. Revenue": money '
                                                   "restricted to sales_manager",
    }
    for old, new in restrict.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    lead_end = '    status: choice(open "Open", qualified "Qualified", disqualified "Disqualified") default open\n}'
    opp_end = '    status: choice(open "Open", won "Won", lost "Lost") default open\n}'
    for end, lines in ((lead_end, ("allow salesperson to create, read, update own",
                                   "allow sales_manager to create, read, update, delete, assign")),
                       (opp_end, ("allow salesperson, sales_manager to create, read, update",
                                  "allow sales_manager to delete, assign"))):
        assert text.count(end) == 1, end
        text = text.replace(end, end[:-1] + "".join(f"    {line}\n" for line in lines) + "}")
    return text


# -- the servers (child processes) --------------------------------------------------------------------------------
def serve(port: int, db: str, model: Path) -> None:
    import uvicorn
    from bpf_server.app import create_app
    from bpf_server.settings import Settings

    import bpf_dsl
    from bpf_dsl.plugins import Registry
    from bpf_dsl.service import Service
    from bpf_dsl.storage import open_storage

    registry = Registry(entry_points=False)
    service = Service(bpf_dsl.load([str(model)], registry), open_storage(db), registry)
    uvicorn.run(create_app(service, Settings(db=db, port=port)), port=port, lifespan="on",
                **bench.UVICORN)


def start(port: int, db: str, model: Path) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([str(REPO), str(REPO / "server")])
    return subprocess.Popen([sys.executable, __file__, "--child", "--port", str(port), "--db", db,
                             "--model", str(model)], cwd=REPO, env={**os.environ, "PYTHONPATH": path})


# -- the data -------------------------------------------------------------------------------------------------------
def make_leads(port: int, admin: str, user: str) -> list[str]:
    """``LEADS`` leads the bench user owns, half of them moved on to Develop; their ids."""
    ids = []
    for i in range(LEADS):
        made = bench.post(port, admin, "mutation($v: JSON!) { createRecord(entity: \"lead\", values: $v) "
                                       "{ ... on Record { id activeInstance { id } } } }",
                          {"v": {"topic": f"Bench {i}", "company": "Contoso", "budget_amount": 5000,
                                 "description": "A fleet of vans", "purchase_timeframe": "this_year"}})
        rec = made["data"]["createRecord"]
        ids.append(rec["id"])
        if i % 2:
            moved = bench.post(port, admin, "mutation($i: ID!) { moveNext(instanceId: $i) { __typename } }",
                               {"i": rec["activeInstance"]["id"]})
            assert moved["data"]["moveNext"]["__typename"] == "ProcessInstance", moved
        given = bench.post(port, admin, 'mutation($r: ID!) { assignRecord(id: $r, owner: "bench") { __typename } }',
                           {"r": rec["id"]})
        assert given["data"]["assignRecord"]["__typename"] == "Record", given
    return ids


def lua_script(token: str, records: list[str]) -> str:
    """wrk sends the bar of each lead in turn, each body new: ``n``, a variable the query doesn't use."""
    prefixes = [json.dumps({"query": BAR, "variables": {"r": r, "n": 0}})[:-3] for r in records]  # cut "0}}"
    items = ",\n".join(bench._lua_string(p) for p in prefixes)
    return (f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = {bench._lua_string("Bearer " + token)}\n'
            f"local prefixes = {{\n{items}\n}}\nlocal n = 0\n"
            "request = function()\n  n = n + 1\n"
            '  return wrk.format(nil, nil, nil, prefixes[(n - 1) % #prefixes + 1] .. n .. "}}")\nend\n')


def check_bars(port: int, token: str, records: list[str], restricted: bool) -> None:
    """The bench user sees the bars (and, with grants, the restricted steps hidden): the two servers do the work
    they are meant to."""
    for r in records:
        got = bench.post(port, token, BAR, {"r": r, "n": -1})
        assert "errors" not in got and got["data"]["processBar"] is not None, got
        steps = {s["step"]["name"]: s for st in got["data"]["processBar"]["stages"] for s in st["steps"]}
        assert steps["budget_amount"]["hidden"] is restricted, steps["budget_amount"]
        assert (steps["budget_amount"]["value"] is None) is restricted


# -- the run --------------------------------------------------------------------------------------------------------
def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bpf_dsl.service.auth import Tokens
    from bpf_dsl.storage import open_storage

    wrk = bench.ensure_wrk()
    plain_model, grants_model = tmp / "plain.bpf", tmp / "grants.bpf"
    text = SOURCE.read_text(encoding="utf-8")
    plain_model.write_text(text, encoding="utf-8")
    grants_model.write_text(with_grants(text), encoding="utf-8")
    servers: dict[str, dict[str, Any]] = {}
    procs = []
    try:
        for name, model in (("plain", plain_model), ("grants", grants_model)):
            db = _database(args, tmp, name)
            storage = open_storage(db)
            tokens = Tokens(storage)
            admin = tokens.create("root", ["admin"]).token
            user = tokens.create("bench", ["salesperson"]).token
            storage.close()
            port = bench.free_port()
            procs.append(start(port, db, model))
            bench.wait_up(port, procs[-1])
            records = make_leads(port, admin, user)
            check_bars(port, user, records, restricted=name == "grants")
            script = tmp / f"{name}.lua"
            script.write_text(lua_script(user, records), encoding="utf-8")
            bench.run_wrk(wrk, port, script, 16, max(3.0, args.seconds))  # warm-up: caches filled, code paths hot
            servers[name] = {"port": port, "script": script, "pid": procs[-1].pid}
        results: dict[str, Any] = {}
        for level in [int(c) for c in args.connections.split(",")]:
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            paired: list[float] = []
            for _ in range(args.rounds):
                # Both at once: whatever else the machine does in those seconds, it does to both alike.
                with ThreadPoolExecutor(len(servers)) as pool:
                    before = {name: cpu_seconds(server["pid"]) for name, server in servers.items()}
                    running = {name: pool.submit(bench.run_wrk, wrk, server["port"], server["script"], level,
                                                 args.seconds) for name, server in servers.items()}
                    for name, future in running.items():
                        got = future.result()
                        spent = cpu_seconds(servers[name]["pid"]) - before[name]
                        got["cpu_us"] = spent / max(1, got["requests"]) * 1e6
                        rounds[name].append(got)
                paired.append(rounds["grants"][-1]["cpu_us"] / rounds["plain"][-1]["cpu_us"])
            results[str(level)] = {"paired": sorted(paired)}
            for name, runs in rounds.items():
                median = bench._median_round(runs)
                cpu = sorted(r["cpu_us"] for r in runs)
                median["cpu_us"] = cpu[len(cpu) // 2]
                median["cpu_rounds"] = [round(r["cpu_us"]) for r in runs]
                results[str(level)][name] = median
        results["in_process"] = in_process(args, tmp, plain_model, grants_model)
        return results
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        _drop_schemas(args)


def in_process(args: argparse.Namespace, tmp: Path, plain_model: Path, grants_model: Path) -> dict[str, float]:
    """``Service.process_bar`` of each lead by the bench user, in this process: CPU µs a bar, the least of
    ``--rounds`` passes (each 20 bars of every lead), the two services interleaved."""
    import time

    import bpf_dsl
    from bpf_dsl.plugins import Registry
    from bpf_dsl.service import Caller, Service
    from bpf_dsl.service.auth import Tokens
    from bpf_dsl.storage import open_storage

    registry = Registry(entry_points=False)
    admin, user = Caller("root", frozenset({"admin"})), Caller("bench", frozenset({"salesperson"}))
    services: dict[str, tuple[Service, list[str]]] = {}
    for name, model in (("plain", plain_model), ("grants", grants_model)):
        svc = Service(bpf_dsl.load([str(model)], registry), open_storage(f"sqlite:///{tmp / (name + '-in.db')}"),
                      registry)
        Tokens(svc.storage).create("bench", ["salesperson"])
        ids = []
        for i in range(LEADS):
            row = svc.create_record(admin, "lead", {"topic": f"Bench {i}", "budget_amount": 5000,
                                                    "description": "A fleet of vans"})
            assert not hasattr(row, "field_errors"), row
            if i % 2:
                svc.move_next(admin, svc.instances_of(admin, row.id)[0].id)
            svc.assign_record(admin, row.id, "bench")
            ids.append(row.id)
        services[name] = (svc, ids)
    best: dict[str, float] = {}
    for _ in range(max(3, args.rounds)):
        for name, (svc, ids) in services.items():
            t0 = time.process_time()
            for _ in range(20):
                for rid in ids:
                    svc.process_bar(user, rid)
            best[name] = min(best.get(name, float("inf")), (time.process_time() - t0) / (20 * len(ids)) * 1e6)
    for svc, _ in services.values():
        svc.storage.close()
    return best


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def _database(args: argparse.Namespace, tmp: Path, name: str) -> str:
    if not args.postgres:
        return f"sqlite:///{tmp / (name + '.db')}"
    import psycopg

    from tests.backends import with_search_path

    schema = f"bench_access_{name}_{os.getpid()}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return with_search_path(args.postgres, schema)


def _drop_schemas(args: argparse.Namespace) -> None:
    """The schemas :func:`_database` made, gone."""
    if not args.postgres:
        return
    import psycopg

    with psycopg.connect(args.postgres, autocommit=True) as conn:
        for name in ("plain", "grants"):
            conn.execute(f"DROP SCHEMA IF EXISTS bench_access_{name}_{os.getpid()} CASCADE")


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"processBar with and without access control: wrk, one uvicorn worker per server, both driven at once, "
          f"{args.seconds:g} s a round, {args.rounds} rounds, db {'postgres' if args.postgres else 'sqlite'}; "
          "every request answered afresh (no kept answers)")
    for level, phases in results.items():
        if level == "in_process":
            continue
        print(f"\n{level} connection(s):")
        for name in ("plain", "grants"):
            r = phases[name]
            print(f"  {name:<7} {r['cpu_us']:7.0f} µs CPU a request   {r['per_second']:6.0f} req/s   "
                  f"p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:7.2f} ms   ({r['failed']} failed; rounds: "
                  f"{r['cpu_rounds']} µs, {r['rounds']} req/s)")
        ratio, rate = cost_ratio(phases), phases["plain"]["per_second"] / phases["grants"]["per_second"]
        print(f"  cost ratio grants / plain (CPU a request, median of the rounds' "
              f"{', '.join(f'{p:.3f}' for p in phases['paired'])}): {ratio:.3f}  (goal <= {GOAL:.2f}) "
              f"{'PASS' if ratio <= GOAL else 'MISS'}   [requests/s plain / grants: {rate:.3f}]")
    inner = results["in_process"]
    print(f"\nin process, Service.process_bar alone: plain {inner['plain']:.0f} µs, grants {inner['grants']:.0f} µs "
          f"CPU a bar: ratio {inner['grants'] / inner['plain']:.3f}")


def cost_ratio(phases: dict[str, Any]) -> float:
    """Grants' CPU time per request over plain's: the median of the rounds' ratios (each round ran both at
    once)."""
    paired = phases["paired"]
    return float(paired[len(paired) // 2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="16", help="comma-separated numbers of connections (to each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="run both servers on PostgreSQL (a schema each)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        serve(args.port, args.db, Path(args.model))
        return 0
    sys.path[:0] = [str(REPO), str(REPO / "server")]
    with tempfile.TemporaryDirectory(prefix="bpf-bench-access-") as tmp:
        results = measure(args, Path(tmp))
    if args.json:
        ratios = {level: cost_ratio(phases) for level, phases in results.items() if level != "in_process"}
        print(json.dumps({"results": results, "ratios": ratios, "goal": GOAL}, indent=2))
    else:
        report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
