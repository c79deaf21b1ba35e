"""Expressions and literals back to canonical .bpf text (the formatter, diagrams and messages use it).

The parser keeps the author's parentheses as :class:`~bpf_dsl.nodes.Paren`, so
printing needs no precedence table: what was grouped stays grouped. Expressions
nest at most ``MAX_EXPRESSION_DEPTH`` levels (the parser refuses deeper), so
plain recursion is safe here, except along a chain of operators (``a and b and
...``), which may be any length and is printed in a loop.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bpf_dsl import nodes as n

_WORD_OPS = {"starts_with": "starts with", "ends_with": "ends with"}


def quote(text: str) -> str:
    """A .bpf string literal for ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def literal_text(lit: n.Literal) -> str:
    """A literal as .bpf source."""
    v = lit.value
    if lit.kind == "text":
        return quote(str(v))
    if lit.kind == "bool":
        return "true" if v else "false"
    if lit.kind == "null":
        return "null"
    if lit.kind == "date" and isinstance(v, dt.date):
        return f'date("{v.isoformat()}")'
    if lit.kind == "datetime" and isinstance(v, dt.datetime):
        text = v.isoformat()
        if text.endswith("+00:00"):
            text = text[:-6] + "Z"
        return f'datetime("{text}")'
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def expr_text(e: n.Expr) -> str:
    """An expression as canonical .bpf source."""
    if isinstance(e, n.Literal):
        return literal_text(e)
    if isinstance(e, n.Ref):
        return e.dotted
    if isinstance(e, n.Paren):
        return f"({expr_text(e.inner)})"
    if isinstance(e, n.Unary):
        if e.op == "not":
            return f"not {expr_text(e.operand)}"
        return f"-{expr_text(e.operand)}"
    if isinstance(e, n.Binary):
        first, spine = n.left_spine(e, same_group=False)
        parts = [expr_text(first)]
        for b in spine:
            parts.append(f"{_WORD_OPS.get(b.op, b.op)} {expr_text(b.right)}")
        return " ".join(parts)
    if isinstance(e, n.InList):
        items = ", ".join(expr_text(i) for i in e.items)
        word = "not in" if e.negated else "in"
        return f"{expr_text(e.operand)} {word} [{items}]"
    if isinstance(e, n.IsEmpty):
        return f"{expr_text(e.operand)} is {'not ' if e.negated else ''}empty"
    if isinstance(e, n.Call):
        return f"{e.dotted}({', '.join(expr_text(a) for a in e.args)})"
    raise TypeError(f"not an expression: {e!r}")
