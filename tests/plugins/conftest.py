"""Fixtures for the plugin packs' tests: a real database per test (SQLite; PostgreSQL too when
BPF_TEST_POSTGRES_URL is set), a fixed clock, and services over programs importing the packs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bpf_dsl.service import Service
from bpf_dsl.storage import open_storage
from tests.backends import BACKENDS, database_url

from .helpers import Clock, OpenSvc, program


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(str(request.param), tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_svc(db_url: str, clock: Clock) -> Iterator[OpenSvc]:
    """``open_svc("sales", "marketing", extra="...")``: a service for a program importing those packs."""
    opened = []

    def make(*names: str, extra: str = "") -> Service:
        reg, prog = program(*names, extra=extra)
        storage = open_storage(db_url)
        opened.append(storage)
        return Service(prog, storage, reg, clock=clock)

    yield make
    for storage in opened:
        storage.close()
