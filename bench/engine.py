"""How fast the pure engine moves instances in memory, next to `transitions` and SpiffWorkflow.

::

    python bench/engine.py [--seconds 3] [--repeat 3] [--json] [--profile]

In one process, side by side (issue 3's benchmark points):

(a) moveNext in memory with a gate and a branch. Ours: ``step(defn, state, Next(), now,
    data, by)`` on a 4-stage process (Qualify, Develop, Propose, Close) whose first
    stage has a required step (the gate, satisfied) and with an ``if`` between
    Qualify and Develop (the decision is evaluated on every move), from Qualify to
    Close, then back to the started state (reused, not counted): 3 moves a cycle.
    Peer: a ``transitions.Machine`` with the same 4 states and a ``next`` trigger,
    a condition callback on leaving Qualify (the gate) and a conditional transition
    (the branch), both reading a record dict; back to Qualify by assigning
    ``model.state`` (free, like reusing our state). Only moves are counted; each
    move's result is checked on both sides (our ``.state`` fails on a ``Refused``,
    a ``False`` trigger raises). Goal: ours / transitions >= 1.
(b) a whole instance in memory, start to finish. Ours, per instance: a fresh record
    put in :class:`MemoryData`, ``start``, 3 ``Next``, ``Finish`` on the same process
    as (a) (so with its gate and branch), each step's effects applied (none here).
    Peer: SpiffWorkflow running a BPMN process of start event, 4 user tasks in
    sequence, end event (parsed once; per instance a new ``BpmnWorkflow``, run to
    completion, completing each ready user task). Goal: ours / SpiffWorkflow >= 20.
(c), (d): durable moveNext on SQLite and the million-row checks are in bench/storage.py.

Each figure is the best of ``--repeat`` runs of ``--seconds`` each, ours and the
peer interleaved so that a busy machine slows both alike (``time.perf_counter``; a
``gc.collect()`` before each run, the collector left on). The CPU time of the
process (``time.process_time``) and the rate of the fastest batch (a few ms of work
each; the least disturbed by other processes) are shown too, with their ratios: on
a busy machine the three disagree, and a verdict that holds on all three is
trustworthy. The goal is judged on CPU time: both sides are single-threaded and
CPU-bound, and on a shared machine the wall clock mostly measures what other
processes did meanwhile (seen here: the wall-clock ratio moved 0.9-1.9 between
runs while the CPU-time ratio stayed within 1.3-1.4). Before
timing, each side is checked to take the path it claims: the gate refuses an empty
title, the branch skips Develop for a small amount. It prints the figures, the
ratios and PASS or MISS against the goals, and exits 0 either way: it is a
measurement, not a test. ``--profile`` adds a cProfile of our side of (a) and (b).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

import bpf_dsl
from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.engine import Finish, InstanceState, MemoryData, Moved, Next, Refused, start, step
from bpf_dsl.engine.outcome import TransitionErrorCode

try:
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState
    from transitions import Machine
except ImportError as exc:  # pragma: no cover - a setup problem, said plainly
    sys.exit(f"bench/engine.py needs its peers: pip install -e '.[bench]' ({exc})")

GOALS = {
    "move_next": (">=", 1.0, "(a) moveNext: ours / transitions"),
    "instance": (">=", 20.0, "(b) instance: ours / SpiffWorkflow"),
}

STAGES = ("Qualify", "Develop", "Propose", "Close")
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
BY = "ann"
BIG = 5000  # amount > 100 takes the branch into Develop

SOURCE = """
role seller

entity deal "Deal" {
    title: text required
    amount: money
}

