"""Conditions and stage details in the words a person reads: field, option and entity labels, never ids.

``purchase_timeframe in [immediate, this_quarter]`` reads "Purchase Timeframe is Immediate or This
Quarter"; ``budget_amount >= 1000000`` reads "Budget Amount is at least 1,000,000". The web page's
diagrams use this (through :func:`bpf_dsl.tools.diagram.build_graph` given the entities); ``bpf graph``
keeps the .bpf text, which is what a developer reviewing a diff wants.

Names resolve as the checker resolves them: a plain name is a field of the condition's entity, a
dotted name follows lookups (or starts at a bound entity's name), and a bare name that is no field,
or a text literal, compared with a choice is one of its options. Whatever doesn't resolve (a file
with errors) falls back to a label derived from the name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from bpf_dsl import nodes as n
from bpf_dsl.exprtext import expr_text
from bpf_dsl.model import OPTION_KINDS, EntitySpec, FieldSpec

_COMPARE = {"=": "is", "!=": "is not", "<": "is less than", "<=": "is at most", ">": "is more than",
            ">=": "is at least", "contains": "contains", "starts_with": "starts with", "ends_with": "ends with"}


def category_words(name: str) -> str:
    """A stage category as the web page's bar writes it: ``needs_analysis`` → ``Needs analysis``."""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


class Wording:
    """Words for the conditions of one program's processes (its entities give the labels)."""

    def __init__(self, entities: Mapping[str, EntitySpec]) -> None:
        self.entities = entities

    def entity_label(self, name: str) -> str:
        """An entity's label (its name's derived label when the model doesn't know it)."""
        spec = self.entities.get(name)
        return spec.label if spec is not None else n.derive_label(name)

    def field(self, ref: n.Ref, entity: str) -> tuple[str, FieldSpec | None]:
        """(label, field) of a reference read on a record of ``entity``: "Account › Industry" for a path."""
        parts = list(ref.parts)
        here = self.entities.get(entity)
        if here is not None and parts[0] not in here.fields and parts[0] in self.entities and len(parts) > 1:
            here = self.entities[parts.pop(0)]  # `opportunity.status`: a bound entity's record
        labels: list[str] = []
        spec: FieldSpec | None = None
        for part in parts:
            spec = here.fields.get(part) if here is not None else None
            labels.append(spec.label if spec is not None else n.derive_label(part))
            here = self.entities.get(spec.type.entity or "") if spec is not None else None
        return " › ".join(labels), spec

    def condition(self, expr: n.Expr, entity: str) -> str:
        """The condition ``expr``, read on a record of ``entity``, in words."""
        return self._expr(expr, entity, None)

    def _expr(self, e: n.Expr, entity: str, choice: FieldSpec | None) -> str:
        """``e`` in words; ``choice`` is the choice field it is compared with (for option names)."""
        if isinstance(e, n.Paren):
            return f"({self._expr(e.inner, entity, choice)})"
        if isinstance(e, n.Ref):
            return self._ref(e, entity, choice)
        if isinstance(e, n.Literal):
            return self._literal(e, choice)
        if isinstance(e, n.Unary):
            if e.op == "not":
                bool_field = self._bool_field(e.operand, entity)
                if bool_field is not None:
                    return f"{bool_field} is No"
                return f"not {self._expr(e.operand, entity, None)}"
            return f"-{self._expr(e.operand, entity, None)}"
        if isinstance(e, n.Binary):
            return self._binary(e, entity)
        if isinstance(e, n.InList):
            subject, spec = self._side(e.operand, entity)
            items = [self._expr(i, entity, spec) for i in e.items]
            if not e.negated:
                return f"{subject} is {_either(items, 'or')}"
            if len(items) == 1:
                return f"{subject} is not {items[0]}"
            return f"{subject} is none of {', '.join(items)}"
        if isinstance(e, n.IsEmpty):
            subject, _ = self._side(e.operand, entity)
            return f"{subject} is {'not ' if e.negated else ''}empty"
        if isinstance(e, n.Call):
            return f"{e.dotted}({', '.join(self._expr(a, entity, None) for a in e.args)})"
        return expr_text(e)

    def _ref(self, ref: n.Ref, entity: str, choice: FieldSpec | None) -> str:
        here = self.entities.get(entity)
        name = ref.parts[0]
        is_field = here is not None and name in here.fields
        if len(ref.parts) == 1 and not is_field and choice is not None:
            for option in choice.type.options:
                if option.name == name:
                    return option.label
        label, spec = self.field(ref, entity)
        if choice is None and spec is not None and spec.type.kind == "bool":
            return f"{label} is Yes"  # a bool field alone is a condition: "Decision Maker Identified is Yes"
        return label

    def _bool_field(self, e: n.Expr, entity: str) -> str | None:
        """The label of ``e`` when it is a yes/no field standing alone (for `not field`)."""
        if isinstance(e, n.Ref):
            label, spec = self.field(e, entity)
            if spec is not None and spec.type.kind == "bool":
                return label
        return None

    def _side(self, e: n.Expr, entity: str) -> tuple[str, FieldSpec | None]:
        """A comparison's side: its words, and its field when it is a choice (the other side's options)."""
        if isinstance(e, n.Ref):
            label, spec = self.field(e, entity)
            return label, spec if spec is not None and spec.type.kind in OPTION_KINDS | {"bool"} else None
        return self._expr(e, entity, None), None

    def _binary(self, e: n.Binary, entity: str) -> str:
        if e.op in ("and", "or"):
            # `a and b and c ...` nests to the left, as long as it is written: walked in a loop, not recursion.
            rights: list[n.Expr] = []
            head: n.Expr = e
            while isinstance(head, n.Binary) and head.op == e.op:
                rights.append(head.right)
                head = head.left
            words = [self._expr(x, entity, None) for x in [head, *reversed(rights)]]
            return f" {e.op} ".join(words)
        if e.op in _COMPARE:
            left, left_spec = self._side(e.left, entity)
            right_spec = None
            if left_spec is None and isinstance(e.right, n.Ref):
                _, right_spec = self._side(e.right, entity)
            if left_spec is None and right_spec is not None:
                right = self._expr(e.right, entity, None).removesuffix(" is Yes")
                return f"{right} {_COMPARE[e.op]} {self._expr(e.left, entity, right_spec)}"
            right = self._expr(e.right, entity, left_spec)
            return f"{left} {_COMPARE[e.op]} {right}"
        return f"{self._expr(e.left, entity, None)} {e.op} {self._expr(e.right, entity, None)}"

    def _literal(self, lit: n.Literal, choice: FieldSpec | None) -> str:
        v = lit.value
        if lit.kind == "text" and choice is not None:
            for option in choice.type.options:
                if option.name == v:
                    return option.label
        if lit.kind == "bool":
            return "Yes" if v else "No"
        if lit.kind == "null":
            return "empty"
        if lit.kind == "text":
            return f"“{v}”"
        if isinstance(v, dt.datetime):
            return v.strftime("%Y-%m-%d %H:%M")
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, (int, Decimal, float)) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)


def _either(items: list[str], word: str) -> str:
    """"A", "A or B", "A, B or C"."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"
