"""Who is calling: the bearer token of a request or socket, checked against the database.

A verified token is remembered for a few seconds per server process, so a busy
client costs one token lookup per :data:`CACHE_SECONDS`, not one per request; the
price is that a revoked token may still work for that long on a process that saw
it just before.
"""

from __future__ import annotations

import datetime as dt
import time

from bpf_dsl.auth import Tokens, Verdict, bearer, hash_token
from bpf_dsl.service import Caller

from .context import in_thread

CACHE_SECONDS = 5.0
CACHE_ENTRIES = 10_000


class Refused(Exception):
    """No valid token; ``reason`` says why (sent to the client: it tells nothing of the schema)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Authenticator:
    """Checks bearer tokens, with a short cache of the valid ones."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self._cache: dict[str, tuple[float, Verdict]] = {}

    async def caller(self, header: str | None) -> Caller:
        """The caller of an ``Authorization`` header's value; raises :class:`Refused`."""
        token, why = bearer(header)
        if token is None:
            raise Refused(why)
        verdict = await self.verify(token)
        if verdict.caller is None:
            raise Refused(verdict.reason)
        return verdict.caller

    async def verify(self, token: str) -> Verdict:
        """The verdict on a token, from the cache when fresh."""
        key = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS and not _expired(hit[1]):
            return hit[1]
        verdict = await in_thread(self.tokens.verify, token)
        if verdict.caller is not None:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now, verdict)
        else:
            self._cache.pop(key, None)
        return verdict


def _expired(verdict: Verdict) -> bool:
    return verdict.expires_at is not None and verdict.expires_at <= dt.datetime.now(dt.UTC)
