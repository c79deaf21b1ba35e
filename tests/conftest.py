"""Shared fixtures: where the spec examples live, and a private check cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "spec" / "examples"


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
