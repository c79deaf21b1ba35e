"""Durable moves on SQLite next to bare sqlite3, and what a million rows cost (issue 3's points (c), (d)).

::

    python bench/storage.py [--rows 1000000] [--json] [--seconds 3] [--repeat 3] [--ops 500] [--profile]
                            [--cache-dir DIR] [--work-dir DIR]

In one process, side by side:

(c) durable moveNext. Ours: ``Service.move_next`` on a SQLite file (WAL,
    ``synchronous=FULL``, ``BEGIN IMMEDIATE``: the storage's own pragmas) with a
    4-stage process without gates (Qualify, Develop, Propose, Close) and a pool of
    instances, moved in a shuffled order, each from Qualify to Close over three
    passes. Peer: bare ``sqlite3`` on a separate file with the same schema (made by
    the same migrations) and the same rows, the same pragmas, doing per move only
    ``BEGIN IMMEDIATE``; one ``UPDATE`` of the instance row; one ``INSERT`` of a
    history row; ``COMMIT``. Each side runs ``--seconds`` per run, cut in
    ``--slices`` slices taken in turn with the other side's (the disk's fsync time
    drifts: both sides must see the same disk), best of ``--repeat`` runs. Goal:
    ours / bare >= 0.5 (moves per second).
(d) a million rows. ``--rows`` records, each with one instance (half on each of two
    processes, spread evenly over their 4 stages) and the instance's open stage
    visit, bulk-loaded with ``executemany`` in big transactions through the very
    INSERT statements of ``SqlTx.insert_record``, ``insert_instance`` and
    ``open_visit`` (captured from ``bpf_dsl/storage/sql.py``, and their parameters
    checked against ``SqlTx``'s on the first rows), into a schema made by the
    service's migrations. The file is cached in the temp folder, keyed by the row
    count and a hash of the program, the schema and this loader, and reused when
    present. The same loader builds a 1,000-row database. Then, interleaved in a
    random order each round, ``--ops`` times each: ``service.move_next`` on a random
    instance not yet on its last stage, and ``service.process_bar`` of a random
    record, on both databases. Goals: median latency at ``--rows`` / at 1,000 rows
    <= 1.2 for each. And, on the big database, ``tx.stage_counts(process)`` through
    a read transaction against ``SELECT count(*) FROM instances`` (``tx.count_instances``)
    through one too, median of interleaved runs: goal counts / count(*) <= 1.0,
    with the ``EXPLAIN QUERY PLAN`` of both.

The big file is read once before timing so that it sits in the OS cache, as a
running server's would (SQLite's own page cache stays at its default 2 MB, so
lookups still read their pages through the OS). If the temp folder has less than
3 GB free, fewer rows are loaded, and the output says so. ``--profile`` adds a
cProfile of our side of (c) and of the moves and bars on the big database. It
prints the figures, the ratios and PASS or MISS, and exits 0 either way: it is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import hashlib
import io
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import bpf_dsl
from bpf_dsl.definition import Program
from bpf_dsl.service import Caller, Service, open_service
from bpf_dsl.storage import InstanceRow, RecordRow, open_storage
from bpf_dsl.storage.schema import MIGRATIONS
from bpf_dsl.storage.sql import SqlTx, dumps, ts
from bpf_dsl.storage.sqlite import SQLITE

GOALS = {
    "durable": (">=", 0.5, "(c) durable moveNext: ours / bare sqlite3 (moves/s)"),
    "move_scale": ("<=", 1.2, "(d) move latency: big / 1,000 rows (median)"),
    "bar_scale": ("<=", 1.2, "(d) process bar latency: big / 1,000 rows (median)"),
    "counts": ("<=", 1.0, "(d) stage_counts(process) / count(*) (median)"),
}

SOURCE = """
role seller

entity deal "Deal" {
    title: text
    amount: money
    seller: text
    closes_on "Closes On": date
}

