"""What one server process keeps while it runs: the service, its committer, the event hub and relay, the
authenticator."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from bpf_dsl.service import GroupCommit, Job, ProcessEvent, Service, Tokens

from .authn import Authenticator
from .events import EventHub, Relay
from .jobs import Jobs
from .settings import Settings
from .sockets import Sockets
from .threads import Pool, in_thread, settle

T = TypeVar("T")
log = logging.getLogger("bpf.server")

READERS = 8  # threads for reads by key where they are not inline (PostgreSQL)
WRITERS = 10  # threads for commands without group commit: as many as the database pool's connections
GC_YOUNG = 10_000  # allocations between young collections while serving (see AppState.start)


class Committer:
    """Drives the service's group commit from the event loop (backends with ``group_commit``).

    A command submitted from a request waits in the group's queue. One task takes every
    queued command at once and has them run in one transaction; the next commands queue
    meanwhile, and each is answered once the commit that holds it returned. Started with
    the first command; commands called from other threads join the same queue.

    Where reads by key are inline (SQLite), the commands run on the event loop, where a
    statement costs microseconds and no thread hand-off is needed (a writer thread would
    wait for the GIL after each statement, the loop holding it), and only the commit, the
    wait for the disk, goes to a thread of its own. Elsewhere (PostgreSQL, where every
    statement is a round trip) a writer thread of its own takes the commands and runs
    whole rounds (:class:`~bpf_dsl.service.writer.GroupWriter`); the answers come back to
    the loop.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self._group: GroupCommit | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop_thread: int | None = None
        self._commits = Pool(1, "bpf-commit")  # the wait for the disk, one commit at a time
        self.inline = service.inline_reads  # statements cost less inline than a thread hand-off (SQLite)

    async def run(self, fn: Callable[..., T], *args: Any, prefetch: str | None = None, **kwargs: Any) -> T:
        """Run a service command in the next group commit; its answer once that is committed. ``prefetch``: the
        instance it moves (:meth:`GroupCommit.enqueue`)."""
        group = self._group or self._start()
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[T] = loop.create_future()

        loop_thread = self._loop_thread

        def answer(result: Any, error: BaseException | None) -> None:
            if threading.get_ident() == loop_thread:
                settle(future, result, error)
            else:  # a round run in a thread
                loop.call_soon_threadsafe(settle, future, result, error)

        # Once queued, a command runs to its end even if the request goes away (as one handed to a thread did).
        group.enqueue(functools.partial(fn, *args, **kwargs), answer, prefetch=prefetch)
        return await future

    @property
    def commits(self) -> int:
        """How many group transactions were committed so far (each holding one command or more)."""
        return 0 if self._group is None else self._group.commits

    def _start(self) -> GroupCommit:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if not self.inline:
            # Every statement a round trip (PostgreSQL): a writer thread of its own takes the next commands as
            # soon as a round ends. Driven from the loop, each round's end waited in the loop's queue behind the
            # requests being parsed (the writer idle meanwhile), and each round was a hand-off to a thread.
            self._group = self.service.start_group_commit(thread=True)
            return self._group
        self._wakeup = asyncio.Event()
        group = self.service.start_group_commit(thread=False)
        group.driver = threading.get_ident()
        group.wake = self._wake
        self._group = group
        self._task = self._loop.create_task(self._drive(group, self._wakeup), name="bpf-group-commit")
        return group

    def _wake(self) -> None:
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return
        if self._group is not None and self._group.on_driver():
            wakeup.set()
        else:
            loop.call_soon_threadsafe(wakeup.set)

    async def _drive(self, group: GroupCommit, wakeup: asyncio.Event) -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            while group.pending():
                jobs = group.take()
                try:
                    await self._round(group, jobs)
                except Exception as exc:  # a bug: its commands are answered with it, and the writer goes on
                    log.exception("a group commit failed")
                    group.abort()
                    for job in jobs:
                        job.fail(exc)

    async def _round(self, group: GroupCommit, jobs: list[Job]) -> None:
        try:
            # Another process holding the write lock: wait for it in a thread, not on the loop.
            if not group.begin(wait=False):
                await in_thread(group.begin)
        except Exception:
            log.warning("a group commit could not begin; its commands run one by one", exc_info=True)
            await in_thread(group.redo, jobs)
            return
        if group.run(jobs) and await self._commits.run(group.commit):
            group.finish(jobs)
        else:
            await in_thread(group.redo, jobs)

    def stop(self) -> None:
        """Stop the task (the server has answered its requests) and group commit (from any thread)."""
        task, loop = self._task, self._loop
        self._group = self._task = self._loop = self._wakeup = None
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        self._commits.stop()
        self.service.stop_group_commit()


