"""API tokens: created for a user with roles, stored as a hash only, checked on every request.

A token reads ``bpf_<id>_<secret>``: the id names the stored row (so a lookup never
compares secrets in SQL), the secret is 32 random bytes. Only the SHA-256 of the
whole token is stored; a high-entropy secret needs no slow password hash, and the
comparison is constant-time (:func:`hmac.compare_digest`).

No web imports here: the server, the command line and the tests all use this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bpf_dsl.errors import UsageError
from bpf_dsl.model import BUILTIN_ROLES
from bpf_dsl.plugins import default_registry
from bpf_dsl.service.results import Caller
from bpf_dsl.service.versions import stored_program
from bpf_dsl.storage import Storage
from bpf_dsl.storage.base import TokenRow

PREFIX = "bpf_"
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often per token
MAX_TOKEN_LENGTH = 200

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token: str) -> str | None:
    """The id part of ``bpf_<id>_<secret>``, or None when the text has not that shape."""
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    token_id, sep, secret = token[len(PREFIX):].partition("_")
    if not sep or not token_id or not secret or not token_id.isalnum():
        return None
    return token_id


@dataclass(frozen=True, slots=True)
class Created:
    """A new token: ``token`` is shown once and never stored."""

    id: str
    user: str
    roles: tuple[str, ...]
    token: str
    expires_at: dt.datetime | None
    previous_roles: tuple[str, ...] | None  # the user's roles before, None for a new user


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking a token: a caller, or why not (``reason``)."""

    caller: Caller | None
    reason: str
    token_id: str | None = None
    expires_at: dt.datetime | None = None


class Tokens:
    """Create, check, revoke and list API tokens in a database."""

    def __init__(self, storage: Storage, clock: Clock = _utcnow) -> None:
        self.storage = storage
        self.clock = clock

    def create(self, user: str, roles: Sequence[str], expires_days: float | None = None) -> Created:
        """Create ``user`` if needed (its roles become ``roles``) and a new token for it."""
        user = user.strip()
        if not user:
            raise UsageError("--user needs a name")
        clean = tuple(sorted({r.strip() for r in roles if r.strip()}))
        if not clean:
            raise UsageError("give at least one --role (admin may do everything)")
        if expires_days is not None and expires_days <= 0:
            raise UsageError("--expires-days must be positive")
        now = self.clock()
        expires = now + dt.timedelta(days=expires_days) if expires_days is not None else None
        token_id = secrets.token_hex(8)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        with self.storage.write() as tx:
            before = tx.upsert_user(user, clean, now)
            tx.insert_token(token_id, user, hash_token(token), now, expires)
        return Created(token_id, user, clean, token, expires, before)

    def declared_roles(self) -> frozenset[str] | None:
        """The roles the model stored in the database declares, ``admin`` among them; None when none is stored
        (or it no longer builds: a pack it imports was removed)."""
        program = stored_program(self.storage, default_registry())
        return None if program is None else frozenset({*program.roles, *BUILTIN_ROLES})

    def verify(self, token: str) -> Verdict:
        """Who holds ``token``, if it is known, unrevoked and unexpired (``last_used_at`` noted)."""
        token_id = token_id_of(token)
        if token_id is None:
            return Verdict(None, "the token is malformed")
        with self.storage.read() as tx:
            row = tx.get_token(token_id)
        if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
            return Verdict(None, "the token is not known")
        now = self.clock()
        if row.revoked_at is not None:
            return Verdict(None, "the token was revoked", token_id)
        if row.expires_at is not None and row.expires_at <= now:
            return Verdict(None, "the token has expired", token_id)
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            with self.storage.write() as tx:
                tx.touch_token(token_id, now)
        return Verdict(Caller(row.user, frozenset(row.roles)), "ok", token_id, row.expires_at)

    def still_valid(self, token_id: str) -> bool:
        """Whether the token is neither revoked nor expired now (one read by key; no hash check)."""
        with self.storage.read(single=True) as tx:
            live, expires_at = tx.token_expiry(token_id)
        return live and (expires_at is None or expires_at > self.clock())

    def revoke(self, token_id: str) -> bool:
        """Revoke by id (a whole token is accepted too); False if unknown or revoked already."""
        found = token_id_of(token_id)
        with self.storage.write() as tx:
            return tx.revoke_token(found or token_id, self.clock())

    def get(self, token_id: str) -> TokenRow | None:
        """The stored token of an id, revoked or not."""
        with self.storage.read() as tx:
            return tx.get_token(token_id)

    def list(self) -> list[TokenRow]:
        """Every token (hashes included: callers print what they need)."""
        with self.storage.read() as tx:
            return tx.list_tokens()

    def close(self) -> None:
        """Close the database the tokens are in."""
        self.storage.close()


def bearer(header: str | None) -> tuple[str | None, str]:
    """The token of an ``Authorization: Bearer TOKEN`` header, or None and why not."""
    if not header:
        return None, "missing token: send the header Authorization: Bearer TOKEN"
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None, "the Authorization header must read: Bearer TOKEN"
    token = value.strip()
    if not token.isascii() or not token.isprintable():
        return None, "the token is malformed"  # tokens are printable ASCII; anything else can't be one
    return token, "ok"
