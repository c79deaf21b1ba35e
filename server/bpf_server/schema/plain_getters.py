"""Fields that only read their object, resolved without strawberry's per-field wrapper.

Most fields of the schema are methods like ``def version(self) -> int: return self.row.version``.
strawberry resolves each one through a wrapper that builds an ``Info``, converts the (absent)
arguments, looks for exception handlers and runs field extensions: about 10 µs per field, for a
call of well under one. A process bar has about 90 fields; a move's answer a few.

For a field with none of that to do (a synchronous method of ``self`` alone: no ``info``, no
arguments, no field extension or permission, no directive, and the schema has no exception
handler for it), :func:`resolve_plain_getters` puts in graphql-core's field a resolver that calls
the method itself. The answer is the same value: strawberry's wrapper passes the method's result
on untouched, and graphql-core completes it as before (leaf serialisation, type resolution,
errors located at the field).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


def resolve_plain_getters(schema: strawberry.Schema) -> int:
    """Resolve every plain getter of ``schema`` by calling it directly; how many fields that is."""
    handlers = getattr(schema.schema_converter, "_get_field_exception_handlers", None)
    count = 0
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            getter = _plain_getter(definition)
            if getter is None or field.subscribe is not None or (handlers is not None and handlers(definition)):
                continue
            field.resolve = _calling(getter)
            count += 1
    return count


def _plain_getter(field: Any) -> Callable[[Any], Any] | None:
    """The method behind ``field`` if it needs nothing but its object, else None."""
    if not isinstance(field, StrawberryField) or field.is_async or field.arguments or field.extensions \
            or field.directives or field.is_subscription:
        return None
    resolver = field.base_resolver
    if resolver is None or resolver.is_async or resolver.self_parameter is None:
        return None
    if resolver.info_parameter is not None or resolver.root_parameter is not None \
            or resolver.parent_parameter is not None:
        return None
    func = resolver.wrapped_func
    if not callable(func) or len(inspect.signature(func).parameters) != 1:
        return None
    return func


def plain_getter_of(field: GraphQLField) -> Callable[[Any], Any] | None:
    """What ``field``'s value is read with when it needs nothing but its object, else None: the method a plain
    getter's resolver calls (:func:`resolve_plain_getters`), or strawberry's resolver of a field without one (an
    attribute, read by the config's default resolver; strawberry marks it ``_is_default`` and ignores its info)."""
    resolve = field.resolve
    getter: Callable[[Any], Any] | None = getattr(resolve, "plain_getter", None)
    if getter is None and resolve is not None and getattr(resolve, "_is_default", False):
        basic = resolve

        def getter(source: Any) -> Any:
            return basic(source, None)

    return getter


def _calling(getter: Callable[[Any], Any]) -> Callable[..., Any]:
    def resolve(source: Any, _info: Any, **_args: Any) -> Any:
        return getter(source)

    resolve.plain_getter = getter  # type: ignore[attr-defined]  # read by plain_getter_of
    return resolve
