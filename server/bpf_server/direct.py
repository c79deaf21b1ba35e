"""The common request, answered without strawberry's per-request machinery.

strawberry's view and ``Schema.execute`` build, for every request, an execution
context, one object per extension and a runner that calls each extension's hooks
around parsing, validation and execution: for a small mutation that is about as much
CPU as the mutation itself. Most requests are alike: a POST of a JSON object whose
query text was seen before, parsed and found valid. For those, :class:`Plans` keeps
the parsed document (per query text, parsed with the token limit, validated with the
same rules: graphql-core's, strawberry's two, and ours in :data:`~bpf_server.limits.VALIDATION_RULES`),
and :func:`execute` runs graphql-core's executor on it with the same arguments
strawberry passes, then does what the schema's extensions would have done with the
result: log client errors quietly (:meth:`BpfSchema.process_errors`) and mask
unexpected ones (:class:`~bpf_server.limits.MaskUnexpected`). The answer is built as
strawberry builds it, byte for byte.

A query text that does not parse or validate is answered here too, with strawberry's
answer (and status), its errors kept by text as a plan is (:class:`Refused`).
Anything else (GET, another content type, a batch, ``extensions``, a document of
several operations, a subscription, a streaming ``Accept``) is left to strawberry,
which answers it as before.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLResolveInfo,
    MiddlewareManager,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
)
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema import schema as strawberry_schema
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.utils.await_maybe import await_maybe

from bpf_dsl.errors import StorageError, UnavailableError
from bpf_dsl.service import Caller, Dependencies, Service

from .compiled import Compiled, NotHere, Outcome, Unusual, compile_mutation
from .context import Context
from .limits import MAX_TOKENS, PARSER_CACHE, VALIDATION_RULES, MaskUnexpected, validate
from .schema import BpfSchema
from .threads import Batched, Pool

#: How many answers :class:`Answers` keeps (a process bar's is about 3 KB).
ANSWERS = 4096
#: What a direct request may run (a subscription goes to strawberry's streaming transports).
_DIRECT = frozenset({OperationType.QUERY, OperationType.MUTATION})


#: The resolve info strawberry's execution context gives resolvers (graphql-core's, if strawberry stops having
#: its own): what a compiled mutation gives its resolver (:mod:`bpf_server.compiled`).
RESOLVE_INFO: type = getattr(strawberry_schema, "_OperationContextAwareGraphQLResolveInfo", GraphQLResolveInfo)

#: Root fields whose answer depends on more than the data and the caller's roles.
_PERSONAL = frozenset({"me"})


@dataclass(frozen=True, slots=True)
class Plan:
    """A query text that parsed and validated: its document, its one operation, and that operation compiled when
    it is a mutation graphql-core's executor needn't run (:mod:`bpf_server.compiled`)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    compiled: Compiled | None = None

    @property
    def name(self) -> str | None:
        """The operation's name, if it has one."""
        return self.operation.name.value if self.operation.name else None

    @property
    def keepable(self) -> bool:
        """Whether its answer is a function of the stored data and the caller's roles only, so that it may be
        kept (:class:`Answers`): a query whose root selections are fields, none of them personal (``me``)."""
        if self.operation.operation is not OperationType.QUERY:
            return False
        selections = self.operation.selection_set.selections
        return all(isinstance(s, FieldNode) and s.name.value not in _PERSONAL for s in selections)


@dataclass(frozen=True, slots=True)
class Refused:
    """A query text that does not parse (``parsed`` False) or does not validate: its errors."""

    errors: list[GraphQLError]
    parsed: bool


#: What :meth:`Plans.get` finds for a query text: a plan, the errors that refuse it, or None (strawberry's).
Found = Plan | Refused | None
_UNSEEN = object()


