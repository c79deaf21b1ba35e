"""``bpf import`` of a big CSV file, as a whole process, next to bare sqlite3 writing the same rows.

::

    python bench/import.py [--rows 100000] [--rounds 3] [--batch-size 500] [--json] [--profile] [--work-dir DIR]

Written first, in a temporary folder (``--work-dir``, default ``$TMPDIR``): a model
(an entity ``deal`` with eight typed fields, two with defaults; a default process on
it whose first stage asks for two fields; two business rules, one of which sets a
field and makes another required for big amounts) and a CSV file of ``--rows`` rows
(deterministic, every row valid). Then, ``--rounds`` times, in turn (which side goes
first alternates from round to round, so that a disk busy with others slows both
alike), each on a fresh SQLite file:

- ours: ``python -m bpf_dsl.cli import FILE --entity deal --model MODEL --db sqlite:///DB
  --batch-size N``: checking the model, making the schema, and for every row reading
  and validating it, defaults, rules, the record, its instance on the default process
  with its first stage visit, its history event and the stage counters, one
  transaction per batch;
- bare: a ``python`` script of the standard library only (``sqlite3``, ``csv``,
  ``json``, ``uuid``), written beside the data: it makes the same tables (the DDL of
  ``bpf_dsl/storage/schema.py``, read here and handed over as a file), reads the CSV,
  turns each row's cells into a JSON object of typed values, and writes a record row,
  an instance row and a stage-visit row per CSV row with ``executemany`` in batches of
  the same size, one ``BEGIN IMMEDIATE`` ... ``COMMIT`` each, in WAL with
  ``synchronous=FULL`` (our storage's pragmas), its ids made as our importer makes
  them (``bpf_dsl/service/ids.py``, copied into the script: the same ids cost SQLite
  the same b-tree work).

Before the timed rounds, each side runs once, untimed, on the first 100 rows (modules
compiled, files in the OS cache); the children cache compiled modules in the
temporary folder (``PYTHONPYCACHEPREFIX``) even where PYTHONDONTWRITEBYTECODE is set.

Both are whole processes (interpreter start included on both sides), timed from
start to exit with ``time.perf_counter``; their CPU time (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``) is printed beside it. After each run the
database is checked: ``--rows`` records, instances and visits (ours: as many history
events, and stage counters that add up to ``--rows``). It prints the medians, rows per
second of each side and the ratio ours / bare (rows/s), goal >= 0.5, PASS or MISS,
and exits 0 either way: a measurement, not a test. ``--profile`` adds a cProfile of
one more run of ours (the 30 costliest functions, cumulative).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL = 0.5  # ours / bare, rows per second

MODEL = """\
role sales "Sales"

entity deal "Deal" {
    title: text required
    amount: money min 0
    seats: integer min 1 max 10000
    hot: bool default false
    region: choice(north "North", south "South", east "East", west "West") default north
    tags: choices(a "A", b "B", c "C")
    discount: decimal min 0 max 100
    note: text max 200
}

process pipeline "Pipeline" on deal {
    order 1
    roles sales
    stage qualify "Qualify" {
        step title required
        step amount
    }
    stage develop "Develop" {
        step seats
    }
    stage close "Close" {
        step hot
    }
}

rule big_deals on deal {
    if amount >= 100000 {
        require seats
        set hot = true
    }
}

