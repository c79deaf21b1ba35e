"""``/graphql`` over HTTP and WebSocket: strawberry's ASGI view with the doors guarded.

Before strawberry sees an HTTP request: GraphiQL's page is served without a token
(or 404 with ``--no-graphiql``); anything else needs ``Authorization: Bearer
TOKEN`` (401 with a JSON reason otherwise, nothing of the schema); the body is
limited (413); a body that isn't JSON, or isn't an object, is a 400 saying so.
Every refusal is ``{"errors": [{"message": ...}]}``, a database that can't be used a
503 of that shape. Answers are ``application/json``, or
``application/graphql-response+json`` when the request's ``Accept`` prefers it
(:mod:`bpf_server.media`).

On a socket only ``graphql-transport-ws`` is spoken; ``connection_init`` must carry
``{"Authorization": "Bearer TOKEN"}`` or the socket is closed with 4403, as it is
later once that token is revoked or expires (:mod:`bpf_server.sockets`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from typing import Any, cast

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from bpf_dsl.errors import StorageError, UnavailableError
from bpf_dsl.service import unstorable

from . import direct, media
from .authn import Refused
from .context import Context
from .headers import graphiql_csp
from .limits import DRAIN_BYTES, MAX_BODY_BYTES, MAX_SUBSCRIPTIONS_PER_SOCKET
from .schema import BpfSchema
from .sockets import FORBIDDEN, Watched
from .state import AppState
from .threads import in_thread

log = logging.getLogger("bpf.server")

#: The message of a 503: what failed is in the server's log (a driver's message may name hosts).
UNAVAILABLE = "the database is unavailable at the moment: try again shortly"


class BodyTooLarge(Exception):
    """The request body passed :data:`~bpf_server.limits.MAX_BODY_BYTES`."""


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A refusal in GraphQL's error shape."""
    return JSONResponse({"errors": [{"message": message}]}, status_code=status, headers=headers)


