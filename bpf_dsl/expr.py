"""Expressions compiled to plain Python closures: fast, safe, never ``eval``.

A compiled expression is a function of an :class:`Env`, which supplies field
values and the clock. Semantics (LANGUAGE.md, docs/language.md):

- any comparison with an empty value (None, "" or an empty set) is false, ``!=`` too;
- ``and``/``or``/``not`` treat empty as false;
- arithmetic with an empty value is empty; division by zero is empty;
- ``contains``/``starts with``/``ends with`` ignore case; ``=`` on text does not;
- a date and a datetime compare as the date's midnight UTC.

Expressions nest at most 100 levels (the parser's limit), so compiling by
recursion is safe, except along a chain of one operator (``a and b and ...``,
``a + b - ...``), which the parser allows at any length: such a chain compiles to
one closure that loops over its terms, so neither compiling nor evaluating it
recurses once per term.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from bpf_dsl import nodes as n
from bpf_dsl.checker.context import FieldPath, OptionValue, Resolution
from bpf_dsl.plugins import Registry

Compiled = Callable[["Env"], Any]


class Env(Protocol):
    """What an expression reads: field values along a path, and the time."""

    def value(self, source: str | None, path: tuple[str, ...]) -> Any:
        """The value at ``path`` from the scope's record (``source`` None) or entity ``source``'s bound record."""

    def now(self) -> dt.datetime:
        """The moment of evaluation (timezone-aware)."""


class DictEnv:
    """An :class:`Env` over plain dicts: ``records[None]`` is the scope record, ``records["E"]`` entity E's.

    Lookups are followed through ``by_id`` (id -> record dict). Tests and the checker's
    tools use it; the engine has its own, backed by storage.
    """

    def __init__(self, records: Mapping[str | None, Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]]
                 | None = None, now: dt.datetime | None = None) -> None:
        self.records = records
        self.by_id = by_id or {}
        self._now = now or dt.datetime.now(dt.UTC)

    def value(self, source: str | None, path: tuple[str, ...]) -> Any:
        """Follow ``path`` from the chosen record."""
        record: Mapping[str, Any] | None = self.records.get(source)
        for part in path[:-1]:
            ref = record.get(part) if record is not None else None
            record = self.by_id.get(ref) if ref is not None else None
        return record.get(path[-1]) if record is not None else None

    def now(self) -> dt.datetime:
        """The fixed moment given at construction."""
        return self._now


def is_empty(v: Any) -> bool:
    """None, an empty text or an empty set of choices."""
    return v is None or ((isinstance(v, str | list | tuple | set | frozenset)) and len(v) == 0)


def truthy(v: Any) -> bool:
    """Yes/no value of a condition: empty is false."""
    return bool(v) if v is not None else False


def _norm(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two non-empty values comparable: numbers as Decimal when mixed with floats, dates with datetimes."""
    if isinstance(a, float) and isinstance(b, Decimal):
        return Decimal(str(a)), b
    if isinstance(b, float) and isinstance(a, Decimal):
        return a, Decimal(str(b))
    if isinstance(a, dt.datetime) != isinstance(b, dt.datetime) and isinstance(a, dt.date) and isinstance(b, dt.date):
        return _midnight(a), _midnight(b)
    return a, b


def _midnight(d: dt.date) -> dt.datetime:
    if isinstance(d, dt.datetime):
        return d
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}


_NUMBERS = frozenset({int, Decimal})  # never empty, and ordered among themselves as they are


