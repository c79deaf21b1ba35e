"""What one server process keeps while it runs: the service, the event hub and relay, the authenticator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from bpf_dsl.service import ProcessEvent, Service, Tokens

from .authn import Authenticator
from .events import EventHub, Relay
from .settings import Settings


class AppState:
    """The server process's shared state; :meth:`start` and :meth:`stop` follow the app's lifespan."""

    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.hub = EventHub()
        notifier = service.notifier  # the database's LISTEN/NOTIFY (PostgreSQL); None: no other process to hear
        self.auth = Authenticator(Tokens(service.storage), recheck_revocation=notifier is None)
        self.relay = None if notifier is None else Relay(notifier, self.hub, on_revoked=self.auth.forget)
        self._unsubscribe: Callable[[], None] | None = None
        # SQLite has one writer at a time; left to themselves, writer threads wait for its lock in the busy
        # handler's sleeps (up to 100 ms each). Queued here, in the event loop, they go in turn without sleeping.
        self.write_gate: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if service.single_writer else contextlib.nullcontext())
        # Reads by key on the embedded database cost less than a hand-off to a thread (see context.py).
        self.inline_reads = service.inline_reads

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
