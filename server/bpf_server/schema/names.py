"""The names the static schema takes, read from its strawberry types: never a list kept by hand.

The typed entity types (:mod:`.entities`) must not take a type name the contract's
schema defines, a Query field name, or (for their own fields) a name of ``Record``'s
fields; these are those names, derived from the types themselves, so a type or field
added to the schema is reserved at once (``tests/server/test_schema_drift.py``).
"""

from __future__ import annotations

import functools

import strawberry
from graphql import specified_scalar_types
from strawberry.schema.config import StrawberryConfig
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private

from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription

# The one configuration every schema of the server is built with (names: snake_case → camelCase).
CONFIG = StrawberryConfig()


def graphql_name(field: StrawberryField) -> str:
    """A field's name in the schema."""
    return CONFIG.name_converter.get_graphql_name(field)


def public_fields(cls: type) -> list[StrawberryField]:
    """A strawberry type's fields that are in the schema (not ``strawberry.Private``), in order."""
    return [f for f in get_object_definition(cls, strict=True).fields if not is_private(f.type)]


def field_names(cls: type) -> frozenset[str]:
    """The names a strawberry type's fields have in the schema."""
    return frozenset(graphql_name(f) for f in public_fields(cls))


@functools.cache
def static_type_names() -> frozenset[str]:
    """Every type name of the schema without entity types (the contract's and the extras'), with the built-in
    scalars."""
    static = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription, config=CONFIG)
    return frozenset(static._schema.type_map) | frozenset(specified_scalar_types)


#: The Query fields of the contract and the extras: an entity's fetch field never takes one of these names.
QUERY_FIELDS = field_names(Query)
