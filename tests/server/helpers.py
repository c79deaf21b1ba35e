"""Helpers of the server tests: uvicorn on a free loopback port, over a real database (SQLite, PostgreSQL).

``live`` starts the app in a thread of the test process (so a test may give the
service a registry with an in-process plugin); ``serve_process`` starts `bpf serve`
as a subprocess. ``Client`` speaks GraphQL over HTTP with a token; ``Socket`` speaks
graphql-transport-ws.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn
from bpf_server.app import create_app
from bpf_server.settings import Settings
from websockets.sync.client import ClientConnection, connect

import bpf_dsl
from bpf_dsl.definition import Program
from bpf_dsl.plugins import Registry, hookimpl
from bpf_dsl.service import Service
from bpf_dsl.service.auth import Tokens
from bpf_dsl.storage import open_storage
from tests.paths import EXAMPLES

HERE = Path(__file__).resolve().parent
EXTRA = HERE / "extra.bpf"

_programs: dict[str, Program] = {}


def example_paths() -> list[str]:
    paths = [str(p) for p in sorted(EXAMPLES.glob("*.bpf"))]
    assert len(paths) == 2, f"expected the two spec examples in {EXAMPLES}"
    return paths


def program(with_extra: bool = True) -> Program:
    """The spec examples (and the tests' extra processes), compiled once per session."""
    key = "extra" if with_extra else "examples"
    if key not in _programs:
        paths = example_paths() + ([str(EXTRA)] if with_extra else [])
        _programs[key] = bpf_dsl.load(paths, Registry(entry_points=False))
    return _programs[key]


class Veto:
    """A plugin whose pre-change hook refuses to abandon a case (for CANCELLED)."""

    @hookimpl
    def bpf_before_change(self, change: Any) -> str | None:
        if change.process == "phone_to_case" and change.kind == "abandoned":
            return "cases are never abandoned here"
        return None


def registry() -> Registry:
    """The built-ins and the veto plugin; no installed pack."""
    return Registry([("veto", "1", Veto())], entry_points=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A running server: its URL, its service, and tokens per role set."""

    url: str
    service: Service
    db: str

    def token(self, user: str, *roles: str) -> str:
        return Tokens(self.service.storage).create(user, roles).token

    def client(self, token: str | None) -> Client:
        return Client(self.url, token)


class _Thread:
    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                ws_max_size=1_000_000, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Thread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def live_server(db: str, prog: Program | None = None, reg: Registry | None = None) -> Iterator[Live]:
    """The app in a thread on a free port, over ``db``."""
    storage = open_storage(db)
    service = Service(prog or program(), storage, reg or registry())
    port = free_port()
    app = create_app(service, Settings(db=db, port=port))
    with _Thread(app, port):
        yield Live(f"http://127.0.0.1:{port}", service, db)
    storage.close()


class GraphQLFailed(AssertionError):
    """The response carried top-level errors."""


class Client:
    """GraphQL over HTTP with a bearer token."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post("/graphql", json={"query": query, "variables": variables or {}})

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        """The ``data`` of a query that must succeed."""
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        if body.get("errors"):
            raise GraphQLFailed(json.dumps(body["errors"]))
        return body["data"]  # type: ignore[no-any-return]


class Socket:
    """A graphql-transport-ws client over the websockets library."""

    def __init__(self, url: str, token: str | None, subprotocol: str = "graphql-transport-ws") -> None:
        self._opened = connect(url.replace("http", "ws", 1) + "/graphql", subprotocols=[subprotocol],  # type: ignore[list-item]
                               open_timeout=10)
        self.ws: ClientConnection = self._opened.__enter__()

        self.token = token

    def init(self) -> dict[str, Any]:
        payload = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.send({"type": "connection_init", "payload": payload})
        return self.recv()

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout))  # type: ignore[no-any-return]

    def subscribe(self, sub_id: str, query: str, **variables: Any) -> None:
        self.send({"id": sub_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})

    def events(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The next ``count`` ``next`` payloads (pings answered, others kept out)."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(out)} of {count} events arrived: {out}")
            try:
                message = self.recv(left)
            except TimeoutError:
                raise AssertionError(f"only {len(out)} of {count} events arrived: {out}") from None
            if message["type"] == "ping":
                self.send({"type": "pong"})
            elif message["type"] == "next":
                out.append(message["payload"])
            elif message["type"] == "error":
                raise AssertionError(f"subscription error: {message}")
        return out

    def close(self) -> None:
        self._opened.__exit__(None, None, None)


def wait_healthy(url: str, proc: subprocess.Popen[str] | None = None, log: IO[str] | None = None,
                 timeout: float = 30) -> None:
    """Wait until ``url`` answers /healthz; fail with the server's stderr if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = ""
            if log is not None:
                log.seek(0)
                said = log.read()
            raise RuntimeError(f"bpf serve exited: {said}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


@contextlib.contextmanager
def serve_process(db: str, *paths: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                  timeout: float = 30) -> Iterator[str]:
    """`bpf serve` as a subprocess on a free port; yields its URL (:func:`serve_subprocess`)."""
    with serve_subprocess(db, *paths, extra=extra, env=env, timeout=timeout) as (url, _):
        yield url


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """End a server process: asked first (SIGTERM), killed if it hasn't gone within 15 seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def serve_subprocess(db: str, *paths: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                     timeout: float = 30) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`bpf serve` as a subprocess on a free port; yields its URL and the process (a test may kill it) once
    /healthz answers (within ``timeout`` seconds: a deadline for a hung server, not a speed requirement).
    ``env``: the subprocess's environment.

    The server's stderr goes to a file (a pipe nobody reads would block a chatty
    server) and is echoed at the end, so a failing test shows the server's traceback.
    """
    import tempfile

    port = free_port()
    env = dict(os.environ) if env is None else env
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bpf_dsl.cli", "serve", *paths, "--db", db, "--port", str(port),
                                 *extra], stdout=subprocess.DEVNULL, stderr=log, text=True, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log, timeout=timeout)
            yield url, proc
        finally:
            stop_process(proc)
            log.seek(0)
            sys.stderr.write(f"--- bpf serve on port {port} said:\n{log.read()[-20000:]}")


Gql = Callable[..., dict[str, Any]]
