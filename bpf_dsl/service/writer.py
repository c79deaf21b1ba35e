"""Group commit: the commands that arrive together are committed in one transaction.

A command submitted while a transaction commits waits in a queue; when that commit is
done, the writer takes every queued command (up to :data:`MAX_BATCH`) at once, runs
them in turn in one transaction, each in a savepoint of its own (a command that fails or
is refused is rolled back to its savepoint, alone), commits once, and only then runs each
command's post-commit work (events, plugins' hooks) and answers it, in the order they
ran. One durable commit (one fsync) serves every command that arrived during the
previous one: throughput grows with the number of clients instead of staying at the pace
of one commit, and no command is answered before the commit that holds it.

If the transaction as a whole fails (BEGIN or COMMIT fails, or the database drops the
transaction under a savepoint, as SQLite does on a full disk or an I/O error), nothing of
the batch was committed: each of its commands is run again in a transaction of its own
(:meth:`GroupCommit.redo`), so that the trouble of one is not the others'.

:class:`GroupCommit` holds the queue and the steps of a round (take, begin, run, commit,
finish), so that whoever drives it chooses where each step runs. The server drives it
from its event loop: the commands run there, between requests, with no thread hand-off
per statement (a writer thread would wait for the GIL after every one), and only the
commit, the wait for the disk, goes to a worker thread; while it runs, the next batch
queues. :class:`GroupWriter` drives it from a thread of its own, for callers of the
service that have no event loop.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from bpf_dsl.storage import Storage, Tx, WriteSession

log = logging.getLogger("bpf.service")

#: The most commands one transaction takes: a bound on how long one commit keeps the others waiting.
MAX_BATCH = 64


def _nothing() -> None:
    pass


class GroupStopped(RuntimeError):
    """Group commit was stopped before the call could run: run it on its own."""


#: How a job's outcome is handed back: ``answer(result, error)``, called once, from the thread that finished it.
Answer = Callable[[Any, BaseException | None], None]


class Job:
    """One call to run inside the group's transaction: its outcome, and what to do once it committed."""

    __slots__ = ("after", "answer", "answered", "call", "error", "prefetch", "result")

    def __init__(self, call: Callable[[], Any], answer: Answer, prefetch: str | None = None) -> None:
        self.call = call
        self.answer = answer
        self.prefetch = prefetch  # the instance the call moves, if it says
        self.after: list[Callable[[], None]] = []
        self.result: Any = None
        self.error: BaseException | None = None
        self.answered = False

    def reset(self) -> None:
        """Forget an outcome that was not committed (the job runs again)."""
        self.after.clear()
        self.result = None
        self.error = None

    def finish(self) -> None:
        """Its transaction committed (or it failed): its post-commit work, then its answer."""
        for fn in self.after:
            try:
                fn()
            except Exception:  # post-commit work must not fail a committed command
                log.exception("post-commit work failed")
        self.answered = True
        self.answer(self.result, self.error)

    def fail(self, error: BaseException) -> None:
        """Answer ``error``, unless answered already (nothing of it was committed)."""
        if not self.answered:
            self.after.clear()
            self.error = error
            self.finish()


def _settle(future: Future[Any]) -> Answer:
    def answer(result: Any, error: BaseException | None) -> None:
        if future.cancelled():  # its caller gave up waiting (the command ran all the same)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    return answer


