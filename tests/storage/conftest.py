"""The storage under test: a fresh database of each backend (SQLite always; PostgreSQL when
BPF_TEST_POSTGRES_URL is set), opened and migrated, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bpf_dsl.storage import Storage, open_storage
from tests.backends import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with database_url(request.param, tmp_path) as url:
        s = open_storage(url)
        try:
            yield s
        finally:
            s.close()
