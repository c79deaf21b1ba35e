"""Fixtures of the server tests: a live server per backend (SQLite, PostgreSQL), or one per module on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import BACKENDS, database_url
from tests.server.helpers import Live, live_server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_url(backend, tmp_path) as url:
        yield url


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
