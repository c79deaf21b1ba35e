"""`bpf test`: scenario files that pass, fail and err, their report (text and JSON) and exit codes, plugin
actions run on the world's records, and coverage numbers against arms counted by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bpf_dsl.errors import ActionFailed
from bpf_dsl.plugins import ActionSpec, Param, Registry, hookimpl
from bpf_dsl.testing.coverage import Coverage
from bpf_dsl.testing.runner import ERROR, FAILED, PASSED, run_file

TICKETS = """\
role agent "Agent"
role manager "Manager"

entity company "Company" {
    name: text required
    tier: choice(gold "Gold", silver "Silver") default silver
}

entity ticket "Ticket" {
    title: text required
    company: lookup(company)
    urgency: choice(low "Low", high "High") default low
    note "Note": text max 500
    fixed: bool
}

process ticket_flow "Ticket Flow" on ticket {
    roles agent, manager
    stage triage "Triage" category identify {
        step title required
        step urgency
    }
    if urgency = high {
        stage escalate "Escalate" category approval {
            roles manager
            step note required
            action "Tell the manager" call bpf.notify(role: "manager", message: "Urgent: " + title)
            gate note != "tbd" "Say what the note is"
        }
    } else if title = "spam" {
        finish spam "Spam"
    }
    stage fix "Fix" category resolve {
        step fixed required
        on exit {
            set note = "fixed: " + title
        }
    }
    finish fixed "Fixed"
}

rule no_shouting on ticket {
    if title = "HELP" {
        error title "Don't shout"
    }
}
"""

PASSING = """\
use "tickets.bpf"

scenario "an urgent ticket is escalated, approved and fixed" {
    create company as acme { name = "Acme" }
    create ticket as t {
        title = "Printer on fire"
        urgency = high
        company = @acme
    }
    expect stage triage
    expect path triage, escalate, fix
    expect t.urgency = high
    expect company.tier = silver          # through the lookup
    next
    expect stage escalate
    next fails STAGE_GATE
    expect missing note
    set note = "tbd"
    next fails STAGE_GATE "Say what the note is"
    set note = "It is on fire"
    run "Tell the manager"
    expect notified manager "Urgent: Printer on fire"
    expect called bpf.notify
    as agent
    next fails FORBIDDEN                  # only a manager may leave the escalation
    as manager
    next
    set fixed = true
    finish
    expect finished
    expect outcome fixed
    expect t.note = "fixed: Printer on fire"   # the exit hook's `set`
}

scenario "spam ends on the branch" {
    create ticket { title = "spam" }
    expect path triage
    next fails END "finish"
    finish
    expect outcome spam
    reactivate
    expect active
    expect outcome none
}

scenario "the rules refuse a write" {
    create ticket { title = "HELP" } fails INVALID "Don't shout"
    create ticket { title = "calm" }
    set title = "HELP" fails "Don't shout"
    expect title = "calm"
    abandon
    expect aborted
    next fails NOT_ACTIVE
}
"""

FAILING = """\
use "tickets.bpf"

scenario "expects the wrong stage" {
    create ticket { title = "x" }
    expect stage fix
}

scenario "a move refused unexpectedly" {
    create ticket { title = "x" }
    next
    finish
}

scenario "a refusal that didn't come" {
    create ticket { title = "x" }
    next fails STAGE_GATE
}

scenario "a value" {
    create ticket { title = "x" }
    expect note is not empty
}
"""

ERRING = """\
use "tickets.bpf"

scenario "a stage that doesn't exist" {
    create ticket { title = "x" }
    expect stage fixx
}

scenario "an unknown field" {
    create ticket { titel = "x" }
}

scenario "a value of the wrong type" {
    create ticket { title = 12 }
}

scenario "no instance yet" {
    next
}
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _bpf(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpf_dsl.cli", "test", *args], capture_output=True, text=True,
                          cwd=folder, timeout=120, env={**os.environ}, check=False)


