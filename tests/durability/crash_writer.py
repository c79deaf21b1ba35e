"""The writer test_sigkill_loses_no_acknowledged_move kills: moves instances of a SQLite database in a loop and
reports each commit.

    python crash_writer.py DATABASE_URL PROGRAM.bpf SEED [THREADS]

With THREADS (group commit), that many threads write at once through the service's group
commit, each moving instances of its own (so that none refuses another's move), and their
commands are committed together; thread 0 also creates.

It reports on stdout, one line per committed command, flushed at once and only after the
command returned a success (so its transaction has committed):

    INSTANCE_ID VERSION STAGE       after a move (move_next or move_previous)
    + RECORD_ID INSTANCE_ID         after creating a record (which starts its process)

It loads the program first, then waits for a line on stdin before it opens the database (the test
starts the next writer while the current one runs, so only the kill-to-restart gap is on the clock).
It never stops by itself: the test ends it with SIGKILL.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from collections.abc import Callable

import bpf_dsl
from bpf_dsl.service import Caller, Service, open_service
from bpf_dsl.storage import InstanceRow, RecordRow

CALLER = Caller("writer", frozenset({"admin"}))


def main(url: str, bpf_path: str, seed: int, threads: int = 0) -> None:
    program = bpf_dsl.load([bpf_path])
    (process,) = program.processes.values()  # the test's program: one process, on one entity
    stages = [s.name for s in process.stages]
    if not sys.stdin.readline():
        return  # the test ended before this writer's turn
    svc = open_service(program, url)
    ids: list[str] = []
    cursor = None
    while True:
        page = svc.list_records(CALLER, process.entity, first=500, after=cursor)
        ids += [r.active_instance_id for r in page.items if r.active_instance_id is not None]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    if not threads:
        write(svc, process.entity, stages, ids, random.Random(seed), report, creates=True)
        return
    svc.start_group_commit()

    def worker(n: int) -> None:
        try:
            write(svc, process.entity, stages, ids[n::threads], random.Random(seed * 100 + n), report, n == 0)
        except BaseException as exc:  # a thread's failure ends the writer, as the test expects of a failure
            sys.stderr.write(f"writer thread {n} failed: {exc!r}\n")
            sys.stderr.flush()
            os._exit(3)

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()  # never: the test kills the process


def write(svc: Service, entity: str, stages: list[str], ids: list[str], rng: random.Random,
          report: Callable[[str], None], creates: bool) -> None:
    """Move ``ids`` at random (and create now and then), reporting each command once it returned a success."""
    n = 0
    while True:
        n += 1
        if creates and n % 25 == 0:  # now and then a create: record, instance, first visit and event in one transaction
            created = svc.create_record(CALLER, entity, {"name": f"w{rng.random()}-{n}"})
            if not isinstance(created, RecordRow) or created.active_instance_id is None:
                raise SystemExit(f"create failed: {created}")
            ids.append(created.active_instance_id)
            report(f"+ {created.id} {created.active_instance_id}\n")
            continue
        iid = rng.choice(ids)
        row = svc.get_instance(CALLER, iid)
        if row is None:
            raise SystemExit(f"instance {iid} vanished")
        at = stages.index(row.active_stage)
        forward = at == 0 or (at < len(stages) - 1 and rng.random() < 0.6)
        if forward:
            got = svc.move_next(CALLER, iid, expected_version=row.version)
        else:
            got = svc.move_previous(CALLER, iid, expected_version=row.version)
        if not isinstance(got, InstanceRow):
            raise SystemExit(f"move refused: {got}")  # the only writer of its instances: nothing may refuse it
        report(f"{got.id} {got.version} {got.active_stage}\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
