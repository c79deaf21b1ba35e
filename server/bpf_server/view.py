"""``/graphql`` over HTTP and WebSocket: strawberry's ASGI view with the doors guarded.

Before strawberry sees an HTTP request: GraphiQL's page is served without a token
(or 404 with ``--no-graphiql``); anything else needs ``Authorization: Bearer
TOKEN`` (401 with a JSON reason otherwise, nothing of the schema); the body is
limited (413); a body that isn't JSON, or isn't an object, is a 400 saying so.
Every refusal is ``{"errors": [{"message": ...}]}``.

On a socket only ``graphql-transport-ws`` is spoken; ``connection_init`` must carry
``{"Authorization": "Bearer TOKEN"}`` or the socket is closed with 4403.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from bpf_dsl.service import unstorable

from . import direct
from .authn import Refused
from .context import Context
from .limits import DRAIN_BYTES, MAX_BODY_BYTES, MAX_SUBSCRIPTIONS_PER_SOCKET
from .schema import BpfSchema
from .state import AppState


class BodyTooLarge(Exception):
    """The request body passed :data:`~bpf_server.limits.MAX_BODY_BYTES`."""


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A refusal in GraphQL's error shape."""
    return JSONResponse({"errors": [{"message": message}]}, status_code=status, headers=headers)


class GraphQLView(GraphQL[Context, None]):
    """strawberry's ASGI GraphQL app with authentication and input limits in front."""

    schema: BpfSchema

    def __init__(self, schema: BpfSchema, state: AppState, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         connection_init_wait_timeout=dt.timedelta(seconds=10),
                         max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_SOCKET)
        self.state = state
        self.plans = direct.Plans(schema)
        self.answers = direct.Answers(state.service)

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
        if request.method == "POST":
            answered = await self._direct(request, context)
            if answered is not None:
                return answered
        return await self.run(request, context=context)

    async def _direct(self, request: Request, context: Context) -> Response | None:
        """The common request without strawberry's per-request machinery (:mod:`bpf_server.direct`); None: let
        strawberry answer it."""
        headers = request.headers
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        accept = headers.get("accept", "")
        if "application/json" not in content_type or "multipart" in accept or "event-stream" in accept:
            return None
        body = await request.body()
        answers = self.answers if self.state.service.reads_timeless else None
        key = (body, context.me.roles)
        if answers is not None:
            kept = await answers.get(key, context)
            if kept is not None:
                return Response(kept, media_type="application/json")
        found = direct.request_data(self.parse_json(body))
        if found is None:
            return None
        query, variables, name = found
        plan = self.plans.get(query)
        if plan is None or (name is not None and name != plan.name):
            return None
        if answers is None or not plan.keepable:
            answer = await direct.execute(self.schema, plan, variables, context)
            return Response(direct.encode(answer), media_type="application/json")
        generation = answers.generation()  # before the reads: a commit during them changes it
        with self.state.service.recording() as deps:
            answer = await direct.execute(self.schema, plan, variables, context)
        text = direct.encode(answer).encode()
        if "errors" not in answer:
            answers.keep(key, text, deps, generation)
        return Response(text, media_type="application/json")

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
        problem = _unstorable_text(value)
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
            context.caller = await self.state.auth.caller(header if isinstance(header, str) else None)
        except Refused:
            raise ConnectionRejectionError() from None
        return {"user": context.caller.user}


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