def test_passing_scenarios(tmp_path: Path) -> None:
    _write(tmp_path, {"tickets.bpf": TICKETS, "tickets.bpft": PASSING})
    results = run_file(str(tmp_path / "tickets.bpft"))
    assert [(r.name, r.outcome, r.message) for r in results] == [
        ("an urgent ticket is escalated, approved and fixed", PASSED, None),
        ("spam ends on the branch", PASSED, None),
        ("the rules refuse a write", PASSED, None),
    ]
    result = _bpf(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == ["bpf test: 1 file, 3 scenarios", "tickets.bpft ..."]
    assert result.stdout.rstrip().endswith("=")
    assert " 3 passed " in result.stdout.splitlines()[-1]


def test_failing_scenarios_say_where_and_why(tmp_path: Path) -> None:
    _write(tmp_path, {"tickets.bpf": TICKETS, "failing.bpft": FAILING})
    results = run_file(str(tmp_path / "failing.bpft"))
    assert [r.outcome for r in results] == [FAILED] * 4
    said = [(r.at.line if r.at else None, r.message or "") for r in results]
    assert said[0] == (5, "the instance is at `triage`")
    assert said[1][0] == 11  # `next` moved to fix, whose required step holds `finish`
    assert said[1][1].startswith("finish was refused: STAGE_GATE: complete the required steps of Fix: Fixed")
    assert said[2] == (16, "next was expected to fail with STAGE_GATE, but it succeeded")
    assert said[3] == (21, "`note` is empty")
    result = _bpf(tmp_path, "failing.bpft")
    assert result.returncode == 1
    out = result.stdout
    assert "failing.bpft FFFF" in out and " FAILURES " in out
    assert "failing.bpft:5:5: the instance is at `triage`\n        expect stage fix\n        ^^^^^^^^^^^^^^^^\n" in out
    assert " 4 failed " in out.splitlines()[-1]


def test_erring_scenarios(tmp_path: Path) -> None:
    _write(tmp_path, {"tickets.bpf": TICKETS, "erring.bpft": ERRING})
    results = run_file(str(tmp_path / "erring.bpft"))
    assert [r.outcome for r in results] == [ERROR] * 4
    messages = [r.message or "" for r in results]
    assert "has no stage `fixx` (did you mean `fix`?)" in messages[0]
    assert "`ticket` has no field `titel` (did you mean `title`?)" in messages[1]
    assert "`12` doesn't fit `title`, a text field" in messages[2]
    assert "no process instance yet" in messages[3]
    result = _bpf(tmp_path)
    assert result.returncode == 1 and "erring.bpft EEEE" in result.stdout and " 4 errors " in result.stdout


def test_a_scenario_file_that_doesnt_parse_and_files_that_dont_check(tmp_path: Path) -> None:
    _write(tmp_path, {"tickets.bpf": TICKETS, "broken.bpft": 'use "tickets.bpf"\nscenario "x" {\n    nxt\n}\n',
                      "bad.bpf": "entity a { x: txt }\n", "bad.bpft": 'scenario "y" {\n    next\n}\n'})
    [parsed] = run_file(str(tmp_path / "broken.bpft"))
    assert parsed.outcome == ERROR and parsed.at is not None and (parsed.at.line, parsed.at.column) == (3, 5)
    assert "unexpected `nxt`" in (parsed.message or "") and "`next`" in (parsed.message or "")
    [unchecked] = run_file(str(tmp_path / "bad.bpft"))  # no `use`: the .bpf file of the same name
    assert unchecked.outcome == ERROR and "the files under test don't check" in (unchecked.message or "")
    assert "BPF030" in (unchecked.message or "")


def test_mixed_results_as_json(tmp_path: Path) -> None:
    _write(tmp_path, {"tickets.bpf": TICKETS, "a.bpft": PASSING, "b.bpft": FAILING, "c.bpft": ERRING})
    result = _bpf(tmp_path, "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["coverage"] is None
    assert data["summary"] == {"passed": 3, "failed": 4, "error": 4, "total": 11}
    first = data["scenarios"][3]
    assert first == {"file": "b.bpft", "name": "expects the wrong stage", "line": 3, "outcome": "failed",
                     "message": "the instance is at `triage`", "at": {"file": "b.bpft", "line": 5, "column": 5}}


def test_no_scenarios_and_bad_calls(tmp_path: Path) -> None:
    assert _bpf(tmp_path).returncode == 5  # as pytest: nothing collected
    assert "0 scenarios" in _bpf(tmp_path).stdout
    bad = _bpf(tmp_path, "nowhere.bpft")
    assert bad.returncode == 2 and bad.stderr.startswith("bpf: error: no such file or folder")
    assert _bpf(tmp_path, "--min-coverage", "120").returncode == 2


# -- plugin actions ------------------------------------------------------------------------------------

def _close(context: Any, outcome: str) -> None:
    deal_id, deal = context.own_record("deal")
    if outcome not in ("won", "lost"):
        raise ActionFailed(f"`{outcome}` is not won or lost")
    context.update(deal_id, {"status": outcome})
    if outcome == "won":
        context.create("invoice", {"deal": deal_id, "amount": deal.get("amount")})


class _Pack:
    @hookimpl
    def bpf_actions(self) -> list[ActionSpec]:
        return [ActionSpec("deals", "close", (Param("outcome", "text"),), _close, "close the deal")]


DEALS = """\
entity deal {
    name: text required
    amount: money
    status: choice(open, won, lost) default open
}

entity invoice {
    deal: lookup(deal) required
    amount: money
}

process deal_flow on deal {
    stage negotiate {
        step amount required
        action "Close" call deals.close(outcome: "won") required
    }
    stage done {
        step name
    }
}

process invoicing on invoice {
    stage send {
        step amount
    }
}
"""

DEAL_SCENARIOS = """\
scenario "closing a deal bills it" {
    create deal as d { name = "Fleet" amount = 5000 }
    next fails STAGE_GATE "Close"
    run Close
    expect d.status = won
    expect called deals.close
    next
    expect stage done
}

scenario "a refusing action cancels the move" {
    create deal { name = "Fleet" amount = 5000 status = won }
    set status = open
    run close
    expect status = won
}
"""


def test_plugin_actions_run_on_the_worlds_records(tmp_path: Path) -> None:
    _write(tmp_path, {"deals.bpf": DEALS, "deals.bpft": DEAL_SCENARIOS})
    registry = Registry([("deals-pack", "1.0", _Pack())], entry_points=False)
    results = run_file(str(tmp_path / "deals.bpft"), registry)
    assert [(r.outcome, r.message) for r in results] == [(PASSED, None), (PASSED, None)]


def test_a_failing_action_is_cancelled_and_undoes_the_move(tmp_path: Path) -> None:
    _write(tmp_path, {"deals.bpf": DEALS.replace('deals.close(outcome: "won")', 'deals.close(outcome: "maybe")'),
                      "deals.bpft": 'scenario "x" {\n    create deal { name = "F" amount = 1 }\n'
                                    '    run close fails CANCELLED "not won or lost"\n    expect status = open\n}\n'})
    registry = Registry([("deals-pack", "1.0", _Pack())], entry_points=False)
    [result] = run_file(str(tmp_path / "deals.bpft"), registry)
    assert (result.outcome, result.message) == (PASSED, None)


# -- coverage, against arms counted by hand --------------------------------------------------------------

BRANCHY = """\
entity t {
    x: integer
    y: bool
}

process p on t {
    stage a {
        step x
        step y
    }
    if x > 10 {
        stage b {
            step y
        }
        if y = true {
            stage c {
                step x
            }
        } else {
            finish big
        }
    } else if x > 5 {
        stage d {
            step x
        }
    } else {
    }
    stage e {
        step x
    }
}
"""
# Stages: a, b, c, d, e (5). Arms: `if x > 10`, `if y = true`, its `else`, `else if x > 5`, the empty `else` (5).


def _coverage(tmp_path: Path, scenarios: str) -> tuple[Coverage, list[str]]:
    _write(tmp_path, {"branchy.bpf": BRANCHY, "branchy.bpft": scenarios})
    coverage = Coverage()
    results = run_file(str(tmp_path / "branchy.bpft"), coverage=coverage)
    assert all(r.outcome == PASSED for r in results), [r.message for r in results]
    return coverage, [f"{s.kind} {s.name}" for s in coverage.missed()]


def test_coverage_counts_stages_and_arms_reached(tmp_path: Path) -> None:
    one = 'scenario "big and yes" {\n    create t { x = 20 y = true }\n    next\n    next\n    next\n' \
          '    expect stage e\n}\n'
    coverage, missed = _coverage(tmp_path, one)
    assert coverage.counts("stage") == (4, 5)  # a, b, c, e
    assert coverage.counts("arm") == (2, 5)  # if x > 10, if y = true
    assert missed == ["arm else", "arm else if x > 5", "stage d", "arm else"]
    assert coverage.percent() == pytest.approx(60.0)


def test_arms_without_stages_count_when_taken(tmp_path: Path) -> None:
    more = ('scenario "big and no" {\n    create t { x = 20 y = false }\n    next\n    finish\n'
            '    expect outcome big\n}\n'
            'scenario "small" {\n    create t { x = 1 }\n    next\n    expect stage e\n}\n'
            'scenario "middle" {\n    create t { x = 7 }\n    next\n    next\n    expect stage e\n}\n')
    coverage, missed = _coverage(tmp_path, more)
    assert coverage.counts("stage") == (4, 5)  # a, b, d, e: no scenario says yes, so c is missed
    assert coverage.counts("arm") == (4, 5)  # all but `if y = true`: the finish arm and the empty else count
    assert missed == ["arm if y = true", "stage c"]
    assert coverage.percent() == pytest.approx(80.0)


def test_min_coverage_fails_the_run_below_it(tmp_path: Path) -> None:
    _write(tmp_path, {"branchy.bpf": BRANCHY, "branchy.bpft": 'scenario "small" {\n    create t { x = 1 }\n'
                                                             '    next\n}\n'})
    # Reached: stages a, e; arm: the empty else. 3 of 10.
    low = _bpf(tmp_path, "--min-coverage", "50")
    assert low.returncode == 1, low.stdout
    assert "stages: 2 of 5 reached; `if` arms: 1 of 5 reached; 30.0%" in low.stdout
    assert "FAIL: coverage 30.0% is under --min-coverage 50%" in low.stdout
    assert "branchy.bpf:12:15: stage `b` of p not reached" in low.stdout
    ok = _bpf(tmp_path, "--min-coverage", "30", "--format", "json")
    assert ok.returncode == 0, ok.stdout
    data = json.loads(ok.stdout)["coverage"]
    assert data["stages"] == {"reached": 2, "total": 5} and data["arms"] == {"reached": 1, "total": 5}
    assert data["percent"] == 30.0
    assert {"file": "branchy.bpf", "line": 11, "column": 5, "process": "p", "kind": "arm",
            "name": "if x > 10"} in data["missed"]


CONSTRAINED = """\
role u
entity thing {
    code: text required unique
    note: text max 5
    score: integer min 0 max 10
    mail: email
}
entity part { of: lookup(thing)  name: text }
process p on thing {
    roles u
    stage a { step code }
    stage b on part via of {
        create { }
        step name
    }
}
"""

CONSTRAINED_SCENARIOS = """\
scenario "a unique value taken" {
    create thing { code = "A" }
    create thing { code = "A" } fails
}
scenario "text longer than its max" {
    create thing { code = "B" note = "far too long" } fails
}
scenario "a number beyond its max" {
    create thing { code = "C" }
    set score = 11 fails
    set score = 10
}
scenario "an email that is no email address" {
    create thing { code = "D" }
    set mail = "nope" fails
    set mail = "ann@example.com"
}
scenario "an empty create block creates the record" {
    create thing { code = "E" }
    next
    expect stage b
}
"""


def test_writes_are_refused_as_the_server_refuses_them(tmp_path: Path) -> None:
    """Bounds, lengths, formats and uniqueness hold in `bpf test` as in the service; `create { }` creates."""
    _write(tmp_path, {"things.bpf": CONSTRAINED, "things.bpft": CONSTRAINED_SCENARIOS})
    results = run_file(str(tmp_path / "things.bpft"))
    assert [(r.name, r.outcome, r.message) for r in results] == [
        ("a unique value taken", PASSED, None),
        ("text longer than its max", PASSED, None),
        ("a number beyond its max", PASSED, None),
        ("an email that is no email address", PASSED, None),
        ("an empty create block creates the record", PASSED, None),
    ]
