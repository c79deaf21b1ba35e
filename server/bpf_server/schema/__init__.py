"""The GraphQL schema: the contract's types (API.md), the typed entity types of the loaded program, the limits.

Built once per server process from the :class:`~bpf_dsl.service.Program`;
``print_sdl(program)`` is what the snapshot test compares.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import strawberry
from graphql import GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import ParserCache
from strawberry.printer import print_schema
from strawberry.types import ExecutionContext, ExecutionResult

from bpf_dsl.service import Program

from ..limits import MAX_TOKENS, PARSER_CACHE, Limits, MaskUnexpected, Validation
from .entities import EntityTypes
from .mutations import Mutation
from .names import CONFIG, QUERY_FIELDS, static_type_names
from .plain_getters import resolve_plain_getters
from .queries import Query
from .subscriptions import Subscription

log = logging.getLogger("bpf.server")


#: graphql-core's words for a document of several operations that names none (the GraphQL spec's GetOperation).
SEVERAL_OPERATIONS = "Must provide operation name if query contains multiple operations."


class BpfSchema(strawberry.Schema):
    """strawberry's Schema, logging client errors quietly (unexpected ones are logged with their id)."""

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        """strawberry's execute, but a document of several operations without ``operationName`` is refused, as
        the GraphQL spec says, instead of running its first operation (strawberry names the first one for it)."""
        if kwargs.get("operation_name") is None and not args[3:4] and query and _operations(query) > 1:
            return ExecutionResult(data=None, errors=[GraphQLError(SEVERAL_OPERATIONS)])
        return await super().execute(query, *args, **kwargs)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if error.original_error is None or isinstance(error.original_error, GraphQLError):
                log.debug("client error: %s", error.message)


@functools.lru_cache(maxsize=PARSER_CACHE)
def _operations(query: str) -> int:
    """How many operations ``query`` holds (0 when it does not parse: strawberry then says why); kept by text,
    as strawberry keeps its parse, so that a request on its path is not parsed twice each time."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return 0
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _query_type(program: Program) -> type:
    entities = EntityTypes(program, static_type_names(), QUERY_FIELDS)
    namespace: dict[str, Any] = {"__module__": __name__, **entities.query_fields}
    cls = type("Query", (Query,), namespace)
    return strawberry.type(cls, name="Query", description="Reads. Processes, their instances and stages the "
                                                              "caller's roles don't allow are absent.")



def build_schema(program: Program) -> BpfSchema:
    """The schema for ``program``, with the limits, the caches and error masking; plain getters called
    directly (:mod:`.plain_getters`)."""
    schema = BpfSchema(
        query=_query_type(program), mutation=Mutation, subscription=Subscription,
        # Validation: strawberry's ValidationCache, with our size limits checked before the other rules.
        extensions=[Limits, lambda: ParserCache(maxsize=PARSER_CACHE), Validation, MaskUnexpected],
        config=CONFIG,
    )
    resolve_plain_getters(schema)
    return schema


def print_sdl(program: Program) -> str:
    """The schema of ``program`` as SDL text."""
    return print_schema(build_schema(program)) + "\n"
