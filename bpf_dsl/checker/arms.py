"""Which ``if`` arms can never be taken: conditions read as sets of values.

A condition over choice, bool and number fields compared with literals is turned
into a union of boxes (a disjunctive normal form): each box says, per field, which
values it allows. An empty value is a value of its own, since LANGUAGE.md says any
comparison with an empty value is false (``x != a`` does not hold for an empty
``x``; ``not (x = a)`` does). Two warnings follow (LANGUAGE.md, static checks):

- an arm whose condition can never hold (``x < 5 and x > 7``, ``s = a and s = b``);
- an arm that earlier arms cover: every value that reaches it was taken before
  (``product = mortgage`` tested twice, ``score < 600`` after ``score < 700``).

Anything else in a condition (text, dates, functions, arithmetic) is read as "some
values": it can only make a box smaller, so an arm is called covered only by boxes
known exactly, and contradictory only where its known part already is. The checks
never warn wrongly; they may stay silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Union

from bpf_dsl import nodes as n
from bpf_dsl.checker.context import Context, FieldPath, OptionValue
from bpf_dsl.model import NUMBER_KINDS, EntitySpec, FieldSpec

EMPTY = "\x00empty"  # the empty value among a finite field's values (no option can be called this)
MAX_BOXES = 64  # past this many boxes, a condition is "unknown": the checks stay cheap on any input
_INF = Decimal("Infinity")

Key = tuple[str | None, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Finite:
    """The values a choice or bool field may take in a box (``EMPTY`` among them)."""

    values: frozenset[object]
    universe: frozenset[object]

    def meet(self, other: Constraint) -> Constraint:
        assert isinstance(other, Finite)
        return Finite(self.values & other.values, self.universe)

    def join(self, other: Constraint) -> Constraint:
        assert isinstance(other, Finite)
        return Finite(self.values | other.values, self.universe)

    def within(self, other: Constraint) -> bool:
        assert isinstance(other, Finite)
        return self.values <= other.values

    def complement(self) -> Constraint:
        return Finite(self.universe - self.values, self.universe)

    @property
    def empty(self) -> bool:
        return not self.values

    @property
    def full(self) -> bool:
        return self.values >= self.universe


Interval = tuple[Decimal, bool, Decimal, bool]  # low, low included, high, high included


@dataclass(frozen=True, slots=True)
class Numbers:
    """The numbers a number field may take in a box (disjoint, sorted intervals), and whether empty."""

    intervals: tuple[Interval, ...]
    has_empty: bool = False

    def meet(self, other: Constraint) -> Constraint:
        assert isinstance(other, Numbers)
        out: list[Interval] = []
        for a in self.intervals:
            for b in other.intervals:
                lo, lo_in = max((a[0], a[1]), (b[0], b[1]), key=lambda e: (e[0], not e[1]))
                hi, hi_in = min((a[2], a[3]), (b[2], b[3]), key=lambda e: (e[0], e[1]))
                if lo < hi or (lo == hi and lo_in and hi_in):
                    out.append((lo, lo_in, hi, hi_in))
        return Numbers(_normal(out), self.has_empty and other.has_empty)

    def join(self, other: Constraint) -> Constraint:
        assert isinstance(other, Numbers)
        return Numbers(_normal([*self.intervals, *other.intervals]), self.has_empty or other.has_empty)

    def within(self, other: Constraint) -> bool:
        assert isinstance(other, Numbers)
        if self.has_empty and not other.has_empty:
            return False
        mine = Numbers(self.intervals, False)
        return mine.meet(Numbers(other.intervals, False)) == mine

    def complement(self) -> Constraint:
        out: list[Interval] = []
        lo, lo_in = -_INF, False
        for a_lo, a_lo_in, a_hi, a_hi_in in self.intervals:
            if lo < a_lo or (lo == a_lo and lo_in and not a_lo_in):
                out.append((lo, lo_in, a_lo, not a_lo_in))
            lo, lo_in = a_hi, not a_hi_in
        if lo < _INF:
            out.append((lo, lo_in, _INF, False))
        return Numbers(_normal(out), not self.has_empty)

    @property
    def empty(self) -> bool:
        return not self.intervals and not self.has_empty

    @property
    def full(self) -> bool:
        return self.has_empty and self.intervals == ((-_INF, False, _INF, False),)


Constraint = Union[Finite, Numbers]  # noqa: UP007 (a runtime alias, used before 3.12's `type`)


def _normal(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, merged intervals."""
    items = sorted(intervals, key=lambda i: (i[0], not i[1]))
    out: list[Interval] = []
    for lo, lo_in, hi, hi_in in items:
        if out:
            p_lo, p_lo_in, p_hi, p_hi_in = out[-1]
            if lo < p_hi or (lo == p_hi and (lo_in or p_hi_in)):
                if hi > p_hi or (hi == p_hi and hi_in):
                    out[-1] = (p_lo, p_lo_in, hi, hi_in)
                continue
        out.append((lo, lo_in, hi, hi_in))
    return tuple(out)


