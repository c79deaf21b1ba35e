"""Where the tests find what they read: all inside this repository, so a clone with nothing
beside it passes. The spec's examples are kept in docs/examples/ and the API contract in
tests/contract/API.md, copies of the shared spec (the before-stop check compares them)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
API_MD = REPO / "tests" / "contract" / "API.md"
