"""Who is calling: the bearer token of a request or socket, checked against the database.

A verified token is remembered for a few seconds per server process, so a busy
client costs one full verification (hash, expiry, last-used) per
:data:`CACHE_SECONDS`, not one per request. A revoked token is refused at once
all the same: on SQLite a request re-reads the token's row (inline, a read by
key) unless nothing at all was committed to the database since the row was last
read (``Storage.generation``, SQLite's ``PRAGMA data_version``: a microsecond);
on PostgreSQL ``bpf token revoke`` sends a NOTIFY that every server process hears
(:class:`~bpf_server.events.Relay`) and drops the token from its cache. Only
while a process's LISTEN connection is down does a revoked token work there for
up to :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
import time

from bpf_dsl.service import Caller, Tokens, Verdict, bearer

from .threads import in_thread

CACHE_SECONDS = 5.0
CACHE_ENTRIES = 10_000


class Refused(Exception):
    """No valid token; ``reason`` says why (sent to the client: it tells nothing of the schema)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Authenticator:
    """Checks bearer tokens, with a short cache of the valid ones."""

    def __init__(self, tokens: Tokens, *, recheck_revocation: bool) -> None:
        self.tokens = tokens
        self.recheck_revocation = recheck_revocation  # re-read the row on a cache hit (SQLite: no NOTIFY)
        # token -> (when verified, verdict, the database's generation when its row was last read). Keyed by the
        # token itself, which this process holds while it serves the request anyway: a hit costs a dict lookup,
        # not a SHA-256 (the hash is what the database keeps, and what a miss verifies against).
        self._cache: dict[str, tuple[float, Verdict, int | None]] = {}

    async def caller(self, header: str | None) -> Caller:
        """The caller of an ``Authorization`` header's value; raises :class:`Refused`."""
        caller = (await self.accepted(header)).caller
        assert caller is not None
        return caller

    async def accepted(self, header: str | None) -> Verdict:
        """The verdict on an ``Authorization`` header's token, which has a caller (its token's id and expiry
        too: a socket is closed when they say so); raises :class:`Refused`."""
        token, why = bearer(header)
        if token is None:
            raise Refused(why)
        verdict = await self.verify(token)
        if verdict.caller is None:
            raise Refused(verdict.reason)
        return verdict

    async def verify(self, token: str) -> Verdict:
        """The verdict on a token, from the cache when fresh."""
        key = token
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS and not _expired(hit[1]):
            verified, verdict, seen = hit
            token_id = verdict.token_id
            if not self.recheck_revocation or token_id is None:
                return verdict
            generation = self.tokens.storage.generation()  # before the read: a later revocation changes it
            if generation is not None and generation == seen:
                return verdict  # nothing was committed since the row was read: it holds
            if self.tokens.still_valid(token_id):
                self._cache[key] = (verified, verdict, generation)
                return verdict
        generation = self.tokens.storage.generation() if self.recheck_revocation else None
        verdict = await in_thread(self.tokens.verify, token)
        if verdict.caller is not None:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now, verdict, generation)
        else:
            self._cache.pop(key, None)
        return verdict


    def forget(self, token_id: str) -> None:
        """Drop a revoked token from the cache (called when another process revoked it)."""
        for key, (_, verdict, _seen) in list(self._cache.items()):
            if verdict.token_id == token_id:
                self._cache.pop(key, None)


def _expired(verdict: Verdict) -> bool:
    return verdict.expires_at is not None and verdict.expires_at <= dt.datetime.now(dt.UTC)
