"""docs/language.md stays in step with the code: the codes table, the limits, the examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpf_dsl import parser
from bpf_dsl.diagnostics import CODES

DOC = Path(__file__).resolve().parents[1] / "docs" / "language.md"
TEXT = DOC.read_text(encoding="utf-8")
ROW = re.compile(r"^\|\s*(BPF\d{3})\s*\|\s*(\w+)\s*\|\s*(.*?)\s*\|\s*$", re.MULTILINE)
ROWS = ROW.findall(TEXT)


def _fix(code: str) -> str:
    c = CODES[code]
    return f"add or correct this row in docs/language.md: | {c.code} | {c.severity} | {c.title} |"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_is_in_the_table_with_its_severity(code: str) -> None:
    rows = [r for r in ROWS if r[0] == code]
    assert len(rows) == 1, _fix(code)
    _, severity, meaning = rows[0]
    assert severity == CODES[code].severity, _fix(code)
    assert meaning == CODES[code].title, _fix(code)


def test_the_table_is_in_code_order() -> None:
    assert [r[0] for r in ROWS] == list(CODES)


def test_no_code_in_the_doc_is_unknown() -> None:
    mentioned = set(re.findall(r"BPF\d{3}", TEXT))
    assert mentioned - set(CODES) == set()


def test_severities_are_error_or_warning() -> None:
    assert {r[1] for r in ROWS} <= {"error", "warning"}


def test_limits_match_the_parser() -> None:
    assert parser.MAX_SOURCE_BYTES == 8 * 1024 * 1024
    assert "**8 MiB**" in TEXT
    assert f"**{parser.MAX_EXPRESSION_DEPTH} levels**" in TEXT
    assert f"**{parser.MAX_BLOCK_DEPTH} levels**" in TEXT


BPF_BLOCKS = re.findall(r"^```bpf\n(.*?)^```", TEXT, re.MULTILINE | re.DOTALL)


def test_there_are_examples() -> None:
    assert len(BPF_BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BPF_BLOCKS)))
def test_every_bpf_example_parses(index: int) -> None:
    parser.parse(BPF_BLOCKS[index], f"docs/language.md#example{index + 1}")


def test_highlighting_section() -> None:
    section = TEXT.split("## Highlighting", 1)[1]
    assert "pygmentize -l bpf" in section
    assert "bpf[highlight]" in section