process sale "Sale" on deal {
    roles seller

    stage qualify "Qualify" {
        step title
    }
    stage develop "Develop" {
        step amount
    }
    stage propose "Propose" {
        step seller
    }
    stage close "Close" {
        step closes_on
    }
}

process renewal "Renewal" on deal {
    roles seller

    stage qualify "Qualify" {
        step title
    }
    stage develop "Develop" {
        step amount
    }
    stage propose "Propose" {
        step seller
    }
    stage close "Close" {
        step closes_on
    }
}
"""

CALLER = Caller("bench", frozenset({"admin"}))
PROCESSES = ("sale", "renewal")
STAGES = ("qualify", "develop", "propose", "close")
LAST = len(STAGES) - 1
ENTITY = "deal"
SMALL_ROWS = 1000
LOAD_CHUNK = 100_000  # rows per bulk transaction
LOADER_VERSION = "1+counts"  # bump when the generated rows change: a new cache key
MIN_FREE = 3 * 1024**3
BYTES_PER_ROW = 1400  # a record, its instance and its visit, with every index (measured: about 1.1 kB)
MOVES_PER_BATCH = 10  # (c): moves between two looks at the clock
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


# -- the program and the SQL of sql.py ----------------------------------------------------------------


def load_program() -> Program:
    program = bpf_dsl.load_source(SOURCE, "bench-storage.bpf")
    for name in PROCESSES:
        assert tuple(s.name for s in program.processes[name].stages) == STAGES
    return program


class _Recorder:
    """A DB-API cursor that keeps what it is asked to run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.rowcount = 1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.calls.append((sql, tuple(params)))

    def fetchall(self) -> list[Any]:
        return []

    def fetchone(self) -> Any:
        return (0,)


def sql_of(call: Callable[[SqlTx], Any]) -> tuple[str, tuple[Any, ...]]:
    """The row-writing statement (and its parameters) that ``call`` runs through ``SqlTx`` on SQLite.

    ``insert_instance`` also bumps the kept per-stage counters; the bulk load rebuilds those
    once at the end (:data:`RECOUNT`), as migration 3 does, so that statement is set aside here.
    """
    rec = _Recorder()
    call(SqlTx(rec, SQLITE))
    writes = [c for c in rec.calls if not c[0].startswith("INSERT INTO stage_counts")] if len(rec.calls) > 1 \
        else rec.calls
    assert len(writes) == 1, rec.calls
    return writes[0]


RECOUNT = ("INSERT INTO stage_counts (process, status, active_stage, shard, n) "
           "SELECT process, status, active_stage, 0, count(*) FROM instances GROUP BY process, status, active_stage")