def compare(op: str, a: Any, b: Any) -> bool:
    """``a op b`` with the empty-is-false rule; values that can't be ordered compare false."""
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        return bool(_COMPARE[op](a, b))  # what the general case below comes to for these, in a fraction of the time
    if is_empty(a) or is_empty(b):
        return False
    a, b = _norm(a, b)
    try:
        return bool(_COMPARE[op](a, b))
    except TypeError:
        return False


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for numbers, text joins and date shifts; empty in, empty out."""
    if a is None or b is None:
        return None
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, dt.date) and isinstance(b, int | Decimal | float) and not isinstance(b, bool):
        days = dt.timedelta(days=float(b))
        return a + days if op == "+" else a - days
    a, b = _norm(a, b)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return None
        return Decimal(a) / Decimal(b) if not isinstance(a, float) else a / b
    except (TypeError, InvalidOperation):
        return None


def _contains(a: Any, b: Any) -> bool:
    if is_empty(a) or is_empty(b):
        return False
    if isinstance(a, str):
        return str(b).lower() in a.lower()
    return b in a


def _starts(a: Any, b: Any) -> bool:
    return not (is_empty(a) or is_empty(b)) and str(a).lower().startswith(str(b).lower())


def _ends(a: Any, b: Any) -> bool:
    return not (is_empty(a) or is_empty(b)) and str(a).lower().endswith(str(b).lower())


_TEXT_OPS: dict[str, Callable[[Any, Any], bool]] = {"contains": _contains, "starts_with": _starts, "ends_with": _ends}


class ExprCompiler:
    """Compiles checked expressions, using the checker's name resolutions."""

    def __init__(self, resolutions: Mapping[int, Resolution], registry: Registry) -> None:
        self.resolutions = resolutions
        self.registry = registry

    def compile(self, e: n.Expr) -> Compiled:
        """A closure computing ``e``."""
        if isinstance(e, n.Literal):
            value = e.value
            return lambda env: value
        if isinstance(e, n.Ref):
            return self._ref(e)
        if isinstance(e, n.Paren):
            return self.compile(e.inner)
        if isinstance(e, n.Unary):
            inner = self.compile(e.operand)
            if e.op == "not":
                return lambda env: not truthy(inner(env))
            return lambda env: None if (v := inner(env)) is None else -v
        if isinstance(e, n.IsEmpty):
            inner = self.compile(e.operand)
            if e.negated:
                return lambda env: not is_empty(inner(env))
            return lambda env: is_empty(inner(env))
        if isinstance(e, n.InList):
            return self._in(e)
        if isinstance(e, n.Call):
            return self._call(e)
        return self._binary(e)

    def _ref(self, e: n.Ref) -> Compiled:
        res = self.resolutions.get(id(e))
        if isinstance(res, OptionValue):
            name = res.name
            return lambda env: name
        if isinstance(res, FieldPath):
            source, path = res.source, res.path
            return lambda env: env.value(source, path)
        raise ValueError(f"unresolved name `{e.dotted}`: compile only checked programs")

    def _in(self, e: n.InList) -> Compiled:
        operand = self.compile(e.operand)
        items = [self.compile(i) for i in e.items]
        negated = e.negated

        def run(env: Env) -> bool:
            v = operand(env)
            if is_empty(v):
                return False
            found = any(compare("=", v, item(env)) for item in items)
            return not found if negated else found

        return run

    def _call(self, e: n.Call) -> Compiled:
        spec = self.registry.functions[e.dotted]
        impl = spec.impl
        args = [self.compile(a) for a in e.args]
        if spec.needs_env:
            return lambda env: impl(env, *(a(env) for a in args))
        return lambda env: impl(*(a(env) for a in args))

    def _binary(self, e: n.Binary) -> Compiled:
        first, spine = n.left_spine(e)
        if len(spine) > 1:
            return self._chain(first, spine)
        left, right, op = self.compile(e.left), self.compile(e.right), e.op
        if op == "and":
            return lambda env: truthy(left(env)) and truthy(right(env))
        if op == "or":
            return lambda env: truthy(left(env)) or truthy(right(env))
        if op in _COMPARE:
            return lambda env: compare(op, left(env), right(env))
        if op in _TEXT_OPS:
            fn = _TEXT_OPS[op]
            return lambda env: fn(left(env), right(env))
        return lambda env: arithmetic(op, left(env), right(env))

    def _chain(self, first: n.Expr, spine: list[n.Binary]) -> Compiled:
        """A chain of three or more terms at one precedence level, evaluated left to right in a loop."""
        op = spine[0].op
        terms = [self.compile(first), *(self.compile(b.right) for b in spine)]
        if op == "and":
            # Short-circuits like nested `and`s: stops at the first false term.
            return lambda env: all(truthy(t(env)) for t in terms)
        if op == "or":
            return lambda env: any(truthy(t(env)) for t in terms)
        head, rest = terms[0], list(zip((b.op for b in spine), terms[1:], strict=True))

        def run(env: Env) -> Any:
            value = head(env)
            for step_op, term in rest:
                value = arithmetic(step_op, value, term(env))
            return value

        return run
