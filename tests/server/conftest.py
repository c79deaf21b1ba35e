"""Fixtures of the server tests: a live server per backend (SQLite, PostgreSQL), or one per module on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.helpers import Live, live_server


@pytest.fixture
def live(db_url: str) -> Iterator[Live]:
    with live_server(db_url) as server:
        yield server


@pytest.fixture(scope="module")
def sqlite_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One SQLite server for a whole module (tests that don't need a fresh database)."""
    path = tmp_path_factory.mktemp("live") / "bpf.db"
    with live_server(f"sqlite:///{path}") as server:
        yield server