_ALL_NUMBERS: Interval = (-_INF, False, _INF, False)


@dataclass(frozen=True, slots=True)
class Box:
    """Values allowed per field (a field not named: any); ``exact`` is False when an unread part of the
    condition was left out (the box then holds at most these values)."""

    fields: tuple[tuple[Key, Constraint], ...]
    exact: bool = True

    def get(self, key: Key) -> Constraint | None:
        for k, c in self.fields:
            if k == key:
                return c
        return None

    @property
    def impossible(self) -> bool:
        return any(c.empty for _, c in self.fields)


def _and(left: list[Box], right: list[Box]) -> list[Box] | None:
    if len(left) * len(right) > MAX_BOXES:
        return None
    out: list[Box] = []
    for a in left:
        for b in right:
            merged: dict[Key, Constraint] = dict(a.fields)
            for key, c in b.fields:
                merged[key] = merged[key].meet(c) if key in merged else c
            out.append(Box(tuple(merged.items()), a.exact and b.exact))
    return out


class ArmReader:
    """Reads conditions as boxes, with the names the type checker resolved (``Context.resolutions``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def boxes(self, cond: n.Expr, entity: EntitySpec) -> list[Box] | None:
        """The condition as a union of boxes (None: too big to read)."""
        expr = cond
        while isinstance(expr, n.Paren):  # `((x))`
            expr = expr.inner
        if isinstance(expr, n.Binary) and expr.op in ("and", "or"):
            # Chains of one operator may be thousands of terms deep: walk the left spine without recursing.
            terms: list[n.Expr] = []
            node: n.Expr = expr
            while isinstance(node, n.Binary) and node.op == expr.op:
                terms.append(node.right)
                node = node.left
            terms.append(node)
            terms.reverse()
            parts = [self.boxes(t, entity) for t in terms]
            if any(p is None for p in parts):
                return None
            result: list[Box] | None = parts[0]
            for p in parts[1:]:
                assert p is not None and result is not None
                result = _and(result, p) if expr.op == "and" else [*result, *p]
                if result is None or len(result) > MAX_BOXES:
                    return None
            return result
        atom = self.atom(expr, entity)
        return [atom if atom is not None else Box((), exact=False)]

    def atom(self, e: n.Expr, entity: EntitySpec) -> Box | None:
        """One comparison as a box of one field; None if it isn't one this module reads."""
        negate = False
        while (isinstance(e, n.Unary) and e.op == "not") or isinstance(e, n.Paren):
            if isinstance(e, n.Paren):
                e = e.inner
            else:
                negate, e = not negate, e.operand
        found = self._constraint(e, entity)
        if found is None:
            return None
        key, constraint = found
        return Box(((key, constraint.complement() if negate else constraint),))

    def _field(self, e: n.Expr, entity: EntitySpec) -> tuple[Key, FieldSpec] | None:
        if not isinstance(e, n.Ref):
            return None
        res = self.ctx.resolutions.get(id(e))
        if not isinstance(res, FieldPath):
            return None
        current = entity if res.source is None else self.ctx.entities.get(res.source)
        spec: FieldSpec | None = None
        for i, part in enumerate(res.path):
            if current is None:
                return None
            spec = current.fields.get(part)
            if spec is None:
                return None
            if i < len(res.path) - 1:
                current = self.ctx.entities.get(spec.type.entity or "")
        return None if spec is None else ((res.source, res.path), spec)

    def _constraint(self, e: n.Expr, entity: EntitySpec) -> tuple[Key, Constraint] | None:
        if isinstance(e, n.IsEmpty):
            found = self._field(e.operand, entity)
            if found is None:
                return None
            key, spec = found
            universe = _universe(spec)
            if universe is None:
                return None
            only_empty = _values(spec, [EMPTY]) if isinstance(universe, Finite) else Numbers((), True)
            assert only_empty is not None
            return key, only_empty.complement() if e.negated else only_empty
        if isinstance(e, n.InList):
            found = self._field(e.operand, entity)
            if found is None:
                return None
            key, spec = found
            values = [self._value(item, spec) for item in e.items]
            if any(v is None for v in values):
                return None
            c = _values(spec, values)
            if c is None:
                return None
            return key, (_without_empty(c.complement()) if e.negated else c)
        if isinstance(e, n.Ref):  # a bool field alone: `if urgent`
            found = self._field(e, entity)
            if found is None or found[1].type.kind != "bool":
                return None
            c = _values(found[1], [True])
            return None if c is None else (found[0], c)
        if isinstance(e, n.Binary) and e.op in ("=", "!=", "<", "<=", ">", ">="):
            op, left, right = e.op, e.left, e.right
            found = self._field(left, entity)
            if found is None:
                found = self._field(right, entity)
                left, right = right, left
                op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
            if found is None:
                return None
            key, spec = found
            value = self._value(right, spec)
            if value is None:
                return None
            if spec.type.kind in NUMBER_KINDS:
                assert isinstance(value, Decimal)
                return key, _compare_number(op, value)
            if op not in ("=", "!="):
                return None
            c = _values(spec, [value])
            if c is None:
                return None
            return key, (_without_empty(c.complement()) if op == "!=" else c)
        return None

    def _value(self, e: n.Expr, spec: FieldSpec) -> object | None:
        """The literal ``e`` as a value of ``spec``'s field, or None."""
        while isinstance(e, n.Paren):
            e = e.inner
        kind = spec.type.kind
        if kind == "choice":
            if isinstance(e, n.Ref) and isinstance(self.ctx.resolutions.get(id(e)), OptionValue):
                return e.parts[0]
            if isinstance(e, n.Literal) and e.kind == "text" and e.value in spec.type.option_names:
                return e.value
            return None
        if kind == "bool":
            return e.value if isinstance(e, n.Literal) and e.kind == "bool" else None
        if kind in NUMBER_KINDS:
            if isinstance(e, n.Literal) and e.kind == "number":
                return Decimal(str(e.value))
            if isinstance(e, n.Unary) and e.op == "-" and isinstance(e.operand, n.Literal) \
                    and e.operand.kind == "number":
                return -Decimal(str(e.operand.value))
        return None