@dataclass
class Rows:
    """Generates the bulk rows in the parameter shapes of ``SqlTx``; ids sorted, so inserts append."""

    program: Program
    n: int
    processes: tuple[str, ...]
    spread: bool  # stages spread over the four; else every instance on Qualify
    seed: int
    record_ids: list[str] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.record_ids = sorted(str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(self.n))
        self.instance_ids = sorted(str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(self.n))
        self.versions = {p: self.program.processes[p].version for p in self.processes}
        self.created = [ts(T0 + dt.timedelta(minutes=7 * k)) for k in range(1000)]
        self.entered = [ts(T0 + dt.timedelta(days=3, minutes=11 * k)) for k in range(1000)]
        self.traversed = [dumps(list(STAGES[:k + 1])) for k in range(len(STAGES))]

    def process(self, i: int) -> str:
        return self.processes[i % len(self.processes)]

    def stage(self, i: int) -> int:
        return (i // len(self.processes)) % len(STAGES) if self.spread else 0

    def record(self, i: int) -> tuple[Any, ...]:
        at = self.created[i % 1000]
        data = f'{{"amount":{1000 + i % 9000},"closes_on":"2026-0{1 + i % 9}-15","seller":"user{i % 50}",' \
               f'"title":"Deal {i}"}}'
        return (self.record_ids[i], ENTITY, data, 1, at, at, self.instance_ids[i], "", "")  # no owner, creator

    def instance(self, i: int) -> tuple[Any, ...]:
        rid, k, proc = self.record_ids[i], self.stage(i), self.process(i)
        created, entered = self.created[i % 1000], self.entered[i % 1000]
        started = entered if k else created
        return (self.instance_ids[i], rid, proc, self.versions[proc], "active", STAGES[k], self.traversed[k],
                f'{{"{ENTITY}":"{rid}"}}', "[]", started, created, started, None, k + 1, None)  # no outcome

    def visit(self, i: int) -> tuple[Any, ...]:
        k = self.stage(i)
        started = self.entered[i % 1000] if k else self.created[i % 1000]
        return (self.instance_ids[i], self.process(i), STAGES[k], ENTITY, self.record_ids[i], started, "bench", None)

    def statements(self) -> tuple[str, str, str]:
        """The INSERTs of sql.py, after checking that our parameters are the ones ``SqlTx`` would pass."""
        sqls = []
        parse = dt.datetime.fromisoformat
        for i in range(min(self.n, 8)):
            r, inst, v = self.record(i), self.instance(i), self.visit(i)
            rec_row = RecordRow(r[0], r[1], json.loads(r[2]), r[3], parse(r[4]), parse(r[5]), r[6])
            inst_row = InstanceRow(inst[0], inst[1], inst[2], inst[3], inst[4], inst[5], tuple(json.loads(inst[6])),
                                   json.loads(inst[7]), parse(inst[9]), parse(inst[10]), parse(inst[11]), None,
                                   inst[13], ())

            def rec(tx: SqlTx, row: RecordRow = rec_row) -> None:
                tx.insert_record(row)

            def ins(tx: SqlTx, row: InstanceRow = inst_row) -> None:
                tx.insert_instance(row)

            def vis(tx: SqlTx, v: tuple[Any, ...] = v) -> None:
                tx.open_visit(v[0], v[1], v[2], v[3], v[4], parse(v[5]), v[6])

            got = [sql_of(rec), sql_of(ins), sql_of(vis)]
            for (_sql, params), mine in zip(got, (r, inst, v), strict=True):
                assert params == mine, f"bulk rows differ from SqlTx's:\n{params}\n{mine}"
            sqls = [sql for sql, _ in got]
        return sqls[0], sqls[1], sqls[2]


def build_db(path: str, rows: Rows) -> float:
    """Migrate a new file as the service does, then bulk-load ``rows``; returns the seconds it took."""
    started = time.perf_counter()
    storage = open_storage(f"sqlite:///{path}")  # the schema exactly as the service makes it
    storage.close()
    rec_sql, inst_sql, visit_sql = rows.statements()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        # Loading only: no WAL copy, no fsync per transaction. The service's pragmas apply when it opens the file.
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")
        for lo in range(0, rows.n, LOAD_CHUNK):
            span = range(lo, min(rows.n, lo + LOAD_CHUNK))
            con.execute("BEGIN")
            con.executemany(rec_sql, [rows.record(i) for i in span])
            con.executemany(inst_sql, [rows.instance(i) for i in span])
            con.executemany(visit_sql, [rows.visit(i) for i in span])
            con.execute("COMMIT")
        con.execute("DELETE FROM stage_counts")
        con.execute(RECOUNT)
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()
    return time.perf_counter() - started


def cache_key(n: int, seed: int) -> str:
    h = hashlib.sha256()
    for part in (SOURCE, repr(MIGRATIONS), LOADER_VERSION, str(seed), sqlite3.sqlite_version):
        h.update(part.encode())
    return f"rows-{n}-{h.hexdigest()[:12]}"


def big_db(folder: str, n: int, seed: int, program: Program) -> tuple[str, float, bool]:
    """The cached big database: (path, load seconds, reused)."""
    where = os.path.join(folder, cache_key(n, seed))
    path, done = os.path.join(where, "bench.db"), os.path.join(where, "complete")
    if os.path.exists(done) and os.path.exists(path):
        with open(done) as f:
            return path, float(f.read().strip()), True
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where)
    seconds = build_db(path, Rows(program, n, PROCESSES, True, seed))
    with open(done, "w") as f:
        f.write(f"{seconds:.3f}\n")
    return path, seconds, False


