"""Open subscription sockets, closed with 4403 once their token is revoked or expires.

A token is checked when a socket's ``connection_init`` arrives; the socket then
lives for hours. Without a later check, a revoked token's socket went on
receiving every event. :class:`Sockets` keeps each acknowledged socket with its
token's id and expiry, and closes it (code 4403, as a refused ``connection_init``
is) when:

- the token expires: every :data:`CHECK_SECONDS`, on both backends;
- the token is revoked by another server process or by ``bpf token revoke``:
  on PostgreSQL the revoking transaction's ``NOTIFY bpf_tokens`` reaches every
  process (:class:`~bpf_server.events.Relay` calls :meth:`Sockets.revoked`); on
  SQLite, which has no notifications, the open sockets' tokens are read again
  every :data:`CHECK_SECONDS` whenever anything at all was committed since they
  were last read (``Storage.generation``: a microsecond to ask). On PostgreSQL
  they are also read again every :data:`RECHECK_SECONDS`, for a revocation sent
  while a process's LISTEN connection was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass

from bpf_dsl.errors import StorageError
from bpf_dsl.service import Tokens

from .threads import in_thread

log = logging.getLogger("bpf.server")

#: How often open sockets are checked: a revoked or expired token's socket is closed within about this long.
CHECK_SECONDS = 1.0
#: PostgreSQL: how often the tokens of open sockets are read again even without a notification.
RECHECK_SECONDS = 30.0
#: The close code of a socket whose token is no longer valid: that of a refused ``connection_init``.
FORBIDDEN = 4403


@dataclass(eq=False)
class Watched:
    """One open socket: its token, and how to close it (``close(reason)``)."""

    token_id: str
    expires_at: dt.datetime | None
    close: Callable[[str], Coroutine[object, object, None]]
    closing: bool = False


class Sockets:
    """The open sockets of this server process, by token (see the module's docstring)."""

    def __init__(self, tokens: Tokens, *, recheck_revocation: bool, check_seconds: float = CHECK_SECONDS) -> None:
        self.tokens = tokens
        self.recheck_revocation = recheck_revocation  # SQLite: no notification, read the rows again
        self.check_seconds = check_seconds
        self._open: set[Watched] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._generation: int | None = None  # the database's when the tokens were last read (SQLite)
        self._read_at = time.monotonic()

    @property
    def count(self) -> int:
        """How many sockets are watched."""
        return len(self._open)

    def watch(self, token_id: str, expires_at: dt.datetime | None,
              close: Callable[[str], Coroutine[object, object, None]]) -> Watched:
        """Watch a socket just acknowledged (on the event loop); the checks start with the first socket."""
        watched = Watched(token_id, expires_at, close)
        self._open.add(watched)
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._generation = self._sample()
            self._task = self._loop.create_task(self._run(), name="bpf-socket-tokens")
        return watched

    def unwatch(self, watched: Watched) -> None:
        """The socket closed."""
        self._open.discard(watched)

    def revoked(self, token_id: str) -> None:
        """Close the sockets of a token revoked elsewhere (called from any thread: the relay's listener)."""
        loop = self._loop
        if loop is None:
            return  # no socket was ever opened here
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            loop.call_soon_threadsafe(self._close_token, token_id, "the token was revoked")

    def stop(self) -> None:
        """Stop the checks (from any thread)."""
        task, loop = self._task, self._loop
        self._task = None
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    async def check(self) -> None:
        """Close the sockets whose token expired, or was revoked (see the module's docstring)."""
        now = dt.datetime.now(dt.UTC)
        for watched in list(self._open):
            if watched.expires_at is not None and watched.expires_at <= now:
                self._close(watched, "the token has expired")
        ids = {w.token_id for w in self._open}
        if not ids:
            return
        if self.recheck_revocation:
            generation = self._sample()  # before the reads: a revocation during them changes it
            if generation is not None and generation == self._generation:
                return  # nothing was committed since the rows were read: they hold
        elif time.monotonic() - self._read_at < RECHECK_SECONDS:
            return
        else:
            generation = None
        invalid = await in_thread(self._invalid, ids)
        self._generation, self._read_at = generation, time.monotonic()
        for token_id in invalid:
            self._close_token(token_id, "the token was revoked")

    def _invalid(self, ids: Collection[str]) -> list[str]:
        return [token_id for token_id in ids if not self.tokens.still_valid(token_id)]

    def _sample(self) -> int | None:
        try:
            return self.tokens.storage.generation()
        except StorageError:
            return None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await self.check()
            except StorageError as exc:  # the database is away: try again next time
                log.warning("could not check the tokens of open sockets: %s", exc)
            except Exception:  # a bug: keep checking all the same
                log.exception("checking the tokens of open sockets failed")

    def _close_token(self, token_id: str, reason: str) -> None:
        for watched in list(self._open):
            if watched.token_id == token_id:
                self._close(watched, reason)

    def _close(self, watched: Watched, reason: str) -> None:
        if watched.closing or self._loop is None:
            return
        watched.closing = True
        self._open.discard(watched)
        task = self._loop.create_task(watched.close(reason))
        self._closing.add(task)  # a reference, until it is done
        task.add_done_callback(self._closing.discard)
