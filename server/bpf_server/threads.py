"""Blocking calls (the service, the database) off the event loop: the one helper every module of the server uses.

:func:`in_thread` hands a call to anyio's thread pool: right for what is rare or long
(a scan, a diagram, a token's first check). :class:`Pool` is a few threads of our own for
the calls that come with every request (a database's round trips): a hand-off costs a
queue put and a ``call_soon_threadsafe``, about 15 µs of CPU, where anyio's costs six
times as much. Both run the call in a copy of the caller's context (its context
variables, such as the dependencies a request's reads are recording).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio.to_thread

T = TypeVar("T")
A = TypeVar("A")

_Item = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call (the service, the database) in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Answer ``future`` (on its loop), unless it was cancelled meanwhile."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Pool:
    """``size`` threads of our own taking blocking calls from one queue; started with the first call."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in one of the threads (in a copy of this context); its result here."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        self._queue.put((call, loop, future))
        return await future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.size:
                thread = threading.Thread(target=self._loop, name=f"{self.name}-{len(self._threads)}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            call, loop, future = item
            try:
                result = call()
            except BaseException as exc:
                error: BaseException | None = exc
                result = None
            else:
                error = None
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle, future, result, error)

    def stop(self) -> None:
        """End the threads once what they were given is done."""
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []


class Batched(Generic[A, T]):
    """A read of many items at once (``fn(items) -> results``, in order), shared by concurrent callers: each
    call adds its item to the next batch; one batch at a time runs in ``pool``, and what arrived meanwhile
    makes the next. Busy, many callers share one hand-off to a thread and one query; alone, a caller pays
    what a call of its own would."""

    def __init__(self, fn: Callable[[list[A]], list[T]], pool: Pool, max_batch: int = 64) -> None:
        self.fn = fn
        self.pool = pool
        self.max_batch = max_batch
        self._waiting: list[tuple[A, asyncio.Future[T]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to a task

    async def __call__(self, item: A) -> T:
        """``fn``'s result for ``item``, read with the items of the callers around it."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._running:
            self._running = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                try:
                    results = await self.pool.run(self.fn, [item for item, _ in batch])
                except Exception as exc:  # each caller gets the failure, as a call of its own would
                    for _, future in batch:
                        settle(future, None, exc)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        settle(future, result, None)
        finally:
            self._running = False
