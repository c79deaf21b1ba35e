"""The types pass for expressions: resolves every name and checks every operator.

Names are resolved against a :class:`Scope` (LANGUAGE.md, "Names resolve..."):
a plain name is a field of the scope's entity, or, where a choice is expected,
one of its options; ``a.b`` follows the lookup ``a`` or reads entity ``a``'s
record bound in the instance. Each resolved name is recorded in
``Context.resolutions`` for the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import nodes as n
from ..exprtext import expr_text
from ..model import NUMBER_KINDS, OPTION_KINDS, TEMPORAL_KINDS, TEXT_KINDS, EntitySpec, FieldSpec, FieldType
from ..plugins import Param
from .context import Context, FieldPath, OptionValue, did_you_mean, listing


@dataclass(frozen=True, slots=True)
class VType:
    """The static type of an expression's value."""

    kind: str  # a field kind, or: option, null, any
    options: tuple[str, ...] = ()
    entity: str | None = None

    @property
    def family(self) -> str:
        """Kinds that compare with each other share a family."""
        if self.kind in TEXT_KINDS:
            return "text"
        if self.kind in NUMBER_KINDS:
            return "number"
        if self.kind in TEMPORAL_KINDS:
            return "temporal"
        return self.kind

    def describe(self) -> str:
        """Words for messages."""
        if self.kind == "option":
            return f"the option `{self.options[0]}`"
        if self.kind == "lookup":
            return f"a lookup to {self.entity}"
        article = "an" if self.kind[0] in "aeiou" else "a"
        return {"null": "null", "any": "a value"}.get(self.kind, f"{article} {self.kind}")


ANY = VType("any")
BOOL = VType("bool")
TEXT = VType("text")
NULL = VType("null")


def vtype(t: FieldType) -> VType:
    """The value type of a field type."""
    return VType(t.kind, t.option_names, t.entity)


@dataclass(frozen=True, slots=True)
class Scope:
    """Where names in an expression resolve.

    ``bound`` names the entities whose record is bound in the instance at this
    point (None in business rules, which see only their entity and its lookups).
    """

    entity: EntitySpec
    bound: frozenset[str] | None = None
    where: str = "here"


