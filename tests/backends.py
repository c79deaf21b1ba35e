"""Real databases for tests: a fresh SQLite file, or a fresh schema on the PostgreSQL of BPF_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("BPF_TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.skipif(
        not PG_URL, reason="PostgreSQL tests need BPF_TEST_POSTGRES_URL (.ci/run sets it)")),
]


def with_search_path(url: str, schema: str) -> str:
    """``url`` with every connection's search_path set to ``schema``."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'bpf.db'}"
        return
    import psycopg

    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
