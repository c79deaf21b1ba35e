"""Walks over the AST that every pass needs: the stages of a flow, the actions of a rule.

Both are iterative (an explicit stack), so no walk recurses on user-sized input.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import nodes as n


def stages(items: Iterable[n.FlowItem]) -> list[n.Stage]:
    """Every stage in ``items`` and the branches inside them, in text order."""
    out: list[n.Stage] = []
    stack: list[n.FlowItem] = list(reversed(list(items)))
    while stack:
        item = stack.pop()
        if isinstance(item, n.Stage):
            out.append(item)
        elif isinstance(item, n.Branch):
            for arm in reversed(item.arms):
                stack.extend(reversed(arm.body))
    return out


def rule_actions(items: Iterable[n.RuleItem]) -> list[n.RuleAction]:
    """Every action of a rule body, inside its ``if`` arms too, in text order."""
    out: list[n.RuleAction] = []
    stack: list[n.RuleItem] = list(reversed(list(items)))
    while stack:
        item = stack.pop()
        if isinstance(item, n.RuleIf):
            for arm in reversed(item.arms):
                stack.extend(reversed(arm.body))
        else:
            out.append(item)
    return out
