"""The types pass for expressions: resolves every name and checks every operator.

Names are resolved against a :class:`Scope` (LANGUAGE.md, "Names resolve..."):
a plain name is a field of the scope's entity (or one of the built-in columns
every record has), or, where a choice is expected, one of its options; ``a.b``
follows the lookup ``a`` or reads entity ``a``'s record bound in the instance.
Each resolved name is recorded in ``Context.resolutions`` for the compiler.

"Where a choice is expected" is carried by the ``expected`` type of
:meth:`Typer.infer`: assignments pass the target's type, comparisons and ``in``
lists the other side's, and ``coalesce`` passes it on to its arguments. A string
literal naming an option is that option there, as the docs allow
(``status = "open"`` for an option named like a field).

Long chains of one operator (``a and b and ...``) are walked along their left
spine, never by recursion: they may have thousands of terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_dsl import nodes as n
from bpf_dsl.checker.context import Context, FieldPath, OptionValue, did_you_mean, listing
from bpf_dsl.exprtext import expr_text
from bpf_dsl.model import (
    BUILTIN_COLUMNS,
    NUMBER_KINDS,
    OPTION_KINDS,
    TEMPORAL_KINDS,
    TEXT_KINDS,
    EntitySpec,
    FieldSpec,
    FieldType,
    label_of,
)
from bpf_dsl.plugins import Param


@dataclass(frozen=True, slots=True)
class VType:
    """The static type of an expression's value."""

    kind: str  # a field kind, or: option, null, any
    options: tuple[str, ...] = ()
    # A lookup's entity; on a text, the entity it is the `id` of (what a lookup to that entity holds).
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
        if self.entity is not None:
            return f"the id of {'an' if self.entity[0] in 'aeiou' else 'a'} {self.entity}"
        article = "an" if self.kind[0] in "aeiou" else "a"
        return {"null": "null", "any": "a value"}.get(self.kind, f"{article} {self.kind}")


ANY = VType("any")
BOOL = VType("bool")
TEXT = VType("text")
NULL = VType("null")

# The built-in columns every record has (LANGUAGE.md, "Entities and fields"): readable
# everywhere a field is, set only by the server.
COLUMN_KINDS = {"id": "text", "created_at": "datetime", "updated_at": "datetime", "version": "integer",
                "owner": "text", "created_by": "text"}
assert set(COLUMN_KINDS) == set(BUILTIN_COLUMNS)
COLUMNS: dict[str, FieldSpec] = {name: FieldSpec(name, label_of(name, None), FieldType(kind))
                                 for name, kind in COLUMN_KINDS.items()}
# Widest first: the common type of two numbers.
_NUMBER_ORDER = ("money", "decimal", "integer")


def vtype(t: FieldType) -> VType:
    """The value type of a field type."""
    return VType(t.kind, t.option_names, t.entity)


def value_type(spec: FieldSpec, owner: EntitySpec) -> VType:
    """The type of ``spec`` read on a record of ``owner``: the ``id`` column is a text that is
    also what a lookup to ``owner`` holds, so it compares with (and is assigned to) one."""
    if spec is COLUMNS["id"]:
        return VType("text", entity=owner.name)
    return vtype(spec.type)


def is_id_of(t: VType, lookup: VType) -> bool:
    """Whether ``t`` is the id of a record ``lookup`` may point at: another lookup to its entity,
    or the ``id`` of one of its records."""
    return t.entity == lookup.entity and t.kind in ("lookup", "text")