class Typer:
    """Infers types and records resolutions, reporting into a :class:`Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- names -------------------------------------------------------------------
    def follow(self, entity: EntitySpec, parts: tuple[str, ...], ref: n.Ref) -> FieldSpec | None:
        """Walk ``parts`` from ``entity`` through lookups; report what doesn't resolve."""
        current = entity
        spec: FieldSpec | None = None
        for i, part in enumerate(parts):
            if spec is not None:
                if spec.type.kind != "lookup" or spec.type.entity not in self.ctx.entities:
                    self.ctx.error("BPF022", f"`{spec.name}` is not a lookup, so `{ref.dotted}` names nothing",
                                   ref.span, "only lookup fields can be followed with `.`")
                    return None
                current = self.ctx.entities[spec.type.entity]
            spec = current.fields.get(part)
            if spec is None:
                self.ctx.error("BPF022", f"`{current.name}` has no field `{part}`", ref.span,
                               did_you_mean(part, current.fields, also=None if i else
                                            f"fields of {current.name}: {listing(current.fields)}"))
                return None
        return spec

    def ref(self, ref: n.Ref, scope: Scope, expected: VType | None) -> VType:
        first = ref.parts[0]
        if first in scope.entity.fields:
            spec = self.follow(scope.entity, ref.parts, ref)
            if spec is None:
                return ANY
            self.ctx.resolutions[id(ref)] = FieldPath(None, ref.parts)
            return vtype(spec.type)
        if len(ref.parts) == 1:
            if expected is not None and expected.kind in OPTION_KINDS:
                if first in expected.options:
                    self.ctx.resolutions[id(ref)] = OptionValue(first)
                    return VType("option", (first,))
                self.ctx.error("BPF035", f"`{first}` is neither a field of `{scope.entity.name}` nor one of the "
                                         f"options ({listing(expected.options)})", ref.span,
                               did_you_mean(first, expected.options, also=f"options: {listing(expected.options)}"))
                return ANY
            self.ctx.error("BPF029", f"unknown name `{first}`: `{scope.entity.name}` has no such field", ref.span,
                           self._elsewhere(first, scope) or did_you_mean(
                               first, scope.entity.fields,
                               also=f"fields of {scope.entity.name}: {listing(scope.entity.fields)}"))
            return ANY
        entity = self.ctx.entities.get(first)
        if entity is None:
            self.ctx.error("BPF022", f"`{scope.entity.name}` has no field `{first}`", ref.span,
                           did_you_mean(first, list(scope.entity.fields) + list(self.ctx.entities)))
            return ANY
        if scope.bound is None:
            if first != scope.entity.name:
                self.ctx.error("BPF022", f"a rule on `{scope.entity.name}` can't read `{first}` records directly",
                               ref.span, "rules read their own entity's fields and follow its lookups")
                return ANY
        elif first not in scope.bound and first != scope.entity.name:
            self.ctx.error("BPF043", f"no `{first}` record is bound {scope.where}", ref.span,
                           f"a record of `{first}` is bound by a stage `on {first} via LOOKUP` before this point")
            return ANY
        spec = self.follow(entity, ref.parts[1:], ref)
        if spec is None:
            return ANY
        self.ctx.resolutions[id(ref)] = FieldPath(first, ref.parts[1:])
        return vtype(spec.type)

    def _elsewhere(self, name: str, scope: Scope) -> str | None:
        """A hint naming ``E.name`` when another bound entity has that field (names resolve per stage)."""
        owners = sorted(e for e in (scope.bound or ()) if e != scope.entity.name
                        and e in self.ctx.entities and name in self.ctx.entities[e].fields)
        if not owners:
            return None
        return (f"did you mean `{owners[0]}.{name}`? names here resolve against `{scope.entity.name}`; "
                f"write ENTITY.FIELD for another bound record")

    # -- expressions -----------------------------------------------------------------
    def condition(self, e: n.Expr, scope: Scope) -> None:
        """Check an expression used as a condition: it must be yes/no."""
        t = self.infer(e, scope)
        if t.kind not in ("bool", "any", "null"):
            self.ctx.error("BPF036", f"a condition must be yes/no, but `{expr_text(e)}` is {t.describe()}",
                           e.span, "compare it: for example `x > 0`, `x = true` or `x is not empty`")

    def infer(self, e: n.Expr, scope: Scope, expected: VType | None = None) -> VType:
        """The type of ``e`` in ``scope``; ``expected`` resolves bare option names."""
        if isinstance(e, n.Literal):
            return _literal_type(e)
        if isinstance(e, n.Ref):
            return self.ref(e, scope, expected)
        if isinstance(e, n.Paren):
            return self.infer(e.inner, scope, expected)
        if isinstance(e, n.Unary):
            t = self.infer(e.operand, scope, BOOL if e.op == "not" else None)
            if e.op == "not":
                self._need(t, ("bool",), e.operand, "`not` needs a yes/no value")
                return BOOL
            self._need(t, ("number",), e.operand, "`-` needs a number")
            return t
        if isinstance(e, n.IsEmpty):
            self.infer(e.operand, scope)
            return BOOL
        if isinstance(e, n.InList):
            t = self.operand(e.operand, scope, e.items[0] if e.items else None)
            for item in e.items:
                it = self.infer(item, scope, t)
                self.comparable(t, it, item, "=")
            return BOOL
        if isinstance(e, n.Call):
            return self.call(e, scope)
        return self.binary(e, scope)

    def operand(self, left: n.Expr, scope: Scope, right: n.Expr | None) -> VType:
        """Type the left side; a bare option name on the left waits for the right side's type."""
        if isinstance(left, n.Ref) and len(left.parts) == 1 and left.parts[0] not in scope.entity.fields \
                and right is not None:
            other = self.infer(right, scope)
            return self.infer(left, scope, other)
        return self.infer(left, scope)

    def binary(self, e: n.Binary, scope: Scope) -> VType:
        op = e.op
        if op in ("and", "or"):
            for side in (e.left, e.right):
                t = self.infer(side, scope, BOOL)
                self._need(t, ("bool",), side, f"`{op}` joins yes/no values")
            return BOOL
        if op in ("=", "!=", "<", "<=", ">", ">="):
            swapped = isinstance(e.left, n.Ref) and len(e.left.parts) == 1 \
                and e.left.parts[0] not in scope.entity.fields
            if swapped:
                rt = self.infer(e.right, scope)
                lt = self.infer(e.left, scope, rt)
            else:
                lt = self.infer(e.left, scope)
                rt = self.infer(e.right, scope, lt)
            if lt.kind == "null" or rt.kind == "null":
                self.ctx.warn("BPF095", f"`{expr_text(e)}` is always false: any comparison with null is", e.span,
                              "test for an empty value with `is empty` or `is not empty`")
            self.comparable(lt, rt, e, op)
            return BOOL
        if op in ("contains", "starts_with", "ends_with"):
            lt = self.infer(e.left, scope)
            if op == "contains" and lt.kind == "choices":
                rt = self.infer(e.right, scope, lt)
                if rt.kind not in ("option", "text", "any", "null"):
                    self.ctx.error("BPF034", f"a set of choices contains options, not {rt.describe()}", e.right.span,
                                   f"options: {listing(lt.options)}")
                return BOOL
            rt = self.infer(e.right, scope)
            word = op.replace("_", " ")
            self._need(lt, ("text",), e.left, f"`{word}` works on text")
            self._need(rt, ("text",), e.right, f"`{word}` works on text")
            return BOOL
        return self.arithmetic(e, scope)

    def arithmetic(self, e: n.Binary, scope: Scope) -> VType:
        lt = self.infer(e.left, scope)
        rt = self.infer(e.right, scope)
        if ANY in (lt, rt) or NULL in (lt, rt):
            return rt if lt in (ANY, NULL) else lt
        lf, rf = lt.family, rt.family
        if e.op == "+" and lf == "text" and rf == "text":
            return TEXT
        if lf == "number" and rf == "number":
            if e.op == "/":
                return VType("decimal")
            for kind in ("money", "decimal"):
                if kind in (lt.kind, rt.kind):
                    return VType(kind)
            return VType("integer")
        if e.op in ("+", "-") and lf == "temporal" and rf == "number":
            return lt
        self.ctx.error("BPF034", f"can't compute {lt.describe()} {e.op} {rt.describe()}", e.span,
                       "`+ - * /` work on numbers, `+` joins texts, and a date plus a number adds days")
        return ANY

    def comparable(self, lt: VType, rt: VType, at: n.Expr, op: str) -> None:
        """Report a comparison between values that can never be compared."""
        if lt.kind in ("any", "null") or rt.kind in ("any", "null"):
            return
        if op in ("=", "!="):
            for a, b in ((lt, rt), (rt, lt)):
                if a.kind == "choices" and b.kind in ("option", "text"):
                    self.ctx.error("BPF034", "a set of choices never equals one option", at.span,
                                   "test membership with `contains`, e.g. `tags contains hot`")
                    return
                if a.kind == "choice" and b.kind == "option":
                    return  # resolution already checked the option belongs to a
                if a.kind in OPTION_KINDS and b.kind == "text":
                    text = _text_value(at, lt is a)
                    if text is None or text in a.options:
                        return
                    self.ctx.error("BPF035", f"the choice has no option `{text}`", at.span,
                                   f"options: {listing(a.options)}")
                    return
            if lt.kind in OPTION_KINDS and rt.kind in OPTION_KINDS:
                return
            if lt.kind == "option" and rt.kind == "option":
                return
            if lt.kind == "lookup" and rt.kind == "lookup" and lt.entity == rt.entity:
                return
        if lt.family == rt.family and lt.family in ("text", "number", "temporal", "bool") and (
                op in ("=", "!=") or lt.family != "bool"):
            return
        self.ctx.error("BPF034", f"can't compare {lt.describe()} with {rt.describe()}", at.span,
                       "compare values of the same kind: numbers with numbers, dates with dates, a choice with "
                       "its options")

    def call(self, e: n.Call, scope: Scope) -> VType:
        spec = self.ctx.registry.functions.get(e.dotted)
        if spec is None:
            names = sorted(self.ctx.registry.functions)
            self.ctx.error("BPF039", f"unknown function `{e.dotted}`", e.span,
                           did_you_mean(e.dotted, names, also=f"functions: {listing(names)}"))
            for a in e.args:
                self.infer(a, scope)
            return ANY
        if len(e.args) != len(spec.params):
            self.ctx.error("BPF039", f"`{e.dotted}` takes {len(spec.params)} argument(s), not {len(e.args)}",
                           e.span, f"{e.dotted}({', '.join(p.name for p in spec.params)})")
        types = [self.infer(a, scope) for a in e.args]
        for arg, t, p in zip(e.args, types, spec.params, strict=False):
            if not accepts(p, t):
                self.ctx.error("BPF039", f"argument `{p.name}` of `{e.dotted}` must be {param_words(p)}, "
                                         f"not {t.describe()}", arg.span, None)
        if spec.returns == "same":
            return types[0] if types else ANY
        return VType(spec.returns) if spec.returns != "any" else ANY

    def _need(self, t: VType, families: tuple[str, ...], at: n.Expr, why: str) -> None:
        if t.kind in ("any", "null") or t.family in families:
            return
        self.ctx.error("BPF036", f"{why}; `{expr_text(at)}` is {t.describe()}", at.span, None)

    def fits(self, target: FieldSpec, value: n.Expr, scope: Scope, code: str, what: str) -> None:
        """Check that ``value`` can be stored in ``target`` (set, default, create)."""
        want = vtype(target.type)
        if (want.kind in OPTION_KINDS and isinstance(value, n.Ref) and len(value.parts) == 1
                and value.parts[0] not in scope.entity.fields and value.parts[0] not in want.options):
            # Name the field being assigned: "not an option of the choice it is compared with" would mislead.
            self.ctx.error("BPF035", f"`{value.parts[0]}` is not an option of `{target.name}`", value.span,
                           did_you_mean(value.parts[0], want.options, also=f"options: {listing(want.options)}"))
            return
        got = self.infer(value, scope, want)
        if not assignable(want, got, value):
            self.ctx.error(code, f"{what}: `{target.name}` is {want.describe()}, the value is {got.describe()}",
                           value.span, None if want.kind not in OPTION_KINDS else
                           f"options: {listing(want.options)}")


