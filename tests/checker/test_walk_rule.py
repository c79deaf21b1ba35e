"""One walk over a rule's body (`nodes.walk_rule`) serves the checker, the language server's index and
`rule_actions`: each used to stack its way through the `if` arms on its own."""

from __future__ import annotations

import inspect

from bpf_dsl import nodes as n
from bpf_dsl.checker import rules as checker_rules
from bpf_dsl.exprtext import expr_text
from bpf_dsl.lsp import index
from bpf_dsl.parser import parse

RULE = """
rule r on e {
    set a = 1
    if x > 1 {
        lock a
        if y > 2 { hide b } else if y > 3 { show b } else { show c }
    } else if x > 0 {
        require d
    }
    unlock e
}
"""


def _walk() -> list[str]:
    rule = parse(RULE).declarations[0]
    assert isinstance(rule, n.Rule)
    return [f"{item.kind} {item.field}" if isinstance(item, n.RuleAction)
            else f"if {expr_text(item.condition)}" if item.condition is not None else "else"
            for item in n.walk_rule(rule.body)]


def test_walk_rule_gives_arms_before_their_bodies_in_text_order() -> None:
    # An `if` chain's arms (its conditions) come where the chain stands, then the arms' bodies.
    assert _walk() == ["set a", "if x > 1", "if x > 0", "lock a", "if y > 2", "if y > 3", "else", "hide b",
                       "show b", "show c", "require d", "unlock e"]


def test_rule_actions_is_the_walks_actions() -> None:
    rule = parse(RULE).declarations[0]
    assert isinstance(rule, n.Rule)
    assert [f"{a.kind} {a.field}" for a in n.rule_actions(rule.body)] == [
        s for s in _walk() if not s.startswith(("if ", "else"))]


def test_no_other_walk_over_rule_arms() -> None:
    # The checker and the index take the walk from nodes; neither stacks arms itself any more.
    for module in (checker_rules, index, n):
        source = inspect.getsource(module)
        assert source.count("reversed(arm.body)") <= (2 if module is n else 0), module.__name__