def _universe(spec: FieldSpec) -> Constraint | None:
    kind = spec.type.kind
    if kind == "choice":
        u: frozenset[object] = frozenset([*spec.type.option_names, EMPTY])
        return Finite(u, u)
    if kind == "bool":
        u = frozenset([True, False, EMPTY])
        return Finite(u, u)
    if kind in NUMBER_KINDS:
        return Numbers((_ALL_NUMBERS,), True)
    return None


def _values(spec: FieldSpec, values: Sequence[object]) -> Constraint | None:
    universe = _universe(spec)
    if not isinstance(universe, Finite):
        if isinstance(universe, Numbers):
            nums = [v for v in values if isinstance(v, Decimal)]
            return Numbers(_normal((v, True, v, True) for v in nums), EMPTY in values)
        return None
    return Finite(frozenset(values) & universe.universe, universe.universe)


def _without_empty(c: Constraint) -> Constraint:
    """A comparison never holds for an empty value."""
    if isinstance(c, Finite):
        return Finite(c.values - {EMPTY}, c.universe)
    return Numbers(c.intervals, False)


def _compare_number(op: str, v: Decimal) -> Constraint:
    intervals: dict[str, tuple[Interval, ...]] = {
        "=": ((v, True, v, True),),
        "!=": ((-_INF, False, v, False), (v, False, _INF, False)),
        "<": ((-_INF, False, v, False),),
        "<=": ((-_INF, False, v, True),),
        ">": ((v, False, _INF, False),),
        ">=": ((v, True, _INF, False),),
    }
    return Numbers(intervals[op], False)


def covered(box: Box, earlier: Sequence[tuple[int, list[Box]]]) -> list[int] | None:
    """The indexes of the earlier arms whose exact boxes hold every value of ``box``; None if they don't."""
    for index, boxes in earlier:
        for e in boxes:
            if e.exact and all(_within(box.get(key), c) for key, c in e.fields):
                return [index]
    # One field only: the earlier boxes on that same field alone may cover it together.
    keys = {key for key, _ in box.fields}
    if len(keys) != 1:
        return None
    (key,) = keys
    mine = box.get(key)
    assert mine is not None
    union: Constraint | None = None
    used: list[int] = []
    for index, boxes in earlier:
        for e in boxes:
            if e.exact and len(e.fields) == 1 and e.fields[0][0] == key:
                union = e.fields[0][1] if union is None else union.join(e.fields[0][1])
                if index not in used:
                    used.append(index)
    if union is not None and mine.within(union):
        return used
    return None


def _within(mine: Constraint | None, theirs: Constraint) -> bool:
    """Whether a box's values for a field (None: any) lie within ``theirs``."""
    if mine is None:
        return theirs.full
    return mine.within(theirs)