def assignable(want: VType, got: VType, value: n.Expr) -> bool:
    """Whether a value of type ``got`` may be stored in a field of type ``want``."""
    if got.kind in ("any", "null") or want.kind == "any":
        return True
    if want.kind in OPTION_KINDS:
        if got.kind == "option":
            return got.options[0] in want.options
        if got.kind in OPTION_KINDS:
            return want.kind == "choices" or got.kind == "choice"
        if got.family == "text":
            text = value.value if isinstance(value, n.Literal) else None
            return text is None or text in want.options
        return False
    if want.kind == "lookup":
        return got.kind == "lookup" and got.entity == want.entity
    if want.kind == "integer":
        return got.kind == "integer"
    if want.kind == "datetime":
        return got.family == "temporal"
    if want.family != got.family:
        return False
    return want.kind != "date" or got.kind == "date"


def accepts(p: Param, t: VType) -> bool:
    """Whether a parameter of a function or action accepts a value of type ``t``."""
    if t.kind in ("any", "null") or p.type == "any":
        return True
    if p.type == "temporal":
        return t.family == "temporal"
    if p.type == "sized":
        return t.family == "text" or t.kind == "choices"
    if p.type == "number":
        return t.family == "number"
    if p.type == "text":
        return t.family == "text" or t.kind in ("choice", "option")
    return t.kind == p.type or t.family == p.type


