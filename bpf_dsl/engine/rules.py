"""Business rules: run compiled rules over the values of a record being saved.

Rules run in declaration order (imports first, as the program lists them), each
body top to bottom; an ``if`` chain takes its first arm whose condition holds,
else its ``else`` arm. Conditions and values read the values as changed so far,
so a ``set`` is visible to the rules after it. ``set`` and ``default`` (only when
the field is empty) change the values being saved; ``error`` collects a field
error (the service rejects the write); ``require``/``optional``, ``lock``/
``unlock`` and ``hide``/``show`` switch a field's state, the last one run
winning; ``recommend`` adds a recommendation. Lookups in expressions are followed
through ``source``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bpf_dsl.definition import CompiledRule, RuleBranch, RuleItem
from bpf_dsl.engine.data import EMPTY_FORM, FieldMessage, FormState, RecordSource
from bpf_dsl.engine.env import RecordEnv
from bpf_dsl.expr import is_empty, truthy
from bpf_dsl.model import EntitySpec


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The rules' verdict (``form``) and the values to save after ``set``/``default``."""

    form: FormState
    values: Mapping[str, Any]


def evaluate_rules(rules: Iterable[CompiledRule], spec: EntitySpec, values: Mapping[str, Any],
                   source: RecordSource, now: dt.datetime, record_id: str | None = None) -> RuleResult:
    """Run ``rules`` (those of ``spec``'s entity) over ``values``; ``values`` itself is not changed."""
    if isinstance(rules, tuple | list) and not rules:
        return RuleResult(EMPTY_FORM, values)  # most entities have no rules: skip the environment
    working = dict(values)
    env = RecordEnv(source, now, (spec.name, record_id), scope_values=working)
    required: dict[str, bool] = {}
    hidden: set[str] = set()
    locked: set[str] = set()
    recommendations: list[FieldMessage] = []
    errors: list[FieldMessage] = []
    # An explicit stack of iterators instead of recursion (rules may nest deeply), and no generator between
    # the rules and their actions: conditions are evaluated as they are reached, so they see earlier sets.
    stack: list[Iterator[RuleItem]] = [iter(r.body) for r in reversed(rules if isinstance(rules, tuple | list)
                                                                       else list(rules))]
    while stack:
        for item in stack[-1]:
            if isinstance(item, RuleBranch):
                for condition, body in item.arms:
                    if condition is None or truthy(condition(env)):
                        stack.append(iter(body))
                        break
                else:
                    continue  # no arm holds: on with this body
                break  # into the arm
            kind, name = item.kind, item.field
            if kind in ("set", "default"):
                assert name is not None and item.value is not None  # the checker guarantees both
                if kind == "set" or is_empty(working.get(name)):
                    working[name] = item.value(env)
            elif kind == "error":
                errors.append(FieldMessage(name, item.message or ""))
            elif kind == "recommend":
                recommendations.append(FieldMessage(name, item.message or ""))
            elif name is not None:
                _switch(kind, name, required, hidden, locked)
        else:
            stack.pop()  # this body is done: on with the one around it
    form = FormState(MappingProxyType(required), frozenset(hidden), frozenset(locked), tuple(recommendations),
                     tuple(errors))
    return RuleResult(form, working)


def _switch(kind: str, name: str, required: dict[str, bool], hidden: set[str], locked: set[str]) -> None:
    if kind in ("require", "optional"):
        required[name] = kind == "require"
    elif kind == "hide":
        hidden.add(name)
    elif kind == "show":
        hidden.discard(name)
    elif kind == "lock":
        locked.add(name)
    elif kind == "unlock":
        locked.discard(name)
