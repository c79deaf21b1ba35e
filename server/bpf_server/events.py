"""Events from committed commands to subscribers: within a process, and across processes through the database.

The service calls its listeners after commit, in whatever thread ran the command.
:class:`EventHub` hands each event to every subscriber's asyncio queue with
``loop.call_soon_threadsafe``. Where the database has notifications (PostgreSQL's
LISTEN/NOTIFY; ``Service.notifier``), :class:`Relay` also sends each event on the
``bpf_events`` channel (from a publisher thread) and listens there, feeding the
events of the *other* server processes to the local hub: every payload carries the
id of the process that sent it, and a process skips its own (its subscribers had
them directly), so nobody gets an event twice. The storage owns the connections;
this module speaks no SQL.

Publishing after commit (not inside the transaction) keeps the service free of
any knowledge of the server; the price is that a process dying between its commit
and its NOTIFY loses that event for the other processes (the data is committed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import queue
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bpf_dsl.errors import StorageError
from bpf_dsl.service import TOKENS_CHANNEL, Listening, Notifier, ProcessEvent, Tx

from .limits import SUBSCRIBER_QUEUE

log = logging.getLogger("bpf.server.events")

CHANNEL = "bpf_events"
#: The most events one NOTIFY round trip carries (:meth:`Relay._publish`).
RELAY_BATCH = 256

#: The kinds ``processEvents`` carries: the contract's (spec/API.md), no others.
PROCESS_KINDS = frozenset({"started", "stage_changed", "finished", "abandoned", "reactivated", "switched",
                           "notification", "overdue"})
#: The kind of the event saying a record was changed through the API (updated, assigned or deleted). It rides the
#: hub and the relay as the process events do, so it reaches every server process, but ``processEvents`` never
#: carries it (its kinds are fixed): ``recordChanged`` does.
RECORD_CHANGED = "record_changed"


def record_changed(record_id: str, version: int, by: str, *, deleted: bool = False) -> ProcessEvent:
    """The event of a committed write to a record (no instance, no process: only the record's id)."""
    return ProcessEvent(RECORD_CHANGED, "", record_id, "", None, dt.datetime.now(dt.UTC), by,
                        {"version": version, "deleted": deleted})


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


# -- across processes: notifications out and in ---------------------------------------------------------------------
def encode(event: ProcessEvent, origin: str, namespace: str, limit: int, seq: int = 0) -> str:
    """The notification payload of an event (kept under ``limit`` bytes, the notifier's ``max_payload``).
    ``seq``: a number of the sender's own, so that two equal events of one transaction stay two (PostgreSQL
    delivers one of equal notifications sent in one transaction)."""
    body: dict[str, Any] = {"o": origin, "q": seq, "n": namespace, "k": event.kind, "i": event.instance_id,
                            "r": event.record_id, "p": event.process, "s": event.stage, "a": event.at.isoformat(),
                            "b": event.by, "d": dict(event.data)}
    text = json.dumps(body, separators=(",", ":"), default=str)
    if len(text.encode()) > limit:
        body["d"] = {k: (str(v)[:1000] + "…" if len(str(v)) > 1000 else v) for k, v in body["d"].items()}
        text = json.dumps(body, separators=(",", ":"), default=str)
        if len(text.encode()) > limit:
            body["d"] = {}
            text = json.dumps(body, separators=(",", ":"), default=str)
    return text


def decode(payload: str) -> tuple[str, str, ProcessEvent]:
    """(origin, namespace, event) of a payload."""
    b = json.loads(payload)
    event = ProcessEvent(b["k"], b["i"], b["r"], b["p"], b.get("s"), dt.datetime.fromisoformat(b["a"]), b["b"],
                         b.get("d") or {})
    return b["o"], b.get("n", ""), event


class Relay:
    """Send this process's events to the other server processes; hand theirs to the hub."""

    def __init__(self, notifier: Notifier, hub: EventHub, on_revoked: Callable[[str], None] | None = None) -> None:
        self.notifier = notifier
        self.hub = hub
        self.on_revoked = on_revoked  # told the id of each token revoked anywhere (on TOKENS_CHANNEL)
        self.origin = uuid.uuid4().hex
        self._own_prefix = '{"o":"' + self.origin + '"'
        self._seq = itertools.count(1)
        self._out: queue.SimpleQueue[ProcessEvent | None] = queue.SimpleQueue()
        self._publisher: threading.Thread | None = None
        self._listening: Listening | None = None

    def start(self, wait: float = 10.0) -> None:
        """Start listening and the publisher thread; returns once the listening is in place (or ``wait`` passed)."""
        self._listening = self.notifier.listen([CHANNEL, TOKENS_CHANNEL], self._heard)
        self._publisher = threading.Thread(target=self._publish, name="bpf-notify", daemon=True)
        self._publisher.start()
        if not self._listening.wait(wait):
            log.warning("not listening on %s yet: events of other server processes may be late", CHANNEL)

    def send(self, event: ProcessEvent) -> None:
        """Queue an event for the other processes (one the server made itself, after its commit; any thread)."""
        self._out.put(event)

    def in_tx(self, tx: Tx, events: list[ProcessEvent]) -> None:
        """Send a command's events to the other processes with its transaction (``Service.relay_in_tx``): they
        go out when it commits, and not at all if it doesn't. Sent along with the command's own statements,
        this costs no round trip, no transaction and no thread of its own (the publisher's did, per batch)."""
        namespace, limit = self.notifier.namespace, self.notifier.max_payload
        for event in events:
            tx.notify(CHANNEL, encode(event, self.origin, namespace, limit, next(self._seq)))

    def stop(self) -> None:
        """Stop both (events still queued are sent first)."""
        self._out.put(None)
        if self._publisher is not None:
            self._publisher.join(timeout=5)
        if self._listening is not None:
            self._listening.stop()

    def _publish(self) -> None:
        stopping = False
        while not stopping:
            events: list[ProcessEvent] = []
            got = self._out.get()
            # What queued meanwhile goes in the same call: a busy server's events cost one round trip per batch.
            while got is not None:
                events.append(got)
                if len(events) == RELAY_BATCH:
                    break
                try:
                    got = self._out.get_nowait()
                except queue.Empty:
                    break
            stopping = got is None  # queued after every event that came before it: those are sent first
            if not events:
                continue
            try:
                namespace, limit = self.notifier.namespace, self.notifier.max_payload
                self.notifier.notify_all(CHANNEL, [encode(e, self.origin, namespace, limit, next(self._seq))
                                                   for e in events])
            except StorageError as exc:  # the notifier reconnected once already
                log.warning("NOTIFY failed (%s); %d event(s) not relayed", exc, len(events))
            except Exception:  # a bug: keep relaying the next events all the same
                log.exception("events not relayed")

    def _heard(self, channel: str, payload: str) -> None:
        if channel == TOKENS_CHANNEL:
            if self.on_revoked is not None:
                self.on_revoked(payload)
        else:
            self._deliver(payload)

    def _deliver(self, payload: str) -> None:
        if payload.startswith(self._own_prefix):
            return  # our own, already delivered locally: not worth decoding (encode writes the origin first)
        try:
            origin, namespace, event = decode(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed %s payload: %s", CHANNEL, exc)
            return
        if origin == self.origin or namespace != self.notifier.namespace:
            return  # our own (already delivered locally), or another database's
        self.hub.publish(event)
