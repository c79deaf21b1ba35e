"""How fast the ``bpf`` command starts, as whole processes, next to ``python -c "import lark"``.

::

    python bench/cli_start.py [--runs 21] [--warmups 3] [--json]

Four commands, each a new process started by ``subprocess.run`` (output to /dev/null),
timed with ``time.perf_counter`` from start to exit:

- ``python -c "pass"``: the interpreter alone, for reference;
- ``python -c "import lark"``: the yardstick (the parser library ``bpf check`` needs);
- ``bpf --help``: the venv's ``bpf`` console script, run as a user runs it (its
  ``#!`` line starts the same interpreter); ``python -m bpf_dsl.cli`` when there
  is no script beside ``sys.executable``. The output says which;
- ``bpf check FILE``: a 40-line .bpf file written here (roles, an entity, a
  process with a branch and hooks, a rule; checked clean before anything is
  timed), with the check cache in a temporary folder (``BPF_CACHE_DIR``), so that
  after the warm-ups each run is a cache hit, as a re-check is for a user.

The commands run interleaved (A B C D A B C D ...), so a busy machine slows them
alike, ``--warmups`` rounds first (not counted; they also fill the OS's file cache
and the check cache), then ``--runs`` rounds. It prints each median, and the
ratios ``bpf --help / import lark`` (goal <= 1.5, PASS or MISS) and
``bpf check / import lark`` (for information). It exits 0 either way: it is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.5  # bpf --help / import lark

MODEL = """\
role agent "Service Agent"

entity case "Case" {
    customer_email "Customer Email": email
    priority: choice(low "Low", normal "Normal", high "High") default normal
    case_type "Case Type": choice(question "Question", problem "Problem", request "Request")
    known_solution "Known Solution Found": bool
    escalation_reason "Escalation Reason": text
    resolution: text
    resolved_on "Resolved On": datetime
}

process phone_to_case "Phone to Case Process" on case {
    roles agent
    stage identify "Identify" category identify {
        step customer_email required
        step case_type required
        step known_solution
    }
    if known_solution = true {
        stage quick_resolve "Resolve" category resolve {
            step resolution required
        }
        finish
    }
    stage resolve "Resolve" category resolve {
        step resolution required
    }
    on finish {
        set resolved_on = now()
    }
}

rule escalation on case {
    if priority = high {
        require escalation_reason
    } else {
        hide escalation_reason
    }
}
"""


def bpf_command() -> tuple[list[str], str]:
    """How to run ``bpf``: the console script beside this interpreter, else ``python -m bpf_dsl.cli``."""
    script = Path(sys.executable).parent / "bpf"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], f"the console script {script}"
    return [sys.executable, "-m", "bpf_dsl.cli"], f"{sys.executable} -m bpf_dsl.cli (no bpf script found)"


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit of one process; its exit status must be 0."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21, help="timed rounds (default 21)")
    ap.add_argument("--warmups", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    bpf, how = bpf_command()
    with tempfile.TemporaryDirectory(prefix="bpf-bench-cli-") as tmp:
        model = Path(tmp) / "case.bpf"
        model.write_text(MODEL, encoding="utf-8")
        assert len(MODEL.splitlines()) == 40
        env = {**os.environ, "BPF_CACHE_DIR": str(Path(tmp) / "cache")}
        env.pop("BPF_NO_CACHE", None)
        first = subprocess.run([*bpf, "check", str(model)], capture_output=True, text=True, env=env, check=False)
        if first.returncode != 0 or "0 errors, 0 warnings" not in first.stderr:
            raise SystemExit(f"the bench's model doesn't check clean:\n{first.stdout}{first.stderr}")

        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import lark": [sys.executable, "-c", "import lark"],
            "bpf --help": [*bpf, "--help"],
            "bpf check": [*bpf, "check", str(model)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.warmups + args.runs):
            for name, argv in commands.items():
                elapsed = run_once(argv, env)
                if round_ >= args.warmups:
                    times[name].append(elapsed)

    medians = {name: statistics.median(values) for name, values in times.items()}
    help_ratio = medians["bpf --help"] / medians["import lark"]
    check_ratio = medians["bpf check"] / medians["import lark"]
    if args.json:
        print(json.dumps({"bpf": how, "runs": args.runs, "median_s": medians,
                          "min_s": {name: min(values) for name, values in times.items()},
                          "help_over_lark": help_ratio, "check_over_lark": check_ratio,
                          "goal": GOAL, "pass": help_ratio <= GOAL}, indent=2))
        return 0
    print(f"bpf is run as {how}")
    print(f"median of {args.runs} interleaved runs after {args.warmups} warm-up rounds, whole processes:")
    for name, values in times.items():
        print(f"  {name:<16} {medians[name] * 1000:7.1f} ms   (fastest {min(values) * 1000:6.1f} ms)")
    verdict = "PASS" if help_ratio <= GOAL else "MISS"
    print(f"bpf --help / import lark = {help_ratio:.2f}   (goal <= {GOAL}) {verdict}")
    print(f"bpf check / import lark  = {check_ratio:.2f}   (for information)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
