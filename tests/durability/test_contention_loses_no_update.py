"""Contention: 8 OS processes hammer moves on the same 50 instances; nothing is lost or doubled.

Each worker (multiprocessing, "spawn") opens its own Service on the same database URL and moves
random instances next/previous with the version it just read (``expected_version``), for
``BPF_HAMMER_SECONDS`` (default 20). Every success it saw is then checked against the stored history.

The invariant the service promises (docs/service.md, "Concurrency"): an instance command is one
transaction that checks ``expected_version`` against the locked row and bumps the version by one; a
next/previous move closes the open visit and opens one new visit. So an instance started once (version
1, one visit) and moved N times has version 1 + N and exactly 1 + N visits, the k-th visit (by id)
being the stage entered at version k.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import threading
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, cast

import pytest

import bpf_dsl
from bpf_dsl.service import Caller, open_service
from bpf_dsl.storage import InstanceRow, RecordRow
from bpf_dsl.storage import sql as sql_module
from tests.backends import BACKENDS, PG_URL, database_url
from tests.durability.hammer_worker import hammer
from tests.durability.program import ENTITY, PROCESS, STAGES, expected_traversed, write_program

WORKERS = 8
INSTANCES = 50
SECONDS = float(os.environ.get("BPF_HAMMER_SECONDS", "20"))
ADMIN = Caller("setup", frozenset({"admin"}))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threads", [0, 3], ids=["alone", "group-commit"])
def test_concurrent_moves_never_lose_or_double_a_move(backend: str, threads: int, tmp_path: Path) -> None:
    """``group-commit``: each worker's service commits its three threads' commands together (the server's write
    path), so that transactions of several commands from several processes race for the same rows."""
    bpf_path = write_program(tmp_path)
    program = bpf_dsl.load([str(bpf_path)])
    with database_url(backend, tmp_path) as url:
        svc = open_service(program, url)
        try:
            ids = _create_instances(svc)
            results, crashes = _run_workers(url, str(bpf_path), ids, tmp_path, threads)
            _check_history(svc, ids, results, f"{backend}, {threads or 1} thread(s) a worker")
        finally:
            svc.storage.close()
    # No worker may crash (every crash's traceback is shown).
    assert not crashes, "worker(s) crashed:\n" + "\n".join(crashes)
    _check_contention(results)


def _create_instances(svc: Any) -> list[str]:
    ids = []
    for n in range(INSTANCES):
        rec = svc.create_record(ADMIN, ENTITY, {"name": f"item {n}"})
        assert isinstance(rec, RecordRow), rec
        (inst,) = svc.instances_of(ADMIN, rec.id)
        assert (inst.process, inst.active_stage, inst.version) == (PROCESS, STAGES[0], 1)
        ids.append(inst.id)
    return ids


def _run_workers(url: str, bpf_path: str, ids: list[str], tmp_path: Path,
                 threads: int) -> tuple[list[dict[str, Any]], list[str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    outs = [tmp_path / f"worker-{n}.json" for n in range(WORKERS)]
    seconds = SECONDS / 2 if threads else SECONDS
    procs = [ctx.Process(target=hammer, args=(url, bpf_path, ids, seconds, 1000 + n, barrier, str(outs[n]), threads),
                         name=f"hammer-{n}") for n in range(WORKERS)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + SECONDS + 180  # spawn and import, the hammering, then a wide margin
    try:
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        hung = [p.name for p in procs if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    assert not hung, f"workers still running long after the deadline: {hung}"
    results = []
    crashes = []
    for p, out in zip(procs, outs, strict=True):
        result = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
        assert result is not None, f"{p.name} (exit code {p.exitcode}) left no report"
        if "error" in result or p.exitcode != 0:
            crashes.append(f"{p.name} (exit code {p.exitcode}):\n{result.get('error', 'no traceback')}")
        results.append(result)  # a crashed worker's successes before the crash are checked too
    assert len({r["pid"] for r in results}) == WORKERS  # really 8 OS processes
    return results, crashes


def _check_history(svc: Any, ids: list[str], results: list[dict[str, Any]], backend: str) -> None:
    successes = [s for r in results for s in r["successes"]]
    conflicts = sum(r["conflicts"] for r in results)
    attempts = sum(r["attempts"] for r in results)
    started = [r["times"]["started"] for r in results if "started" in r["times"]]
    print(f"\n[{backend}] {WORKERS} workers: {attempts} attempts, {len(successes)} moves, "
          f"{conflicts} VERSION_CONFLICT; per worker moves {[len(r['successes']) for r in results]}, "
          f"attempts {[r['attempts'] for r in results]}; slowest move {max(r['slowest'] for r in results):.2f} s; "
          f"hammering began {max(started, default=0) - min(r['times']['began'] for r in results):.1f} s "
          "after the first worker began")

    # Only VERSION_CONFLICT may refuse a move: END/BEGINNING are respected, and the stage can't have
    # changed behind a matching expected version. A conflict names a newer version than the one read.
    others = [o for r in results for o in r["others"]]
    assert not others, f"unexpected answers: {others[:10]}"

    # Two concurrent moves never both win: no (instance, version) reported twice.
    dup = [k for k, n in Counter((s["instance"], s["version"]) for s in successes).items() if n > 1]
    assert not dup, f"two successes share (instance, version): {dup[:10]}"

    by_instance: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in successes:
        assert s["version"] == s["from_version"] + 1, s
        step = 1 if s["kind"] == "next" else -1
        assert STAGES.index(s["stage"]) == STAGES.index(s["from_stage"]) + step, s
        assert tuple(s["traversed"]) == expected_traversed(s["stage"]), s
        by_instance[s["instance"]].append(s)
    assert set(by_instance) <= set(ids)

    for iid in ids:
        row = svc.get_instance(ADMIN, iid)
        assert row is not None
        mine = sorted(by_instance[iid], key=lambda s: s["version"])
        visits = svc.history(row)
        stages = [v.stage_name for v in visits]
        # Every reported success is in the history, and nothing else is.
        assert row.version == 1 + len(mine), (iid, row.version, len(mine))
        assert [s["version"] for s in mine] == list(range(2, row.version + 1))
        assert len(visits) == 1 + len(mine), (iid, len(visits), len(mine))
        # The (version -> stage) each worker saw (what it moved from, and where it landed) is what is stored.
        assert stages[0] == STAGES[0]
        for s in mine:
            assert stages[s["version"] - 1] == s["stage"], (iid, s, stages)
            assert stages[s["from_version"] - 1] == s["from_stage"], (iid, s, stages)
        # The history is a walk of single steps; only the last visit is open.
        for a, b in itertools.pairwise(stages):
            assert abs(STAGES.index(a) - STAGES.index(b)) == 1, (iid, stages)
        assert all(v.exited_at is not None for v in visits[:-1]) and visits[-1].exited_at is None
        # No instance's path disagrees with its active stage.
        assert row.status == "active"
        assert row.traversed[-1] == row.active_stage == stages[-1]
        assert row.traversed == expected_traversed(row.active_stage), (iid, row.traversed)

    # The kept per-stage counts agree with the instances.
    analytics = svc.analytics(ADMIN, PROCESS)
    assert analytics is not None
    assert analytics.counts == dict(Counter(svc.get_instance(ADMIN, iid).active_stage for iid in ids))

    # The history holds the 50 start visits and exactly one row per successful move (no orphan rows).
    with svc.storage.read() as tx:
        total = cast(Any, tx).q("SELECT count(*) FROM stage_visits").fetchone()[0]
        assert tx.count_instances() == INSTANCES
    assert int(total) - INSTANCES == len(successes)


def _check_contention(results: list[dict[str, Any]]) -> None:
    """The workers really raced: conflicts were answered, and several processes won moves on the same instances."""
    assert sum(r["conflicts"] for r in results) > 0, "no VERSION_CONFLICT seen: the workers never contended"
    # (Not every worker need win: SQLite's busy handler is not fair, and on a short run one process can
    # wait out the whole window for the write lock.)
    winners: dict[str, set[int]] = defaultdict(set)
    for n, r in enumerate(results):
        for s in r["successes"]:
            winners[s["instance"]].add(n)
    assert sum(bool(r["successes"]) for r in results) >= 2, "fewer than two workers won a move"
    assert any(len(w) >= 2 for w in winners.values()), "no instance was moved by two workers"


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need BPF_TEST_POSTGRES_URL (.ci/run sets it)")
def test_opposite_moves_sharing_a_counter_shard_both_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hammer's PostgreSQL crash, made deterministic: X moves a→b while Y moves b→a.

    Both moves must succeed (the service promises that a command losing a race is retried whole).
    Each command is paused, once, right after its first write to ``stage_counts`` (the decrement of
    the stage it leaves) until the other one gets there too (at most 5 s, so a backend that orders its
    locks, where the second command waits before that point, passes as well).
    """
    program = bpf_dsl.load([str(write_program(tmp_path))])
    with database_url("postgres", tmp_path) as url:
        svc = open_service(program, url)
        try:
            # Two instances whose counters share a shard (the shard is sql.py's: crc32(instance id) % SHARDS).
            by_shard: dict[int, str] = {}
            while True:
                rec = svc.create_record(ADMIN, ENTITY, {"name": "x"})
                assert isinstance(rec, RecordRow) and rec.active_instance_id is not None
                shard = zlib.crc32(rec.active_instance_id.encode()) % sql_module.SHARDS
                if shard in by_shard:
                    x_id, y_id = by_shard[shard], rec.active_instance_id
                    break
                by_shard[shard] = rec.active_instance_id
            y = svc.move_next(ADMIN, y_id, expected_version=1)
            assert isinstance(y, InstanceRow) and y.active_stage == STAGES[1]

            meet = threading.Barrier(2)
            local = threading.local()
            count = sql_module.SqlTx._count

            def paused_count(self: Any, process: str, status: str, stage: str, instance_id: str, delta: int) -> None:
                count(self, process, status, stage, instance_id, delta)
                if delta < 0 and not getattr(local, "paused", False):
                    local.paused = True
                    with contextlib.suppress(threading.BrokenBarrierError):
                        meet.wait(timeout=5)

            monkeypatch.setattr(sql_module.SqlTx, "_count", paused_count)
            results: dict[str, Any] = {}

            def run(name: str, move: Any) -> None:
                try:
                    results[name] = move()
                except Exception as exc:
                    results[name] = exc

            threads = [
                threading.Thread(target=run, args=("x", lambda: svc.move_next(ADMIN, x_id, expected_version=1))),
                threading.Thread(target=run, args=("y", lambda: svc.move_previous(ADMIN, y_id, expected_version=2))),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert not any(t.is_alive() for t in threads)
            monkeypatch.undo()
            for got in results.values():
                if isinstance(got, Exception):
                    raise got
            x, y = results["x"], results["y"]
            assert isinstance(x, InstanceRow) and (x.version, x.active_stage) == (2, STAGES[1])
            assert isinstance(y, InstanceRow) and (y.version, y.active_stage) == (3, STAGES[0])
            analytics = svc.analytics(ADMIN, PROCESS)
            assert analytics is not None
            stored = [svc.get_instance(ADMIN, iid) for iid in [*by_shard.values(), y_id]]
            assert analytics.counts == dict(Counter(row.active_stage for row in stored if row is not None))
        finally:
            svc.storage.close()
