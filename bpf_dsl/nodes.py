"""The abstract syntax tree of a .bpf file.

Every node is a frozen, slotted dataclass. Its ``span`` says where it stands in
the source but takes no part in equality or ``repr``: two trees that mean the
same compare equal whatever their layout, which is what the formatter's tests
and the definition's version hash rely on.

The dataclasses' own ``==``, ``hash`` and ``repr`` recurse through the tree, and a
chain of one operator (``a and b and ...``, any length) is a left-leaning tree as
deep as it is long: code that must take any input walks such chains with
:func:`left_spine` (the version hash uses ``definition.node_repr``).

One grammar rule, one node class: the names follow ``grammar/bpf.lark``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple


class Span(NamedTuple):
    """A place in a source file: 1-based line and column of the first character.

    A named tuple rather than a dataclass: the parser makes one per node, and a tuple
    is the cheapest immutable record Python builds.
    """

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<none>", 1, 1, 1, 1)

#: Metadata of a node field added after processes were first stored: ``definition.node_repr`` leaves it out
#: while it holds its default, so that a process that doesn't use it keeps the version it had.
LATER = {"later": True}


def _span() -> Span:
    # Positions never count for equality or appear in repr.
    return field(default=NO_SPAN, compare=False, repr=False, hash=False)


def _later(default: object) -> object:
    """A field added in the language's second round (see :data:`LATER`)."""
    return field(default=default, repr=False, metadata=LATER)


# ---------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: ``kind`` is one of text, number, bool, null, date, datetime."""

    kind: str
    value: object
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ref:
    """A name, or a dotted path of names (``opportunity.status``, ``account.industry``)."""

    parts: tuple[str, ...]
    span: Span = _span()

    @property
    def dotted(self) -> str:
        """The path as written."""
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Unary:
    """``not x`` or ``-x``."""

    op: str
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic, comparison, ``and``/``or``, ``contains``, ``starts with``, ``ends with``.

    ``op`` is one of ``+ - * / = != < <= > >= and or contains starts_with ends_with``.
    """

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InList:
    """``x in [a, b]`` or, with ``negated``, ``x not in [a, b]``."""

    operand: Expr
    items: tuple[Expr, ...]
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IsEmpty:
    """``x is empty`` or, with ``negated``, ``x is not empty``."""

    operand: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A function call in an expression: ``len(x)`` or a plugin's ``ns.name(x)``."""

    name: tuple[str, ...]
    args: tuple[Expr, ...]
    span: Span = _span()

    @property
    def dotted(self) -> str:
        """The function's name as written."""
        return ".".join(self.name)


@dataclass(frozen=True, slots=True)
class Paren:
    """A parenthesised expression, kept so the formatter can keep the author's grouping."""

    inner: Expr
    span: Span = _span()


Expr = Literal | Ref | Unary | Binary | InList | IsEmpty | Call | Paren

# Operators that chain at one precedence level: `a and b and c` or `a + b - c` is one level
# of nesting, however long, and parses as a left-leaning tree of Binary nodes.
CHAIN_GROUPS: dict[str, str] = {"or": "or", "and": "and", "+": "sum", "-": "sum", "*": "product", "/": "product"}


def left_spine(e: Binary, *, same_group: bool = True) -> tuple[Expr, list[Binary]]:
    """A left-leaning chain of operators, flattened without recursion.

    Returns the leftmost operand and the Binary nodes of the chain, innermost first:
    ``a + b - c`` gives ``(a, [a + b, (a + b) - c])``, whose ``op``/``right`` are the
    chain's steps in order. With ``same_group``, the chain stops at an operator of
    another precedence level (``a * b + c`` is the chain ``a * b``, ``+ c``); without,
    it follows every Binary on the left (for printing, where levels don't matter).
    Long chains (thousands of terms) are legal, so every walk over them uses this.
    """
    group = CHAIN_GROUPS.get(e.op)
    spine = [e]
    x = e.left
    while isinstance(x, Binary) and (not same_group or (group is not None and CHAIN_GROUPS.get(x.op) == group)):
        spine.append(x)
        x = x.left
    spine.reverse()
    return x, spine


def part_span(ref: Ref, index: int) -> Span:
    """Where the ``index``-th name of a dotted name stands (``account`` or ``industry`` in ``account.industry``).

    Computed from the whole name's span, which is exact when the name is written without
    spaces around its dots, as it always is in practice; otherwise, the whole name's span.
    """
    s = ref.span
    if s.end_line != s.line or s.end_column - s.column != len(ref.dotted) or not 0 <= index < len(ref.parts):
        return s
    column = s.column + sum(len(part) + 1 for part in ref.parts[:index])
    return Span(s.file, s.line, column, s.line, column + len(ref.parts[index]))


