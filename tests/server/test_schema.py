"""The schema: a snapshot of its SDL for the spec examples, and everything API.md writes exists as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bpf_server.schema import print_sdl
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
)

from tests.paths import API_MD
from tests.server.helpers import program

SNAPSHOT = Path(__file__).resolve().parent / "schema.graphql"


def test_sdl_snapshot() -> None:
    """Regenerate with BPF_UPDATE_SNAPSHOTS=1 after a deliberate change, and review the diff."""
    sdl = print_sdl(program(with_extra=False))
    if os.environ.get("BPF_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(sdl, encoding="utf-8")
    assert sdl == SNAPSHOT.read_text(encoding="utf-8"), "the schema changed: BPF_UPDATE_SNAPSHOTS=1 to accept it"


def contract() -> GraphQLSchema:
    text = API_MD.read_text(encoding="utf-8")
    block = re.search(r"```graphql\n(.*?)```", text, re.S)
    assert block, f"no graphql block in {API_MD}"
    return build_schema(block.group(1))


def changed_by_round_two() -> dict[tuple[str, str], str]:
    """The fields whose type API.md's round-two block changes (``# changed: Type.field becomes T``): the
    new type wins (tests/contract/test_round_two.py checks it)."""
    text = API_MD.read_text(encoding="utf-8")
    return {(t, f): new for t, f, new in re.findall(r"# changed: (\w+)\.(\w+) becomes (\S+)", text)}


def ours() -> GraphQLSchema:
    # Rebuilt from the printed SDL: plain graphql-core types, defaults parsed as the contract's are.
    return build_schema(print_sdl(program(with_extra=False)))


def test_everything_in_the_contract_exists_as_written() -> None:
    want, have = contract(), ours()
    changed = changed_by_round_two()
    checked = 0
    for name, wanted in want.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        got = have.type_map.get(name)
        assert got is not None, f"type {name} is missing"
        assert type(got) is type(wanted), f"{name} is a {type(got).__name__}, not a {type(wanted).__name__}"
        if isinstance(wanted, GraphQLEnumType):
            assert isinstance(got, GraphQLEnumType)
            missing = set(wanted.values) - set(got.values)
            assert not missing, f"enum {name} lacks {missing}"
        elif isinstance(wanted, GraphQLUnionType):
            assert isinstance(got, GraphQLUnionType)
            assert {t.name for t in got.types} == {t.name for t in wanted.types}, name
        elif isinstance(wanted, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            assert isinstance(got, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType)
            for fname, wfield in wanted.fields.items():
                gfield = got.fields.get(fname)
                assert gfield is not None, f"{name}.{fname} is missing"
                wtype = changed.get((name, fname), str(wfield.type))
                assert str(gfield.type) == wtype, f"{name}.{fname}: {gfield.type} != {wtype}"
                for aname, warg in getattr(wfield, "args", {}).items():
                    garg = gfield.args.get(aname)  # type: ignore[union-attr]
                    assert garg is not None, f"{name}.{fname}({aname}) is missing"
                    assert str(garg.type) == str(warg.type), f"{name}.{fname}({aname}): {garg.type} != {warg.type}"
                    wdefault = warg.default_value
                    gdefault = garg.default_value
                    assert (wdefault is Undefined) == (gdefault is Undefined) and \
                        (wdefault is Undefined or wdefault == gdefault), \
                        f"{name}.{fname}({aname}) default {gdefault!r} != {wdefault!r}"
                    checked += 1
                checked += 1
        else:
            assert isinstance(got, GraphQLScalarType)
        checked += 1
    assert checked > 150, checked  # the whole block was read


def test_entity_types_are_generated() -> None:
    have = ours()
    lead = have.type_map["Lead"]
    assert isinstance(lead, GraphQLObjectType)
    assert str(lead.fields["budget_amount"].type) == "Float"
    assert str(lead.fields["existing_account"].type) == "Account"
    assert str(have.type_map["Case"].fields["satisfaction"].type) == "Int"  # type: ignore[union-attr]
    assert str(have.type_map["Case"].fields["resolved_on"].type) == "DateTime"  # type: ignore[union-attr]
    assert str(have.type_map["Opportunity"].fields["decision_date"].type) == "Date"  # type: ignore[union-attr]
    query = have.query_type
    assert query is not None and str(query.fields["lead"].type) == "Lead"
    assert str(query.fields["lead"].args["id"].type) == "ID!"


def test_validation_is_cached_and_the_limits_still_fire() -> None:
    """The limit rules are built once, so strawberry's validation cache hits on a repeated query."""
    import asyncio

    from bpf_server.limits import MAX_DEPTH, _validate_kept
    from bpf_server.schema import build_schema

    schema = build_schema(program(with_extra=False))
    cache = _validate_kept  # the Validation extension's cache (strawberry's ValidationCache, limits first)
    deep = "{ entities " + "{ fields { options { name } } }" * 1 + " }"
    too_deep = "query { records(entity: \"lead\") { items { " + "activeInstance { record { " * 7 + "id" + \
        " } }" * 7 + " } } }"
    for query, ok in ((deep, True), (too_deep, False)):
        before = cache.cache_info().hits
        for _ in range(3):
            result = asyncio.run(schema.execute(query))
            if ok:  # no context here: resolvers fail, but validation passed
                assert not any("depth" in e.message for e in result.errors or [])
            else:
                assert result.errors and f"maximum operation depth of {MAX_DEPTH}" in result.errors[0].message
        assert cache.cache_info().hits >= before + 2, cache.cache_info()
