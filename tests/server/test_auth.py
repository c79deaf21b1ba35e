"""Tokens on their own: hashes only, constant-time checks, expiry, revocation, last use at most once a minute."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bpf_dsl.service.auth import Tokens, bearer, hash_token, token_id_of
from bpf_dsl.storage import open_storage


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_tokens_lifecycle(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'bpf.db'}")
    clock = Clock()
    tokens = Tokens(storage, clock)
    made = tokens.create("ann", ["salesperson", "salesperson", " sales_manager "], expires_days=2)
    assert made.roles == ("sales_manager", "salesperson") and made.previous_roles is None
    assert token_id_of(made.token) == made.id
    [row] = tokens.list()
    assert row.token_hash == hash_token(made.token) and made.token.split("_", 2)[2] not in row.token_hash
    verdict = tokens.verify(made.token)
    assert verdict.caller is not None and verdict.caller.roles == frozenset({"salesperson", "sales_manager"})
    first_use = tokens.list()[0].last_used_at
    assert first_use == clock.now
    clock.now += dt.timedelta(seconds=30)
    tokens.verify(made.token)
    assert tokens.list()[0].last_used_at == first_use  # not written again within a minute
    clock.now += dt.timedelta(seconds=31)
    tokens.verify(made.token)
    assert tokens.list()[0].last_used_at == clock.now
    assert tokens.verify(made.token[:-1] + ("A" if made.token[-1] != "A" else "B")).reason == "the token is not known"
    assert tokens.verify("bpf_nope").reason == "the token is malformed"
    clock.now += dt.timedelta(days=2)
    assert tokens.verify(made.token).reason == "the token has expired"
    other = tokens.create("ann", ["admin"])
    assert other.previous_roles == ("sales_manager", "salesperson")
    assert tokens.revoke(other.token) and not tokens.revoke(other.id)
    assert tokens.verify(other.token).reason == "the token was revoked"
    storage.close()


def test_bearer_header() -> None:
    assert bearer("Bearer abc") == ("abc", "ok")
    assert bearer("bearer  abc ") == ("abc", "ok")
    assert bearer(None)[0] is None and "missing" in bearer(None)[1]
    assert bearer("Basic abc")[0] is None and bearer("Bearer")[0] is None
