"""Compiled mutations (bpf_server.compiled) answer exactly what graphql-core answers, and run their resolver once."""

from __future__ import annotations

import asyncio
import enum
import json
import re
from typing import Annotated, Any

import strawberry
from bpf_server import direct
from bpf_server.compiled import compile_mutation
from bpf_server.limits import MaskUnexpected
from bpf_server.schema import BpfSchema, build_schema
from bpf_server.schema.plain_getters import resolve_plain_getters
from strawberry.types import Info

from tests.server.helpers import Live


@strawberry.enum
class Tone(enum.Enum):
    LOUD = "loud"
    SOFT = "soft"


@strawberry.type
class Part:
    n: int

    @strawberry.field
    def twice(self) -> int:
        return self.n * 2


@strawberry.type
class Done:
    id: strawberry.ID
    version: int
    note: str | None

    @strawberry.field
    def tone(self) -> Tone:
        return Tone.LOUD if self.version % 2 else Tone.SOFT

    @strawberry.field
    def parts(self) -> list[Part]:
        return [Part(n=i) for i in range(self.version)]

    @strawberry.field
    def first(self) -> Part | None:
        return Part(n=1) if self.version else None

    @strawberry.field
    def must(self) -> int:
        return None if self.version == 13 else self.version  # type: ignore[return-value]  # a broken getter

    @strawberry.field
    def loud(self) -> str:
        if self.version == 7:
            raise ValueError("seven is refused")
        return "ok"

    @strawberry.field
    def named(self, info: Info) -> str:  # needs its info: not a plain getter
        return info.field_name


@strawberry.type
class Failed:
    code: str
    message: str


Result = Annotated[Done | Failed, strawberry.union("Result")]


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


class Calls:
    """What the resolver was called with, and what it is to give."""

    def __init__(self) -> None:
        self.args: list[tuple[str, int | None]] = []


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def act(self, info: Info, id: strawberry.ID, times: int | None = None) -> Result:
        info.context.args.append((str(id), times))
        if str(id) == "boom":
            raise RuntimeError("the resolver failed")
        if str(id) == "odd":
            return Part(n=1)  # type: ignore[return-value]  # a type outside the union: graphql-core's error
        if str(id) == "no":
            return Failed(code="NO", message="refused")
        return Done(id=strawberry.ID(str(id)), version=times or 0, note=None if times else "none given")

    @strawberry.mutation
    def other(self) -> int:
        return 1


def _schema() -> BpfSchema:
    schema = BpfSchema(query=Query, mutation=Mutation, extensions=[MaskUnexpected])
    resolve_plain_getters(schema)
    return schema


SELECTIONS = {
    "typename and fragments": "__typename ... on Done { version } ... on Failed { code }",
    "aliases, leaves, enum, lists, nested": "... on Done { i: id version note tone parts { n twice } first { twice } "
                                           "again: version } ... on Failed { code message }",
    "fragment spreads": "...D ...F",
    "merged keys": "... on Done { parts { n } parts { twice } } ... on Done { version }",
    "a null in a non-null field": "... on Done { version must }",
    "a getter that raises": "... on Done { version loud }",
}


#: Fragment definitions, appended to a document whose selection spreads them.
FRAGMENTS = " fragment D on Done { version tone } fragment F on Failed { code }"


def _mutation(selection: str, head: str = "mutation($i: ID!, $t: Int)", root: str = "r: act(id: $i, times: $t)") -> str:
    tail = FRAGMENTS if "...D" in selection else ""
    return f"{head} {{ {root} {{ {selection} }} }}{tail}"