def column_or_field(entity: EntitySpec, name: str) -> FieldSpec | None:
    """A declared field of ``entity``, or a built-in column, by name (for reading)."""
    spec = entity.fields.get(name)
    return spec if spec is not None else COLUMNS.get(name)


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
        """Walk ``parts`` (the end of ``ref.parts``) from ``entity`` through lookups; report what doesn't resolve.

        A diagnostic points at the name at fault: the field that doesn't exist, the field that isn't a lookup.
        """
        found = self.walk(entity, parts, ref)
        return None if found is None else found[0]

    def walk(self, entity: EntitySpec, parts: tuple[str, ...], ref: n.Ref) -> tuple[FieldSpec, EntitySpec] | None:
        """:meth:`follow`, with the entity whose field the last part names."""
        offset = len(ref.parts) - len(parts)
        current = entity
        spec: FieldSpec | None = None
        for i, part in enumerate(parts):
            if spec is not None:
                if spec.type.kind != "lookup" or spec.type.entity not in self.ctx.entities:
                    self.ctx.error("BPF022", f"`{spec.name}` is not a lookup, so `{ref.dotted}` names nothing",
                                   n.part_span(ref, offset + i - 1), "only lookup fields can be followed with `.`")
                    return None
                current = self.ctx.entities[spec.type.entity]
            spec = column_or_field(current, part)
            if spec is None:
                self.ctx.error("BPF022", f"`{current.name}` has no field `{part}`", n.part_span(ref, offset + i),
                               did_you_mean(part, [*current.fields, *COLUMNS], also=None if i else
                                            f"fields of {current.name}: {listing(current.fields)}"))
                return None
        return None if spec is None else (spec, current)

    def is_field(self, name: str, scope: Scope) -> bool:
        """Whether a plain name reads a value of the scope's record (a field or a built-in column)."""
        return name in scope.entity.fields or name in COLUMNS

    def waits(self, e: n.Expr, scope: Scope) -> bool:
        """Whether ``e`` can only be typed once the type it should have is known.

        A bare name that is no field can only be an option, so it needs the choice
        it belongs to: the other side of a comparison, the target of an assignment.
        ``coalesce`` of such names waits too.
        """
        while isinstance(e, n.Paren):
            e = e.inner
        if isinstance(e, n.Ref):
            return len(e.parts) == 1 and not self.is_field(e.parts[0], scope)
        if isinstance(e, n.Call):
            spec = self.ctx.registry.functions.get(e.dotted)
            if spec is not None and spec.returns == "same":
                generic = [a for a, p in zip(e.args, spec.params, strict=False) if p.type == "any"]
                return bool(generic) and all(self.waits(a, scope) for a in generic)
        return False

    def ref(self, ref: n.Ref, scope: Scope, expected: VType | None) -> VType:
        first = ref.parts[0]
        if self.is_field(first, scope):
            found = self.walk(scope.entity, ref.parts, ref)
            if found is None:
                return ANY
            self.ctx.resolutions[id(ref)] = FieldPath(None, ref.parts)
            return value_type(*found)
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
            self.ctx.error("BPF022", f"`{scope.entity.name}` has no field `{first}`", n.part_span(ref, 0),
                           did_you_mean(first, list(scope.entity.fields) + list(self.ctx.entities)))
            return ANY
        if scope.bound is None:
            if first != scope.entity.name:
                self.ctx.error("BPF022", f"a rule on `{scope.entity.name}` can't read `{first}` records directly",
                               n.part_span(ref, 0), "rules read their own entity's fields and follow its lookups")
                return ANY
        elif first not in scope.bound and first != scope.entity.name:
            self.ctx.error("BPF043", f"no `{first}` record is bound {scope.where}", n.part_span(ref, 0),
                           f"a record of `{first}` is bound by a stage `on {first} via LOOKUP` before this point")
            return ANY
        found = self.walk(entity, ref.parts[1:], ref)
        if found is None:
            return ANY
        self.ctx.resolutions[id(ref)] = FieldPath(first, ref.parts[1:])
        return value_type(*found)

    def _elsewhere(self, name: str, scope: Scope) -> str | None:
        """A hint naming ``E.name`` when another bound entity has that field (names resolve per stage)."""
        owners = sorted(e for e in (scope.bound or ()) if e != scope.entity.name
                        and e in self.ctx.entities and name in self.ctx.entities[e].fields)
        if not owners:
            return None
        return (f"did you mean `{owners[0]}.{name}`? names here resolve against `{scope.entity.name}`; "
                f"write ENTITY.FIELD for another bound record")

    def collision_hint(self, choice: VType, value: n.Expr) -> str | None:
        """The hint for an option written as a bare name that a field of the same name shadows."""
        while isinstance(value, n.Paren):
            value = value.inner
        if choice.kind not in OPTION_KINDS or not isinstance(value, n.Ref) or len(value.parts) != 1:
            return None
        name = value.parts[0]
        if name not in choice.options or not isinstance(self.ctx.resolutions.get(id(value)), FieldPath):
            return None
        return f"`{name}` is a field here; write the option as \"{name}\""

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
            if (e.kind == "text" and expected is not None and expected.kind in OPTION_KINDS
                    and e.value in expected.options):
                # "open" where a choice is expected is its option: how an option named like a field is written.
                return VType("option", (str(e.value),))
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
            t = self.in_operand(e, scope)
            for item in e.items:
                it = self.infer(item, scope, t)
                self.comparable(t, it, item, "=", e.operand, item)
            return BOOL
        if isinstance(e, n.Call):
            return self.call(e, scope, expected)
        return self.binary(e, scope)

    def in_operand(self, e: n.InList, scope: Scope) -> VType:
        """Type the operand of ``in``; an option name there takes its choice from the list's items."""
        if self.waits(e.operand, scope):
            known = next((i for i in e.items if not self.waits(i, scope)), None)
            if known is not None:
                return self.infer(e.operand, scope, self.infer(known, scope))
        return self.infer(e.operand, scope)

    def binary(self, e: n.Binary, scope: Scope) -> VType:
        op = e.op
        if op in ("and", "or"):
            first, spine = n.left_spine(e)
            for side in [first, *(b.right for b in spine)]:
                t = self.infer(side, scope, BOOL)
                self._need(t, ("bool",), side, f"`{op}` joins yes/no values")
            return BOOL
        if op in ("=", "!=", "<", "<=", ">", ">="):
            # An option name on either side takes its choice from the other side.
            if self.waits(e.left, scope) and not self.waits(e.right, scope):
                rt = self.infer(e.right, scope)
                lt = self.infer(e.left, scope, rt)
            else:
                lt = self.infer(e.left, scope)
                rt = self.infer(e.right, scope, lt)
            if lt.kind == "null" or rt.kind == "null":
                # The caret goes under `null`: the comparison is fine, comparing with null is not.
                null_side = e.right if rt.kind == "null" else e.left
                self.ctx.warn("BPF095", f"`{expr_text(e)}` is always false: any comparison with null is",
                              null_side.span,
                              "test for an empty value with `is empty` or `is not empty`")
            self.comparable(lt, rt, e, op, e.left, e.right)
            return BOOL
        if op in ("contains", "starts_with", "ends_with"):
            lt = self.infer(e.left, scope)
            if op == "contains" and lt.kind == "choices":
                rt = self.infer(e.right, scope, lt)
                if rt.kind == "text":
                    self._text_for_choice(lt, e.right, "a set of choices contains options")
                elif rt.kind not in ("option", "any", "null"):
                    self.ctx.error("BPF034", f"a set of choices contains options, not {rt.describe()}", e.right.span,
                                   self.collision_hint(lt, e.right) or f"options: {listing(lt.options)}")
                return BOOL
            rt = self.infer(e.right, scope)
            word = op.replace("_", " ")
            self._need(lt, ("text",), e.left, f"`{word}` works on text")
            self._need(rt, ("text",), e.right, f"`{word}` works on text")
            return BOOL
        return self.arithmetic(e, scope)

    def arithmetic(self, e: n.Binary, scope: Scope) -> VType:
        """``a + b - c ...``: folded left to right along the chain, as it is evaluated."""
        first, spine = n.left_spine(e)
        lt = self.infer(first, scope)
        for step in spine:
            rt = self.infer(step.right, scope)
            lt = self._arith_step(step, lt, rt)
        return lt

    def _arith_step(self, e: n.Binary, lt: VType, rt: VType) -> VType:
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
        self.ctx.error("BPF034", f"can't compute {lt.describe()} {e.op} {rt.describe()}",
                       at_fault(e.left, e.right).span,
                       "`+ - * /` work on numbers, `+` joins texts, and a date plus a number adds days")
        return ANY

    def comparable(self, lt: VType, rt: VType, at: n.Expr, op: str, left: n.Expr, right: n.Expr) -> None:
        """Report a comparison between values that can never be compared (``left``/``right``: the two sides).

        ``at`` (the whole comparison) is where a comparison that can't hold is reported; a value of the
        wrong type is reported where it stands (:func:`at_fault`).
        """
        if lt.kind in ("any", "null") or rt.kind in ("any", "null"):
            return
        if op in ("=", "!="):
            for a, b, b_node in ((lt, rt, right), (rt, lt, left)):
                if a.kind == "choices" and b.kind in ("option", "text"):
                    self.ctx.error("BPF034", "a set of choices never equals one option", at.span,
                                   "test membership with `contains`, e.g. `tags contains hot`")
                    return
                if a.kind == "choice" and b.kind == "option":
                    return  # resolution already checked the option belongs to a
                if a.kind == "choice" and b.kind == "text":
                    self._text_for_choice(a, b_node, "a choice equals one of its options")
                    return
            if lt.kind in OPTION_KINDS and rt.kind in OPTION_KINDS:
                if lt.kind == rt.kind and not set(lt.options) & set(rt.options):
                    self.ctx.error("BPF034", f"these two choices share no option, so they are never equal "
                                             f"({listing(lt.options)} against {listing(rt.options)})", at.span,
                                   "compare a choice with its own options, or with another field of the same choice")
                return
            if lt.kind == "option" and rt.kind == "option":
                return
            if self._ids_compare(lt, rt, left, right):
                return
        if lt.family == rt.family and lt.family in ("text", "number", "temporal", "bool") and (
                op in ("=", "!=") or lt.family != "bool"):
            return
        for choice, other in ((lt, right), (rt, left)):
            hint = self.collision_hint(choice, other)
            if hint is not None:
                # The caret goes under the name that was meant as an option.
                self.ctx.error("BPF034", f"can't compare {lt.describe()} with {rt.describe()}", other.span, hint)
                return
        self.ctx.error("BPF034", f"can't compare {lt.describe()} with {rt.describe()}", at_fault(left, right).span,
                       "compare values of the same kind: numbers with numbers, dates with dates, a choice with "
                       "its options")

    @staticmethod
    def _ids_compare(lt: VType, rt: VType, left: n.Expr, right: n.Expr) -> bool:
        """Whether ``=``/``!=`` may compare these: a lookup with the id of a record it may point at
        (another lookup to its entity, such a record's ``id``), or with a record's id written as a string."""
        for a, b, b_node in ((lt, rt, right), (rt, lt, left)):
            if a.kind == "lookup" and (is_id_of(b, a) or (b.kind == "text" and _string_literal(b_node) is not None)):
                return True
        return False

    def _text_for_choice(self, choice: VType, value: n.Expr, rule: str) -> None:
        """A text where a choice's option belongs: only a string naming one of its options would do."""
        literal = _string_literal(value)
        if literal is not None:
            if literal not in choice.options:
                self.ctx.error("BPF035", f"the choice has no option `{literal}`", value.span,
                               did_you_mean(literal, choice.options, also=f"options: {listing(choice.options)}"))
            return
        self.ctx.error("BPF034", f"{rule}, not a text: `{expr_text(value)}` may hold anything",
                       value.span, self.collision_hint(choice, value) or _option_words(choice))

    def call(self, e: n.Call, scope: Scope, expected: VType | None = None) -> VType:
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
        if spec.returns == "same":
            return self.same_call(e, spec.params, scope, expected)
        types = [self.infer(a, scope) for a in e.args]
        self._check_args(e, spec.params, types)
        return VType(spec.returns) if spec.returns != "any" else ANY

    def same_call(self, e: n.Call, params: tuple[Param, ...], scope: Scope, expected: VType | None) -> VType:
        """A function whose result has its arguments' type (``coalesce``): the ``any`` ones must share one.

        Its result is their common type: ``coalesce(d, 5)`` on a date ``d`` is refused,
        since it would give a number where a date is read. Option names among the
        arguments resolve against the expected choice, or the choice of another argument.
        """
        pairs = list(zip(e.args, params, strict=False))
        types: dict[int, VType] = {}
        common: VType | None = None
        for i, (arg, p) in enumerate(pairs):
            if p.type != "any" or not self.waits(arg, scope):
                types[i] = self.infer(arg, scope, expected if p.type == "any" else None)
                if p.type == "any":
                    common = types[i] if common is None else (_common(common, types[i]) or common)
        # Option names belong to the choice the result goes to, else to another argument's choice.
        hint = expected if expected is not None and expected.kind in OPTION_KINDS else common
        for i, (arg, _p) in enumerate(pairs):
            if i not in types:
                types[i] = self.infer(arg, scope, hint)
        self._check_args(e, params, [types[i] for i in range(len(pairs))])
        result: VType | None = None
        first: n.Expr | None = None
        for i, (arg, p) in enumerate(pairs):
            if p.type != "any":
                continue
            t = types[i]
            if result is None or first is None:
                result, first = t, arg
                continue
            joined = _common(result, t)
            if joined is None:
                self.ctx.error("BPF039", f"the arguments of `{e.dotted}` must have one type: "
                                         f"`{expr_text(first)}` is {result.describe()}, `{expr_text(arg)}` is "
                                         f"{t.describe()}", arg.span,
                               self.collision_hint(result, arg) or
                               f"`{e.dotted}` gives one of its arguments, so each must fit where the result goes")
                return ANY
            result = joined
        return result if result is not None else ANY

    def _check_args(self, e: n.Call, params: tuple[Param, ...], types: list[VType]) -> None:
        for arg, t, p in zip(e.args, types, params, strict=False):
            if not accepts(p, t):
                self.ctx.error("BPF039", f"argument `{p.name}` of `{e.dotted}` must be {param_words(p)}, "
                                         f"not {t.describe()}", arg.span, None)

    def _need(self, t: VType, families: tuple[str, ...], at: n.Expr, why: str) -> None:
        if t.kind in ("any", "null") or t.family in families:
            return
        self.ctx.error("BPF036", f"{why}; `{expr_text(at)}` is {t.describe()}", at.span, None)

    def fits(self, target: FieldSpec, value: n.Expr, scope: Scope, code: str, what: str) -> None:
        """Check that ``value`` can be stored in ``target`` (set, default, create)."""
        want = vtype(target.type)
        if (want.kind in OPTION_KINDS and isinstance(value, n.Ref) and len(value.parts) == 1
                and not self.is_field(value.parts[0], scope) and value.parts[0] not in want.options):
            # Name the field being assigned: "not an option of the choice it is compared with" would mislead.
            self.ctx.error("BPF035", f"`{value.parts[0]}` is not an option of `{target.name}`", value.span,
                           did_you_mean(value.parts[0], want.options, also=f"options: {listing(want.options)}"))
            return
        got = self.infer(value, scope, want)
        if assignable(want, got, value):
            return
        literal = _string_literal(value)
        if want.kind in OPTION_KINDS and literal is not None:
            self.ctx.error("BPF035", f"\"{literal}\" is not an option of `{target.name}`", value.span,
                           did_you_mean(literal, want.options, also=f"options: {listing(want.options)}"))
            return
        if want.kind in OPTION_KINDS and got.family == "text":
            self.ctx.error(code, f"{what}: `{target.name}` is a {want.kind}, so it takes its options "
                                 f"({listing(want.options)}), not a text", value.span,
                           self.collision_hint(want, value) or _option_words(want))
            return
        if want.kind in OPTION_KINDS and got.kind in OPTION_KINDS:
            extra = [o for o in got.options if o not in want.options]
            if extra:
                self.ctx.error(code, f"{what}: `{target.name}` has no option {listing(f'`{o}`' for o in extra)}, "
                                     f"which the value may hold", value.span,
                               f"options of `{target.name}`: {listing(want.options)}")
                return
        self.ctx.error(code, f"{what}: `{target.name}` is {want.describe()}, the value is {got.describe()}",
                       value.span, self.collision_hint(want, value) or (
                           None if want.kind not in OPTION_KINDS else f"options: {listing(want.options)}"))


