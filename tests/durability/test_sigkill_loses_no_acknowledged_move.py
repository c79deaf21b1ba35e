"""Durability: SIGKILL a SQLite writer 30 times at random moments; nothing it reported is lost, nothing is torn.

``crash_writer.py`` (a separate process, restarted on the same file each time) moves instances and
creates records in a loop, printing one line per command only after the command returned a
success, i.e. after its transaction committed (WAL, ``synchronous=FULL``). The test kills it with
SIGKILL 0.05–0.6 s after its first line, 30 times, then checks the file. Again, 15 times, with the
writer's commands sent by four threads through group commit (the server's write path): many in each
transaction, each in its savepoint, each reported only after the commit that holds it returned.

The invariant, from the service's semantics: an instance starts at version 1 with one open visit of
its first stage (one transaction with its record and its ``started`` event), and each move is one
transaction that bumps the version by exactly one, closes the open visit and opens one visit of the
new stage. So after any crash, for every instance:

- ``len(visits) == version`` (1 start visit + one per committed move), the k-th visit (by id) being
  the stage entered at version k; only the last visit is open and it is the active stage;
- the visits walk the linear process a step at a time, and ``traversed`` is the prefix of the stages
  ending at the active stage (``traversed[-1] == active_stage``);
- every record has exactly its one instance, which is its active instance.
"""

from __future__ import annotations

import itertools
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import pytest

import bpf_dsl
from bpf_dsl.service import Caller, open_service
from bpf_dsl.storage import InstanceRow, RecordRow
from tests.durability.program import ENTITY, PROCESS, STAGES, expected_traversed, write_program

KILLS = 30
START_INSTANCES = 20
WRITER = Path(__file__).with_name("crash_writer.py")
ADMIN = Caller("setup", frozenset({"admin"}))
AHEAD = 3  # writers started (importing, loading the program) before their turn: a restart is then quick


