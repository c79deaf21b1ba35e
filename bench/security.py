"""What a hostile GraphQL document costs the server, against ``{ __typename }``: the exponential-fragments finding.

::

    python bench/security.py [--runs 200] [--db URL] [--json]

A real ``bpf serve`` (a subprocess, with the uvicorn settings it runs with) over the
spec examples on a fresh SQLite file (or ``--db``), with a token. Python sends one
request at a time on one kept-alive connection and times each round trip
(``perf_counter``); the kinds of request are interleaved, so that a drifting machine
load slows all alike, and the median of ``--runs`` of each is quoted:

- ``{ __typename }``: the cheapest request there is;
- the 30-fragment document of the review (``fragment F0 on Entity { name }
  fragment Fn on Entity { ...Fn-1 ...Fn-1 }``, 1.3 KB, 2^29 fields once expanded):
  before the limits were measured per fragment, one such request kept a core busy
  for minutes; it is refused now;
- GraphiQL's introspection query (the largest real query, accepted), for scale.

Each is sent twice over: the same text every time (the server keeps a text's parse
and validation, refusals included), and a fresh text every time (a comment with a
counter in front: every request is parsed and validated anew, the attacker's way
around any cache). Printed: the medians, and the ratio of the 30-fragment document to
``{ __typename }`` in both ways, against the goal (at most 5x), PASS or MISS. It exits 0
either way: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLES = REPO / "docs" / "examples"
GOAL = 5.0  # the 30-fragment document's round trip / { __typename }'s, at most

TYPENAME = "{ __typename }"
FRAGMENTS = ("query { entities { ...F29 } } fragment F0 on Entity { name } "
             + " ".join(f"fragment F{i} on Entity {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 30)))


def introspection() -> str:
    from graphql import get_introspection_query

    return get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                   schema_description=True, input_value_deprecation=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(db: str, port: int, log: Any) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([str(REPO), str(REPO / "server")])
    paths = [str(p) for p in sorted(EXAMPLES.glob("*.bpf"))]
    return subprocess.Popen([sys.executable, "-m", "bpf_dsl.cli", "serve", *paths, "--db", db, "--port", str(port)],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": path}, stdout=log, stderr=log)


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bpf serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("bpf serve did not start")


def make_token(db: str) -> str:
    from bpf_dsl.service import Tokens, open_storage

    storage = open_storage(db)
    try:
        return Tokens(storage).create("bench", ["admin"]).token
    finally:
        storage.close()


class Client:
    """POSTs on one kept-alive connection; each call's round trip in milliseconds."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def time(self, query: str) -> tuple[float, dict[str, Any]]:
        body = json.dumps({"query": query})
        t0 = time.perf_counter()
        self.conn.request("POST", "/graphql", body=body, headers=self.headers)
        answer = self.conn.getresponse()
        data = answer.read()
        took = (time.perf_counter() - t0) * 1000
        return took, json.loads(data)


def measure(client: Client, runs: int) -> dict[str, dict[str, float]]:
    kinds = {"typename": TYPENAME, "fragments": FRAGMENTS, "introspection": introspection()}
    # What each answers, once: the fragments refused with the limit's error, the others with data.
    for name, query in kinds.items():
        _, answer = client.time(query)
        refused = bool(answer.get("errors"))
        if refused != (name == "fragments"):
            raise SystemExit(f"{name}: unexpected answer {json.dumps(answer)[:300]}")
    medians: dict[str, dict[str, float]] = {"same": {}, "fresh": {}}
    counter = 0
    # Each mode in a phase of its own, the kinds interleaved within it; the introspection query (a large
    # answer, whose clean-up would slow the request after it) in phases of its own, for scale only.
    for group in (("typename", "fragments"), ("introspection",)):
        for mode in ("same", "fresh"):
            times: dict[str, list[float]] = {name: [] for name in group}
            for _ in range(runs if group[0] == "typename" else max(5, runs // 10)):
                for name in group:
                    counter += 1
                    text = kinds[name] if mode == "same" else f"# {counter}\n{kinds[name]}"
                    times[name].append(client.time(text)[0])
            medians[mode].update({name: statistics.median(values) for name, values in times.items()})
    return medians


def report(medians: dict[str, dict[str, float]], runs: int, db: str) -> None:
    print(f"bpf serve on {db}; one request at a time on one connection, median of {runs} round trips (ms)")
    labels = {"typename": "{ __typename }", "fragments": "30 fragments (2^29 fields)",
              "introspection": "GraphiQL's introspection"}
    print(f"  {'':<28} {'same text':>10} {'fresh text':>11}")
    for name, label in labels.items():
        print(f"  {label:<28} {medians['same'][name]:10.2f} {medians['fresh'][name]:11.2f}")
    for mode in ("same", "fresh"):
        ratio = medians[mode]["fragments"] / medians[mode]["typename"]
        verdict = "PASS" if ratio <= GOAL else "MISS"
        print(f"30 fragments / {{ __typename }} ({mode} text): {ratio:.2f}x (goal <= {GOAL:g}x) {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200, help="round trips of each kind (default 200)")
    parser.add_argument("--db", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        token = make_token(db)
        port = free_port()
        with open(Path(tmp) / "serve.log", "wb") as log:
            proc = start(db, port, log)
            try:
                wait_up(port, proc)
                medians = measure(Client(port, token), args.runs)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    if args.json:
        print(json.dumps(medians, indent=2))
    else:
        report(medians, args.runs, db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