rule discounts on deal {
    if discount > 50 {
        error discount "A discount over 50% needs a manager"
    }
}
"""

COLUMNS = ["title", "amount", "seats", "hot", "region", "tags", "discount", "note"]

# The bare side: the standard library only, so that its process starts as fast as Python can.
BARE_MAIN = '''\
import csv, datetime, json, sqlite3, sys

csv_path, db_path, schema_path, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = sqlite3.connect(db_path, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("BEGIN IMMEDIATE")
for statement in open(schema_path).read().split(";\\n"):
    conn.execute(statement)
conn.execute("COMMIT")
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
BOOLS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
CONVERT = {"amount": int, "seats": int, "discount": int, "hot": BOOLS.__getitem__,
           "tags": lambda cell: sorted(cell.split(";"))}
RECORD = ("INSERT INTO records (id, entity, data, version, created_at, updated_at, active_instance_id) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)")
INSTANCE = ("INSERT INTO instances (id, record_id, process, definition_version, status, active_stage, traversed, "
            "bound, actions_done, stage_started_at, created_at, updated_at, completed_at, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
VISIT = ("INSERT INTO stage_visits (instance_id, process, stage, entity, record_id, entered_at, by_user) "
         "VALUES (?, ?, ?, ?, ?, ?, ?)")


def write(records, instances, visits):
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(RECORD, records)
    conn.executemany(INSTANCE, instances)
    conn.executemany(VISIT, visits)
    conn.execute("COMMIT")


records, instances, visits = [], [], []
with open(csv_path, newline="", encoding="utf-8") as handle:
    reader = csv.reader(handle)
    header = next(reader)
    for cells in reader:
        values = {}
        for name, cell in zip(header, cells):
            if cell:
                convert = CONVERT.get(name)
                values[name] = convert(cell) if convert else cell
        record_id, instance_id = ordered_id(), ordered_id()
        records.append((record_id, "deal", json.dumps(values, separators=(",", ":"), sort_keys=True), 1, now, now,
                        instance_id))
        instances.append((instance_id, record_id, "pipeline", "1", "active", "qualify", '["qualify"]',
                          json.dumps({"deal": record_id}, separators=(",", ":")), "[]", now, now, now, None, 1))
        visits.append((instance_id, "pipeline", "qualify", "deal", record_id, now, "system"))
        if len(records) >= batch:
            write(records, instances, visits)
            records, instances, visits = [], [], []
if records:
    write(records, instances, visits)
conn.close()
'''


def write_inputs(folder: Path, rows: int) -> tuple[Path, Path, Path, Path]:
    """The model, the CSV file, the bare script and the schema's DDL, in ``folder``."""
    from bpf_dsl.storage.schema import MIGRATIONS, statements

    model = folder / "deals.bpf"
    model.write_text(MODEL, encoding="utf-8")
    rng = random.Random(1)
    data = folder / "deals.csv"
    with data.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            hot = rng.choice(["yes", "no", ""])
            tags = rng.choice(["a", "a;b", "c", ""])
            out.write(f"Deal {i},{rng.randint(0, 200_000)},{rng.randint(1, 500)},{hot},"
                      f"{rng.choice(['north', 'south', 'east', 'west'])},{tags},{rng.randint(0, 50)},note {i}\n")
    bare = folder / "bare_import.py"
    # The ids: our importer's own generator, copied in (the same ids make the same b-tree work).
    ids = (Path(__file__).resolve().parents[1] / "bpf_dsl" / "service" / "ids.py").read_text(encoding="utf-8")
    bare.write_text(ids + "\n\n" + BARE_MAIN, encoding="utf-8")
    schema = folder / "schema.sql"
    schema.write_text(";\n".join(s for _, _, sql in MIGRATIONS for s in statements("sqlite", sql)), encoding="utf-8")
    return model, data, bare, schema


def fresh(path: Path) -> None:
    """No database file (nor its WAL) at ``path``."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def child_env(folder: Path) -> dict[str, str]:
    """The children's environment: compiled modules cached (in ``folder``, not beside the sources), as an
    installed bpf has them, even where PYTHONDONTWRITEBYTECODE is set."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``command`` to its end: (wall seconds, CPU seconds of the child, stdout); fails loudly if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def counts(db: Path, queries: dict[str, str]) -> dict[str, int]:
    """Each query's one number, on the file ``db``."""
    conn = sqlite3.connect(db)
    try:
        return {name: int(conn.execute(sql).fetchone()[0] or 0) for name, sql in queries.items()}
    finally:
        conn.close()


OURS_CHECKS = {
    "records": "SELECT count(*) FROM records",
    "records with their instance": "SELECT count(*) FROM records WHERE active_instance_id IS NOT NULL",
    "instances": "SELECT count(*) FROM instances",
    "visits": "SELECT count(*) FROM stage_visits",
    "events": "SELECT count(*) FROM instance_events WHERE kind = 'started'",
    "stage counters": "SELECT sum(n) FROM stage_counts WHERE active_stage = 'qualify'",
}
BARE_CHECKS = {k: OURS_CHECKS[k] for k in ("records", "instances", "visits")}


def verify(db: Path, checks: dict[str, str], rows: int, who: str) -> None:
    """Fail unless every count is ``rows``."""
    got = counts(db, checks)
    wrong = {k: v for k, v in got.items() if v != rows}
    if wrong:
        raise SystemExit(f"{who}: the database doesn't hold {rows:,} of each: {wrong}")


def ours_command(model: Path, data: Path, db: Path, batch: int) -> list[str]:
    return [sys.executable, "-m", "bpf_dsl.cli", "import", str(data), "--entity", "deal", "--model", str(model),
            "--db", f"sqlite:///{db}", "--batch-size", str(batch)]


