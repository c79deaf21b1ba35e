"""A mutation's common answer, built without graphql-core's executor.

graphql-core runs a one-field mutation through an executor built per request (the
operation looked up again, fragments gathered, an incremental-delivery publisher),
the serial field loop, the field collection of its answer, the union's type
resolution and a completion call per field: on SQLite about a third of a move's
CPU, more than the move's own SQL. :func:`compile_mutation` looks once at a
validated mutation (a :class:`~bpf_server.direct.Plan`) and, when its answer needs
none of that machinery, makes a :class:`Compiled` that a request runs instead:

1. the variables and the root field's arguments are coerced by graphql-core's own
   functions; any error there, before anything ran, leaves the request to graphql-core,
   which answers it with the same errors (:class:`NotHere`);
2. the root field's resolver, strawberry's (argument conversion, ``Info``, field
   extensions, exception handlers: all of it), is called once;
3. the answer is built from a completion compiled from the selection: ``__typename``,
   inline fragments and fragment spreads on the possible types, and fields that only
   read their object (:mod:`~bpf_server.schema.plain_getters`), leaves coerced by their
   scalar's own ``coerce_output_value`` (``serialize`` before graphql-core 3.3).

What compiles: a mutation with one root field (aliases allowed), no directive anywhere,
no fragment variables, and an answer whose every field, on every type the answer may
have, is a plain getter without arguments. Anything else is answered by graphql-core as
before. Anything unusual after the resolver ran (it raised, a getter raised, a null
where the schema says non-null, a value its scalar refuses, an object of a type the
completion was not compiled for) is handed to graphql-core with the resolver's outcome
put in the resolver's place (:func:`bpf_server.direct.execute`'s ``outcome``): the
mutation runs once, and the answer, errors and their paths included, is graphql-core's.
tests/server/test_compiled.py runs selections both ways and compares the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    is_abstract_type,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path
from strawberry.schema.schema_converter import GraphQLCoreConverter

from .schema.plain_getters import plain_getter_of

#: What completes a resolved value into its part of the answer (raises :class:`Unusual` when graphql-core must).
Completer = Callable[[Any], Any]


class NotHere(Exception):
    """The request can't be answered here before anything ran: graphql-core answers it (with its errors)."""


class Unusual(Exception):
    """The compiled completion met what only graphql-core answers right (an error and its path)."""


class _NotCompilable(Exception):
    """The selection needs what the compiled completion does not do."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the root field's resolver gave: its value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Compiled:
    """A mutation ready to run without graphql-core's executor (:func:`compile_mutation`)."""

    schema: GraphQLSchema
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    field: GraphQLField
    node: FieldNode
    parent: GraphQLObjectType
    key: str
    complete: Completer
    info_fields: tuple[str, ...]
    info_class: type

    async def resolve(self, variables: Mapping[str, Any] | None, context: Any,
                      is_awaitable: Callable[[Any], bool]) -> Outcome:
        """Coerce the variables and arguments, then run the root field's resolver once; raises :class:`NotHere`
        when the variables or arguments are refused (nothing ran: graphql-core answers with its errors)."""
        coerced = get_variable_values(self.schema, self.operation.variable_definitions or (), dict(variables or {}))
        if isinstance(coerced, list):
            raise NotHere()
        try:
            args = get_argument_values(self.field, self.node, coerced) if self.field.args else {}
        except GraphQLError:
            raise NotHere() from None
        known = {"field_name": self.node.name.value, "field_nodes": [self.node], "return_type": self.field.type,
                 "parent_type": self.parent, "path": Path(None, self.key, self.parent.name), "schema": self.schema,
                 "fragments": self.fragments, "root_value": None, "operation": self.operation,
                 "variable_values": coerced.coerced, "context": context, "is_awaitable": is_awaitable}
        info = self.info_class(*(known.get(name) for name in self.info_fields))
        resolve = self.field.resolve
        assert resolve is not None
        try:
            value = resolve(None, info, **args)
            if is_awaitable(value):
                value = await value
        except Exception as exc:
            return Outcome(error=exc)
        return Outcome(value=value)

    def answer(self, outcome: Outcome) -> dict[str, Any]:
        """The answer's ``data`` of a resolver's value; raises :class:`Unusual` when graphql-core must answer."""
        if outcome.error is not None:
            raise Unusual()
        try:
            return {self.key: self.complete(outcome.value)}
        except Unusual:
            raise
        except Exception:  # a getter or a scalar refused: graphql-core locates the error
            raise Unusual() from None


#: The fields of an info this module knows how to fill (others: the plan is not compiled); unknown ones are None.
_INFO_FIELDS = frozenset({"field_name", "field_nodes", "return_type", "parent_type", "path", "schema", "fragments",
                          "root_value", "operation", "variable_values", "context", "is_awaitable", "abort_signal",
                          "async_helpers", "operation_extensions"})


