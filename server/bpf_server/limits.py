"""Input limits at every door, and the masking of unexpected errors.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` build a new validation
rule class each time they are constructed. Constructed per request (the factory
form strawberry asks for), every request would bring new rule classes, and the
validation cache, keyed by the rules, would never hit. So the rule classes are
built once, here, at import, and one small extension adds the same tuple to every
operation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import ASTValidationRule, GraphQLError, StringValueNode
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from bpf_dsl.service import unstorable

log = logging.getLogger("bpf.server")

MAX_DEPTH = 12  # the deepest page query (a record, its instance, the bar's steps) needs 6
MAX_ALIASES = 30
MAX_TOKENS = 4000  # also bounds the recursion of the parser and of the depth check
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


# Built once: the same classes for every request keep strawberry's validation cache effective.
VALIDATION_RULES: tuple[type[ASTValidationRule], ...] = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    StorableStrings,
)


class Limits(SchemaExtension):
    """Adds the prebuilt depth and alias rules and the token limit to every operation."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.validation_rules = ctx.validation_rules + VALIDATION_RULES
        ctx.parse_options["max_tokens"] = MAX_TOKENS
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
        return GraphQLError(f"Internal error (id {error_id}); the server's log has the details.",
                            nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
                            extensions={"code": "INTERNAL", "errorId": error_id})
