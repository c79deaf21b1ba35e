"""A worker process of test_contention_loses_no_update (started with the "spawn" method): it opens its own
Service on the shared database and hammers ``move_next``/``move_previous`` with expected versions
on the shared instances until its deadline, then writes what it saw as JSON.

A worker that crashes stops there, and still writes what it saw before, with the traceback under
``error``: the successes it reported committed must be in the history all the same.
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
from bpf_dsl.service import Caller, open_service
from bpf_dsl.storage import InstanceRow

from .program import STAGES

CALLER = Caller("hammer", frozenset({"admin"}))


def hammer(url: str, bpf_path: str, instance_ids: list[str], seconds: float, seed: int,
           barrier: threading.Barrier, out_path: str) -> None:
    """Run the loop; what it saw (and the traceback of a crash) goes to ``out_path``."""
    seen: dict[str, Any] = {"pid": os.getpid(), "seed": seed, "attempts": 0, "conflicts": 0, "slowest": 0.0,
                            "successes": [], "others": [], "times": {"began": time.time()}}
    try:
        _hammer(url, bpf_path, instance_ids, seconds, seed, barrier, seen)
    except BaseException:
        barrier.abort()  # the others must not wait for a worker that is gone
        seen["error"] = traceback.format_exc()
        raise
    finally:
        Path(out_path).write_text(json.dumps(seen), encoding="utf-8")


def _hammer(url: str, bpf_path: str, instance_ids: list[str], seconds: float, seed: int,
            barrier: threading.Barrier, seen: dict[str, Any]) -> None:
    rng = random.Random(seed)
    times = seen["times"]
    successes: list[dict[str, Any]] = seen["successes"]
    others: list[dict[str, Any]] = seen["others"]
    svc = open_service(bpf_dsl.load([bpf_path]), url)
    try:
        times["opened"] = time.time()
        barrier.wait(timeout=120)  # every worker hammers over the same window
        times["started"] = time.time()
        deadline = time.monotonic() + seconds
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
            seen["attempts"] += 1
            t0 = time.monotonic()
            if kind == "next":
                got = svc.move_next(CALLER, iid, expected_version=row.version)
            else:
                got = svc.move_previous(CALLER, iid, expected_version=row.version)
            # the longest single move command (waiting for the write lock included)
            seen["slowest"] = max(seen["slowest"], time.monotonic() - t0)
            if isinstance(got, InstanceRow):
                successes.append({"instance": iid, "version": got.version, "stage": got.active_stage,
                                  "traversed": list(got.traversed), "kind": kind,
                                  "from_version": row.version, "from_stage": row.active_stage})
            elif got.code == "VERSION_CONFLICT":
                seen["conflicts"] += 1
                if got.current_version is None or got.current_version <= row.version:
                    others.append({"instance": iid, "code": got.code, "message": got.message,
                                   "current_version": got.current_version, "expected": row.version})
            else:
                others.append({"instance": iid, "code": got.code, "message": got.message, "kind": kind,
                               "expected": row.version, "stage": row.active_stage})
        times["ended"] = time.time()
    finally:
        svc.storage.close()
