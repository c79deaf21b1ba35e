"""A worker process of test_contention_loses_no_update (started with the "spawn" method): it opens its own
Service on the shared database and hammers ``move_next``/``move_previous`` with expected versions
on the shared instances until its deadline, then writes what it saw as JSON.

A worker that crashes stops there, and still writes what it saw before, with the traceback under
``error``: the successes it reported committed must be in the history all the same.

With ``threads``, the worker's service runs group commit and that many threads hammer through it:
their commands are committed together, each in its savepoint, while the other processes do the same.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import bpf_dsl
from bpf_dsl.service import Caller, Service, open_service
from bpf_dsl.storage import InstanceRow

from .program import STAGES

CALLER = Caller("hammer", frozenset({"admin"}))


def hammer(url: str, bpf_path: str, instance_ids: list[str], seconds: float, seed: int,
           barrier: threading.Barrier, out_path: str, threads: int = 0) -> None:
    """Run the loop; what it saw (and the traceback of a crash) goes to ``out_path``."""
    seen: dict[str, Any] = {"pid": os.getpid(), "seed": seed, "attempts": 0, "conflicts": 0, "slowest": 0.0,
                            "successes": [], "others": [], "times": {"began": time.time()}}
    try:
        _hammer(url, bpf_path, instance_ids, seconds, seed, barrier, seen, threads)
    except BaseException:
        barrier.abort()  # the others must not wait for a worker that is gone
        seen["error"] = traceback.format_exc()
        raise
    finally:
        Path(out_path).write_text(json.dumps(seen), encoding="utf-8")


def _hammer(url: str, bpf_path: str, instance_ids: list[str], seconds: float, seed: int,
            barrier: threading.Barrier, seen: dict[str, Any], threads: int) -> None:
    times = seen["times"]
    svc = open_service(bpf_dsl.load([bpf_path]), url)
    if threads:
        svc.start_group_commit()
    try:
        times["opened"] = time.time()
        barrier.wait(timeout=120)  # every worker hammers over the same window
        times["started"] = time.time()
        deadline = time.monotonic() + seconds
        lock = threading.Lock()
        if not threads:
            _loop(svc, instance_ids, deadline, random.Random(seed), seen, lock)
        else:
            failed: list[BaseException] = []

            def run(n: int) -> None:
                try:
                    _loop(svc, instance_ids, deadline, random.Random(seed * 100 + n), seen, lock)
                except BaseException as exc:
                    failed.append(exc)

            workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if failed:
                raise failed[0]
        times["ended"] = time.time()
    finally:
        svc.stop_group_commit()
        svc.storage.close()


def _loop(svc: Service, instance_ids: list[str], deadline: float, rng: random.Random, seen: dict[str, Any],
          lock: threading.Lock) -> None:
    successes: list[dict[str, Any]] = seen["successes"]
    others: list[dict[str, Any]] = seen["others"]
    while time.monotonic() < deadline:  # bounded: stops by itself at the deadline
        iid = rng.choice(instance_ids)
        row = svc.get_instance(CALLER, iid)
        if row is None:
            others.append({"instance": iid, "code": "NOT_FOUND_ON_READ"})
            continue
        at = STAGES.index(row.active_stage)
        if at == 0:
            kind = "next"  # BEGINNING: only forward
        elif at == len(STAGES) - 1:
            kind = "previous"  # END: only back
        else:
            kind = rng.choice(("next", "previous"))
        with lock:
            seen["attempts"] += 1
        t0 = time.monotonic()
        if kind == "next":
            got = svc.move_next(CALLER, iid, expected_version=row.version)
        else:
            got = svc.move_previous(CALLER, iid, expected_version=row.version)
        with lock:  # the longest single move command (waiting for the write lock included)
            seen["slowest"] = max(seen["slowest"], time.monotonic() - t0)
        if isinstance(got, InstanceRow):
            successes.append({"instance": iid, "version": got.version, "stage": got.active_stage,
                              "traversed": list(got.traversed), "kind": kind,
                              "from_version": row.version, "from_stage": row.active_stage})
        elif got.code == "VERSION_CONFLICT":
            with lock:
                seen["conflicts"] += 1
            if got.current_version is None or got.current_version <= row.version:
                others.append({"instance": iid, "code": got.code, "message": got.message,
                               "current_version": got.current_version, "expected": row.version})
        else:
            others.append({"instance": iid, "code": got.code, "message": got.message, "kind": kind,
                           "expected": row.version, "stage": row.active_stage})
