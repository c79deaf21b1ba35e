"""Plain getters are called directly, and answer exactly what strawberry's wrapper answered."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import strawberry
from bpf_server.schema.plain_getters import resolve_plain_getters
from strawberry.permission import BasePermission
from strawberry.types import Info


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    n: int

    @strawberry.field
    def twice(self) -> int:
        return self.n * 2


@strawberry.type
class Thing:
    value: int

    @strawberry.field
    def plain(self) -> int:
        return self.value + 1

    @strawberry.field
    def color(self) -> Color:
        return Color.BLUE if self.value % 2 else Color.RED

    @strawberry.field
    def leaves(self) -> list[Leaf]:
        return [Leaf(n=i) for i in range(self.value)]

    @strawberry.field
    def broken(self) -> int | None:
        raise ValueError("no value here")

    @strawberry.field
    def with_info(self, info: Info) -> str:
        return info.field_name

    @strawberry.field
    def with_argument(self, add: int = 1) -> int:
        return self.value + add

    @strawberry.field(permission_classes=[Never])  # type: ignore[untyped-decorator]
    def guarded(self) -> int:
        return self.value

    @strawberry.field
    async def later(self) -> int:
        return self.value


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [Thing(value=v) for v in (1, 2, 3)]


QUERY = "{ things { value plain color leaves { n twice } broken withInfo withArgument(add: 5) later } }"
GUARDED = "{ things { guarded } }"


def _schema(fast: bool) -> strawberry.Schema:
    schema = strawberry.Schema(query=Query)
    if fast:
        resolve_plain_getters(schema)
    return schema


def _resolvers(schema: strawberry.Schema, type_name: str) -> dict[str, str]:
    fields = schema._schema.type_map[type_name].fields  # type: ignore[attr-defined]
    return {name: getattr(f.resolve, "__qualname__", "") for name, f in fields.items()}


def test_only_methods_of_self_alone_are_called_directly() -> None:
    schema = _schema(fast=True)
    direct = {name for name, qual in _resolvers(schema, "Thing").items() if qual.startswith("_calling")}
    assert direct == {"plain", "color", "leaves", "broken"}
    assert {n for n, q in _resolvers(schema, "Leaf").items() if q.startswith("_calling")} == {"twice"}
    # The root field is a method of self alone too; a field without a method (value, n) is strawberry's.
    assert "things" in {n for n, q in _resolvers(schema, "Query").items() if q.startswith("_calling")}


def test_the_answers_are_the_same_values_errors_and_refusals() -> None:
    slow, fast = _schema(fast=False), _schema(fast=True)
    for query in (QUERY, GUARDED):
        before, after = asyncio.run(slow.execute(query)), asyncio.run(fast.execute(query))
        assert after.data == before.data
        assert [e.formatted for e in after.errors or []] == [e.formatted for e in before.errors or []]
    answer = asyncio.run(fast.execute(QUERY))
    assert answer.data is not None
    first = answer.data["things"][0]
    assert first["plain"] == 2 and first["color"] == "BLUE" and first["leaves"] == [{"n": 0, "twice": 0}]
    assert first["broken"] is None and first["withInfo"] == "withInfo" and first["withArgument"] == 6
    assert [e.path for e in answer.errors or []] == [["things", i, "broken"] for i in range(3)]
    refused = asyncio.run(fast.execute(GUARDED))
    assert refused.errors and refused.errors[0].message == "never"
