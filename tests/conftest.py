"""Shared fixtures: where the spec examples live, a private check cache per test session, and a real
database per backend (SQLite always; PostgreSQL when BPF_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import BACKENDS, database_url

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Tests must never read a developer's cache, nor leave entries in it.
    os.environ["BPF_CACHE_DIR"] = str(tmp_path_factory.mktemp("bpf-cache"))


@pytest.fixture()
def examples() -> list[Path]:
    """The spec's example files (the language contract)."""
    files = sorted(EXAMPLES.glob("*.bpf"))
    assert files, f"no examples found in {EXAMPLES}"
    return files


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The kind of database: ``sqlite``, or ``postgres`` when BPF_TEST_POSTGRES_URL is set (else it skips)."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of ``backend``, removed afterwards."""
    with database_url(backend, tmp_path) as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in this thread until
    the session ends, and tests that call ``asyncio.run`` can't run after it starts."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid)