process sale "Sale" on deal {
    roles seller

    stage qualify "Qualify" {
        step title required
    }
    if amount > 100 {
        stage develop "Develop" {
            step amount
        }
    }
    stage propose "Propose" {
        step amount
    }
    stage close "Close" {
        step amount
    }
}
"""

BPMN = """<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="bench"
             targetNamespace="http://bpf.example/bench">
  <process id="sale" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f0" sourceRef="start" targetRef="qualify"/>
    <userTask id="qualify" name="Qualify"/>
    <sequenceFlow id="f1" sourceRef="qualify" targetRef="develop"/>
    <userTask id="develop" name="Develop"/>
    <sequenceFlow id="f2" sourceRef="develop" targetRef="propose"/>
    <userTask id="propose" name="Propose"/>
    <sequenceFlow id="f3" sourceRef="propose" targetRef="close"/>
    <userTask id="close" name="Close"/>
    <sequenceFlow id="f4" sourceRef="close" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>
"""

# Work per timed batch: enough that reading the clock between batches costs nothing.
CYCLES_PER_BATCH = 100  # (a): 300 moves
OURS_INSTANCES_PER_BATCH = 50  # (b)
SPIFF_INSTANCES_PER_BATCH = 2


# -- ours ------------------------------------------------------------------------------------------


def our_process() -> tuple[Program, ProcessDefinition]:
    program = bpf_dsl.load_source(SOURCE, "bench-engine.bpf")
    return program, program.processes["sale"]


def _walk(defn: ProcessDefinition, data: MemoryData, record_id: str) -> tuple[list[str], InstanceState]:
    state = start(defn, "I-check", record_id, NOW, data, BY).state
    path = [defn.stages[state.active_stage].label]
    while True:
        outcome = step(defn, state, Next(), NOW, data, BY)
        if isinstance(outcome, Refused):
            assert outcome.code == TransitionErrorCode.END, outcome
            return path, state
        state = outcome.state
        path.append(defn.stages[state.active_stage].label)


def check_ours(program: Program, defn: ProcessDefinition) -> None:
    """Our process takes the path (a) and (b) time, and its gate and branch are real."""
    data = MemoryData(program.entities, program.rules)
    data.put("deal", "D1", title="Fleet", amount=BIG)
    path, state = _walk(defn, data, "D1")
    assert path == list(STAGES), path
    assert isinstance(step(defn, state, Finish(), NOW, data, BY), Moved)
    data.put("deal", "D2", title="Fleet", amount=50)
    path, _ = _walk(defn, data, "D2")
    assert path == ["Qualify", "Propose", "Close"], f"the branch is not taken: {path}"
    data.put("deal", "D3", title="", amount=BIG)
    held = step(defn, start(defn, "I-gate", "D3", NOW, data, BY).state, Next(), NOW, data, BY)
    assert isinstance(held, Refused) and held.code == TransitionErrorCode.STAGE_GATE, held


def ours_move_next(program: Program, defn: ProcessDefinition) -> Callable[[], int]:
    """(a) ours: a batch of Qualify -> Develop -> Propose -> Close cycles from a started state."""
    data = MemoryData(program.entities, program.rules)
    data.put("deal", "D1", title="Fleet", amount=BIG)
    started = start(defn, "I1", "D1", NOW, data, BY).state

    def batch() -> int:
        for _ in range(CYCLES_PER_BATCH):
            s = started
            s = step(defn, s, Next(), NOW, data, BY).state  # a Refused has no .state: it fails loudly
            s = step(defn, s, Next(), NOW, data, BY).state
            s = step(defn, s, Next(), NOW, data, BY).state
        assert s.active_stage == 3
        return 3 * CYCLES_PER_BATCH

    return batch


def ours_instance(program: Program, defn: ProcessDefinition) -> Callable[[], int]:
    """(b) ours: a batch of whole instances, each on a fresh record (a fresh MemoryData per timed run)."""
    counter = [0]
    data = [MemoryData(program.entities, program.rules)]

    def batch() -> int:
        d = data[0]
        n = counter[0]
        for i in range(n, n + OURS_INSTANCES_PER_BATCH):
            record_id = f"D{i}"
            d.put("deal", record_id, title="Fleet", amount=BIG)
            moved = start(defn, f"I{i}", record_id, NOW, d, BY)
            d.apply(moved.effects)
            for action in (Next(), Next(), Next(), Finish()):
                outcome = step(defn, moved.state, action, NOW, d, BY)
                if not isinstance(outcome, Moved):
                    raise AssertionError(outcome)
                moved = outcome
                d.apply(moved.effects)
            assert moved.state.status == "finished"
        counter[0] = n + OURS_INSTANCES_PER_BATCH
        return OURS_INSTANCES_PER_BATCH

    def fresh() -> None:
        data[0] = MemoryData(program.entities, program.rules)

    batch.fresh = fresh  # type: ignore[attr-defined]
    return batch


# -- transitions -----------------------------------------------------------------------------------


class Deal:
    """The transitions model: the record's fields, and the gate and branch conditions read from them."""

    def __init__(self, title: str, amount: int) -> None:
        self.record: dict[str, Any] = {"title": title, "amount": amount}

    def gate(self) -> bool:
        """Qualify's required step: the title is filled."""
        return bool(self.record.get("title"))

    def big(self) -> bool:
        """The branch: amount > 100 goes through Develop."""
        amount = self.record.get("amount")
        return amount is not None and amount > 100