class Plans:
    """Parsed and validated documents by query text (bounded, least recently used dropped first).

    Texts that don't parse or validate are kept too, with their errors: a client sending the same bad
    query again costs a lookup, not another validation.
    """

    def __init__(self, schema: BpfSchema, maxsize: int = PARSER_CACHE) -> None:
        self.schema = schema
        self.rules = (*specified_rules, *VALIDATION_RULES)
        self.maxsize = maxsize
        self._plans: OrderedDict[str, Found] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, query: str) -> bool:
        """Whether ``query`` was parsed and validated before (and is still kept): :meth:`get` then costs a
        lookup. An unseen text costs a parse and a validation, work the view hands to a thread."""
        with self._lock:
            return query in self._plans

    def get(self, query: str) -> Found:
        """The plan of ``query``; its errors if it does not parse or validate; None when strawberry should
        answer it (it holds other than one query or mutation)."""
        with self._lock:
            found = self._plans.get(query, _UNSEEN)
            if found is not _UNSEEN:
                self._plans.move_to_end(query)
                return found  # type: ignore[return-value]
        plan = self._make(query)
        with self._lock:
            self._plans[query] = plan
            if len(self._plans) > self.maxsize:
                self._plans.popitem(last=False)
        return plan

    def _make(self, query: str) -> Found:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            return Refused([error], parsed=False)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation not in _DIRECT:
            return None  # strawberry picks the operation (or refuses the request) before it validates
        errors = validate(self.schema._schema, document, self.rules)
        if errors:
            return Refused(errors, parsed=True)
        return Plan(document, operations[0], compile_mutation(self.schema._schema, document, operations[0],
                                                              RESOLVE_INFO))


def request_data(body: Any) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """``(query, variables, operationName)`` of a JSON body that :func:`execute` may answer; None otherwise."""
    if not isinstance(body, dict):
        return None
    query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
    if not isinstance(query, str) or not query or body.get("extensions") is not None:
        return None
    if variables is not None and not isinstance(variables, dict):
        return None
    if name is not None and not isinstance(name, str):
        return None
    return query, variables, name


async def answer(schema: BpfSchema, plan: Plan, variables: dict[str, Any] | None,
                 context: Context) -> dict[str, Any]:
    """The answer's JSON object of ``plan``: by its compiled form where it has one and the request is usual,
    else by graphql-core (:func:`execute`), with the compiled resolver's outcome if it ran."""
    compiled = plan.compiled
    if compiled is None:
        return await execute(schema, plan, variables, context)
    try:
        outcome = await compiled.resolve(variables, context, optimized_is_awaitable)
    except NotHere:  # refused variables or arguments: nothing ran, graphql-core says why
        return await execute(schema, plan, variables, context)
    try:
        return {"data": compiled.answer(outcome)}
    except Unusual:
        return await execute(schema, plan, variables, context, outcome)