# ---------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Import:
    """``import "file.bpf"`` (``is_file``) or ``import pack.module``."""

    target: str
    is_file: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Role:
    """``role NAME "Label"``."""

    name: str
    label: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a ``choice``/``choices`` type, or the entity of a ``lookup``."""

    name: str
    label: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A field type as written: ``money``, ``choice(a "A", b)``, ``lookup(account)``."""

    name: str
    args: tuple[Option, ...] | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Modifier:
    """A field modifier: ``required``, ``unique``, ``default V``, ``min N``, ``max N``,
    ``restricted to ROLE, ...`` (``roles``)."""

    kind: str
    value: Literal | None
    span: Span = _span()
    roles: tuple[Role, ...] = _later(())  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class FieldDecl:
    """``NAME "Label": TYPE modifiers...``."""

    name: str
    label: str | None
    type: TypeRef
    modifiers: tuple[Modifier, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Entity:
    """``entity NAME { fields, allow lines }`` or, with ``extend``, ``extend entity NAME { ... }``."""

    name: str
    label: str | None
    fields: tuple[FieldDecl, ...]
    extend: bool
    span: Span = _span()
    end: Span = _span()
    grants: tuple[Grant, ...] = _later(())  # type: ignore[assignment]
    # Source order of fields and grants, for the formatter: ("field"|"allow", index).
    layout: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Grant:
    """``allow ROLE, ... to VERB, ... [own]``: verbs on an entity's records (``own``: the caller's only)."""

    roles: tuple[Role, ...]
    verbs: tuple[str, ...]
    own: bool
    span: Span = _span()
    verb_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Assignment:
    """``FIELD = EXPR`` inside a ``create`` block."""

    field: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CreateBlock:
    """``create { assignments }``: values of the record made on a ``via`` move."""

    assignments: tuple[Assignment, ...]
    span: Span = _span()
    end: Span = _span()


@dataclass(frozen=True, slots=True)
class Argument:
    """``NAME: EXPR``, a named argument of an action call."""

    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ActionCall:
    """``NS.ACTION(arg: expr, ...)`` in a hook or an action step."""

    namespace: str
    name: str
    args: tuple[Argument, ...]
    span: Span = _span()

    @property
    def dotted(self) -> str:
        """The action's name as written."""
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True, slots=True)
class DataStep:
    """``step FIELD "Label" required``."""

    field: str
    label: str | None
    required: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ActionStep:
    """``action "Label" call NS.ACTION(...) required``: a button on the stage."""

    label: str
    call: ActionCall
    required: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SetAction:
    """``set FIELD = EXPR`` or ``set ENTITY.FIELD = EXPR`` in a hook."""

    target: Ref
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CallAction:
    """``call NS.ACTION(...)`` in a hook."""

    call: ActionCall
    span: Span = _span()


HookAction = SetAction | CallAction


@dataclass(frozen=True, slots=True)
class Hook:
    """``on EVENT { actions }``; EVENT is enter/exit on a stage, start/finish/abandon/reactivate on a process."""

    event: str
    actions: tuple[HookAction, ...]
    span: Span = _span()
    end: Span = _span()


@dataclass(frozen=True, slots=True)
class Stage:
    """``stage NAME "Label" category C on ENTITY via FIELD { items }``."""

    name: str
    label: str | None
    category: str | None
    entity: str | None
    via: str | None
    create: CreateBlock | None
    steps: tuple[DataStep | ActionStep, ...]
    hooks: tuple[Hook, ...]
    span: Span = _span()
    end: Span = _span()
    # Source order of the stage's items, for the formatter: ("create"|"step"|"hook", index).
    layout: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    # Where the header's names stand, so that a diagnostic about one points at it (NO_SPAN: absent).
    category_span: Span = _span()
    entity_span: Span = _span()
    via_span: Span = _span()
    roles: tuple[Role, ...] = _later(())  # type: ignore[assignment]
    gates: tuple[Gate, ...] = _later(())  # type: ignore[assignment]
    sla: Sla | None = _later(None)  # type: ignore[assignment]
    roles_span: Span = _span()  # where the stage's `roles` line stands (NO_SPAN: it has none)


