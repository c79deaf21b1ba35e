"""Business rules over the values being saved (rules.bpf), and the form state MemoryData reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpf_dsl.definition import Program
from bpf_dsl.engine import EMPTY_FORM, FieldMessage, MemoryData, evaluate_rules

from .helpers import T0, load

RULES = (Path(__file__).parent / "rules.bpf").read_text()


@pytest.fixture
def program() -> Program:
    return load(RULES)


@pytest.fixture
def data(program: Program) -> MemoryData:
    d = MemoryData(program.entities, program.rules, now=T0)
    d.put("person", "P1", name="Vi", vip=True)
    d.put("person", "P2", name="Al", vip=False)
    return d


def run(program: Program, data: MemoryData, **values: object):  # type: ignore[no-untyped-def]
    return evaluate_rules(program.rules["item"], program.entities["item"], values, data, T0)


def test_set_and_default_change_the_values_being_saved(program: Program, data: MemoryData) -> None:
    given = {"name": "Pen", "price": 2, "qty": 3}
    result = evaluate_rules(program.rules["item"], program.entities["item"], given, data, T0)
    assert result.values == {"name": "Pen", "price": 2, "qty": 3, "total": 6, "note": "none", "tier": "basic"}
    assert given == {"name": "Pen", "price": 2, "qty": 3}  # the input is not changed
    assert run(program, data, name="Pen", price=2, qty=3, note="kept").values["note"] == "kept"


def test_later_rules_see_earlier_sets(program: Program, data: MemoryData) -> None:
    # gold_items reads `tier`, which pricing set from the total it computed.
    form = run(program, data, name="Car", price=50, qty=3).form
    assert form.locked == {"qty"}  # pricing locked price, gold_items unlocked it and locked qty
    assert form.is_required("name", False)


def test_require_optional_last_one_wins_and_only_overrides(program: Program, data: MemoryData) -> None:
    big = run(program, data, name="Car", price=50, qty=3).form
    assert big.required == {"note": True, "name": True}
    assert big.is_required("note", False) and big.is_required("qty", True) and not big.is_required("qty", False)
    small = run(program, data, name="Pen", price=1, qty=1).form
    assert small.required == {"note": False}
    assert not small.is_required("note", True)


def test_hide_show_and_lock_unlock(program: Program, data: MemoryData) -> None:
    big = run(program, data, name="Car", price=50, qty=3).form
    assert big.hidden == frozenset()  # hide flag, then show flag; hide note, then show note
    small = run(program, data, name="Pen", price=1, qty=1).form
    assert small.hidden == frozenset() and small.locked == frozenset()
    no_gold = evaluate_rules(program.rules["item"][:1], program.entities["item"], {"price": 50, "qty": 3}, data, T0)
    assert no_gold.form.hidden == {"flag"} and no_gold.form.locked == {"price"}


def test_recommendations_in_order_nested_ifs_included(program: Program, data: MemoryData) -> None:
    form = run(program, data, name="Car", price=50, qty=11).form
    assert form.recommendations == (FieldMessage("price", "Check the price"), FieldMessage(None, "Big order"))
    assert form.recommendation("price") == "Check the price"
    assert form.recommendation("qty") is None


def test_errors_follow_lookups_and_may_name_no_field(program: Program, data: MemoryData) -> None:
    form = run(program, data, price=1, qty=1, holder="P1").form
    assert form.errors == (FieldMessage("qty", "VIPs order by phone"), FieldMessage(None, "Give the item a name"))
    assert not form.ok
    assert run(program, data, name="x", price=1, qty=1, holder="P2").form.ok
    assert run(program, data, name="x", price=1, qty=1, holder="missing").form.ok


def test_empty_values_send_conditions_to_else(program: Program, data: MemoryData) -> None:
    result = run(program, data, name="x")
    assert result.values["total"] is None and result.values["tier"] == "basic"


def test_memory_data_save_applies_rules_and_rejects_errors(program: Program, data: MemoryData) -> None:
    assert data.save("item", "I1", {"name": "Car", "price": 50, "qty": 3}).form.ok
    assert data.values("item", "I1")["tier"] == "gold"  # type: ignore[index]
    assert data.form("item", "I1").locked == {"qty"}
    rejected = data.save("item", "I1", {"holder": "P1"})
    assert not rejected.form.ok
    assert "holder" not in data.values("item", "I1")  # type: ignore[operator]
    assert data.form("item", "nope") is EMPTY_FORM


def test_memory_data_related_is_newest_first(program: Program, data: MemoryData) -> None:
    for rid in ("I1", "I2", "I3"):
        data.put("item", rid, name=rid, holder="P2" if rid != "I2" else "P1")
    assert data.related("item", "holder", "P2") == ["I3", "I1"]
    assert data.related("item", "holder", "P9") == []


def test_a_rule_may_name_its_own_entity(data: MemoryData) -> None:
    program = load("entity item { price: money  note: text }\n"
                   "rule big on item { if item.price > 5 { set note = \"big\" } }\n")
    result = evaluate_rules(program.rules["item"], program.entities["item"], {"price": 10}, data, T0)
    assert result.values["note"] == "big"
