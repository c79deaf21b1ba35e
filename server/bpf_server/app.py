"""The ASGI app: GraphQL at ``/graphql``, health at ``/healthz``, the web page at ``/`` and its deep links.

``create_app(service, settings)`` builds it around a running service (tests and
``bpf serve`` with one worker); ``create_app_from_env()`` is the factory uvicorn's
worker processes call (``bpf serve --workers N``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from bpf_dsl.service import Service, default_registry, open_storage

from .assets import PROGRAM_HEADER, Assets, Tagged, fingerprint
from .boot import load_program
from .headers import secured
from .protocol import set_header_timeout
from .schema import build_schema
from .settings import Settings
from .state import AppState
from .threads import in_thread
from .view import GraphQLView

STATIC = Path(__file__).resolve().parent / "static"
PLACEHOLDER = """<!doctype html><html lang="en"><meta charset="utf-8"><title>bpf</title>
<body><h1>bpf</h1><p>The web page is not installed. GraphQL is at <a href="/graphql">/graphql</a>.</p></body></html>
"""

log = logging.getLogger("bpf.server")


def create_app(service: Service, settings: Settings) -> Starlette:
    """The app serving ``service``; the lifespan starts and stops the event relay."""
    state = AppState(service, settings)
    schema = build_schema(service.program)
    view = GraphQLView(schema, state, graphiql=settings.graphiql)
    assets = Assets(STATIC, fingerprint(str(schema), service.program))

    async def healthz(request: Request) -> Response:
        ok = await in_thread(service.storage.ping)
        return JSONResponse({"status": "ok" if ok else "database unavailable"}, status_code=200 if ok else 503)

    async def page(request: Request) -> Response:
        return assets.page(request) or HTMLResponse(PLACEHOLDER)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await in_thread(state.start)
        state.jobs.start()  # timers and webhook deliveries: tasks on this loop
        try:
            yield
        finally:
            await state.jobs.stop()
            await in_thread(state.stop)

    graphql = Tagged(view, PROGRAM_HEADER, assets.program_tag)
    routes = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", view),
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/records/{id:path}", page, methods=["GET", "HEAD"]),
        Route("/processes/{name:path}", page, methods=["GET", "HEAD"]),
        Route("/static/{path:path}", assets.file, methods=["GET", "HEAD"]),
    ]
    app = _App(graphql, routes=routes, lifespan=lifespan)
    app.state.bpf = state
    return app


class _App(Starlette):
    """Starlette, with HTTP requests to ``/graphql`` (nearly all of them) handed to the view at once: the router
    and the error middlewares around it cost a twentieth of a small mutation's time. The view answers its own
    errors; an unexpected one reaches uvicorn, which answers 500 as the middleware did."""

    def __init__(self, graphql: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        send = secured(send)  # the security headers on every answer (headers.py)
        if scope["path"] == "/graphql":
            scope["app"] = self
            await self._graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app_from_env() -> Starlette:
    """The factory of a worker process: settings from the environment, the program loaded again."""
    settings = Settings.from_env()
    configure_logging()
    set_header_timeout(settings.header_timeout)  # this worker's connections (the protocol class is shared)
    registry = default_registry()
    storage = open_storage(settings.db)
    boot = load_program(list(settings.paths), False, registry, storage if settings.latest else None)
    return create_app(Service(boot.program, storage, registry), settings)


def configure_logging() -> None:
    """Our warnings and errors on stderr, beside uvicorn's."""
    logger = logging.getLogger("bpf")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
