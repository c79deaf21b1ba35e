"""The names the typed entity types must leave alone are the schema's own, read from the built schema.

``bpf_server.schema.names`` derives them from the strawberry types (type names of the
static schema, Query's fields, Record's fields); these tests build schemas, introspect
them, and fail when what the entity types avoid drifts from what the schema holds.
"""

from __future__ import annotations

import re

from bpf_server.schema import build_schema
from bpf_server.schema.entities import BUILTIN_FIELDS, KIND_TYPES, EntityTypes
from bpf_server.schema.names import QUERY_FIELDS, static_type_names
from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLSchema

from bpf_dsl.engine import TransitionErrorCode
from bpf_dsl.model import FieldType
from bpf_dsl.service import EntitySpec, FieldSpec, Program
from tests.server.helpers import program

KINDS = ("text", "email", "phone", "url", "choice", "choices", "integer", "decimal", "money", "bool", "date",
         "datetime")


def graphql(prog: Program) -> GraphQLSchema:
    return build_schema(prog)._schema


def entities(names: list[str], fields: list[str] | None = None) -> Program:
    """A program of bare entities (no processes), each with the given text fields, or one field of every kind."""
    specs = [FieldSpec(f, f, FieldType("text")) for f in fields] if fields is not None else \
        [FieldSpec(f"f_{k}", k, FieldType(k)) for k in KINDS]
    return Program({n: EntitySpec(n, n, {f.name: f for f in specs}) for n in names}, {}, {}, {})


def snake(type_name: str) -> str:
    """The entity name whose type would be ``type_name``: ``ProcessInstance`` → ``process_instance``,
    ``JSON`` → ``j_s_o_n``."""
    return "_".join(p.lower() for p in re.findall(r"[A-Z][a-z0-9]*", type_name))


def reserved_used() -> frozenset[str]:
    """The type names the entity types actually avoid."""
    return static_type_names() | KIND_TYPES


def object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    found = schema.type_map[name]
    assert isinstance(found, GraphQLObjectType), name
    return found


def test_every_type_the_schema_defines_is_reserved() -> None:
    # The examples, and a program with a field of every kind: whatever is not an entity type is reserved.
    for prog in (program(), entities(["thing"])):
        made = EntityTypes(prog, static_type_names(), QUERY_FIELDS)
        schema = graphql(prog)
        others = set(schema.type_map) - set(made.names.values())
        assert others <= reserved_used(), f"types the entity types may take: {sorted(others - reserved_used())}"
    # And nothing is reserved that the schema doesn't have (the list is the schema's, not a guess).
    assert reserved_used() <= set(graphql(entities(["thing"])).type_map), \
        sorted(reserved_used() - set(graphql(entities(["thing"])).type_map))


def test_no_entity_type_takes_a_reserved_name() -> None:
    names = sorted({snake(t) for t in reserved_used() if not t.startswith("__")})
    prog = entities(names)
    made = EntityTypes(prog, static_type_names(), QUERY_FIELDS)
    assert not set(made.names.values()) & reserved_used()
    schema = graphql(prog)  # builds: no two types share a name
    assert {made.names[n] for n in names} <= set(schema.type_map)
    assert made.names["process_instance"] == "ProcessInstanceRecord" and made.names["j_s_o_n"] == "JSONRecord"


def test_the_query_fields_are_the_query_types_fields() -> None:
    assert set(object_type(graphql(Program({}, {}, {}, {})), "Query").fields) == QUERY_FIELDS
    prog = program()
    made = EntityTypes(prog, static_type_names(), QUERY_FIELDS)
    fetch = {f.graphql_name for f in made.query_fields.values()}
    assert set(object_type(graphql(prog), "Query").fields) == QUERY_FIELDS | fetch
    assert not fetch & QUERY_FIELDS


def test_no_fetch_field_takes_a_query_field_name() -> None:
    names = sorted(snake(f[:1].upper() + f[1:]) for f in QUERY_FIELDS)
    query = object_type(graphql(entities(names)), "Query")
    assert len(query.fields) == len(QUERY_FIELDS) + len(names)  # every entity got a field of its own
    assert "processBarRecord" in query.fields and "recordsRecord" in query.fields


def test_every_entity_type_has_records_fields_and_no_typed_field_hides_one() -> None:
    schema = graphql(entities(["thing"], fields=[*sorted(BUILTIN_FIELDS), "topic"]))
    record = object_type(schema, "Record")
    assert set(record.fields) == BUILTIN_FIELDS
    thing = object_type(schema, "Thing")
    for name, fld in record.fields.items():
        assert str(thing.fields[name].type) == str(fld.type), name
        assert str(thing.fields[f"{name}_"].type) == "String", name  # the .bpf field, renamed
    assert set(thing.fields) == BUILTIN_FIELDS | {f"{n}_" for n in BUILTIN_FIELDS} | {"topic"}


def test_the_graphql_error_codes_are_the_engines() -> None:
    codes = graphql(program()).type_map["TransitionErrorCode"]
    assert isinstance(codes, GraphQLEnumType)
    assert list(codes.values) == [c.name for c in TransitionErrorCode]
    assert [v.description for v in codes.values.values()] == [c.meaning for c in TransitionErrorCode]