def run_rounds(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    model, data, bare, schema = write_inputs(folder, args.rows)
    db = folder / "bench.db"
    env = child_env(folder)
    warm = folder / "warm.csv"  # a first run of each side, not timed: modules compiled, files in the OS cache
    warm.write_text("".join(data.open(encoding="utf-8").readlines()[:101]), encoding="utf-8")
    for command in (ours_command(model, warm, db, args.batch_size),
                    [sys.executable, str(bare), str(warm), str(db), str(schema), str(args.batch_size)]):
        fresh(db)
        timed(command, env)
    figures: dict[str, list[tuple[float, float]]] = {"ours": [], "bare": []}
    for number in range(args.rounds):
        order = ["ours", "bare"] if number % 2 == 0 else ["bare", "ours"]
        for side in order:
            fresh(db)
            if side == "ours":
                wall, cpu, out = timed(ours_command(model, data, db, args.batch_size), env)
                if f"imported {args.rows} deal record(s)" not in out:
                    raise SystemExit(f"ours: unexpected output: {out!r}")
                verify(db, OURS_CHECKS, args.rows, "ours")
            else:
                wall, cpu, _ = timed([sys.executable, str(bare), str(data), str(db), str(schema),
                                      str(args.batch_size)], env)
                verify(db, BARE_CHECKS, args.rows, "bare")
            figures[side].append((wall, cpu))
            if not args.json:
                print(f"  round {number + 1} {side:>4}: {wall:6.2f} s ({cpu:5.2f} s CPU), "
                      f"{args.rows / wall:9,.0f} rows/s", file=sys.stderr)
    fresh(db)
    profile = profile_ours(model, data, db, args.batch_size, folder, env) if args.profile else None
    fresh(db)
    result: dict[str, Any] = {"rows": args.rows, "batch_size": args.batch_size, "rounds": args.rounds}
    for side, runs in figures.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        result[side] = {"seconds": wall, "cpu_seconds": cpu, "rows_per_s": args.rows / wall,
                        "rows_per_cpu_s": args.rows / cpu, "runs": [list(r) for r in runs]}
    result["ratio"] = result["ours"]["rows_per_s"] / result["bare"]["rows_per_s"]
    result["ratio_cpu"] = result["ours"]["rows_per_cpu_s"] / result["bare"]["rows_per_cpu_s"]
    result["goal"] = GOAL
    result["pass"] = result["ratio"] >= GOAL
    if profile is not None:
        result["profile"] = profile
    return result


def profile_ours(model: Path, data: Path, db: Path, batch: int, folder: Path, env: dict[str, str]) -> str:
    """The 30 costliest functions (cumulative) of one more run of ours, under cProfile."""
    import io
    import pstats

    out = folder / "ours.prof"
    command = ours_command(model, data, db, batch)
    timed([command[0], "-m", "cProfile", "-o", str(out), *command[1:]], env)
    text = io.StringIO()
    pstats.Stats(str(out), stream=text).sort_stats("cumulative").print_stats(30)
    return text.getvalue()


def report(result: dict[str, Any]) -> None:
    ours, bare = result["ours"], result["bare"]
    print(f"bpf import of {result['rows']:,} CSV rows, batches of {result['batch_size']}, "
          f"median of {result['rounds']} round(s), whole processes:")
    print(f"  ours (bpf import): {ours['seconds']:6.2f} s  {ours['rows_per_s']:9,.0f} rows/s   "
          f"CPU {ours['cpu_seconds']:5.2f} s  {ours['rows_per_cpu_s']:9,.0f} rows/CPU s")
    print(f"  bare sqlite3:      {bare['seconds']:6.2f} s  {bare['rows_per_s']:9,.0f} rows/s   "
          f"CPU {bare['cpu_seconds']:5.2f} s  {bare['rows_per_cpu_s']:9,.0f} rows/CPU s")
    verdict = "PASS" if result["pass"] else "MISS"
    print(f"  ours / bare: {result['ratio']:.2f} (goal >= {result['goal']}) {verdict}; "
          f"per CPU second {result['ratio_cpu']:.2f}")
    if "profile" in result:
        print(result["profile"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction, both sides (500: "
                                                                     "bpf import's default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="and a cProfile of one more run of ours")
    parser.add_argument("--work-dir", help="where the files go (default: a new folder in $TMPDIR, removed after)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bpf-bench-import-", dir=args.work_dir))
    try:
        result = run_rounds(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
