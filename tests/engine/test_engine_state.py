"""InstanceState's helpers and immutability."""

from __future__ import annotations

import datetime as dt

import pytest

from bpf_dsl.engine import InstanceState

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def state() -> InstanceState:
    return InstanceState("I1", "p", "v1", "L1", "active", 2, (0, 2), (("lead", "L1"), ("opportunity", "O1")), T, T,
                         None, 3)


def test_bound_records() -> None:
    s = state()
    assert s.bound_map() == {"lead": "L1", "opportunity": "O1"}
    assert s.record_of("opportunity") == "O1" and s.record_of("task") is None
    assert s.with_binding("task", "T1") == (("lead", "L1"), ("opportunity", "O1"), ("task", "T1"))
    assert s.with_binding("opportunity", "O2") == (("lead", "L1"), ("opportunity", "O2"))


def test_with_record_id_replaces_a_temporary_id() -> None:
    s = state().with_record_id("O1", "O9")
    assert s.bound == (("lead", "L1"), ("opportunity", "O9")) and s.record_id == "L1"
    assert state().with_record_id("L1", "L2").record_id == "L2"


def test_state_is_frozen_and_small() -> None:
    s = state()
    with pytest.raises(AttributeError):
        s.version = 4  # type: ignore[misc]
    assert not hasattr(s, "__dict__")  # a named tuple: no per-instance dict
    assert s.is_active and s.actions_done == frozenset()
