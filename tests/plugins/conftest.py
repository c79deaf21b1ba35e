"""Fixtures for the plugin packs' tests: a real database per test (SQLite; PostgreSQL too when
BPF_TEST_POSTGRES_URL is set), a fixed clock, and services over programs importing the packs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bpf_dsl.service import Service
from bpf_dsl.storage import open_storage

from .helpers import Clock, OpenSvc, program


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