def choose_rows(folder: str, wanted: int, seed: int) -> tuple[int, str | None]:
    """``wanted``, unless it is not cached and the disk has less than 3 GB free: then what fits in half of it."""
    os.makedirs(folder, exist_ok=True)
    if os.path.exists(os.path.join(folder, cache_key(wanted, seed), "complete")):
        return wanted, None
    free = shutil.disk_usage(folder).free
    if free >= MIN_FREE:
        return wanted, None
    fits = max(SMALL_ROWS, min(wanted, (free // 2) // BYTES_PER_ROW // 1000 * 1000))
    return fits, (f"only {free / 1024**3:.2f} GB free in {folder} (below 3 GB): loading {fits:,} rows instead of "
                  f"{wanted:,}; the (d) ratios then say less about a million")


def warm_os_cache(path: str) -> None:
    with open(path, "rb") as f:
        while f.read(16 * 1024 * 1024):
            pass


# -- (c) durable moveNext ----------------------------------------------------------------------------


class MovePool:
    """Instances to move, in a shuffled order, each from Qualify to Close over three passes."""

    def __init__(self, rows: Rows, seed: int) -> None:
        order = list(range(rows.n))
        random.Random(seed).shuffle(order)
        self.items = [(rows.instance_ids[i], rows.record_ids[i]) for i in order]
        self.pos = 0

    def take(self) -> tuple[str, str, int]:
        """(instance id, record id, the stage index it moves to)."""
        n = len(self.items)
        if self.pos >= LAST * n:
            raise RuntimeError(f"the pool of {n:,} instances is used up: raise --pool")
        iid, rid = self.items[self.pos % n]
        to = self.pos // n + 1
        self.pos += 1
        return iid, rid, to


def ours_mover(svc: Service, pool: MovePool) -> Callable[[], int]:
    def batch() -> int:
        for _ in range(MOVES_PER_BATCH):
            iid, _rid, to = pool.take()
            moved = svc.move_next(CALLER, iid)
            if not isinstance(moved, InstanceRow) or moved.active_stage != STAGES[to]:
                raise AssertionError(f"move_next: {moved}")
        return MOVES_PER_BATCH

    return batch


def bare_connection(path: str) -> sqlite3.Connection:
    """A connection with the storage's pragmas (bpf_dsl/storage/sqlite.py)."""
    con = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA busy_timeout=60000")
    con.execute("PRAGMA foreign_keys=ON")
    return con


BARE_UPDATE = ("UPDATE instances SET active_stage = ?, traversed = ?, stage_started_at = ?, updated_at = ?, "
               "version = version + 1 WHERE id = ?")


def bare_mover(con: sqlite3.Connection, pool: MovePool, visit_sql: str) -> Callable[[], int]:
    traversed = [dumps(list(STAGES[:k + 1])) for k in range(len(STAGES))]
    ex = con.execute

    def batch() -> int:
        for _ in range(MOVES_PER_BATCH):
            iid, rid, to = pool.take()
            now = ts(dt.datetime.now(dt.UTC))
            ex("BEGIN IMMEDIATE")
            if ex(BARE_UPDATE, (STAGES[to], traversed[to], now, now, iid)).rowcount != 1:
                raise AssertionError(f"bare: no instance {iid}")
            ex(visit_sql, (iid, "sale", STAGES[to], ENTITY, rid, now, "bench", None))  # no due time
            ex("COMMIT")
        return MOVES_PER_BATCH

    return batch


@dataclass
class Rate:
    moves: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.moves / self.wall

    @property
    def per_cpu_second(self) -> float:
        return self.moves / self.cpu if self.cpu > 0 else float("inf")


def run_for(batch: Callable[[], int], seconds: float) -> Rate:
    gc.collect()
    moves = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + seconds
    while True:
        moves += batch()
        now = time.perf_counter()
        if now >= deadline:
            return Rate(moves, now - t0, time.process_time() - cpu0)


def bench_durable(program: Program, tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    ours_path, bare_path = os.path.join(tmp, "ours.db"), os.path.join(tmp, "bare.db")
    ours_rows = Rows(program, args.pool, ("sale",), False, args.seed)
    bare_rows = Rows(program, args.pool, ("sale",), False, args.seed)
    build_db(ours_path, ours_rows)
    build_db(bare_path, bare_rows)
    visit_sql = bare_rows.statements()[2]
    svc = open_service(program, f"sqlite:///{ours_path}")
    con = bare_connection(bare_path)
    try:
        ours_pool, bare_pool = MovePool(ours_rows, args.seed), MovePool(bare_rows, args.seed)
        ours, bare = ours_mover(svc, ours_pool), bare_mover(con, bare_pool, visit_sql)
        ours()  # warm up (and check) both sides: not counted
        bare()
        best: dict[str, Rate] = {}
        runs: dict[str, list[float]] = {"ours": [], "bare": []}
        paired: list[float] = []
        sides = [("ours", ours), ("bare", bare)]
        for r in range(args.repeat):
            # A run of each side is --seconds long, cut in --slices slices taken in turn, so that both sides
            # see the same disk: this VM's fsync time drifts by several times within a minute.
            total = {"ours": Rate(0, 0.0, 0.0), "bare": Rate(0, 0.0, 0.0)}
            for k in range(args.slices):
                for name, batch in sides if (r + k) % 2 == 0 else reversed(sides):
                    got = run_for(batch, args.seconds / args.slices)
                    t = total[name]
                    total[name] = Rate(t.moves + got.moves, t.wall + got.wall, t.cpu + got.cpu)
            for name, rate in total.items():
                runs[name].append(rate.per_second)
                if name not in best or rate.per_second > best[name].per_second:
                    best[name] = rate
            paired.append(total["ours"].per_second / total["bare"].per_second)
        check = con.execute("SELECT count(*) FROM stage_visits").fetchone()[0]
        assert check == args.pool + bare_pool.pos, (check, bare_pool.pos)
        profile = profile_of(ours, args.seconds) if args.profile else None
    finally:
        con.close()
        svc.storage.close()
    return {
        "pool": args.pool, "ours_moves_per_s": best["ours"].per_second, "bare_moves_per_s": best["bare"].per_second,
        "ours_moves_per_cpu_s": best["ours"].per_cpu_second, "bare_moves_per_cpu_s": best["bare"].per_cpu_second,
        "ours_runs": runs["ours"], "bare_runs": runs["bare"], "paired_ratios": paired,
        "ratio": best["ours"].per_second / best["bare"].per_second,
        "cpu_ratio": best["ours"].per_cpu_second / best["bare"].per_cpu_second,
        "profile": profile,
    }


def profile_of(batch: Callable[[], int], seconds: float) -> str:
    prof = cProfile.Profile()
    prof.enable()
    run_for(batch, seconds)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


# -- (d) a million rows -----------------------------------------------------------------------------


class Picker:
    """Random instances not on their last stage (each moved once while fresh ones last) and random records."""

    def __init__(self, path: str, need: int, seed: int) -> None:
        rng = random.Random(seed)
        self.rng = rng
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            top = con.execute("SELECT max(rowid) FROM instances").fetchone()[0]
            stage_of: dict[str, int] = {}
            records: list[str] = []
            for _ in range(20 * need):
                if len(stage_of) >= need and len(records) >= need:
                    break
                row = con.execute("SELECT id, record_id, active_stage, status FROM instances WHERE rowid = ?",
                           (rng.randint(1, top),)).fetchone()
                if row is None:
                    continue
                records.append(row[1])
                if row[3] == "active" and row[2] != STAGES[LAST]:
                    stage_of[row[0]] = STAGES.index(row[2])
        self.fresh = list(stage_of)
        rng.shuffle(self.fresh)
        self.stage_of = stage_of
        self.records = records

    def instance(self) -> str:
        if self.fresh:
            return self.fresh.pop()
        movable = [i for i, k in self.stage_of.items() if k < LAST]
        if not movable:
            raise RuntimeError("no instance left to move: lower --ops")
        return self.rng.choice(movable)

    def moved(self, instance_id: str, stage: str) -> None:
        self.stage_of[instance_id] = STAGES.index(stage)

    def record(self) -> str:
        return self.rng.choice(self.records)


Op = Callable[[], tuple[int, int]]  # one operation: (wall ns, CPU ns)


def latency_ops(svc: Service, picker: Picker) -> tuple[Op, Op]:
    def move() -> tuple[int, int]:
        iid = picker.instance()
        c0, t0 = time.process_time_ns(), time.perf_counter_ns()
        moved = svc.move_next(CALLER, iid)
        t1, c1 = time.perf_counter_ns(), time.process_time_ns()
        if not isinstance(moved, InstanceRow):
            raise AssertionError(f"move_next: {moved}")
        picker.moved(iid, moved.active_stage)
        return t1 - t0, c1 - c0

    def bar() -> tuple[int, int]:
        rid = picker.record()
        c0, t0 = time.process_time_ns(), time.perf_counter_ns()
        got = svc.process_bar(CALLER, rid)
        t1, c1 = time.perf_counter_ns(), time.process_time_ns()
        if got is None or len(got[1]) != len(STAGES):
            raise AssertionError(f"process_bar: {got}")
        return t1 - t0, c1 - c0

    return move, bar


def bench_scale(program: Program, big_path: str, tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    small_path = os.path.join(tmp, "small.db")
    build_db(small_path, Rows(program, SMALL_ROWS, PROCESSES, True, args.seed))
    warm_os_cache(big_path)
    big, small = open_service(program, f"sqlite:///{big_path}"), open_service(program, f"sqlite:///{small_path}")
    warmup = 20
    try:
        ops = {}
        for name, svc, path in (("big", big, big_path), ("small", small, small_path)):
            move, bar = latency_ops(svc, Picker(path, args.ops + warmup, args.seed))
            ops[f"{name}_move"], ops[f"{name}_bar"] = move, bar
        for _ in range(warmup):
            for op in ops.values():
                op()
        times: dict[str, list[int]] = {k: [] for k in ops}
        cpu: dict[str, list[int]] = {k: [] for k in ops}
        rng = random.Random(args.seed)
        names = list(ops)
        gc.collect()
        for _ in range(args.ops):
            rng.shuffle(names)
            for k in names:
                wall, used = ops[k]()
                times[k].append(wall)
                cpu[k].append(used)
        med = {k: statistics.median(v) / 1e6 for k, v in times.items()}
        p90 = {k: sorted(v)[int(0.9 * (len(v) - 1))] / 1e6 for k, v in times.items()}
        cpu_med = {k: statistics.median(v) / 1e6 for k, v in cpu.items()}
        counts = bench_counts(big, big_path, args)
        profile = None
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(min(args.ops, 200)):
                ops["big_move"]()
                ops["big_bar"]()
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
            profile = out.getvalue()
    finally:
        big.storage.close()
        small.storage.close()
    return {
        "median_ms": med, "p90_ms": p90, "cpu_median_ms": cpu_med,
        "move_cpu_ratio": cpu_med["big_move"] / cpu_med["small_move"],
        "bar_cpu_ratio": cpu_med["big_bar"] / cpu_med["small_bar"],
        "move_ratio": med["big_move"] / med["small_move"], "bar_ratio": med["big_bar"] / med["small_bar"],
        **counts, "profile": profile,
    }


def bench_counts(svc: Service, path: str, args: argparse.Namespace) -> dict[str, Any]:
    process = PROCESSES[0]
    count_sql, count_params = sql_of(lambda tx: tx.stage_counts(process))
    total_sql, _ = sql_of(lambda tx: tx.count_instances())

    def counts() -> dict[str, int]:
        with svc.storage.read() as tx:
            return tx.stage_counts(process)

    def total() -> int:
        with svc.storage.read() as tx:
            return tx.count_instances()

    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        plans = {
            "stage_counts": [r[3] for r in con.execute(f"EXPLAIN QUERY PLAN {count_sql}", count_params).fetchall()],
            "count(*)": [r[3] for r in con.execute(f"EXPLAIN QUERY PLAN {total_sql}").fetchall()],
        }
        expect = con.execute("SELECT count(*) FROM instances WHERE process = ? AND status = 'active'",
                      (process,)).fetchone()[0]
    got, n = counts(), total()  # warm up, and check
    assert sum(got.values()) == expect and set(got) <= set(STAGES), (got, expect)
    timings: dict[str, list[float]] = {"stage_counts": [], "count(*)": []}
    for r in range(args.count_repeat):
        pair: list[tuple[str, Callable[[], Any]]] = [("stage_counts", counts), ("count(*)", total)]
        for name, fn in pair if r % 2 == 0 else reversed(pair):
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    return {"stage_counts_ms": med["stage_counts"], "count_all_ms": med["count(*)"],
            "counts_ratio": med["stage_counts"] / med["count(*)"], "plans": plans,
            "stage_counts": got, "instances": n, "count_sql": count_sql, "count_all_sql": total_sql}


# -- output -----------------------------------------------------------------------------------------


def verdict(key: str, value: float) -> tuple[bool, str]:
    op, goal, _ = GOALS[key]
    ok = value >= goal if op == ">=" else value <= goal
    return ok, f"{'PASS' if ok else 'MISS'} (goal {op} {goal})"


def report(res: dict[str, Any]) -> None:
    c, d = res["durable"], res["scale"]
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
          f"databases in {res['folder']}")
    if res["note"]:
        print(f"NOTE: {res['note']}")
    print(f"\n(c) durable moveNext, {res['seconds']} s per run in {res['slices']} slices, best of {res['repeat']}, "
          "interleaved; "
          f"pool of {c['pool']:,} instances; files in {res['work_dir']}")
    print(f"    ours  Service.move_next : {c['ours_moves_per_s']:9.1f} moves/s  ({c['ours_moves_per_cpu_s']:8.1f} "
          f"per CPU s)  runs: {', '.join(f'{x:.1f}' for x in c['ours_runs'])}")
    print(f"    bare  sqlite3           : {c['bare_moves_per_s']:9.1f} moves/s  ({c['bare_moves_per_cpu_s']:8.1f} "
          f"per CPU s)  runs: {', '.join(f'{x:.1f}' for x in c['bare_runs'])}")
    print(f"    ours / bare = {c['ratio']:.3f}  {verdict('durable', c['ratio'])[1]}   (per run: "
          f"{', '.join(f'{x:.3f}' for x in c['paired_ratios'])}; per CPU second: {c['cpu_ratio']:.3f}, not a goal)")
    how = "reused from the cache" if res["reused"] else "built now"
    print(f"\n(d) {res['rows']:,} rows ({how}; the load took {res['load_s']:.1f} s; file "
          f"{res['big_mb']:.0f} MB) against {SMALL_ROWS:,} rows, {res['ops']} operations of each kind, interleaved")
    m, p, u = d["median_ms"], d["p90_ms"], d["cpu_median_ms"]
    for what, key in (("move_next   ", "move"), ("process_bar ", "bar")):
        ratio = d[f"{key}_ratio"]
        print(f"    {what}: big {m[f'big_{key}']:7.3f} ms (p90 {p[f'big_{key}']:7.3f})   small "
              f"{m[f'small_{key}']:7.3f} ms (p90 {p[f'small_{key}']:7.3f})   big / small = {ratio:.3f}  "
              f"{verdict(f'{key}_scale', ratio)[1]}")
        print(f"                  CPU: big {u[f'big_{key}']:7.3f} ms   small {u[f'small_{key}']:7.3f} ms   "
              f"big / small = {d[f'{key}_cpu_ratio']:.3f} (not a goal)")
    print(f"    stage_counts({PROCESSES[0]!r}) {d['stage_counts_ms']:.2f} ms  vs  count(*) {d['count_all_ms']:.2f} ms "
          f"(median of {res['count_repeat']}): ratio {d['counts_ratio']:.3f}  "
          f"{verdict('counts', d['counts_ratio'])[1]}")
    print(f"      counts {d['stage_counts']} of {d['instances']:,} instances")
    print(f"    EXPLAIN QUERY PLAN {d['count_sql']}")
    for line in d["plans"]["stage_counts"]:
        print(f"      {line}")
    print(f"    EXPLAIN QUERY PLAN {d['count_all_sql']}")
    for line in d["plans"]["count(*)"]:
        print(f"      {line}")
    print(f"\nwhole run {res['total_s']:.0f} s")
    for part in (c, d):
        if part["profile"]:
            print(part["profile"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="records and instances in the big database")
    ap.add_argument("--seconds", type=float, default=3.0, help="(c): seconds per run")
    ap.add_argument("--repeat", type=int, default=3, help="(c): runs per side, best kept")
    ap.add_argument("--slices", type=int, default=6, help="(c): each run cut in this many slices, sides in turn")
    ap.add_argument("--pool", type=int, default=30_000, help="(c): instances per side (3 moves each)")
    ap.add_argument("--ops", type=int, default=500, help="(d): operations of each kind on each database")
    ap.add_argument("--count-repeat", type=int, default=7, help="(d): runs of stage_counts and count(*)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "bpf-bench-storage"),
                    help="where the big database is kept between runs (and the 1,000-row one made, next to it)")
    ap.add_argument("--work-dir", default=None, help="where (c)'s two files go (default: the temp folder; "
                    "/dev/shm shows the CPU-bound case, fsync being free there)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--profile", action="store_true", help="add cProfiles of our moves and bars")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    program = load_program()
    rows, note = choose_rows(args.cache_dir, args.rows, args.seed)
    if note and not args.json:
        print(f"NOTE: {note}", file=sys.stderr)
    if not args.json:
        print(f"loading or reusing the {rows:,}-row database in {args.cache_dir} ...", file=sys.stderr)
    big_path, load_s, reused = big_db(args.cache_dir, rows, args.seed, program)
    with tempfile.TemporaryDirectory(prefix="bpf-bench-", dir=args.work_dir) as tmp:
        durable = bench_durable(program, tmp, args)
    # The 1,000-row database sits next to the big one: the same file system, the same fsync.
    with tempfile.TemporaryDirectory(prefix="small-", dir=args.cache_dir) as tmp:
        scale = bench_scale(program, big_path, tmp, args)
    res = {
        "rows": rows, "requested_rows": args.rows, "note": note, "load_s": load_s, "reused": reused,
        "big_mb": os.path.getsize(big_path) / 1024**2, "folder": os.path.dirname(big_path),
        "work_dir": args.work_dir or tempfile.gettempdir(),
        "seconds": args.seconds, "slices": args.slices, "repeat": args.repeat, "ops": args.ops,
        "count_repeat": args.count_repeat,
        "durable": durable, "scale": scale, "total_s": time.perf_counter() - started,
    }
    values = {"durable": durable["ratio"], "move_scale": scale["move_ratio"], "bar_scale": scale["bar_ratio"],
              "counts": scale["counts_ratio"]}
    res["goals"] = {k: {"value": v, "goal": f"{GOALS[k][0]} {GOALS[k][1]}", "pass": verdict(k, v)[0],
                        "what": GOALS[k][2]} for k, v in values.items()}
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    else:
        report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
