"""Fixtures for the engine's unit tests: the spec examples, and instances started on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bpf_dsl.definition import Program

from .helpers import Walker, example_text, load


@pytest.fixture
def opportunity_program() -> Program:
    return load(example_text("opportunity.bpf"))


@pytest.fixture
def case_program() -> Program:
    return load(example_text("case.bpf"))


@pytest.fixture
def lead(opportunity_program: Program) -> Iterator[Walker]:
    """A lead L1 with its Lead to Opportunity instance started."""
    w = Walker(opportunity_program, "lead_to_opportunity")
    w.data.save("lead", "L1", {"topic": "Fleet renewal", "purchase_timeframe": "unknown", "status": "open"})
    w.start("L1")
    yield w


@pytest.fixture
def case(case_program: Program) -> Iterator[Walker]:
    """A case C1 with its Phone to Case instance started."""
    w = Walker(case_program, "phone_to_case")
    w.data.save("case", "C1", {"title": "Printer on fire", "origin": "phone", "priority": "normal"})
    w.start("C1")
    yield w