def at_fault(left: n.Expr, right: n.Expr) -> n.Expr:
    """The operand whose type doesn't fit, where two can't be compared or combined.

    The one that differs from the other side's type: a literal against a value read from the
    data (`amount > "ten"`, `"Deal " + revenue`: the literal), else the right side, since the
    left one sets the type (`revenue > close_date`: `close_date`).
    """
    return left if _is_literal(left) and not _is_literal(right) else right


def assignable(want: VType, got: VType, value: n.Expr) -> bool:
    """Whether a value of type ``got`` may be stored in a field of type ``want``."""
    if got.kind in ("any", "null") or want.kind == "any":
        return True
    if want.kind in OPTION_KINDS:
        if got.kind == "option":
            return got.options[0] in want.options
        if got.kind in OPTION_KINDS:
            # Another value of the same choice: every option it may hold must be one of the target's.
            fits_kind = want.kind == "choices" or got.kind == "choice"
            return fits_kind and set(got.options) <= set(want.options)
        if got.family == "text":
            # A string naming an option was typed as that option; any other text may hold anything.
            text = _string_literal(value)
            return text is not None and text in want.options
        return False
    if want.kind == "lookup":
        return is_id_of(got, want)
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


def _common(a: VType, b: VType) -> VType | None:
    """The type both ``a`` and ``b`` fit in (a value of either may be read as it), or None."""
    if a.kind in ("any", "null"):
        return b if a.kind == "null" or b.kind != "null" else a
    if b.kind in ("any", "null"):
        return a
    if a.kind == "option" or b.kind == "option":
        # An option name only resolves where a choice is expected, and was checked against it:
        # the result may hold any option of either side.
        other, opt = (b, a) if a.kind == "option" else (a, b)
        if other.kind not in OPTION_KINDS and other.kind != "option":
            return None
        kind = other.kind if other.kind in OPTION_KINDS else "choice"
        return VType(kind, tuple(dict.fromkeys(other.options + opt.options)))
    if a.kind in OPTION_KINDS or b.kind in OPTION_KINDS:
        if a.kind != b.kind:
            return None
        if set(a.options) <= set(b.options):
            return b
        if set(b.options) <= set(a.options):
            return a
        return None
    if a.kind == "lookup" or b.kind == "lookup":
        # A lookup and the id of a record it may point at read as that lookup.
        lookup, other = (a, b) if a.kind == "lookup" else (b, a)
        return lookup if is_id_of(other, lookup) else None
    if a.family != b.family or a.family not in ("text", "number", "temporal", "bool"):
        return None
    if a.kind == b.kind:
        return a if a.entity == b.entity else VType(a.kind)  # the ids of two entities: a text
    if a.family == "number":
        return VType(next(k for k in _NUMBER_ORDER if k in (a.kind, b.kind)))
    if a.family == "temporal":
        return VType("datetime")  # a date reads as its midnight UTC where a datetime is wanted
    return TEXT


def _option_words(choice: VType) -> str:
    example = choice.options[0] if choice.options else "name"
    return f"write an option's name, such as `{example}`, or a string naming one, such as \"{example}\"; " \
           f"options: {listing(choice.options)}"


def _literal_type(e: n.Literal) -> VType:
    if e.kind == "number":
        return VType("integer" if isinstance(e.value, int) else "decimal")
    return VType(e.kind) if e.kind != "null" else NULL


def literal_of(e: n.Expr, kind: str) -> n.Literal | None:
    """The literal of ``kind`` (``text``, ``bool``...) that ``e`` is, in parentheses or not; else None."""
    while isinstance(e, n.Paren):
        e = e.inner
    return e if isinstance(e, n.Literal) and e.kind == kind else None


def _is_literal(e: n.Expr) -> bool:
    while isinstance(e, n.Paren):
        e = e.inner
    return isinstance(e, n.Literal)


def _string_literal(e: n.Expr) -> str | None:
    """The text of a string literal (in parentheses or not); None for any other expression."""
    literal = literal_of(e, "text")
    return None if literal is None else str(literal.value)


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