def param_words(p: Param) -> str:
    """What a parameter takes, in words ("a date or datetime")."""
    words = {"temporal": "a date or datetime", "sized": "text or a set of choices", "number": "a number",
             "text": "text", "bool": "yes/no (true or false)", "any": "a value"}
    return words.get(p.type) or ("an " if p.type[0] in "aeiou" else "a ") + p.type


def _literal_type(e: n.Literal) -> VType:
    if e.kind == "number":
        return VType("integer" if isinstance(e.value, int) else "decimal")
    return VType(e.kind) if e.kind != "null" else NULL


def _text_value(at: n.Expr, left_is_choice: bool) -> str | None:
    if isinstance(at, n.Binary):
        side = at.right if left_is_choice else at.left
        if isinstance(side, n.Literal) and side.kind == "text":
            return str(side.value)
    if isinstance(at, n.Literal) and at.kind == "text":
        return str(at.value)
    return None


def refs_in(e: n.Expr) -> list[n.Ref]:
    """Every name an expression reads, without recursion."""
    out: list[n.Ref] = []
    stack: list[n.Expr] = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, n.Ref):
            out.append(x)
        elif isinstance(x, n.Binary):
            stack += (x.left, x.right)
        elif isinstance(x, n.Unary | n.IsEmpty):
            stack.append(x.operand)
        elif isinstance(x, n.Paren):
            stack.append(x.inner)
        elif isinstance(x, n.InList):
            stack.append(x.operand)
            stack += x.items
        elif isinstance(x, n.Call):
            stack += x.args
    return out