def _without_error_ids(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer with its masked errors' random ids blanked (each masking draws a new one)."""
    return json.loads(re.sub(r"\b[0-9a-f]{12}\b", "ID", json.dumps(answer)))


def _run(schema: BpfSchema, query: str, variables: dict[str, Any], compiled: bool) -> tuple[dict[str, Any], Calls]:
    plans = direct.Plans(schema)
    plan = plans.get(query)
    assert isinstance(plan, direct.Plan)
    assert (plan.compiled is not None) is compiled or not compiled
    calls = Calls()
    if compiled:
        answer = asyncio.run(direct.answer(schema, plan, variables, calls))  # type: ignore[arg-type]
    else:
        answer = asyncio.run(direct.execute(schema, plan, variables, calls))  # type: ignore[arg-type]
    return answer, calls


def test_what_compiles() -> None:
    schema = _schema()
    document_of = direct.Plans(schema).get
    compiles = {name: document_of(_mutation(sel)) for name, sel in SELECTIONS.items()}
    assert all(isinstance(p, direct.Plan) and p.compiled is not None for p in compiles.values()), compiles
    for query in (
        "mutation($i: ID!) { act(id: $i) { ... on Done { named } } }",            # a field that takes its info
        "mutation($i: ID!) { act(id: $i) { ... on Done @include(if: true) { version } } }",  # a directive
        "mutation($i: ID!) { a: act(id: $i) { __typename } b: other }",          # two root fields
        "{ ping }",                                                              # not a mutation
    ):
        plan = document_of(query)
        assert isinstance(plan, direct.Plan) and plan.compiled is None, query
    plan = document_of("mutation { other }")
    assert isinstance(plan, direct.Plan)
    assert compile_mutation(schema._schema, plan.document, plan.operation, info_class=tuple) is None  # unknown info


def test_the_answers_are_graphql_cores_and_the_resolver_runs_once() -> None:
    schema = _schema()
    for name, selection in SELECTIONS.items():
        query = _mutation(selection)
        for variables in ({"i": "x", "t": 3}, {"i": "x"}, {"i": "no"}, {"i": "x", "t": 13}, {"i": "x", "t": 7},
                          {"i": "boom"}, {"i": "odd"}):
            fast, fast_calls = _run(schema, query, variables, compiled=True)
            slow, slow_calls = _run(schema, query, variables, compiled=False)
            assert _without_error_ids(fast) == _without_error_ids(slow), (name, variables)
            assert fast_calls.args == slow_calls.args == [(variables["i"], variables.get("t"))], (name, variables)
    # What the cases above met, so that the comparison covered each way out.
    query = "mutation($i: ID!, $t: Int) { r: act(id: $i, times: $t) { ... on Done { version must loud } } }"
    ok, _ = _run(schema, query, {"i": "x", "t": 3}, compiled=True)
    assert ok == {"data": {"r": {"version": 3, "must": 3, "loud": "ok"}}}
    null, _ = _run(schema, query, {"i": "x", "t": 13}, compiled=True)
    assert null["data"] is None and null["errors"][0]["path"] == ["r", "must"]
    raised, _ = _run(schema, query, {"i": "x", "t": 7}, compiled=True)
    assert raised["data"] is None and raised["errors"][0]["path"] == ["r", "loud"]
    failed, _ = _run(schema, query, {"i": "boom"}, compiled=True)
    assert failed["data"] is None and failed["errors"][0]["path"] == ["r"]
    assert "the resolver failed" not in str(failed)  # masked as graphql-core's path masks it


def test_refused_variables_run_nothing_and_get_graphql_cores_errors() -> None:
    schema = _schema()
    query = "mutation($i: ID!, $t: Int) { r: act(id: $i, times: $t) { __typename } }"
    for variables in ({}, {"i": None}, {"i": "x", "t": "three"}, {"i": "x", "t": 2**40}):
        fast, fast_calls = _run(schema, query, variables, compiled=True)
        slow, _ = _run(schema, query, variables, compiled=False)
        assert fast == slow and fast["errors"], variables
        assert fast_calls.args == []


def test_a_compiled_move_answers_as_graphql_core_does(live: Live) -> None:
    """Over HTTP on a real server: the same moves, asked with a selection that compiles and with the same one
    under ``@include(if: true)`` (which graphql-core runs), answer the same (ids aside)."""
    client = live.client(live.token("ana", "salesperson"))
    selection = ("__typename ... on ProcessInstance { version status activeStage { name label } } "
                 "... on TransitionError { code message currentVersion unmetGates }")
    fast = f"mutation($i: ID!) {{ r: moveNext(instanceId: $i) {{ {selection} }} }}"
    slow = f"mutation($i: ID!) {{ r: moveNext(instanceId: $i) @include(if: true) {{ {selection} }} }}"
    plans = direct.Plans(build_schema(live.service.program))
    assert plans.get(fast).compiled is not None and plans.get(slow).compiled is None  # type: ignore[union-attr]
    answers: dict[str, list[Any]] = {}
    for name, query in (("fast", fast), ("slow", slow)):
        made = client.gql('mutation { createRecord(entity: "lead", values: {topic: "T", budget_amount: 10}) '
                          "{ ... on Record { activeInstance { id } } } }")
        instance = made["createRecord"]["activeInstance"]["id"]
        answers[name] = [client.post(query, {"i": instance}).json() for _ in range(5)]
        answers[name].append(client.post(query, {"i": "no-such-instance"}).json())
        answers[name].append(client.post(query, {}).json())  # a refused variable
    assert answers["fast"] == answers["slow"]
    kinds = [a["data"]["r"]["__typename"] if a.get("data") else "error" for a in answers["fast"]]
    assert "ProcessInstance" in kinds and "TransitionError" in kinds and kinds[-1] == "error"
