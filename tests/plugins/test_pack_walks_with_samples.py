"""The packs' sample records walk every process through every stage, every branch and every end, through the
service on a real database (SQLite; PostgreSQL too when BPF_TEST_POSTGRES_URL is set); and a won sample deal
can't be abandoned in either sales process.

The branches come from the compiled definitions (``ProcessDefinition.next``: a stage's target, or a decision
whose arms each lead somewhere), so a branch added to a pack without a sample that takes it fails here, named.
The behaviour of each stage (gates, actions, roles, rules) is tested step by step in test_sales.py,
test_service.py and test_marketing.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from bpf_dsl.definition import END, Decision, ProcessDefinition, Target
from bpf_dsl.service import Service
from bpf_dsl.service.samples import load_samples

from .helpers import ADMIN, PACKS, T0, OpenSvc, Walk, ok, program, records, refused


def _leaves(target: Target) -> Iterator[int]:
    """Every stage index or end a target may lead to (each arm of a decision, and its default)."""
    if isinstance(target, Decision):
        for _condition, _text, arm in target.arms:
            yield from _leaves(arm)
        yield from _leaves(target.default)
    else:
        yield target


def _end(process: ProcessDefinition, leaf: int) -> str:
    """A leaf's name: a stage's, or ``finish`` with the outcome it ends with."""
    if leaf >= 0:
        return process.stages[leaf].name
    return "finish" if leaf == END else f"finish {process.outcomes[-2 - leaf][0]}"


def branches(process: ProcessDefinition) -> set[tuple[str, str]]:
    """Every (stage, where it may lead) of the definition: the next stage, each branch's arms, each end."""
    return {(process.stages[index].name, _end(process, leaf))
            for index, target in enumerate(process.next) for leaf in _leaves(target)}


def walked(svc: Service, process: ProcessDefinition) -> set[tuple[str, str]]:
    """The (stage, next stage or end) pairs the process's instances took: moves forward, and finishes."""
    analytics = svc.analytics(ADMIN, process.name)
    assert analytics is not None
    taken = set(analytics.conversion)  # forward moves between stages, as the analytics count them
    for record in records(svc, process.entity):
        for row in svc.instances_of(ADMIN, record.id):
            if row.process == process.name and row.status == "finished":
                taken.add((row.active_stage, f"finish {row.outcome}" if row.outcome else "finish"))
    return taken


def test_the_samples_walk_every_stage_branch_and_end(open_svc: OpenSvc) -> None:
    svc = open_svc(*PACKS)
    reg, prog = program(*PACKS)
    assert load_samples(svc, reg, strict=True, now=T0) > 0
    assert len(prog.processes) >= 12  # sales 2, service 6, marketing 4
    missing = {}
    for name, process in prog.processes.items():
        want = branches(process)
        assert {a for a, _ in want} == {s.name for s in process.stages}  # the table covers every stage
        if not_taken := sorted(want - walked(svc, process)):
            missing[f"{process.label} ({name})"] = not_taken
    assert not missing, "branches no sample walks (stage, where to):\n" + "\n".join(
        f"  {process}: {pairs}" for process, pairs in missing.items())


def test_branches_names_arms_and_ends() -> None:
    """What the walk is checked against: the decision arms and the ends of a process with both."""
    _, prog = program(*PACKS)
    expired = branches(prog.processes["expired_article"])
    assert {("expired_review", "archive"), ("expired_review", "update"), ("expired_review", "republish"),
            ("archive", "finish archived"), ("update", "republish"), ("republish", "finish republished")} == expired
    sales = branches(prog.processes["lead_to_opportunity"])
    assert {("qualify", "confirm_interest"), ("qualify", "develop"), ("close", "finish won"),
            ("close", "finish lost")} <= sales


def _at_close(svc: Service, entity: str, process: str) -> Walk:
    """A sample's instance of ``process`` standing in Close with its deal still open."""
    for record in records(svc, entity):
        for row in svc.instances_of(ADMIN, record.id):
            if row.process == process and row.status == "active" and row.active_stage == "close":
                walk = Walk(svc, record, process)
                if walk.values("opportunity" if entity == "lead" else None)["status"] == "open":
                    return walk
    raise AssertionError(f"no sample of {process} stands in Close with an open deal")


def test_a_won_sample_deal_cant_be_abandoned(open_svc: OpenSvc) -> None:
    """The abandon-after-won case on the samples, in both sales processes: "Close as won", then abandoning
    is refused (the deal stays won at 100%, the instance active in Close), and the process finishes won."""
    svc = open_svc("sales")
    reg, _ = program("sales")
    load_samples(svc, reg, strict=True, now=T0)
    for entity, process, deal in (("lead", "lead_to_opportunity", "opportunity"),
                                  ("opportunity", "opportunity_sales", None)):
        walk = _at_close(svc, entity, process)
        ok(walk.run("close_as_won"))
        won = walk.values(deal)
        assert (won["status"], won["probability"]) == ("won", 100), process
        failure = refused(walk.abandon(), "CANCELLED")
        assert failure.message == "sales.close_opportunity: the opportunity is already closed as won", process
        after = walk.values(deal)
        assert (after["status"], after["status_reason"], after["probability"], after["actual_revenue"]) == \
            (won["status"], won["status_reason"], 100, won["actual_revenue"]), process
        [row] = [r for r in svc.instances_of(ADMIN, walk.record_id) if r.process == process]
        assert (row.status, row.active_stage) == ("active", "close"), process
        walk.fill({"decision_date": (T0.date() + dt.timedelta(days=7)).isoformat()}, deal)
        ok(walk.finish())
        assert (walk.row.status, walk.row.outcome) == ("finished", "won"), process
