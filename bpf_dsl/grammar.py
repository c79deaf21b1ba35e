"""The grammar as text: finds ``bpf.lark`` (inside the installed wheel, or in the source tree's
``grammar/``) and reads what other tools derive from it (its keywords), without lark."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def grammar_path() -> Path:
    """The grammar file this installation uses.

    A wheel carries it as ``bpf_dsl/grammar/bpf.lark`` (pyproject's force-include);
    a source checkout or an editable install reads the top-level ``grammar/``.
    """
    for candidate in (_PACKAGE_DIR / "grammar" / "bpf.lark", _PACKAGE_DIR.parent / "grammar" / "bpf.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("bpf.lark is missing from this installation; reinstall bpf")


@lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar's text, read once."""
    return grammar_path().read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """Every keyword of the grammar (its quoted words)."""
    return frozenset(re.findall(r'"([a-z]+)"', grammar_text()))
