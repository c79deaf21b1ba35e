"""What one server process keeps while it runs: the service, the event hub and relay, the authenticator, caches."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from bpf_dsl.nodes import Process
from bpf_dsl.parser import parse
from bpf_dsl.service import ProcessEvent, Service
from bpf_dsl.service.auth import Tokens
from bpf_dsl.tools import graph

from .authn import Authenticator
from .events import EventHub, PgRelay
from .settings import Settings


class AppState:
    """The server process's shared state; :meth:`start` and :meth:`stop` follow the app's lifespan."""

    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.hub = EventHub()
        embedded = service.storage.dialect == "sqlite"
        self.auth = Authenticator(Tokens(service.storage), recheck_revocation=embedded)
        self.relay = None if embedded else PgRelay(service.storage.url, self.hub, on_revoked=self.auth.forget)
        self._unsubscribe: Callable[[], None] | None = None
        self._diagrams: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()
        # SQLite has one writer at a time; left to themselves, writer threads wait for its lock in the busy
        # handler's sleeps (up to 100 ms each). Queued here, in the event loop, they go in turn without sleeping.
        self.write_gate: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if service.storage.dialect == "sqlite" else contextlib.nullcontext())
        # Reads by key on the embedded database cost less than a hand-off to a thread (see context.py).
        self.inline_reads = embedded

    def start(self) -> None:
        """Hear the service's events; with PostgreSQL, relay them to and from the other server processes."""
        if self.relay is not None:
            self.relay.start()
        self._unsubscribe = self.service.subscribe(self._on_event)

    def stop(self) -> None:
        """Stop hearing events and close the database."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.relay is not None:
            self.relay.stop()

    def _on_event(self, event: ProcessEvent) -> None:
        self.hub.publish(event)
        if self.relay is not None:
            self.relay.send(event)

    def diagram(self, name: str, fmt: str) -> str | None:
        """The diagram of a process of the program (drawn once per format, from its source)."""
        key = (name, fmt)
        with self._lock:
            if key in self._diagrams:
                return self._diagrams[key]
        found = None
        for path, text in self.service.program.sources:
            module = parse(text, path)
            node = next((d for d in module.declarations if isinstance(d, Process) and d.name == name), None)
            if node is not None:
                found = graph.render(node, fmt)
                break
        with self._lock:
            self._diagrams[key] = found
        return found
