"""Invariants over random walks, the order of hooks, and how little a step reads."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from bpf_dsl.definition import END, Decision, Program, Target
from bpf_dsl.engine import (
    Abandon,
    Finish,
    FormState,
    MemoryData,
    Moved,
    Next,
    Previous,
    Reactivate,
    RunAction,
    SetActive,
    SetField,
    start,
    step,
)
from bpf_dsl.engine.actions import Action
from bpf_dsl.model import EntitySpec

from .helpers import T0, Walker, example_text, load


def targets(t: Target) -> set[int]:
    """Every stage a `next` entry can lead to."""
    if isinstance(t, Decision):
        out = targets(t.default)
        for _cond, _text, arm in t.arms:
            out |= targets(arm)
        return out
    return {t} if t != END else set()


LEAD_VALUES: dict[str, list[Any]] = {
    "budget_amount": [None, 10, 2_000_000],
    "purchase_timeframe": [None, "immediate", "unknown"],
    "decision_maker": [None, False, True],
}
OPP_VALUES: dict[str, list[Any]] = {
    "customer_need": [None, "vans"],
    "proposal_developed": [False, True],
    "discount_percent": [0, 15],
    "manager_approved": [None, True],
    "decision_date": [None, "2026-05-01"],
}


@pytest.mark.parametrize("seed", range(25))
def test_random_walks_keep_the_invariants(opportunity_program: Program, seed: int) -> None:
    rnd = random.Random(seed)
    w = Walker(opportunity_program, "lead_to_opportunity")
    w.data.save("lead", "L1", {"topic": "Fleet"})
    w.start("L1")
    edges = {i: targets(t) for i, t in enumerate(w.defn.next)}
    names = [s.name for s in w.defn.stages]
    for _ in range(150):
        if rnd.random() < 0.4:
            opp = w.st.record_of("opportunity")
            if opp is not None and rnd.random() < 0.5:
                name = rnd.choice(list(OPP_VALUES))
                w.data.save("opportunity", opp, {name: rnd.choice(OPP_VALUES[name])})
            else:
                name = rnd.choice(list(LEAD_VALUES))
                w.data.save("lead", "L1", {name: rnd.choice(LEAD_VALUES[name])})
            continue
        # Weighted so that walks get far (Next most often) yet try every action.
        choices: list[Action] = [Next(), Previous(), SetActive(rnd.choice(names)), Finish(), Abandon(), Reactivate(),
                                 RunAction("notify_manager")]
        action = rnd.choices(choices, weights=[12, 2, 2, 2, 1, 2, 1])[0]
        before = w.st
        outcome = w.do(action)
        s = w.st
        if isinstance(outcome, Moved) and outcome.changed:
            assert s.version == before.version + 1
        else:
            assert s is before
        assert s.traversed[-1] == s.active_stage and s.traversed[0] == 0
        assert len(set(s.traversed)) == len(s.traversed)
        assert all(b in edges[a] for a, b in zip(s.traversed, s.traversed[1:], strict=False))
        assert s.bound[0] == ("lead", "L1")
        assert (s.completed_at is None) == (s.status == "active")


def test_start_runs_on_start_then_the_first_stage_on_enter() -> None:
    text = example_text("case.bpf").replace(
        "step priority\n    }",
        "step priority\n        on enter {\n            set kb_article = title\n        }\n    }",
    ).replace("on finish {", "on start {\n        set title = \"Opened: \" + title\n    }\n    on finish {")
    w = Walker(load(text), "phone_to_case")
    w.data.save("case", "C1", {"title": "Printer"})
    moved = w.start("C1")
    assert moved.effects == (SetField("case", "C1", "title", "Opened: Printer"),
                             SetField("case", "C1", "kb_article", "Opened: Printer"))  # sees the earlier set


class CountingData:
    """A DataView over MemoryData that counts what the engine reads."""

    def __init__(self, inner: MemoryData) -> None:
        self.inner = inner
        self.reads: list[str] = []

    def entity_spec(self, entity: str) -> EntitySpec:
        return self.inner.entity_spec(entity)

    def values(self, entity: str, record_id: str) -> Mapping[str, Any] | None:
        self.reads.append(f"values {entity} {record_id}")
        return self.inner.values(entity, record_id)

    def related(self, entity: str, via_field: str, target_id: str) -> list[str]:
        self.reads.append(f"related {entity}")
        return self.inner.related(entity, via_field, target_id)

    def form(self, entity: str, record_id: str) -> FormState:
        self.reads.append(f"form {entity} {record_id}")
        return self.inner.form(entity, record_id)


def test_a_step_reads_a_few_records_however_many_there_are(opportunity_program: Program) -> None:
    data = MemoryData(opportunity_program.entities, opportunity_program.rules, now=T0)
    for i in range(20_000):
        data.put("lead", f"X{i}", topic=f"lead {i}")
        data.put("opportunity", f"Y{i}", name=f"opp {i}", originating_lead=f"X{i}")
    data.put("lead", "L1", topic="Fleet", budget_amount=10)
    counting = CountingData(data)
    defn = opportunity_program.processes["lead_to_opportunity"]
    moved = start(defn, "I1", "L1", T0, counting, "ann")
    assert counting.reads == []  # nothing to evaluate: no hooks on start, none on entering qualify
    outcome = step(defn, moved.state, Next(), T0, counting, "ann", new_id=lambda: "O1")
    assert isinstance(outcome, Moved)
    assert all(not r.startswith("related") for r in counting.reads)  # `create` exists: no search
    assert len(counting.reads) <= 10
    counting.reads.clear()
    back = step(defn, outcome.state, Previous(), T0, counting, "ann")
    assert isinstance(back, Moved) and counting.reads == []  # going back reads no data