class AppState:
    """The server process's shared state; :meth:`start` and :meth:`stop` follow the app's lifespan."""

    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.hub = EventHub()
        notifier = service.notifier  # the database's LISTEN/NOTIFY (PostgreSQL); None: no other process to hear
        self.auth = Authenticator(Tokens(service.storage), recheck_revocation=notifier is None)
        # Open sockets, closed when their token is revoked or expires (sockets.py).
        self.sockets = Sockets(self.auth.tokens, recheck_revocation=notifier is None)
        self.relay = None if notifier is None else Relay(notifier, self.hub, on_revoked=self._revoked)
        self._unsubscribe: Callable[[], None] | None = None
        # Group commit (SQLite): the commands that arrive together are committed in one transaction. Else each
        # command runs in a worker thread of its own.
        self.committer = Committer(service) if service.storage.backend.group_commit else None
        # Reads by key on the embedded database cost less than a hand-off to a thread (see context.py); elsewhere
        # they go to a few threads of their own (as do commands without group commit).
        self.inline_reads = service.inline_reads
        self.readers = Pool(READERS, "bpf-read")
        self.writers = Pool(WRITERS, "bpf-write")
        # Visits past their sla and webhook deliveries: tasks on the loop, started by the lifespan (jobs.py).
        self.jobs = Jobs(self)

    def start(self) -> None:
        """Hear the service's events; with PostgreSQL, relay them to and from the other server processes.

        What was built to serve (the program, its definitions, the schema: some 70,000 objects) lives as
        long as the process: it is moved out of the garbage collector's reach (``gc.freeze``), so that a
        full collection stops walking it (each took some 20 ms, the slowest requests' wait).

        The collector's first threshold goes from 700 allocations to :data:`GC_YOUNG`: a move allocates
        thousands of objects, nearly all freed by reference counting as its request ends, and at 700 each
        move set off a young collection or more and every tenth of those an older one, which walks the
        caches the server keeps (kept answers, plans): 57 µs of a move's CPU, against 21 µs at 10,000
        (measured driving the app in-process; the young generation then holds a few MB at most).
        """
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(max(GC_YOUNG, gc.get_threshold()[0]), older, oldest)
        if self.relay is not None:
            self.relay.start()
            # The service's events go out with their transactions (Relay.in_tx); after the commit they are
            # this process's subscribers' (hub) alone. Events the server makes itself take the relay's queue.
            self.service.relay_in_tx = self.relay.in_tx
            self._unsubscribe = self.service.subscribe(self.hub.publish)
        else:
            self._unsubscribe = self.service.subscribe(self._on_event)

    def stop(self) -> None:
        """Stop hearing events, and group commit."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.relay is not None:
            self.service.relay_in_tx = None
            self.relay.stop()
        self.sockets.stop()
        if self.committer is not None:
            self.committer.stop()
        self.readers.stop()
        self.writers.stop()

    def _revoked(self, token_id: str) -> None:
        """A token was revoked (by any process: the relay heard it): forget it, close its sockets."""
        self.auth.forget(token_id)
        self.sockets.revoked(token_id)

    def publish(self, event: ProcessEvent) -> None:
        """Hand an event the server made itself (a record change, events.py) to this process's subscribers and,
        through the relay, to the other server processes'."""
        self._on_event(event)

    def _on_event(self, event: ProcessEvent) -> None:
        self.hub.publish(event)
        if self.relay is not None:
            self.relay.send(event)
