"""Round two's moves over HTTP, on every backend: stage roles, gates and outcomes in the GraphQL answers
(docs/examples/next/onboarding.bpf on a real uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.definition import Program
from bpf_dsl.plugins import Registry
from tests.paths import EXAMPLES
from tests.server.helpers import Client, Live, live_server

GATE = "Start the background check first"

_programs: list[Program] = []


def onboarding() -> Program:
    if not _programs:
        _programs.append(bpf_dsl.load([str(EXAMPLES / "next" / "onboarding.bpf")], Registry(entry_points=False)))
    return _programs[0]


@pytest.fixture
def live(db_url: str) -> Iterator[Live]:
    with live_server(db_url, onboarding()) as server:
        yield server


# One selection for both members of InstanceResult: `missingSteps { name }` is the same type on each.
RESULT = """
fragment Result on InstanceResult {
  __typename
  ... on ProcessInstance { id version status outcome unmetGates canMoveNext activeStage { name }
                           missingSteps { name } }
  ... on TransitionError { code message currentVersion unmetGates missingSteps { name } }
}
"""


def hire(c: Client, **values: Any) -> dict[str, Any]:
    made = c.gql("mutation($v: JSON!) { r: createRecord(entity: \"new_hire\", values: $v) { "
                 "... on Record { id activeInstance { ...Result } } ... on ValidationError { message } } }" + RESULT,
                 v={"full_name": "Grace Hopper", "start_date": "2026-04-01", **values})["r"]
    assert made.get("id"), made
    return made


def call(c: Client, mutation: str, **variables: Any) -> dict[str, Any]:
    decl = ", ".join(f"${k}: {'String!' if k == 'stage' else 'ID!'}" for k in variables)
    return c.gql(f"mutation({decl}) {{ r: {mutation} {{ ...Result }} }}" + RESULT, **variables)["r"]  # type: ignore[no-any-return]


def update(c: Client, record_id: str, **values: Any) -> None:
    done = c.gql("mutation($id: ID!, $v: JSON!) { r: updateRecord(id: $id, values: $v) { __typename } }",
                 id=record_id, v=values)["r"]
    assert done["__typename"] == "Record", done


def test_missing_steps_is_one_selection_on_both_members(live: Live) -> None:
    hr = live.client(live.token("hana", "hr"))
    record = hire(hr)
    inst = record["activeInstance"]
    assert inst["missingSteps"] == [{"name": "contract_signed"}] and inst["unmetGates"] == [GATE]
    assert inst["canMoveNext"] is False
    refused = call(hr, "moveNext(instanceId: $id)", id=inst["id"])
    assert refused["__typename"] == "TransitionError" and refused["code"] == "STAGE_GATE"
    assert refused["missingSteps"] == [{"name": "contract_signed"}]
    assert refused["unmetGates"] == [GATE]
    assert refused["currentVersion"] == inst["version"]
    update(hr, record["id"], contract_signed=True)
    refused = call(hr, "moveNext(instanceId: $id)", id=inst["id"])
    assert (refused["code"], refused["missingSteps"], refused["unmetGates"]) == ("STAGE_GATE", [], [GATE])
    update(hr, record["id"], background_check="passed")
    moved = call(hr, "moveNext(instanceId: $id)", id=inst["id"])
    assert moved["__typename"] == "ProcessInstance" and moved["activeStage"]["name"] == "equipment"
    assert moved["missingSteps"] == [{"name": "laptop_ready"}] and moved["unmetGates"] == []


def test_stages_say_their_roles_gates_and_sla(live: Live) -> None:
    hr = live.client(live.token("hana", "hr"))
    got = hr.gql("{ processes(entity: \"new_hire\") { name outcomes { name label } "
                 "stages { name roles gates sla } } }")["processes"]
    (onboard,) = got
    assert onboard["outcomes"] == [{"name": "withdrawn", "label": "Offer Withdrawn"},
                                   {"name": "onboarded", "label": "Onboarded"}]
    assert onboard["stages"] == [
        {"name": "paperwork", "roles": ["hr"], "gates": [GATE], "sla": "3d"},
        {"name": "withdraw", "roles": ["hr"], "gates": [], "sla": None},
        {"name": "equipment", "roles": [], "gates": [], "sla": "2d"},
        {"name": "first_week", "roles": [], "gates": [], "sla": None},
    ]


def test_stage_roles_answer_forbidden(live: Live) -> None:
    hr = live.client(live.token("hana", "hr"))
    it = live.client(live.token("ivan", "it_desk"))
    admin = live.client(live.token("root", "admin"))
    record = hire(hr, contract_signed=True, background_check="passed")
    iid = record["activeInstance"]["id"]
    for mutation in ("moveNext(instanceId: $id)", "movePrevious(instanceId: $id)", "finishProcess(instanceId: $id)"):
        refused = call(it, mutation, id=iid)
        assert (refused["__typename"], refused["code"]) == ("TransitionError", "FORBIDDEN"), refused
    moved = call(admin, "moveNext(instanceId: $id)", id=iid)
    assert moved["activeStage"]["name"] == "equipment"
    # Leaving Equipment (no `roles`) is every process role's: IT may set Paperwork active again ...
    back = call(it, "setActiveStage(instanceId: $id, stage: $stage)", id=iid, stage="paperwork")
    assert back["__typename"] == "ProcessInstance" and back["activeStage"]["name"] == "paperwork"
    # ... and setting the active stage active once more leaves nothing: no refusal, no new version.
    again = call(it, "setActiveStage(instanceId: $id, stage: $stage)", id=iid, stage="paperwork")
    assert again["__typename"] == "ProcessInstance" and again["version"] == back["version"]
    assert call(it, "moveNext(instanceId: $id)", id=iid)["code"] == "FORBIDDEN"


def test_the_bar_and_the_outcome(live: Live) -> None:
    hr = live.client(live.token("hana", "hr"))
    record = hire(hr, contract_signed=True)
    bar = hr.gql("query($r: ID!) { processBar(recordId: $r) { instance { unmetGates canMoveNext outcome } "
                 "stages { stage { name } state unmetGates } } }", r=record["id"])["processBar"]
    assert bar["instance"] == {"unmetGates": [GATE], "canMoveNext": False, "outcome": None}
    assert bar["stages"][0] == {"stage": {"name": "paperwork"}, "state": "ACTIVE", "unmetGates": [GATE]}
    assert all(s["unmetGates"] == [] for s in bar["stages"][1:])

    update(hr, record["id"], background_check="failed")
    iid = record["activeInstance"]["id"]
    assert call(hr, "moveNext(instanceId: $id)", id=iid)["activeStage"]["name"] == "withdraw"
    done = call(hr, "finishProcess(instanceId: $id)", id=iid)
    assert (done["status"], done["outcome"], done["unmetGates"]) == ("FINISHED", "withdrawn", [])
    stats = hr.gql("{ processAnalytics(name: \"onboarding\") { outcomes { outcome { name label } count } } }")
    assert stats["processAnalytics"]["outcomes"] == [
        {"outcome": {"name": "withdrawn", "label": "Offer Withdrawn"}, "count": 1},
        {"outcome": {"name": "onboarded", "label": "Onboarded"}, "count": 0}]
    back = call(hr, "reactivateProcess(instanceId: $id)", id=iid)
    assert (back["status"], back["outcome"]) == ("ACTIVE", None)
