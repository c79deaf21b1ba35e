"""API.md's "Round two" GraphQL block against the schema: each field it adds that is built exists as written.

The block (``extend type ...``, new types, and ``# changed: Type.field becomes T``) is
read from the copy of API.md here, built on top of the contract's first block, and
compared field by field, arguments and defaults included, with the schema the server
builds. Round two is built by several hands: a field not built yet must be listed in
:data:`PENDING`, and one that is built must not be (its owner removes it from the list
in the same change that builds it), so the list always says what is left.
"""

from __future__ import annotations

import functools
import re

import pytest
from bpf_server.schema import print_sdl
from graphql import (
    DocumentNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    Undefined,
    build_schema,
    parse,
)

from tests.paths import API_MD
from tests.server.helpers import program

#: Round-two names not built yet: ``Type.field``, or ``Type`` for a whole new type. Empty: the whole block is
#: built. A name put back here while its field is missing lets the rest of the block be checked meanwhile.
PENDING: frozenset[str] = frozenset()


def _blocks() -> tuple[str, str]:
    text = API_MD.read_text(encoding="utf-8")
    head, sep, tail = text.partition("## Round two")
    assert sep, f"no round-two section in {API_MD}"
    first = re.search(r"```graphql\n(.*?)```", head, re.S)
    second = re.search(r"```graphql\n(.*?)```", tail, re.S)
    assert first and second, f"the graphql blocks of {API_MD} are not where they were"
    return first.group(1), second.group(1)


def _round_two() -> DocumentNode:
    return parse(_blocks()[1])


@functools.cache
def _wanted() -> GraphQLSchema:
    """The contract with round two applied (``extend`` merges into the first block's types)."""
    first, second = _blocks()
    return build_schema(first + second)


def _changed() -> dict[tuple[str, str], str]:
    return {(t, f): new for t, f, new in re.findall(r"# changed: (\w+)\.(\w+) becomes (\S+)", _blocks()[1])}


@functools.cache
def _ours() -> GraphQLSchema:
    return build_schema(print_sdl(program(with_extra=False)))


def round_two_names() -> list[str]:
    """Every name the round-two block adds: ``Type.field`` for each field it adds to a type, ``Type`` for each new
    type (whose fields are checked with it)."""
    out: list[str] = []
    for node in _round_two().definitions:
        if isinstance(node, ObjectTypeDefinitionNode):
            out.append(node.name.value)
        elif isinstance(node, ObjectTypeExtensionNode):
            out.extend(f"{node.name.value}.{f.name.value}" for f in node.fields or ())
    return out


def _same_field(where: str, wanted: GraphQLField, got: GraphQLField, want_type: str | None = None) -> None:
    expected = want_type or str(wanted.type)
    assert str(got.type) == expected, f"{where}: {got.type} != {expected}"
    for name, warg in wanted.args.items():
        garg = got.args.get(name)
        assert garg is not None, f"{where}({name}) is missing"
        assert str(garg.type) == str(warg.type), f"{where}({name}): {garg.type} != {warg.type}"
        assert (warg.default_value is Undefined) == (garg.default_value is Undefined) and \
            (warg.default_value is Undefined or warg.default_value == garg.default_value), \
            f"{where}({name}) default {garg.default_value!r} != {warg.default_value!r}"


def _built(ours: GraphQLSchema, name: str) -> bool:
    type_name, _, field_name = name.partition(".")
    got = ours.type_map.get(type_name)
    if not field_name:
        return got is not None
    return isinstance(got, GraphQLObjectType) and field_name in got.fields


def test_the_round_two_block_is_read() -> None:
    names = round_two_names()
    assert "ProcessInstance.outcome" in names and "Notification" in names and "Mutation.assignRecord" in names
    assert not PENDING - set(names), f"PENDING names what round two doesn't add: {sorted(PENDING - set(names))}"
    assert _changed() == {("TransitionError", "missingSteps"): "[Step!]!"}


@pytest.mark.parametrize("name", round_two_names())
def test_each_round_two_name_is_built_as_written_or_pending(name: str) -> None:
    """Built: exactly as written (type, arguments, defaults; a new type with every field). Else: in PENDING."""
    ours, wanted = _ours(), _wanted()
    if not _built(ours, name):
        assert name in PENDING, f"{name} is not built, and not listed in PENDING"
        return
    assert name not in PENDING, f"{name} is built: remove it from PENDING in {__file__}"
    type_name, _, field_name = name.partition(".")
    want, got = wanted.type_map[type_name], ours.type_map[type_name]
    assert isinstance(want, GraphQLObjectType) and isinstance(got, GraphQLObjectType), type_name
    for fname in [field_name] if field_name else list(want.fields):
        assert fname in got.fields, f"{type_name}.{fname} is missing"
        _same_field(f"{type_name}.{fname}", want.fields[fname], got.fields[fname])


def test_changed_fields_have_their_new_type() -> None:
    """``TransitionError.missingSteps`` is ``[Step!]!``, the type of ``ProcessInstance.missingSteps``, so one
    selection (``missingSteps { name }``) asks both members of ``InstanceResult``."""
    ours = _ours()
    for (type_name, field_name), new in _changed().items():
        got = ours.type_map[type_name]
        assert isinstance(got, GraphQLObjectType)
        assert str(got.fields[field_name].type) == new, f"{type_name}.{field_name}: {got.fields[field_name].type}"
    instance = ours.type_map["ProcessInstance"]
    error = ours.type_map["TransitionError"]
    assert isinstance(instance, GraphQLObjectType) and isinstance(error, GraphQLObjectType)
    assert str(instance.fields["missingSteps"].type) == str(error.fields["missingSteps"].type)


def test_the_transition_error_codes_cover_round_two() -> None:
    """No new codes: a failing gate is STAGE_GATE, a stage's roles FORBIDDEN (API.md)."""
    text = API_MD.read_text(encoding="utf-8")
    assert "`STAGE_GATE` also covers a failing gate" in text and "`FORBIDDEN` a move out of a stage" in text
    codes = _ours().type_map["TransitionErrorCode"]
    assert {"STAGE_GATE", "FORBIDDEN"} <= set(getattr(codes, "values", {}))