def transitions_machine(title: str = "Fleet", amount: int = BIG) -> tuple[Machine, Deal]:
    model = Deal(title, amount)
    machine = Machine(model, states=list(STAGES), initial="Qualify", auto_transitions=False)
    machine.add_transition("next", "Qualify", "Develop", conditions=["gate", "big"])
    machine.add_transition("next", "Qualify", "Propose", conditions="gate", unless="big")
    machine.add_transition("next", "Develop", "Propose")
    machine.add_transition("next", "Propose", "Close")
    return machine, model


def check_transitions() -> None:
    """The peer's machine takes the same path, and its gate and branch are real."""
    for amount, want in ((BIG, list(STAGES)), (50, ["Qualify", "Propose", "Close"])):
        _, model = transitions_machine(amount=amount)
        path = [model.state]  # type: ignore[attr-defined]
        while model.state != "Close":  # type: ignore[attr-defined]
            assert model.next()  # type: ignore[attr-defined]
            path.append(model.state)  # type: ignore[attr-defined]
        assert path == want, path
    _, model = transitions_machine(title="")
    assert not model.next() and model.state == "Qualify"  # type: ignore[attr-defined]


def transitions_move_next() -> Callable[[], int]:
    """(a) peer: a batch of the same cycles, counting ``next`` triggers."""
    _, model = transitions_machine()
    nxt = model.next  # type: ignore[attr-defined]

    def batch() -> int:
        for _ in range(CYCLES_PER_BATCH):
            model.state = "Qualify"  # type: ignore[attr-defined]  # what Machine.set_state does, minus lookups
            if not (nxt() and nxt() and nxt()):
                raise AssertionError("a transitions move was refused")
        assert model.state == "Close"  # type: ignore[attr-defined]
        return 3 * CYCLES_PER_BATCH

    return batch


# -- SpiffWorkflow ---------------------------------------------------------------------------------


def spiff_spec() -> Any:
    parser = BpmnParser()
    parser.add_bpmn_str(BPMN.encode("utf-8"))
    return parser.get_spec("sale")


def spiff_run(spec: Any) -> list[str]:
    """One instance to completion: the names of the user tasks completed, in order."""
    wf = BpmnWorkflow(spec)
    wf.do_engine_steps()
    done: list[str] = []
    while not wf.is_completed():
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            raise AssertionError("the SpiffWorkflow instance is stuck")
        for task in ready:
            done.append(task.task_spec.name)
            task.run()
        wf.do_engine_steps()
    return done


def check_spiff(spec: Any) -> None:
    done = spiff_run(spec)
    assert done == [s.lower() for s in STAGES], done


def spiff_instance(spec: Any) -> Callable[[], int]:
    def batch() -> int:
        for _ in range(SPIFF_INSTANCES_PER_BATCH):
            spiff_run(spec)
        return SPIFF_INSTANCES_PER_BATCH

    return batch


# -- measuring -------------------------------------------------------------------------------------


