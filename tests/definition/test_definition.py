"""Compiled definitions: stage index, branch table, versions, rules and expressions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from bpf_dsl import load_source
from bpf_dsl.definition import END, Decision
from bpf_dsl.expr import DictEnv

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def _program(examples: list[Path]):  # type: ignore[no-untyped-def]
    text = "\n".join(p.read_text() for p in examples)
    return load_source(text, "examples.bpf")


def test_branch_table_of_case_example(examples: list[Path]) -> None:
    proc = _program(examples).processes["phone_to_case"]
    names = [s.name for s in proc.stages]
    assert names == ["identify", "research", "quick_resolve", "escalate", "investigate", "resolve"]
    assert proc.next[0] == 1
    decision = proc.next[1]
    assert isinstance(decision, Decision)
    assert [t for _, _, t in decision.arms] == [2, 3]
    assert decision.default == 4
    assert proc.next[2] == END  # the arm ends with finish
    assert proc.next[3] == proc.next[4] == 5
    assert proc.next[5] == END

    def path(data: dict[str, object]) -> list[str]:
        return [names[i] for i in proc.predicted_path(0, lambda _e: DictEnv({None: data}, now=NOW))]

    assert path({"known_solution": True}) == ["identify", "research", "quick_resolve"]
    assert path({"priority": "high"}) == ["identify", "research", "escalate", "resolve"]
    assert path({"case_type": "problem"}) == ["identify", "research", "escalate", "resolve"]
    assert path({}) == ["identify", "research", "investigate", "resolve"]  # empty values fall to else


def test_cross_entity_stages(examples: list[Path]) -> None:
    proc = _program(examples).processes["lead_to_opportunity"]
    develop = proc.stage("develop")
    assert develop is not None
    assert (develop.entity, develop.via, develop.via_entity) == ("opportunity", "originating_lead", "lead")
    values = {name: fn(DictEnv({None: {"topic": "Big deal", "budget_amount": Decimal(5)}}, now=NOW))
              for name, fn in develop.create}
    assert values == {"name": "Big deal", "estimated_revenue": Decimal(5)}
    assert proc.entities == ("lead", "opportunity")
    assert proc.roles == ("salesperson", "sales_manager") and proc.order == 1
    qualify = proc.stages[0]
    assert [s.name for s in qualify.steps][:2] == ["existing_contact", "existing_account"]
    assert qualify.steps[3].label == "Estimated Budget" and qualify.steps[3].required
    propose = proc.stage("propose")
    assert propose is not None and propose.steps[-1].name == "notify_manager"
    assert propose.steps[-1].kind == "action"


def test_version_is_a_hash_of_meaning(examples: list[Path]) -> None:
    text = examples[-1].read_text()
    v1 = load_source(text).processes["lead_to_opportunity"].version
    relaid = text.replace("    ", "\t").replace("\n\n", "\n\n\n# a new comment\n")
    assert load_source(relaid).processes["lead_to_opportunity"].version == v1
    changed = text.replace("step proposed_solution", "step proposed_solution required")
    assert load_source(changed).processes["lead_to_opportunity"].version != v1


def test_expression_semantics() -> None:
    text = """
entity e {
    a: integer  b: decimal  t: text  d: date  when: datetime  c: choice(x, y)  s: choices(p, q)  f: bool
}
rule r on e {
    if a > 1 { set b = a / 4 }
    if a = null { hide t }
}
"""
    program = load_source(text)
    rule = program.rules["e"][0]
    branch = rule.body[0]
    cond = branch.arms[0][0]  # type: ignore[union-attr]
    assert cond is not None
    assert cond(DictEnv({None: {"a": 2}})) is True
    assert cond(DictEnv({None: {"a": None}})) is False
    action = branch.arms[0][1][0]  # type: ignore[union-attr]
    assert action.value(DictEnv({None: {"a": 2}})) == Decimal("0.5")  # type: ignore[union-attr]


def test_empty_values_and_comparisons() -> None:
    from bpf_dsl.expr import arithmetic, compare, is_empty

    assert compare("!=", None, 1) is False
    assert compare("=", "", "") is False
    assert compare("<", dt.date(2026, 1, 1), dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC)) is True
    assert compare("=", 2, Decimal("2.0")) is True
    assert compare("<", "a", 1) is False  # never raises
    assert arithmetic("/", 1, 0) is None
    assert arithmetic("+", "a", "b") == "ab"
    assert arithmetic("+", dt.date(2026, 1, 30), 3) == dt.date(2026, 2, 2)
    assert arithmetic("*", None, 3) is None
    assert is_empty(()) and is_empty("") and not is_empty(0)
