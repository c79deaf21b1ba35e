"""Input limits at every door, and the masking of unexpected errors.

A document's size is limited before anything else looks at it (:class:`DocumentLimits`,
measured by :mod:`bpf_server.measure`): its depth, its aliases, its field selections
and how often one response path repeats, all counted with every fragment spread
expanded, yet each fragment visited once. strawberry's ``QueryDepthLimiter`` and
``MaxAliasesLimiter`` walked a fragment again at each of its spreads, which is
exponential: 30 fragments that each spread the one before twice, 1.3 KB of text,
kept a core busy for minutes. The rule classes are built once, here, at import:
the validation cache is keyed by the rules, and classes built per request would
never hit it.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    StringValueNode,
    ValidationContext,
)
from strawberry.extensions import MaskErrors, SchemaExtension

from bpf_dsl.service import unstorable

from .measure import Measure

log = logging.getLogger("bpf.server")

MAX_DEPTH = 12  # the deepest page query (a record, its instance, the bar's steps) needs 6
MAX_ALIASES = 30
# Field selections with every fragment expanded: GraphiQL's introspection query has 229, the web page's
# largest query (RecordPage) 104, every query of the tests fewer.
MAX_FIELDS = 500
# Fields sharing one response path (see measure.py): the page's queries reach 3 (``__typename`` in each
# arm of a union). graphql-core compares such fields pairwise, so its work grows as fields x repeats:
# with these two limits the worst document validates in milliseconds, not seconds.
MAX_REPEATS = 10
# Tokens of a document: the largest real query has about 190. This bounds the parser (and its recursion)
# and every validation pass that is linear in the text.
MAX_TOKENS = 2000
# The connections uvicorn keeps (bpf serve sets them: uvicorn's own defaults leave a request head untimed).
HEADER_TIMEOUT = 10.0  # seconds for a whole request head, from its first byte (protocol.py; --header-timeout)
KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this long
LIMIT_CONCURRENCY = 1000  # connections and requests at once per server process, 503 beyond (--limit-concurrency)
MAX_HEADER_BYTES = 16_384  # a request line and its headers (h11's incomplete-event limit; 400 beyond)
MAX_BODY_BYTES = 1_000_000  # a POST /graphql body (413 beyond)
DRAIN_BYTES = 32_000_000  # an over-limit body up to this size is read and dropped, so the client sees the 413
MAX_WS_MESSAGE_BYTES = 1_000_000
MAX_SUBSCRIPTIONS_PER_SOCKET = 10
SUBSCRIBER_QUEUE = 1000  # events buffered for one slow subscriber before it misses some
VALIDATION_CACHE = 512
PARSER_CACHE = 512

class StorableStrings(ASTValidationRule):
    """String literals in the query text must be storable text (see :func:`unstorable`)."""

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        problem = unstorable(node.value)
        if problem:
            self.report_error(GraphQLError(f"a string value holds {problem}, which no value may contain", node))


def document_errors(document: DocumentNode) -> list[GraphQLError]:
    """What of ``document`` is over the size limits (one error per operation at most); [] when nothing is.

    Linear in the text whatever its fragments do (:mod:`bpf_server.measure`): run it before the other
    validation rules, whose work on an over-sized document is what the limits are there to spare.
    """
    errors: list[GraphQLError] = []
    for operation, size in Measure(document, MAX_FIELDS).sizes():
        name = operation.name.value if operation.name else "anonymous"
        if size.fields > MAX_FIELDS:
            message = (f"'{name}' selects more than {MAX_FIELDS} fields once its fragments are expanded: "
                       "ask for less in one request")
        elif size.depth > MAX_DEPTH:
            message = f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}"
        elif size.aliases > MAX_ALIASES:
            message = f"{size.aliases} aliases found in '{name}'. Allowed: {MAX_ALIASES}"
        elif size.repeats > MAX_REPEATS:
            message = (f"'{name}' selects one field up to {size.repeats} times at the same place "
                       f"(at most {MAX_REPEATS}): select it once")
        else:
            continue
        errors.append(GraphQLError(message, operation, extensions={"code": "QUERY_TOO_LARGE"}))
    return errors


class DocumentLimits(ASTValidationRule):
    """The size limits as a validation rule (:func:`document_errors`), for every path that validates."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        for error in document_errors(context.document):
            context.report_error(error)


# Built once: the same classes for every request keep the validation cache effective.
VALIDATION_RULES: tuple[type[ASTValidationRule], ...] = (DocumentLimits, StorableStrings)


class Limits(SchemaExtension):
    """Adds the prebuilt rules (:data:`VALIDATION_RULES`) and the token limit to every operation."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.validation_rules = ctx.validation_rules + VALIDATION_RULES
        ctx.parse_options["max_tokens"] = MAX_TOKENS
        yield


def validate(schema: GraphQLSchema, document: DocumentNode,
             rules: tuple[type[ASTValidationRule], ...]) -> list[GraphQLError]:
    """The errors of ``document``: those of the size limits alone if it is over them, else every rule's.

    graphql-core runs its rules side by side in one walk, so a limit among them would not spare the
    others (the pairwise comparisons of ``OverlappingFieldsCanBeMergedRule`` above all) their work on a
    document it refuses: the limits are checked first, on their own.
    """
    from strawberry.schema.schema import validate_document  # strawberry's rules added (imported late: a cycle)

    return document_errors(document) or validate_document(schema, document, rules)


_validate_kept = functools.lru_cache(maxsize=VALIDATION_CACHE)(validate)


class Validation(SchemaExtension):
    """strawberry's ``ValidationCache``, validating with :func:`validate` (the size limits first)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None  # strawberry validates only what parsed
        ctx.pre_execution_errors = _validate_kept(ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
        yield


class ClientError(GraphQLError):
    """A request the client can fix (bad arguments): shown as it is, never masked."""


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpected(MaskErrors):
    """Replaces an unexpected exception's message with a generic one carrying an id, logged with the traceback.

    Validation errors and :class:`ClientError` pass unchanged: they tell the client what to fix.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid.uuid4().hex[:12]
        original = error.original_error
        log.error("internal error %s at %s: %r", error_id, error.path, original,
                  exc_info=(type(original), original, original.__traceback__) if original is not None else None)
        # The original stays attached (it is not shown): the view answers 503 for a database that was
        # unavailable, whichever resolver met it.
        return GraphQLError(f"Internal error (id {error_id}); the server's log has the details.",
                            nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
                            original_error=original, extensions={"code": "INTERNAL", "errorId": error_id})
