"""Events from committed commands to subscribers: within a process, and across processes through PostgreSQL.

The service calls its listeners after commit, in whatever thread ran the command.
:class:`EventHub` hands each event to every subscriber's asyncio queue with
``loop.call_soon_threadsafe``. With PostgreSQL, :class:`PgRelay` also publishes
each event with ``NOTIFY bpf_events`` (from a publisher thread on its own
autocommit connection) and LISTENs on another connection, feeding the events of
the *other* server processes to the local hub: every payload carries the id of
the process that sent it, and a process skips its own (its subscribers had them
directly), so nobody gets an event twice.

Publishing after commit (not inside the transaction) keeps the service free of
any knowledge of the server; the price is that a process dying between its commit
and its NOTIFY loses that event for the other processes (the data is committed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import queue
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from bpf_dsl.service import ProcessEvent
from bpf_dsl.storage.sql import TOKENS_CHANNEL

from .limits import SUBSCRIBER_QUEUE

log = logging.getLogger("bpf.server.events")

CHANNEL = "bpf_events"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[ProcessEvent] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    missed: int = 0


class EventHub:
    """This process's subscribers; :meth:`publish` may be called from any thread."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()

    def publish(self, event: ProcessEvent) -> None:
        """Hand ``event`` to every subscriber (thread-safe, never blocks)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            try:
                sub.loop.call_soon_threadsafe(_offer, sub, event)
            except RuntimeError:  # its loop is closed: the server is stopping
                self._drop(sub)

    def _drop(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscribers)

    @asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[ProcessEvent]]:
        """A queue receiving every event from now until the block exits."""
        sub = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(sub)
        try:
            yield sub.queue
        finally:
            self._drop(sub)


def _offer(sub: _Subscriber, event: ProcessEvent) -> None:
    try:
        sub.queue.put_nowait(event)
    except asyncio.QueueFull:
        sub.missed += 1
        if sub.missed == 1 or sub.missed % 1000 == 0:
            log.warning("a subscriber is too slow: %d events dropped", sub.missed)


# -- PostgreSQL: NOTIFY out, LISTEN in ------------------------------------------------------------------------------
def encode(event: ProcessEvent, origin: str, namespace: str) -> str:
    """The NOTIFY payload of an event (kept under PostgreSQL's size limit)."""
    body: dict[str, Any] = {"o": origin, "n": namespace, "k": event.kind, "i": event.instance_id,
                            "r": event.record_id, "p": event.process, "s": event.stage, "a": event.at.isoformat(),
                            "b": event.by, "d": dict(event.data)}
    text = json.dumps(body, separators=(",", ":"), default=str)
    if len(text.encode()) > MAX_PAYLOAD:
        body["d"] = {k: (str(v)[:1000] + "…" if len(str(v)) > 1000 else v) for k, v in body["d"].items()}
        text = json.dumps(body, separators=(",", ":"), default=str)
        if len(text.encode()) > MAX_PAYLOAD:
            body["d"] = {}
            text = json.dumps(body, separators=(",", ":"), default=str)
    return text


def decode(payload: str) -> tuple[str, str, ProcessEvent]:
    """(origin, namespace, event) of a payload."""
    b = json.loads(payload)
    event = ProcessEvent(b["k"], b["i"], b["r"], b["p"], b.get("s"), dt.datetime.fromisoformat(b["a"]), b["b"],
                         b.get("d") or {})
    return b["o"], b.get("n", ""), event


class PgRelay:
    """NOTIFY this process's events; LISTEN for the others' and give them to the hub."""

    def __init__(self, url: str, hub: EventHub, on_revoked: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.hub = hub
        self.on_revoked = on_revoked  # told the id of each token revoked anywhere (NOTIFY on TOKENS_CHANNEL)
        self.origin = uuid.uuid4().hex
        self.namespace = ""
        self._out: queue.SimpleQueue[ProcessEvent | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, wait: float = 10.0) -> None:
        """Start both threads; returns once LISTEN is in place (or ``wait`` seconds passed)."""
        for target, name in ((self._listen, "bpf-listen"), (self._publish, "bpf-notify")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        if not self._listening.wait(wait):
            log.warning("LISTEN %s is not in place yet: events of other server processes may be late", CHANNEL)

    def send(self, event: ProcessEvent) -> None:
        """Queue an event for NOTIFY (called by the service after commit, any thread)."""
        self._out.put(event)

    def stop(self) -> None:
        """Stop both threads (events still queued are sent first)."""
        self._stop.set()
        self._out.put(None)
        for t in self._threads:
            t.join(timeout=5)

    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True)
        row = conn.execute("SELECT current_database() || '/' || current_schema()").fetchone()
        # Servers on other schemas of the same database hear the same channel: the namespace tells them apart.
        self.namespace = str(row[0]) if row else ""
        return conn

    def _publish(self) -> None:
        conn = None
        while True:
            event = self._out.get()
            if event is None:
                break
            for attempt in range(2):
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, encode(event, self.origin, self.namespace)))
                    break
                except Exception as exc:  # reconnect once, then give the event up
                    log.warning("NOTIFY failed (%s)%s", exc, ", retrying" if attempt == 0 else "; event not relayed")
                    with suppress(Exception):
                        if conn is not None:
                            conn.close()
                    conn = None
        if conn is not None:
            with suppress(Exception):
                conn.close()

    def _listen(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {CHANNEL}")
                conn.execute(f"LISTEN {TOKENS_CHANNEL}")
                self._listening.set()
                delay = 0.5
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=0.5):
                        if note.channel == TOKENS_CHANNEL:
                            if self.on_revoked is not None:
                                self.on_revoked(note.payload)
                        else:
                            self._deliver(note.payload)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning("LISTEN %s lost (%s); reconnecting in %.1fs", CHANNEL, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
            finally:
                if conn is not None:
                    with suppress(Exception):
                        conn.close()

    def _deliver(self, payload: str) -> None:
        try:
            origin, namespace, event = decode(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed %s payload: %s", CHANNEL, exc)
            return
        if origin == self.origin or namespace != self.namespace:
            return  # our own (already delivered locally), or another database's
        self.hub.publish(event)
