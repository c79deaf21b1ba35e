"""Schemathesis over the live GraphQL schema: generated queries and mutations never get a 5xx, an internal
error, or a response that breaks the schema (a null where the schema promises a value)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from graphql import (
    BooleanValueNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    NameNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.helpers import Live, live_server

EXAMPLES_PER_OPERATION = 8

_KEYS = st.sampled_from(["topic", "budget_amount", "name", "title", "status", "existing_account", "industry"]) | \
    st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=8)


def to_node(value: Any) -> ValueNode:
    """A JSON value as a GraphQL literal (the JSON scalar takes any)."""
    if value is None:
        return NullValueNode()
    if isinstance(value, bool):
        return BooleanValueNode(value=value)
    if isinstance(value, int):
        return IntValueNode(value=str(value))
    if isinstance(value, float):
        return FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return StringValueNode(value=value)
    if isinstance(value, list):
        return ListValueNode(values=tuple(to_node(v) for v in value))
    return ObjectValueNode(fields=tuple(ObjectFieldNode(name=NameNode(value=k), value=to_node(v))
                                        for k, v in value.items()))


schemathesis.graphql.scalar("JSON", _JSON.map(to_node))
schemathesis.graphql.scalar("DateTime", st.datetimes(timezones=st.just(dt.UTC)).map(
    lambda d: StringValueNode(value=d.isoformat())))
schemathesis.graphql.scalar("Date", st.dates().map(lambda d: StringValueNode(value=d.isoformat())))


@pytest.fixture(scope="module")
def fuzz_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    path = tmp_path_factory.mktemp("fuzz") / "bpf.db"
    with live_server(f"sqlite:///{path}") as server:
        yield server


@pytest.fixture(scope="module")
def auth(fuzz_live: Live) -> dict[str, str]:
    return {"Authorization": f"Bearer {fuzz_live.token('fuzz', 'admin')}"}


@pytest.fixture(scope="module")
def graphql_schema(fuzz_live: Live, auth: dict[str, str]) -> Any:
    return schemathesis.graphql.from_url(fuzz_live.url + "/graphql", headers=auth, timeout=30)


def check(case: Any, auth: dict[str, str], calls: list[int]) -> None:
    response = case.call(headers=auth, timeout=30)
    calls.append(response.status_code)
    assert response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body, dict), body
    for error in body.get("errors") or []:
        message = error["message"]
        assert "Internal error" not in message, (case.body, body)
        assert "Cannot return null for non-nullable" not in message, (case.body, body)


def test_generated_operations(graphql_schema: Any, auth: dict[str, str]) -> None:
    # Each operation's strategy driven by hypothesis directly (schemathesis's lazy pytest loader and this
    # pytest version don't agree).
    operations = [result.ok() for result in graphql_schema.get_all_operations()]
    assert len(operations) > 25, [op.label for op in operations]
    calls: list[int] = []
    for operation in operations:

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            check(case, auth, calls)

        run()
    assert len(calls) >= 3 * len(operations), len(calls)