def _injecting(outcome: Outcome) -> MiddlewareManager:
    """Middleware giving the root field the outcome its resolver had already (the resolver is not run again)."""

    def root_outcome(resolve: Any, source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        if info.path.prev is not None:
            return resolve(source, info, **args)
        if outcome.error is not None:
            raise outcome.error
        return outcome.value

    return MiddlewareManager(root_outcome)


async def execute(schema: BpfSchema, plan: Plan, variables: dict[str, Any] | None,
                  context: Context, outcome: Outcome | None = None) -> dict[str, Any]:
    """Run ``plan`` as strawberry's ``Schema.execute`` would; the answer's JSON object (``data``, and ``errors``
    if any). ``outcome``: what the root field's resolver gave when it ran already (:func:`answer`)."""
    try:
        # The call of strawberry's Schema._execute_operation, argument for argument (no extension of ours
        # has resolve hooks: its middleware manager is empty, but for a root outcome given).
        middleware = MiddlewareManager() if outcome is None else _injecting(outcome)
        result = await await_maybe(schema._get_execute_function()(
            schema._schema, plan.document, root_value=None, middleware=middleware,
            variable_values=variables, operation_name=plan.name, context_value=context,
            is_awaitable=optimized_is_awaitable, **execution_context_class_kwargs(schema.execution_context_class),
            **schema._get_custom_context_kwargs(None)))
    except Exception as exc:  # what strawberry's execute turns into a result with one error
        error = exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
        result = ExecutionResult(data=None, errors=[error])
    errors = result.errors
    answer: dict[str, Any] = {"data": result.data}
    for error in errors or ():
        if isinstance(error.original_error, UnavailableError):
            raise error.original_error  # the whole request is a 503 (GraphQLView.__call__)
    if errors:
        schema.process_errors(errors)
        masker = MaskUnexpected()
        answer["errors"] = [(masker.anonymise_error(e) if masker.should_mask_error(e) else e).formatted
                            for e in errors]
    return answer


def encode(answer: dict[str, Any]) -> str:
    """The answer's JSON text, as strawberry encodes it."""
    return json.dumps(answer, separators=(",", ":"))


@dataclass(slots=True)
class Kept:
    """A kept answer: its bytes, what the reads behind it depended on, and the database's generation when they
    were last known to hold."""

    body: bytes
    deps: Dependencies
    generation: int | None


#: What a kept answer is found by: the request's body and what the answer depends on of the caller
#: (:meth:`Service.audience`: its roles, and its user name where an ``own`` grant makes answers personal).
Key = tuple[bytes, Hashable]


class Answers:
    """The answers of reads, kept until a row they depend on changes, by request body and the caller's roles
    (and user, where access depends on it: :meth:`key`).

    A request whose body is byte for byte one answered before, from a caller with the same roles,
    gets that answer again if it still holds: at once if nothing at all was committed since
    (``Storage.generation``: SQLite's ``PRAGMA data_version``, a microsecond), else if every row
    the reads depended on still has the version they read (:meth:`Service.unchanged`, a few reads
    by key). An answer whose reads searched (a list of records, analytics) holds only while
    nothing is committed. Answers with errors are not kept; neither is anything when the
    program's reads may depend on the clock (:attr:`Service.reads_timeless`).
    """

    def __init__(self, service: Service, maxsize: int = ANSWERS, readers: Pool | None = None) -> None:
        self.service = service
        self.maxsize = maxsize
        self._kept: OrderedDict[Key, Kept] = OrderedDict()
        # Where reads are round trips (PostgreSQL), the checks of concurrent requests share one query and one
        # hand-off to a reader thread (``readers``; None: checked inline).
        self._checks = None if readers is None else Batched(service.unchanged_many, readers)

    def key(self, body: bytes, caller: Caller) -> Key:
        """Where the answer of ``body`` for ``caller`` is kept: callers who may see the same share it."""
        return (body, self.service.audience(caller))

    async def get(self, key: Key, context: Context) -> bytes | None:
        """The kept answer of ``key`` if it still holds."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        if kept.deps.none:
            return kept.body
        generation = self.generation()  # before reading anything again
        if generation is None or generation != kept.generation:
            try:
                holds = not kept.deps.opaque and await self._unchanged(kept.deps)
            except StorageError:  # the request is answered afresh, and says what failed if it fails again
                holds = False
            if not holds:
                self._drop(key, kept)
                return None
            kept.generation = generation
        # While this request re-read, another with the same key may have dropped or replaced the answer.
        if self._kept.get(key) is kept:
            self._kept.move_to_end(key)
        return kept.body

    async def _unchanged(self, deps: Dependencies) -> bool:
        if self._checks is None:  # reads inline (SQLite): a microsecond each, nothing to share
            return self.service.unchanged(deps)
        return await self._checks(deps)

    def generation(self) -> int | None:
        """The database's generation now (``Storage.generation``); None if it can't tell or can't be asked."""
        try:
            return self.service.storage.generation()
        except StorageError:
            return None

    def _drop(self, key: Key, kept: Kept) -> None:
        """Forget ``kept`` unless a newer answer took its place meanwhile."""
        if self._kept.get(key) is kept:
            del self._kept[key]

    def keep(self, key: Key, body: bytes, deps: Dependencies,
             generation: int | None) -> None:
        """Keep an answer (``generation``: sampled before its reads began)."""
        if deps.uncacheable:
            return
        self._kept[key] = Kept(body, deps, generation)
        if len(self._kept) > self.maxsize:
            self._kept.popitem(last=False)