def compile_mutation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                     info_class: type = GraphQLResolveInfo) -> Compiled | None:
    """``operation`` (validated against ``schema``) compiled, or None when graphql-core must run it.

    ``info_class``: the resolve info its resolvers are given (strawberry's execution context gives its own).
    """
    if operation.operation is not OperationType.MUTATION or schema.mutation_type is None:
        return None
    fields = getattr(info_class, "_fields", None)
    if not fields or not set(fields) <= _INFO_FIELDS or _has_directives(document):
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if any(f.variable_definitions for f in fragments.values()):
        return None
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return None
    node = roots[0]
    parent = schema.mutation_type
    field = parent.fields.get(node.name.value)
    if field is None or field.resolve is None:
        return None
    try:
        complete = _Compiler(schema, fragments).completer(field.type, [node])
    except _NotCompilable:
        return None
    return Compiled(schema, document, operation, fragments, field, node, parent,
                    node.alias.value if node.alias else node.name.value, complete, tuple(fields), info_class)


class _Compiler:
    """Builds the completion of a selection, type by type (raises :class:`_NotCompilable`)."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments

    def completer(self, gtype: GraphQLOutputType, nodes: list[FieldNode]) -> Completer:
        if isinstance(gtype, GraphQLNonNull):
            return _non_null(self.completer(gtype.of_type, nodes))
        if isinstance(gtype, GraphQLList):
            return _list(self.completer(gtype.of_type, nodes))
        if isinstance(gtype, (GraphQLScalarType, GraphQLEnumType)):
            return _leaf(gtype)
        if isinstance(gtype, GraphQLObjectType):
            return _nullable(self._object(gtype, nodes))
        if is_abstract_type(gtype):
            return _nullable(self._abstract(gtype, nodes))
        raise _NotCompilable()

    def _abstract(self, gtype: GraphQLAbstractType, nodes: list[FieldNode]) -> Completer:
        by_class = {_origin(possible): self._object(possible, nodes)
                    for possible in self.schema.get_possible_types(gtype)}

        def complete(value: Any) -> Any:
            found = by_class.get(type(value))
            if found is None:
                raise Unusual()  # strawberry's type resolution (a cast, a subclass) and its errors: graphql-core's
            return found(value)

        return complete

    def _object(self, gtype: GraphQLObjectType, nodes: list[FieldNode]) -> Completer:
        origin = _origin(gtype)
        grouped: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node.selection_set is None:
                raise _NotCompilable()
            self._collect(gtype, node.selection_set, grouped, set())
        parts: list[tuple[str, Callable[[Any], Any] | None, Completer | None]] = []
        for key, same in grouped.items():
            name = same[0].name.value
            if name == "__typename":
                parts.append((key, None, None))
                continue
            field = gtype.fields.get(name)
            getter = plain_getter_of(field) if field is not None else None
            if field is None or getter is None or field.args or any(n.arguments for n in same):
                raise _NotCompilable()
            parts.append((key, getter, self.completer(field.type, same)))
        typename = gtype.name

        def complete(value: Any) -> Any:
            if type(value) is not origin:
                raise Unusual()  # strawberry's is_type_of decides (interfaces, casts): graphql-core's
            out: dict[str, Any] = {}
            for key, getter, sub in parts:
                out[key] = typename if getter is None else sub(getter(value))  # type: ignore[misc]
            return out

        return complete

    def _collect(self, gtype: GraphQLObjectType, selections: SelectionSetNode, into: dict[str, list[FieldNode]],
                 spread: set[str]) -> None:
        """The fields of a selection that apply to ``gtype``, grouped by response key in their order (as
        graphql-core's field collection groups them)."""
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                into.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, gtype):
                    self._collect(gtype, selection.selection_set, into, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in spread or fragment is None:
                    continue
                spread.add(name)
                if self._applies(fragment.type_condition.name.value, gtype):
                    self._collect(gtype, fragment.selection_set, into, spread)

    def _applies(self, condition: str, gtype: GraphQLObjectType) -> bool:
        found = self.schema.get_type(condition)
        if found is gtype:
            return True
        return is_abstract_type(found) and self.schema.is_sub_type(found, gtype)


def _origin(gtype: GraphQLObjectType) -> type:
    """The Python class of a strawberry object type (what its values are instances of)."""
    definition = (gtype.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    origin = getattr(definition, "origin", None)
    if not isinstance(origin, type):
        raise _NotCompilable()
    return origin


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        done = inner(value)
        if done is None:
            raise Unusual()  # graphql-core's error, and the null's propagation to the nearest nullable parent
        return done

    return complete


def _nullable(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        return None if value is None else inner(value)

    return complete


def _list(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise Unusual()
        return [inner(item) for item in value]

    return complete


def _leaf(gtype: GraphQLScalarType | GraphQLEnumType) -> Completer:
    coerce = getattr(gtype, "coerce_output_value", None) or gtype.serialize

    def complete(value: Any) -> Any:
        if value is None:
            return None
        done = coerce(value)
        if done is Undefined or done is None:
            raise Unusual()
        return done

    return complete


def _has_directives(node: Node) -> bool:
    """Whether any node of the document carries a directive (``@skip``, ``@include``, ...)."""
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (list, tuple)):
            stack.extend(current)
            continue
        if not isinstance(current, Node):
            continue
        if getattr(current, "directives", None):
            return True
        stack.extend(getattr(current, key) for key in current.keys if key not in ("loc", "directives"))
    return False
