"""The timed work of ``bpf serve``: firing ``on overdue`` for visits past their sla, and sending webhooks.

Two tasks on the event loop, started and stopped with the app's lifespan. Both work
from durable rows in the database (:mod:`bpf_dsl.service.jobs`), never from memory, so
a server that was down (or killed) finds at start what came due meanwhile, and several
servers on one PostgreSQL share the work: each due row is claimed by one of them.

- **Timers.** The next due time is one indexed read; the task sleeps until then (or
  :data:`POLL` seconds, to see the visits other servers opened), and is woken at once
  when a commit of this process opens a visit with a due time. Due visits are fired
  through the write path the requests use (group commit), each batch one unit of work.
- **Deliveries.** Due deliveries are claimed (a write: each claim counts an attempt and
  leases the row), then sent in threads of their own, at most
  :attr:`~bpf_dsl.service.DeliveryPolicy.concurrency` at once, outside any transaction;
  each outcome is written back through the write path. A slow or dead endpoint holds
  one sending thread for at most its timeout: moves never wait for it, nor do the
  other deliveries. A delivery is claimed only when a thread is free to send it, so that
  its lease never runs out while it waits here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from bpf_dsl.errors import UsageError
from bpf_dsl.service import DeliveryPolicy, DeliveryRow, Outbox, Service, Timers

from .threads import Pool

T = TypeVar("T")


class Runner(Protocol):
    """Where a blocking call runs: a pool of threads, or group commit (:class:`~bpf_server.state.Committer`)."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...


class Host(Protocol):
    """What the jobs use of the server process's state (:class:`~bpf_server.state.AppState`)."""

    @property
    def service(self) -> Service: ...
    @property
    def committer(self) -> Runner | None: ...
    @property
    def inline_reads(self) -> bool: ...
    @property
    def readers(self) -> Runner: ...
    @property
    def writers(self) -> Runner: ...


log = logging.getLogger("bpf.server.jobs")

#: Seconds between two looks at the database when nothing woke a task: the longest a row that another server
#: wrote (or a database restored from a backup) waits for this one. ``BPF_JOBS_POLL`` changes it.
POLL = 1.0
#: Seconds before looking again when rows were due but none could be claimed (another server, or a move on the
#: instance, holds them): they are most likely done by then.
BUSY = 0.1


def _poll_from_env() -> float:
    text = os.environ.get("BPF_JOBS_POLL")
    if not text:
        return POLL
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"BPF_JOBS_POLL must be a number of seconds, not {text!r}") from None
    if not 0.01 <= value <= 3600:
        raise UsageError(f"BPF_JOBS_POLL must be between 0.01 and 3600 seconds, not {text!r}")
    return value


class Jobs:
    """The two tasks of one server process; :meth:`start` and :meth:`stop` run on its event loop."""

    def __init__(self, state: Host, policy: DeliveryPolicy | None = None, poll: float | None = None) -> None:
        self.state = state
        service = state.service
        try:
            self.outbox = Outbox(service, policy)
        except ValueError as exc:  # a BPF_WEBHOOK_* setting that is not a number
            raise UsageError(str(exc)) from None
        self.timers = Timers(service)
        self.poll = _poll_from_env() if poll is None else poll
        self._senders = Pool(self.outbox.policy.concurrency, "bpf-webhook")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sends: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._timers_wake = asyncio.Event()
        self._deliveries_wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifespan -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start both tasks on the running loop, and hear the commits that make work for them."""
        loop = self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.state.service.on_jobs(self._heard)
        self._tasks = [loop.create_task(self._forever(self._timers_wake, self._fire), name="bpf-timers"),
                       loop.create_task(self._forever(self._deliveries_wake, self._deliver), name="bpf-deliveries")]

    async def stop(self) -> None:
        """Stop the tasks. A delivery being sent is left as it is: its lease runs out and it is sent again (by
        this server once restarted, or another): at least once, never lost."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = self._tasks + list(self._sends)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._loop = [], None
        self._senders.stop()

    def _heard(self, due: dt.datetime | None, deliveries: int) -> None:
        """A commit opened a visit with a due time or wrote webhooks (called from whichever thread committed)."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            if due is not None:
                loop.call_soon_threadsafe(self._timers_wake.set)
            if deliveries:
                loop.call_soon_threadsafe(self._deliveries_wake.set)

    async def _forever(self, wake: asyncio.Event, work: Callable[[], Coroutine[Any, Any, float]]) -> None:
        """Do ``work`` (which says how long until it has more), then sleep that long or until woken."""
        while True:
            wake.clear()  # a wake-up during the work below is kept: the sleep after it returns at once
            try:
                delay = await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away, a bug: said, and tried again at the next look
                log.exception("a background job failed; trying again in %.1f s", self.poll)
                delay = self.poll
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)

    # -- the database, as the requests use it ---------------------------------------------------------------
    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self.state.inline_reads:
            return fn(*args)
        return await self.state.readers.run(fn, *args)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        committer = self.state.committer
        if committer is not None:
            return await committer.run(fn, *args)  # in the next group commit, answered after its commit
        return await self.state.writers.run(fn, *args)

    def _until(self, due: dt.datetime | None) -> float:
        """Seconds until ``due`` by the service's clock (0: due now), at most :attr:`poll`."""
        if due is None:
            return self.poll
        return max(0.0, min(self.poll, (due - self.state.service.clock()).total_seconds()))

    # -- timers ---------------------------------------------------------------------------------------------
    async def _fire(self) -> float:
        """Fire every visit due now; seconds until the next look."""
        while True:
            wait = self._until(await self._read(self.timers.next_due))
            if wait > 0:
                return wait
            if not await self._write(self.timers.fire_due):
                return BUSY  # due, but held by another server (firing them) or by a move (leaving the stage)

    # -- deliveries -----------------------------------------------------------------------------------------
    async def _deliver(self) -> float:
        """Claim as many due deliveries as there are free senders and start sending them; seconds until the
        next look (a send that ends wakes the task too)."""
        free = self.outbox.policy.concurrency - self._in_flight
        if free <= 0:
            return self.poll
        wait = self._until(await self._read(self.outbox.next_due))
        if wait > 0:
            return wait
        claimed = await self._write(self.outbox.claim, free)
        loop = asyncio.get_running_loop()
        for delivery in claimed:
            self._in_flight += 1
            task = loop.create_task(self._send(delivery), name=f"bpf-delivery-{delivery.id}")
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return 0 if claimed else BUSY

    async def _send(self, delivery: DeliveryRow) -> None:
        try:
            attempt = await self._senders.run(self.outbox.send, delivery)
            await self._write(self.outbox.record, delivery, attempt)
        except asyncio.CancelledError:
            raise
        except Exception:  # the outcome could not be written: the lease runs out, and it is sent again
            log.exception("recording the delivery %s failed", delivery.id)
        finally:
            self._in_flight -= 1
            self._deliveries_wake.set()
