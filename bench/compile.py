"""How fast `bpf check` is on a big file, next to lark's own parsers on the same text.

::

    python bench/compile.py [--lines 10000] [--repeat 5] [--earley-budget 300] [--json] [--profile]

In one process, on one generated file (bench/gen_bpf.py, checked to give no
diagnostic at all before anything is timed):

(a) ours: ``bpf_dsl.check_paths([file])``: read, parse with
    the AST built during the parse, every check, compile;
(b) lark's bare LALR parse of the same text with our grammar and no
    transformer (``build_bare_lalr().parse(text)``): the floor;
(c) lark's Earley parser with the same grammar, once: on the whole file if a
    probe says it fits in ``--earley-budget`` seconds (and it is stopped at the
    budget regardless), else on a prefix cut at a declaration boundary, scaled
    linearly by line count;
(d) a cold check with the on-disk cache enabled (``cache=CheckCache(folder)``,
    a fresh folder each time, as ``bpf check`` does), then re-checks of the
    unchanged file (cache hits).

Each timing is the best of ``--repeat`` runs (``time.perf_counter``; a
``gc.collect()`` before each run, the collector left on). The lark objects are
built before timing: grammar analysis is not part of a parse. It prints a table
and three ratios against their goals, PASS or MISS, and exits 0 either way:
it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_bpf import generate

import bpf_dsl
from bpf_dsl.parser import build_bare_lalr

GOALS = {
    "ours_over_lalr": ("<=", 1.5, "ours / bare LALR"),
    "earley_over_ours": (">=", 30.0, "Earley / ours"),
    "recheck_over_cold": ("<", 0.05, "re-check / cold check"),
}

_DECL = re.compile(r"(?:import|role|entity|extend|process|rule)\b")


def best_of(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, float, Any]]:
    """Each of ``fns`` run ``repeat`` times, interleaved so that they share the machine's load alike.

    For each: the shortest wall time (``perf_counter``), the shortest CPU time of this process
    (``process_time``, less disturbed by other processes), and the last result.
    """
    wall = dict.fromkeys(fns, float("inf"))
    cpu = dict.fromkeys(fns, float("inf"))
    last: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            last[name] = fn()
            w1, c1 = time.perf_counter(), time.process_time()
            wall[name] = min(wall[name], w1 - w0)
            cpu[name] = min(cpu[name], c1 - c0)
            last[name] = None if name == "lalr" else last[name]  # don't keep a big tree alive
    return {name: (wall[name], cpu[name], last[name]) for name in fns}


def prefix_at_declaration(text: str, lines: int) -> tuple[str, int]:
    """The text up to the last top-level declaration that starts at or before line ``lines + 1``."""
    all_lines = text.splitlines(keepends=True)
    cut = 0
    for i, line in enumerate(all_lines[: lines + 1]):
        if i and _DECL.match(line):
            cut = i
    cut = cut or min(lines, len(all_lines))
    return "".join(all_lines[:cut]), cut


class _Timeout(Exception):
    pass


def _timed_with_alarm(fn: Callable[[], Any], seconds: float) -> float | None:
    """Time one run of ``fn``; None if it was stopped after ``seconds`` (SIGALRM, main thread)."""
    if not hasattr(signal, "setitimer"):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    def _stop(signum: int, frame: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        gc.collect()
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    except _Timeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def measure_earley(text: str, budget: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Earley once: the whole file if a probe says it fits the budget, else a prefix, scaled by lines."""
    earley = build_bare_lalr(earley=True)
    total_lines = text.count("\n")
    # A probe on ~3% of the file (at least ~150 lines) to estimate the whole, with room for superlinear growth.
    probe_text, probe_lines = prefix_at_declaration(text, max(150, total_lines // 33))
    probe = _timed_with_alarm(lambda: earley.parse(probe_text), budget)
    if probe is None:
        return {"mode": "none", "seconds": None, "measured_lines": probe_lines, "measured_seconds": None,
                "note": f"even a {probe_lines}-line prefix took longer than the budget"}
    estimate = probe * total_lines / probe_lines
    log(f"  Earley probe: {probe_lines} lines in {probe:.2f} s; the whole file would take ~{estimate:.0f} s")
    if estimate * 3 <= budget:
        full = _timed_with_alarm(lambda: earley.parse(text), budget)
        if full is not None:
            return {"mode": "full", "seconds": full, "measured_lines": total_lines, "measured_seconds": full,
                    "note": f"Earley parsed the whole file ({total_lines} lines)"}
        log(f"  Earley: stopped after the {budget:.0f} s budget on the whole file; measuring a prefix")
    # A prefix sized to take about a sixth of the budget, by the probe's rate.
    want = max(probe_lines, int(probe_lines * (budget / 6) / max(probe, 1e-9)))
    pre_text, pre_lines = prefix_at_declaration(text, min(want, total_lines - 1))
    part = _timed_with_alarm(lambda: earley.parse(pre_text), budget)
    if part is None:
        pre_text, pre_lines, part = probe_text, probe_lines, probe
    scaled = part * total_lines / pre_lines
    return {"mode": "prefix", "seconds": scaled, "measured_lines": pre_lines, "measured_seconds": part,
            "note": f"Earley parsed a {pre_lines}-line prefix (cut at a declaration) in {part:.2f} s; "
                    f"scaled linearly to {total_lines} lines"}


def judge(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    op, goal, _ = GOALS[key]
    ok = value <= goal if op == "<=" else value >= goal if op == ">=" else value < goal
    return "PASS" if ok else "MISS"


def profile_check(path: str, top: int = 30) -> str:
    """cProfile of one full check: the functions that dominate, by own time and by cumulative time."""
    gc.collect()
    prof = cProfile.Profile()
    prof.enable()
    bpf_dsl.check_paths([path])
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000, help="size of the generated file (default 10000)")
    ap.add_argument("--seed", type=int, default=1, help="the generator's seed (default 1)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement, the best is kept (default 5)")
    ap.add_argument("--earley-budget", type=float, default=300.0,
                    help="seconds Earley may take on the whole file before a prefix is used (default 300)")
    ap.add_argument("--no-earley", action="store_true", help="skip the Earley measurement")
    ap.add_argument("--json", action="store_true", help="print the results as JSON only")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one full check")
    args = ap.parse_args(argv)
    repeat = max(1, args.repeat)

    def log(msg: str) -> None:
        if not args.json:
            print(msg, flush=True)

    with tempfile.TemporaryDirectory(prefix="bpf-bench-") as tmp:
        text = generate(args.lines, args.seed)
        path = os.path.join(tmp, "bench.bpf")
        Path(path).write_text(text, encoding="utf-8")
        n_lines = text.count("\n")
        n_bytes = len(text.encode("utf-8"))
        log(f"bench: {n_lines} lines, {n_bytes / 1024:.0f} KiB (seed {args.seed}), best of {repeat}")

        # Valid before anything is timed: not one diagnostic, and a compiled program.
        report = bpf_dsl.check_paths([path])
        assert not report.diagnostics, "the generated file must check clean:\n" + report.render()
        assert report.program is not None

        lalr = build_bare_lalr()  # grammar analysis happens here, not in the timings
        lalr.parse(text)  # warm

        log(f"  (a) ours: full check, and (b) bare LALR parse, interleaved, {repeat} times each ...")
        timed = best_of({"ours": lambda: bpf_dsl.check_paths([path]),
                         "lalr": lambda: lalr.parse(text)}, repeat)
        t_ours, c_ours, report = timed["ours"]
        t_lalr, c_lalr, _ = timed["lalr"]
        assert report.program is not None and not report.diagnostics

        log("  (d) cold checks with the cache (a fresh cache folder each), then re-checks ...")
        colds: list[float] = []
        hit_dir = os.path.join(tmp, "cache-hit")
        for i in range(repeat):
            cold_cache = bpf_dsl.CheckCache(Path(tmp) / f"cache-cold-{i}")
            gc.collect()
            start = time.perf_counter()
            cold_report = bpf_dsl.check_paths([path], cache=cold_cache)
            colds.append(time.perf_counter() - start)
            assert not cold_report.cached and cold_report.program is not None
        t_cold = min(colds)
        hit_cache = bpf_dsl.CheckCache(Path(hit_dir))
        bpf_dsl.check_paths([path], cache=hit_cache)  # fills the cache
        t_recheck, _, hit = best_of({"recheck": lambda: bpf_dsl.check_paths([path], cache=hit_cache)},
                                    repeat)["recheck"]
        assert hit.cached and not hit.diagnostics, "the re-check did not hit the cache"

        prof = profile_check(path) if args.profile else None

        if args.no_earley:
            earley: dict[str, Any] = {"mode": "skipped", "seconds": None, "note": "Earley skipped (--no-earley)"}
        else:
            log(f"  (c) Earley (budget {args.earley_budget:.0f} s) ...")
            earley = measure_earley(text, args.earley_budget, log)

    t_earley = earley["seconds"]
    ratios = {
        "ours_over_lalr": t_ours / t_lalr,
        "earley_over_ours": None if t_earley is None else t_earley / t_ours,
        "recheck_over_cold": t_recheck / t_cold,
    }
    results = {
        "lines": n_lines, "bytes": n_bytes, "seed": args.seed, "repeat": repeat,
        "seconds": {"ours_check": t_ours, "bare_lalr_parse": t_lalr, "earley_parse": t_earley,
                    "cold_check_with_cache": t_cold, "recheck_cache_hit": t_recheck},
        "cpu_seconds": {"ours_check": c_ours, "bare_lalr_parse": c_lalr, "ours_over_lalr": c_ours / c_lalr,
                        "verdict": judge("ours_over_lalr", c_ours / c_lalr)},
        "earley": earley,
        "ratios": ratios,
        "goals": {k: f"{op} {goal}" for k, (op, goal, _) in GOALS.items()},
        "verdicts": {k: judge(k, v) for k, v in ratios.items()},
    }
    if args.json:
        print(json.dumps(results, indent=2))
        if prof:
            print(prof, file=sys.stderr)
        return 0

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:10.1f} ms"

    per_kline = 1000 / max(n_lines, 1)
    print()
    print(f"{'measurement':<44}{'time':>14}{'per 1k lines':>16}")
    rows = [
        ("(a) ours: parse + AST + checks + compile", t_ours),
        ("(b) lark LALR, bare parse (the floor)", t_lalr),
        ("(c) lark Earley" + (" (scaled from a prefix)" if earley["mode"] == "prefix" else ""), t_earley),
        ("(d) cold check, cache enabled", t_cold),
        ("(d) re-check, unchanged file (cache hit)", t_recheck),
    ]
    for label, t in rows:
        print(f"{label:<44}{ms(t):>14}{ms(None if t is None else t * per_kline):>16}")
    print()
    print(f"Earley: {earley['note']}")
    print(f"CPU time of this process (less disturbed by a busy machine): ours {c_ours * 1000:.1f} ms, "
          f"bare LALR {c_lalr * 1000:.1f} ms, ratio {c_ours / c_lalr:.3f} "
          f"({judge('ours_over_lalr', c_ours / c_lalr)} by CPU time)")
    print()
    for key, value in ratios.items():
        op, goal, label = GOALS[key]
        shown = "n/a" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"
        print(f"{label:<24}{shown:>10}   goal {op} {goal:<6}{judge(key, value):>6}")
    if prof:
        print()
        print(prof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