class GroupCommit:
    """The queue of submitted calls and the steps of one round of group commit, for a driver to run."""

    def __init__(self, storage: Storage, *, max_batch: int = MAX_BATCH) -> None:
        self.storage = storage
        self.max_batch = max_batch
        #: Called (from any thread) after each submit: the driver's wake-up.
        self.wake: Callable[[], None] = _nothing
        #: The driver's thread: a command it calls outside a round runs in a transaction of its own.
        self.driver: int | None = None
        self._queue: collections.deque[Job] = collections.deque()
        self._session: WriteSession | None = None
        self._tx: Tx | None = None
        self._job: Job | None = None
        self._runner: int | None = None
        self._size = 0  # jobs in the round being run
        self._abandoned = False
        self._commits = 0
        self.closed = False

    @property
    def commits(self) -> int:
        """How many transactions were committed."""
        return self._commits

    # -- for callers ------------------------------------------------------------------------------------
    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        """Run ``call`` inside the next transaction; the future is answered after its commit.

        Each service command ``call`` runs is one savepoint of that transaction (:meth:`current`).
        """
        future: Future[Any] = Future()
        self.enqueue(call, _settle(future))
        return future

    def enqueue(self, call: Callable[[], Any], answer: Answer, *, prefetch: str | None = None) -> None:
        """:meth:`submit` with the outcome handed to ``answer(result, error)`` after the commit (in the thread
        that committed it): for a driver with futures of its own (an event loop's). ``prefetch``: the instance
        ``call`` moves: a round reads the instances its calls move in one statement before running them
        (:meth:`~bpf_dsl.storage.base.Tx.prefetch_instances`), one round trip instead of one per call."""
        if self.closed:
            raise GroupStopped("group commit is stopped")
        self._queue.append(Job(call, answer, prefetch))
        self.wake()

    def current(self) -> Tx | None:
        """The open transaction, for a command called by the job being run (None on any other thread)."""
        return self._tx if self._runner == threading.get_ident() else None

    def on_driver(self) -> bool:
        """Whether the caller is the driver's thread (which must never wait for a round)."""
        return self.driver == threading.get_ident()

    @property
    def shared(self) -> bool:
        """Whether the round being run holds more than one job."""
        return self._size > 1

    def abandon(self) -> None:
        """Give up the round being run: nothing of it is committed, and each of its jobs runs again alone
        (:meth:`redo`). What a command does when the database chose it as a deadlock's victim: the locks the
        commands before it took would make its retries in this transaction meet the same deadlock."""
        self._abandoned = True

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once the transaction of the job being run has committed (before it is answered)."""
        if self._job is None:
            raise RuntimeError("after_commit outside a job")
        self._job.after.append(fn)

    # -- the steps of a round, for the driver ----------------------------------------------------------------
    def pending(self) -> bool:
        """Whether calls are waiting."""
        return bool(self._queue)

    @property
    def waiting(self) -> int:
        """How many calls are waiting for the next round."""
        return len(self._queue)

    def take(self) -> list[Job]:
        """The next batch: up to ``max_batch`` waiting calls, oldest first."""
        queue = self._queue
        jobs: list[Job] = []
        while queue and len(jobs) < self.max_batch:
            jobs.append(queue.popleft())
        return jobs

    def begin(self, *, wait: bool = True) -> bool:
        """Open the round's transaction. ``wait=False``: False at once while another connection holds the
        database's write lock (call again with ``wait=True`` where waiting is fine)."""
        if self._session is None:
            self._session = self.storage.session()
        try:
            tx = self._session.begin(wait=wait)
        except Exception:
            self._drop_session()  # a lost connection: a new one next time
            raise
        if tx is None:
            return False
        tx.keep_counts()  # the stage counters written once, at the end, in one order (see Tx.keep_counts)
        tx.settle_late()  # a command's writes waited for with the next one's read (see Tx.settle_late)
        self._tx = tx
        return True

    def run(self, jobs: list[Job]) -> bool:
        """Run the jobs in the open transaction, in order. False: the database dropped the transaction (it is
        rolled back; :meth:`redo` the jobs)."""
        tx = self._tx
        assert tx is not None, "run() without begin()"
        self._runner = threading.get_ident()
        self._size, self._abandoned = len(jobs), False
        try:
            moved = [job.prefetch for job in jobs if job.prefetch is not None]
            if len(moved) > 1:
                tx.prefetch_instances(moved)
            for job in jobs:
                self._job = job
                try:
                    job.result = job.call()
                except BaseException as exc:  # its own failure: its savepoint rolled its writes back
                    job.error = exc
                if tx.lost or self._abandoned:
                    self.abort()
                    return False
            self._job = None
            tx.write_counts()
        except Exception as exc:
            log.warning("a group commit failed; its commands run again one by one", exc_info=True)
            for job in jobs:  # nothing of theirs is committed: an answer left, it is this failure
                if job.error is None:
                    job.error = exc
            self.abort()
            return False
        finally:
            self._runner = None
            self._job = None
            self._size = 0
        return True

    def commit(self) -> bool:
        """Commit the round's transaction (the wait for the disk). False: it failed and was rolled back."""
        assert self._session is not None and self._tx is not None, "commit() without begin()"
        self._tx = None
        try:
            self._session.commit()
        except Exception:
            log.warning("a group commit failed; its commands run again one by one", exc_info=True)
            self._drop_session()
            return False
        self._commits += 1
        return True

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:
                log.warning("closing the group commit's connection failed", exc_info=True)

    def abort(self) -> None:
        """Roll the round's transaction back."""
        self._tx = None
        if self._session is not None:
            try:
                self._session.rollback()
            except Exception:
                # The connection is in no known state (the database ended it, say): a new one next time.
                log.warning("rolling back a group commit failed", exc_info=True)
                self._drop_session()

    def finish(self, jobs: list[Job]) -> None:
        """After the commit: each job's post-commit work, then its answer, in order."""
        for job in jobs:
            job.finish()

    def redo(self, jobs: list[Job]) -> None:
        """The jobs of a round that failed as a whole, each in a transaction of its own, start to finish
        (blocking: a thread's work). One that fails alone gets its error."""
        for job in jobs:
            job.reset()
            try:
                self.begin()
            except Exception as exc:
                job.error = exc
                job.finish()
                continue
            if not self.run([job]):
                job.after.clear()
                if job.error is None:
                    job.error = RuntimeError("the transaction was lost")
                job.finish()  # its own error, which lost the transaction
                continue
            tx_failed: BaseException | None = None
            assert self._session is not None
            self._tx = None
            try:
                self._session.commit()
                self._commits += 1
            except Exception as exc:
                tx_failed = exc
                self._drop_session()
            if tx_failed is not None:
                job.after.clear()
                job.error = tx_failed
            job.finish()

    def round(self, jobs: list[Job]) -> None:
        """One whole round in the calling thread: begin, run, commit, finish (or redo)."""
        try:
            self.begin()
        except Exception:
            log.warning("a group commit could not begin; its commands run one by one", exc_info=True)
            self.redo(jobs)
            return
        if self.run(jobs) and self.commit():
            self.finish(jobs)
        else:
            self.redo(jobs)

    def close(self) -> None:
        """No more calls; the session's connection is closed (the driver has run what was submitted, and a
        call that came too late is answered with an error)."""
        self.closed = True
        while self._queue:
            self._queue.popleft().answer(None, GroupStopped("group commit is stopped"))
        self._drop_session()


class GroupWriter:
    """Drives a :class:`GroupCommit` from a thread of its own (callers without an event loop)."""

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        self._wakeup = threading.Event()
        self._stop = False
        group.wake = self._wakeup.set
        self._thread = threading.Thread(target=self._loop, name="bpf-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self.group.driver = threading.get_ident()
        while True:
            self._wakeup.wait()
            self._wakeup.clear()
            while self.group.pending():
                jobs = self.group.take()
                try:
                    self.group.round(jobs)
                except Exception as exc:  # a bug: its commands are answered with it, and the writer goes on
                    log.exception("a group commit failed")
                    self.group.abort()
                    for job in jobs:
                        job.fail(exc)
            if self._stop:
                return

    def stop(self, timeout: float | None = 30) -> None:
        """Run what was submitted, then end the thread and close the group."""
        self.group.closed = True
        self._stop = True
        self._wakeup.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self.group.close()