class _TransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """strawberry's graphql-transport-ws handler, with each acknowledged socket watched until it closes: it is
    closed with 4403 once its token is revoked or expires (:class:`~bpf_server.sockets.Sockets`)."""

    _watched: Watched | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        credential = self.context.credential
        if self.connection_acknowledged and self._watched is None and credential is not None:
            assert credential.token_id is not None
            sockets = cast("GraphQLView", self.view).state.sockets
            self._watched = sockets.watch(credential.token_id, credential.expires_at, self._forbid)

    async def _forbid(self, reason: str) -> None:
        """End every operation (no event is sent after this) and close the socket with 4403."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.websocket.close(code=FORBIDDEN, reason=reason)

    async def shutdown(self) -> None:
        if self._watched is not None:
            cast("GraphQLView", self.view).state.sockets.unwatch(self._watched)
            self._watched = None
        await super().shutdown()


class GraphQLView(GraphQL[Context, None]):
    """strawberry's ASGI GraphQL app with authentication and input limits in front."""

    schema: BpfSchema
    graphql_transport_ws_handler_class = _TransportWS

    def __init__(self, schema: BpfSchema, state: AppState, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         connection_init_wait_timeout=dt.timedelta(seconds=10),
                         max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_SOCKET)
        self.state = state
        self._graphiql_csp: str | None = None
        self.plans = direct.Plans(schema)
        self.answers = direct.Answers(state.service, readers=None if state.inline_reads else state.readers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        capped = _Capped(receive)
        request = Request(scope, receive=capped)
        try:
            response = await self._answer(request)
        except HTTPException as exc:
            response = error_response(exc.status_code, exc.reason)
        except Refused as exc:
            response = error_response(401, exc.reason, {"WWW-Authenticate": "Bearer"})
        except BodyTooLarge:
            await capped.drain()
            response = error_response(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        except StorageError as exc:
            # The database can't be used now (down, connections lost, busy past our retries): wherever it
            # was met, checking the token or in a resolver, the client is told to come back, in JSON.
            log.warning("answered 503: the database failed: %s", exc)
            response = error_response(503, UNAVAILABLE, {"Retry-After": "1"})
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        if self.should_render_graphql_ide(self.request_adapter_class(request)):
            if self.graphql_ide:
                return await self.render_graphql_ide(request)
            raise HTTPException(404, "GraphiQL is off on this server (--no-graphiql): POST queries to /graphql")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        caller = await self.state.auth.caller(request.headers.get("authorization"))
        context = Context(self.state.service, self.state, caller)
        graphql_response = media.prefers_graphql_response(request.headers.get("accept"))
        if request.method == "POST":
            answered = await self._direct(request, context, graphql_response)
            if answered is not None:
                return answered
        response = await self.run(request, context=context)
        return _as_graphql_response(response) if graphql_response else response

    async def _direct(self, request: Request, context: Context, graphql_response: bool) -> Response | None:
        """The common request without strawberry's per-request machinery (:mod:`bpf_server.direct`); None: let
        strawberry answer it. ``graphql_response``: answer as ``application/graphql-response+json``."""
        headers = request.headers
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        accept = headers.get("accept", "")
        if "application/json" not in content_type or "multipart" in accept or "event-stream" in accept:
            return None
        media_type = media.media_type(graphql_response)
        body = await request.body()
        answers = self.answers if self.state.service.reads_timeless else None
        key = self.answers.key(body, context.me)
        if answers is not None:
            kept = await answers.get(key, context)
            if kept is not None:  # only answers without errors are kept: the same in either media type
                return Response(kept, media_type=media_type)
        found = direct.request_data(self.parse_json(body))
        if found is None:
            return None
        query, variables, name = found
        # A text not seen before is parsed and validated in a thread: however bounded (limits.py), that work
        # must not hold up every other request of this event loop (the GIL is still shared, but released
        # to the loop every few milliseconds).
        plan = self.plans.get(query) if self.plans.seen(query) else await in_thread(self.plans.get, query)
        if isinstance(plan, direct.Refused):
            self.schema.process_errors(plan.errors)
            return _answer({"data": None, "errors": [e.formatted for e in plan.errors]}, graphql_response)
        if plan is None or (name is not None and name != plan.name):
            return None
        if answers is None or not plan.keepable:
            return _answer(await direct.answer(self.schema, plan, variables, context), graphql_response)
        generation = answers.generation()  # before the reads: a commit during them changes it
        with self.state.service.recording() as deps:
            answer = await direct.execute(self.schema, plan, variables, context)
        if "errors" in answer:
            return _answer(answer, graphql_response)
        text = direct.encode(answer).encode()
        answers.keep(key, text, deps, generation)
        return Response(text, media_type=media_type)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL's page, with the policy that lets it run (:func:`bpf_server.headers.graphiql_csp`)."""
        response = await super().render_graphql_ide(request)
        if self._graphiql_csp is None:  # the page is the same every time: its policy is computed once
            self._graphiql_csp = graphiql_csp(bytes(response.body).decode())
        response.headers["content-security-policy"] = self._graphiql_csp
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """strawberry's answer of a result, unless the database was unavailable to a resolver: then the whole
        request is a 503 (:meth:`__call__`), as on the direct path (:func:`bpf_server.direct.execute`)."""
        for error in result.errors or ():
            if isinstance(error.original_error, UnavailableError):
                raise error.original_error
        return await super().process_result(request, result)

    def parse_json(self, data: str | bytes) -> Any:
        """The body as JSON, or a 400 that says what is wrong with it."""
        try:
            value = json.loads(data)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, f"the request body is not valid JSON: {exc.msg} "
                                     f"(line {exc.lineno}, column {exc.colno})") from None
        except (RecursionError, UnicodeDecodeError, ValueError):
            raise HTTPException(400, "the request body is not valid JSON (or is nested too deeply)") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, 'the request body must be a JSON object: {"query": "...", "variables": {...}}')
        problem = None if _plainly_storable(data) else _unstorable_text(value)
        if problem:
            raise HTTPException(400, f"the request holds {problem}, which no value may contain")
        return value

    async def get_context(self, request: Any, response: Any) -> Context:
        """A socket's context: the caller is set by :meth:`on_ws_connect`."""
        return Context(self.state.service, self.state)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Check the token of ``connection_init``; a refusal closes the socket with 4403."""
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        nested = params.get("headers")
        if header is None and isinstance(nested, dict):  # some clients nest it: {"headers": {"Authorization": ...}}
            header = nested.get("Authorization", nested.get("authorization"))
        try:
            context.credential = await self.state.auth.accepted(header if isinstance(header, str) else None)
        except Refused:
            raise ConnectionRejectionError() from None
        context.caller = context.credential.caller
        assert context.caller is not None
        return {"user": context.caller.user}


def _answer(answer: dict[str, Any], graphql_response: bool) -> Response:
    """An answer of the direct path in the media type chosen (:func:`bpf_server.media.shape`)."""
    status, body = media.shape(answer, graphql_response)
    return Response(direct.encode(body), status_code=status, media_type=media.media_type(graphql_response))


def _as_graphql_response(response: Response) -> Response:
    """strawberry's answer (``application/json``) as ``application/graphql-response+json``: the same JSON, but
    a request that was not executed is a 400 without ``data`` (:mod:`bpf_server.media`). Anything that is not
    a GraphQL answer (GraphiQL's page, an HTTP error) passes unchanged."""
    if response.status_code != 200 or response.media_type != media.JSON:
        return response
    try:
        answer = json.loads(bytes(response.body))
    except ValueError:
        return response
    if not isinstance(answer, dict):
        return response
    status, body = media.shape(answer, True)
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return Response(direct.encode(body), status_code=status, headers=headers, media_type=media.GRAPHQL_RESPONSE)


def _plainly_storable(data: str | bytes) -> bool:
    """Whether a JSON body's bytes show it holds nothing unstorable without walking its values: a NUL or an
    unpaired surrogate can only come from a ``\\u`` escape, or from raw surrogate bytes (``0xED`` leads them
    in UTF-8; json.loads lets them through)."""
    return isinstance(data, bytes) and b"\\u" not in data and b"\xed" not in data


def _unstorable_text(value: Any) -> str | None:
    """What in the JSON ``value`` (its keys and strings, at any depth) no database can store, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class _Capped:
    """An ASGI ``receive`` that stops a body at the limit, and can drop the rest so the client reads our 413."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.size = 0
        self.done = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            self.done = not message.get("more_body", False)
            if self.size > MAX_BODY_BYTES:
                raise BodyTooLarge()
        return message

    async def drain(self) -> None:
        """Read and drop what the client still sends (up to a bound): closing mid-upload would hide the 413."""
        while not self.done and self.size <= DRAIN_BYTES:
            message = await self.receive()
            if message["type"] != "http.request":
                return
            self.size += len(message.get("body", b""))
            self.done = not message.get("more_body", False)