@dataclass(frozen=True, slots=True)
class Gate:
    """``gate CONDITION "message"``: must hold to leave the stage forward or finish there."""

    condition: Expr
    message: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Sla:
    """``sla 3d``: how long a visit of the stage may take (``seconds``), as written (``text``)."""

    text: str
    seconds: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Finish:
    """``finish [OUTCOME ["Label"]]``: the flow ends here, with that outcome."""

    span: Span = _span()
    outcome: str | None = _later(None)  # type: ignore[assignment]
    label: str | None = _later(None)  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of an ``if`` chain; ``condition`` is None for the ``else`` arm."""

    condition: Expr | None
    body: tuple[FlowItem, ...]
    span: Span = _span()
    end: Span = _span()


@dataclass(frozen=True, slots=True)
class Branch:
    """``if ... { } else if ... { } else { }`` in a process flow."""

    arms: tuple[Arm, ...]
    span: Span = _span()

    @property
    def has_else(self) -> bool:
        """Whether the chain ends with an ``else`` arm."""
        return self.arms[-1].condition is None


FlowItem = Stage | Branch | Finish


@dataclass(frozen=True, slots=True)
class ProcessSetting:
    """``order N``, ``roles A, B`` or ``description "..."`` in a process."""

    kind: str
    value: object
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Process:
    """``process NAME "Label" on ENTITY { ... }``."""

    name: str
    label: str | None
    entity: str
    settings: tuple[ProcessSetting, ...]
    flow: tuple[FlowItem, ...]
    hooks: tuple[Hook, ...]
    span: Span = _span()
    end: Span = _span()
    # Source order of settings, flow items and hooks: ("setting"|"flow"|"hook", index).
    layout: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    entity_span: Span = _span()  # where `on ENTITY` names the entity

    def setting(self, kind: str) -> ProcessSetting | None:
        """The last setting of this kind, if any."""
        found = None
        for item in self.settings:
            if item.kind == kind:
                found = item
        return found


@dataclass(frozen=True, slots=True)
class RuleAction:
    """``set|default F = E``, ``error [F] "m"``, ``recommend [F] "m"``, ``require|optional|lock|unlock|hide|show F``."""

    kind: str
    field: str | None
    value: Expr | None
    message: str | None
    span: Span = _span()
    field_span: Span = _span()  # where FIELD is named (NO_SPAN: no field, or not built by the parser)


@dataclass(frozen=True, slots=True)
class RuleArm:
    """One arm of an ``if`` chain in a rule; ``condition`` is None for ``else``."""

    condition: Expr | None
    body: tuple[RuleItem, ...]
    span: Span = _span()
    end: Span = _span()


@dataclass(frozen=True, slots=True)
class RuleIf:
    """An ``if`` chain inside a business rule."""

    arms: tuple[RuleArm, ...]
    span: Span = _span()


RuleItem = RuleIf | RuleAction


@dataclass(frozen=True, slots=True)
class Rule:
    """``rule NAME "Label" on ENTITY { ... }``."""

    name: str
    label: str | None
    entity: str
    body: tuple[RuleItem, ...]
    span: Span = _span()
    end: Span = _span()
    entity_span: Span = _span()  # where `on ENTITY` names the entity


Declaration = Import | Role | Entity | Process | Rule


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``# ...`` comment, kept aside for the formatter."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed .bpf file: its declarations in text order, and its comments."""

    path: str
    declarations: tuple[Declaration, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)


def derive_label(name: str) -> str:
    """The label of a name without one: ``budget_amount`` → ``Budget amount``."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


# Walks over the AST that every pass needs: the stages of a flow, the actions of a rule.
# Both are iterative (an explicit stack), so no walk recurses on user-sized input.


def stages(items: Iterable[FlowItem]) -> list[Stage]:
    """Every stage in ``items`` and the branches inside them, in text order."""
    out: list[Stage] = []
    stack: list[FlowItem] = list(reversed(list(items)))
    while stack:
        item = stack.pop()
        if isinstance(item, Stage):
            out.append(item)
        elif isinstance(item, Branch):
            for arm in reversed(item.arms):
                stack.extend(reversed(arm.body))
    return out


def walk_rule(items: Iterable[RuleItem]) -> Iterator[RuleAction | RuleArm]:
    """Every action of a rule body and every arm of its ``if`` chains, in text order.

    A chain's arms (their conditions; ``else`` too) come where the chain stands, all of them,
    then the arms' bodies: a pass that checks conditions and actions takes both from here.
    """
    stack: list[RuleItem] = list(reversed(list(items)))
    while stack:
        item = stack.pop()
        if isinstance(item, RuleIf):
            yield from item.arms
            for arm in reversed(item.arms):
                stack.extend(reversed(arm.body))
        else:
            yield item


def rule_actions(items: Iterable[RuleItem]) -> list[RuleAction]:
    """Every action of a rule body, inside its ``if`` arms too, in text order."""
    return [item for item in walk_rule(items) if isinstance(item, RuleAction)]