def timed_rate(batch: Callable[[], int], seconds: float) -> tuple[float, float, float, int]:
    """Units per second of ``batch`` run for about ``seconds``: by wall time, by CPU time, the rate of the
    fastest batch (the least disturbed by other processes), and the count."""
    fresh = getattr(batch, "fresh", None)
    if fresh is not None:
        fresh()
    gc.collect()
    n = 0
    peak = 0.0
    c0, w0 = time.process_time(), time.perf_counter()
    deadline = w0 + seconds
    b0 = w0
    while True:
        k = batch()
        w1 = time.perf_counter()
        n += k
        peak = max(peak, k / max(w1 - b0, 1e-9))
        if w1 >= deadline:
            break
        b0 = w1
    c1 = time.process_time()
    return n / (w1 - w0), n / max(c1 - c0, 1e-9), peak, n


def best_rates(fns: dict[str, Callable[[], int]], seconds: float, repeat: int,
               log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Each of ``fns`` run ``repeat`` times for ``seconds``, interleaved; the best rates kept (and all runs)."""
    for fn in fns.values():  # warm up: caches, lazily built structures
        fn()
    out: dict[str, dict[str, Any]] = {name: {"wall": 0.0, "cpu": 0.0, "peak": 0.0, "runs": []} for name in fns}
    for r in range(repeat):
        for name, fn in fns.items():
            wall, cpu, peak, n = timed_rate(fn, seconds)
            res = out[name]
            res["wall"] = max(res["wall"], wall)
            res["cpu"] = max(res["cpu"], cpu)
            res["peak"] = max(res["peak"], peak)
            res["runs"].append(round(wall, 1))
            log(f"    run {r + 1}/{repeat} {name:<12} {wall:>10,.0f} /s wall {cpu:>10,.0f} /s CPU "
                f"{peak:>10,.0f} /s fastest batch  ({n:,} in all)")
    return out


def judge(key: str, value: float) -> str:
    op, goal, _ = GOALS[key]
    ok = value >= goal if op == ">=" else value <= goal
    return "PASS" if ok else "MISS"


def profile(batch: Callable[[], int], runs: int, title: str, top: int) -> str:
    """cProfile of ``runs`` batches: the functions that dominate, by own time and by cumulative time."""
    fresh = getattr(batch, "fresh", None)
    if fresh is not None:
        fresh()
    gc.collect()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        batch()
    prof.disable()
    out = io.StringIO()
    out.write(f"== profile: {title} ==\n")
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each timed run (default 3)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side, interleaved, the best kept (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON only")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of our side of (a) and (b)")
    ap.add_argument("--top", type=int, default=25, help="functions shown per profile table (default 25)")
    args = ap.parse_args(argv)
    repeat = max(1, args.repeat)
    seconds = max(0.05, args.seconds)

    def log(msg: str) -> None:
        if not args.json:
            print(msg, flush=True)

    import SpiffWorkflow
    import transitions

    versions = {"python": sys.version.split()[0], "bpf_dsl": bpf_dsl.__version__,
                "transitions": transitions.__version__, "SpiffWorkflow": SpiffWorkflow.__version__}
    log("bench/engine.py: " + ", ".join(f"{k} {v}" for k, v in versions.items()) +
        f"; best of {repeat} runs of {seconds:g} s each, interleaved")

    program, defn = our_process()
    spec = spiff_spec()
    check_ours(program, defn)
    check_transitions()
    check_spiff(spec)
    log("  checked: both sides take Qualify -> Develop -> Propose -> Close; the gate holds an empty title; "
        "a small amount skips Develop")

    log("  (a) moveNext with a gate and a branch: ours vs transitions ...")
    a = best_rates({"ours": ours_move_next(program, defn), "transitions": transitions_move_next()},
                   seconds, repeat, log)
    log("  (b) whole 4-stage instance: ours vs SpiffWorkflow ...")
    b = best_rates({"ours": ours_instance(program, defn), "spiff": spiff_instance(spec)}, seconds, repeat, log)

    wall_ratios = {"move_next": a["ours"]["wall"] / a["transitions"]["wall"],
                   "instance": b["ours"]["wall"] / b["spiff"]["wall"]}
    ratios = {"move_next": a["ours"]["cpu"] / a["transitions"]["cpu"],
                           "instance": b["ours"]["cpu"] / b["spiff"]["cpu"]}
    peak_ratios = {"move_next": a["ours"]["peak"] / a["transitions"]["peak"],
                   "instance": b["ours"]["peak"] / b["spiff"]["peak"]}

    profiles: list[str] = []
    if args.profile:
        profiles.append(profile(ours_move_next(program, defn), 100, "(a) ours, 30,000 moveNext", args.top))
        profiles.append(profile(ours_instance(program, defn), 100, "(b) ours, 5,000 instances", args.top))

    placeholder = "(c) and (d): see bench/storage.py"
    results = {
        "versions": versions, "seconds_per_run": seconds, "repeat": repeat,
        "move_next_per_second": {"ours": a["ours"]["wall"], "transitions": a["transitions"]["wall"],
                                 "ours_cpu": a["ours"]["cpu"], "transitions_cpu": a["transitions"]["cpu"],
                                 "ours_fastest_batch": a["ours"]["peak"],
                                 "transitions_fastest_batch": a["transitions"]["peak"],
                                 "runs": {k: v["runs"] for k, v in a.items()}},
        "instances_per_second": {"ours": b["ours"]["wall"], "spiff": b["spiff"]["wall"],
                                 "ours_cpu": b["ours"]["cpu"], "spiff_cpu": b["spiff"]["cpu"],
                                 "ours_fastest_batch": b["ours"]["peak"], "spiff_fastest_batch": b["spiff"]["peak"],
                                 "runs": {k: v["runs"] for k, v in b.items()}},
        "ratios": ratios, "wall_ratios": wall_ratios, "fastest_batch_ratios": peak_ratios,
        "goals": {k: f"{op} {goal}" for k, (op, goal, _) in GOALS.items()},
        "verdicts": {k: judge(k, v) for k, v in ratios.items()},
        "wall_verdicts": {k: judge(k, v) for k, v in wall_ratios.items()},
        "fastest_batch_verdicts": {k: judge(k, v) for k, v in peak_ratios.items()},
        "c_d": placeholder,
    }
    if args.json:
        print(json.dumps(results, indent=2))
        for p in profiles:
            print(p, file=sys.stderr)
        return 0

    print()
    print(f"{'measurement':<52}{'ours':>14}{'peer':>14}")
    print(f"{'(a) moveNext/s, gate + branch (peer: transitions)':<52}"
          f"{a['ours']['wall']:>14,.0f}{a['transitions']['wall']:>14,.0f}")
    print(f"{'    same, by CPU time':<52}{a['ours']['cpu']:>14,.0f}{a['transitions']['cpu']:>14,.0f}")
    print(f"{'    same, fastest batch':<52}{a['ours']['peak']:>14,.0f}{a['transitions']['peak']:>14,.0f}")
    print(f"{'(b) 4-stage instances/s (peer: SpiffWorkflow)':<52}"
          f"{b['ours']['wall']:>14,.0f}{b['spiff']['wall']:>14,.0f}")
    print(f"{'    same, by CPU time':<52}{b['ours']['cpu']:>14,.0f}{b['spiff']['cpu']:>14,.0f}")
    print(f"{'    same, fastest batch':<52}{b['ours']['peak']:>14,.0f}{b['spiff']['peak']:>14,.0f}")
    print()
    for key, value in ratios.items():
        op, goal, label = GOALS[key]
        print(f"{label:<40}{value:>9.2f}   goal {op} {goal:<5g}{judge(key, value):>6}"
              f"   by CPU time (wall clock {wall_ratios[key]:.2f} {judge(key, wall_ratios[key])}, "
              f"fastest batch {peak_ratios[key]:.2f} {judge(key, peak_ratios[key])})")
    print()
    # -- (c) durable moveNext on SQLite vs bare sqlite3, and (d) the million-row scaling checks: --
    # -- placeholders; another engineer writes them in bench/storage.py.                          --
    print(placeholder)
    for p in profiles:
        print()
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