@pytest.mark.slow
@pytest.mark.parametrize(("threads", "kills"), [(0, KILLS), (4, KILLS // 2)], ids=["alone", "group-commit"])
def test_sigkill_never_loses_a_reported_commit_nor_tears_an_instance(tmp_path: Path, threads: int,
                                                                     kills: int) -> None:
    """``alone``: one command per transaction, as the command line runs them. ``group-commit``: four threads
    whose commands are committed together (the server's write path): each answered only after its commit."""
    bpf_path = write_program(tmp_path)
    program = bpf_dsl.load([str(bpf_path)])
    db = tmp_path / "bpf.db"
    url = f"sqlite:///{db}"
    svc = open_service(program, url)
    for n in range(START_INSTANCES):
        assert isinstance(svc.create_record(ADMIN, ENTITY, {"name": f"item {n}"}), RecordRow)
    svc.storage.close()

    rng = random.Random(20261127)
    moves: list[tuple[str, int, str]] = []  # (instance, version, stage), in the order reported
    creates: list[tuple[str, str]] = []  # (record, instance)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs += [_start(url, bpf_path, tmp_path, run, threads) for run in range(min(AHEAD, kills))]
        for run in range(kills):
            proc = procs[run]
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")  # its turn: it opens the database and starts writing
            proc.stdin.flush()
            _wait_for_first_report(proc, tmp_path, run)
            if run + AHEAD < kills:
                procs.append(_start(url, bpf_path, tmp_path, run + AHEAD, threads))  # loads while others write
            time.sleep(rng.uniform(0.05, 0.6))
            assert proc.poll() is None, f"writer {run} died by itself:\n{_stderr(tmp_path, run)}"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL, (proc.returncode, _stderr(tmp_path, run))
            for line in _reported(tmp_path, run):
                parts = line.split()
                if parts[0] == "+":
                    creates.append((parts[1], parts[2]))
                else:
                    moves.append((parts[0], int(parts[1]), parts[2]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()
    assert sum(proc.returncode == -signal.SIGKILL for proc in procs) == kills

    # The file itself is sound (checked before anything of bpf opens it).
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    svc = open_service(program, url)
    try:
        _check_reported(svc, moves, creates)
        records, versions = _check_not_torn(svc)
        # Kills that fell between a commit and its report leave committed work nobody reported (allowed).
        print(f"\n[sqlite, {threads or 1} writer thread(s)] {kills} kills; reported committed: {len(moves)} moves, "
              f"{len(creates)} creates; "
              f"stored: {versions - records} moves, {records - START_INSTANCES} creates")
        # The database can still be opened and written.
        rec = svc.create_record(ADMIN, ENTITY, {"name": "after the crashes"})
        assert isinstance(rec, RecordRow) and rec.active_instance_id is not None
        row = svc.get_instance(ADMIN, rec.active_instance_id)
        assert row is not None
        moved = svc.move_next(ADMIN, row.id, expected_version=row.version)
        assert isinstance(moved, InstanceRow) and (moved.version, moved.active_stage) == (2, STAGES[1])
        assert [v.stage_name for v in svc.history(moved)] == list(STAGES[:2])
        _check_not_torn(svc)
    finally:
        svc.storage.close()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def _start(url: str, bpf_path: Path, tmp_path: Path, run: int, threads: int) -> subprocess.Popen[bytes]:
    """A writer that loads the program and waits for its turn (a line on stdin)."""
    with (tmp_path / f"writer-{run}.out").open("wb") as stdout, (tmp_path / f"writer-{run}.err").open("wb") as stderr:
        return subprocess.Popen([sys.executable, str(WRITER), url, str(bpf_path), str(run), str(threads)],
                                stdin=subprocess.PIPE, stdout=stdout, stderr=stderr)


def _stderr(tmp_path: Path, run: int) -> str:
    return (tmp_path / f"writer-{run}.err").read_text(encoding="utf-8")


def _wait_for_first_report(proc: subprocess.Popen[bytes], tmp_path: Path, run: int) -> None:
    out = tmp_path / f"writer-{run}.out"
    deadline = time.monotonic() + 60
    while b"\n" not in out.read_bytes():
        assert proc.poll() is None, f"writer {run} died by itself:\n{_stderr(tmp_path, run)}"
        assert time.monotonic() < deadline, f"writer {run} reported nothing in 60 s"
        time.sleep(0.005)


def _reported(tmp_path: Path, run: int) -> list[str]:
    """The lines a killed writer reported: complete lines only (a line the kill cut is no report)."""
    text = (tmp_path / f"writer-{run}.out").read_text(encoding="utf-8")
    return text.splitlines()[:text.count("\n")]


def _check_reported(svc: Any, moves: list[tuple[str, int, str]], creates: list[tuple[str, str]]) -> None:
    for record_id, instance_id in creates:
        rec = svc.get_record(ADMIN, record_id)
        assert rec is not None, f"reported create of {record_id} is lost"
        assert rec.active_instance_id == instance_id
    last: dict[str, int] = {}
    rows: dict[str, InstanceRow] = {}
    stages: dict[str, list[str]] = {}
    for iid, version, stage in moves:
        # A version is reported once: a committed move is never lost and redone by a later writer.
        assert version > last.get(iid, 1), f"{iid}: version {version} reported after {last.get(iid)}"
        last[iid] = version
        if iid not in rows:
            row = svc.get_instance(ADMIN, iid)
            assert row is not None, f"instance {iid} of a reported move is gone"
            rows[iid] = row
            stages[iid] = [v.stage_name for v in svc.history(row)]
        assert rows[iid].version >= version, f"{iid}: reported version {version}, stored {rows[iid].version}"
        assert stages[iid][version - 1] == stage, f"{iid}: reported {stage} at version {version}, " \
                                                  f"history {stages[iid]}"


def _check_not_torn(svc: Any) -> tuple[int, int]:
    """Check every instance; the number of records and the sum of instance versions."""
    records: list[RecordRow] = []
    cursor = None
    while True:
        page = svc.list_records(ADMIN, ENTITY, first=500, after=cursor)
        records += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    instances = svc.instances_of_many(ADMIN, [r.id for r in records])
    total_versions = 0
    stages_now: Counter[str] = Counter()
    for rec in records:
        (row,) = instances[rec.id]  # created with its process, in one transaction
        assert rec.active_instance_id == row.id and row.process == PROCESS and row.status == "active"
        visits = svc.history(row)
        names = [v.stage_name for v in visits]
        assert len(visits) == row.version, (row.id, row.version, names)
        assert names[0] == STAGES[0]
        for a, b in itertools.pairwise(names):
            assert abs(STAGES.index(a) - STAGES.index(b)) == 1, (row.id, names)
        assert all(v.exited_at is not None for v in visits[:-1]) and visits[-1].exited_at is None, row.id
        assert row.traversed[-1] == row.active_stage == names[-1], (row.id, row.traversed, names)
        assert row.traversed == expected_traversed(row.active_stage), (row.id, row.traversed)
        total_versions += row.version
        stages_now[row.active_stage] += 1
    analytics = svc.analytics(ADMIN, PROCESS)  # the kept per-stage counts, written in each move's transaction
    assert analytics is not None and analytics.counts == dict(stages_now)
    with svc.storage.read() as tx:
        q = cast(Any, tx).q
        # No orphan history: every visit and event belongs to a stored instance, one ``started`` each.
        assert tx.count_instances() == len(records)
        assert int(q("SELECT count(*) FROM stage_visits").fetchone()[0]) == total_versions
        started = Counter(r[0] for r in q("SELECT instance_id FROM instance_events WHERE kind = 'started'"))
        kinds = defaultdict(int, {r[0]: r[1] for r in q("SELECT kind, count(*) FROM instance_events GROUP BY kind")})
    assert set(started) == {r.active_instance_id for r in records} and set(started.values()) == {1}
    assert dict(kinds) == {"started": len(records)}
    return len(records), total_versions
