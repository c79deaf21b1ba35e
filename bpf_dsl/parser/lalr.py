"""Text → AST. The only module that imports lark; its Tree and Token never leave it.

The AST is built while lark's LALR parser reduces (a transformer passed to the
``Lark`` constructor), so no parse tree is ever made and nothing here recurses:
10,000 nested parentheses cost a clear error, never a RecursionError.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from decimal import Decimal
from functools import lru_cache
from typing import Any

import lark
from lark import Token

from bpf_dsl import nodes as n
from bpf_dsl._util import gc_paused
from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.errors import BpfSyntaxError
from bpf_dsl.grammar import grammar_text, keywords
from bpf_dsl.parser.syntax_errors import explain

# Limits at the door: past them a file gets a clear error, not a hang or a crash.
MAX_SOURCE_BYTES = 8 * 1024 * 1024
MAX_EXPRESSION_DEPTH = 100
MAX_BLOCK_DEPTH = 32

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


class _Abort(Exception):
    """Raised inside a callback to stop the parse with one diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
#: The longest ``sla``: 100 years (5,218 weeks). A due time is the visit's entry plus its sla, and a date past
#: the year 9999 has no representation: a longer one checked clean and then failed every move into its stage.
MAX_SLA_SECONDS = 5218 * 7 * 86400
_DURATION_PART = re.compile(r"([0-9]+)([wdhms])")


def duration_seconds(text: str) -> int | None:
    """Seconds of a duration as written in an ``sla`` (``3d``, ``4h``, ``30m``, ``1w``, ``1d12h``; ``0d`` is 0);
    None if it isn't one."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(int(a) * _UNIT_SECONDS[b] for a, b in parts)


def _children(c: list[Any], kind: type) -> tuple[Any, ...]:
    return tuple(x for x in c if isinstance(x, kind))


class _Builder(lark.Transformer[Token, Any]):
    """Builds AST nodes as the parser reduces; one method per grammar rule or alias."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.path = "<string>"
        self.depth: dict[int, int] = {}

    # -- helpers -----------------------------------------------------------
    def sp_to(self, first: Token, last: Token) -> n.Span:
        """From the start of ``first`` to the end of ``last``."""
        return n.Span(self.path, first.line, first.column, last.end_line, last.end_column)  # type: ignore[arg-type]

    def sp(self, tok: Token) -> n.Span:
        # lark always sets positions on lexed tokens; `or 1` would cost a branch per field.
        return n.Span(self.path, tok.line, tok.column, tok.end_line, tok.end_column)  # type: ignore[arg-type]

    def span_from(self, first: Any) -> n.Span:
        if isinstance(first, Token):
            return self.sp(first)
        return first.span  # type: ignore[no-any-return]

    def fail(self, code: str, message: str, span: n.Span, hint: str | None = None) -> None:
        raise _Abort(Diagnostic(code, message, span, hint))

    def text(self, tok: Token) -> str:
        """Decode a STRING token: only \\" \\\\ \\n \\t are escapes."""
        raw = tok[1:-1]
        if "\\" not in raw:
            return raw
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\":
                nxt = raw[i + 1]
                if nxt not in _ESCAPES:
                    span = n.Span(self.path, tok.line or 1, (tok.column or 1) + i + 1,
                                  tok.line or 1, (tok.column or 1) + i + 3)
                    self.fail("BPF003", f"unknown escape `\\{nxt}` in a string", span,
                              'strings know only \\" \\\\ \\n and \\t; write \\\\ for a backslash')
                out.append(_ESCAPES[nxt])
                i += 2
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def label(self, tok: Token | None) -> str | None:
        return None if tok is None else self.text(tok)

    def nest(self, node: Any, *parts: Any, limit: int = MAX_EXPRESSION_DEPTH) -> Any:
        """Record how deep ``node`` nests and stop at the limit."""
        get = self.depth.get
        # The common shapes (one or two children) without a generator: this runs for every expression node.
        if len(parts) == 1:
            depth = 1 + get(id(parts[0]), 1)
        elif len(parts) == 2:
            a, b = get(id(parts[0]), 1), get(id(parts[1]), 1)
            depth = 1 + (a if a > b else b)
        else:
            depth = 1 + max((get(id(p), 1) for p in parts), default=0)
        return self.set_depth(node, depth, limit)

    def set_depth(self, node: Any, depth: int, limit: int = MAX_EXPRESSION_DEPTH) -> Any:
        """Record that ``node`` nests ``depth`` levels deep, and stop past the limit."""
        if depth > limit:
            what = "expression" if limit == MAX_EXPRESSION_DEPTH else "block of `if` arms"
            self.fail("BPF005", f"this {what} nests more than {limit} levels deep", node.span,
                      "split it into simpler parts; deeper nesting is refused so that checking stays safe")
        self.depth[id(node)] = depth
        return node

    def carry(self, node: Any, parts: Any) -> Any:
        """An arm is not a level of its own: it carries the depth of its deepest item to its branch."""
        get = self.depth.get
        self.depth[id(node)] = max((get(id(p), 0) for p in parts), default=0)
        return node

    def number(self, tok: Token, negative: bool = False) -> int | Decimal:
        value: int | Decimal = int(tok) if "." not in tok else Decimal(str(tok))
        return -value if negative else value

    def typed_literal(self, name: n.Ref, arg: Token) -> n.Literal:
        kind = name.parts[0]
        raw = self.text(arg)
        span = name.span
        try:
            if kind == "date":
                return n.Literal("date", dt.date.fromisoformat(raw), span)
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            example = "2026-01-31" if kind == "date" else "2026-01-31T09:00:00Z"
            self.fail("BPF006", f"`{raw}` is not a valid {kind}", self.sp(arg), f"write it as {kind}(\"{example}\")")
            raise  # unreachable: fail() raises
        if value.tzinfo is None:
            self.fail("BPF006", f"`{raw}` has no time zone", self.sp(arg),
                      'end it with Z for UTC or an offset such as +02:00')
        return n.Literal("datetime", value, span)

    # -- top level -----------------------------------------------------------
    def start(self, c: list[Any]) -> list[Any]:
        return c

    def import_file(self, c: list[Any]) -> n.Import:
        return n.Import(self.text(c[1]), True, self.sp(c[1]))

    def import_pack(self, c: list[Any]) -> n.Import:
        ref: n.Ref = c[1]
        return n.Import(ref.dotted, False, ref.span)

    def dotted_name(self, c: list[Token]) -> n.Ref:
        first = c[0]
        if len(c) == 1:  # a plain name: by far the most common
            return n.Ref((str(first),), self.sp(first))
        last = c[-1]
        span = n.Span(self.path, first.line, first.column, last.end_line, last.end_column)  # type: ignore[arg-type]
        return n.Ref(tuple(str(t) for t in c[::2]), span)

    def role_decl(self, c: list[Any]) -> n.Role:
        return n.Role(str(c[1]), self.label(c[2]), self.sp(c[1]))

    def entity_decl(self, c: list[Any]) -> n.Entity:
        return self._entity(str(c[1]), self.label(c[2]), False, c[1], c[3:-1], c[-1])

    def extend_decl(self, c: list[Any]) -> n.Entity:
        return self._entity(str(c[2]), None, True, c[2], c[3:-1], c[-1])

    def _entity(self, name: str, label: str | None, extend: bool, at: Token, items: list[Any],
                end: Token) -> n.Entity:
        fields: list[n.FieldDecl] = []
        grants: list[n.Grant] = []
        layout: list[tuple[str, int]] = []
        for item in items:
            if isinstance(item, n.FieldDecl):
                layout.append(("field", len(fields)))
                fields.append(item)
            elif isinstance(item, n.Grant):
                layout.append(("allow", len(grants)))
                grants.append(item)
        return n.Entity(name, label, tuple(fields), extend, self.sp(at), self.sp(end), tuple(grants), tuple(layout))

    def allow_decl(self, c: list[Any]) -> n.Grant:
        # c: "allow" NAME ("," NAME)* "to" NAME ("," NAME)* [OWN]; the anonymous tokens are kept (keep_all_tokens).
        names = [t for t in c if isinstance(t, Token)]
        to = next(i for i, t in enumerate(names) if t.type != "NAME" and str(t) == "to")
        roles = tuple(n.Role(str(t), None, self.sp(t)) for t in names[1:to] if t.type == "NAME")
        verbs = [t for t in names[to + 1:] if t.type == "NAME"]
        own = any(t.type == "OWN" for t in names)
        return n.Grant(roles, tuple(str(v) for v in verbs), own, self.sp_to(names[0], names[-1]),
                       tuple(self.sp(v) for v in verbs))

    def field_decl(self, c: list[Any]) -> n.FieldDecl:
        return n.FieldDecl(str(c[0]), self.label(c[1]), c[3], tuple(c[4:]), self.sp(c[0]))

    def type_simple(self, c: list[Token]) -> n.TypeRef:
        return n.TypeRef(str(c[0]), None, self.sp(c[0]))

    def type_args(self, c: list[Any]) -> n.TypeRef:
        return n.TypeRef(str(c[0]), _children(c, n.Option), self.sp(c[0]))

    def option(self, c: list[Any]) -> n.Option:
        return n.Option(str(c[0]), self.label(c[1]), self.sp(c[0]))

    def mod_required(self, c: list[Token]) -> n.Modifier:
        return n.Modifier("required", None, self.sp(c[0]))

    def mod_unique(self, c: list[Token]) -> n.Modifier:
        return n.Modifier("unique", None, self.sp(c[0]))

    def mod_default(self, c: list[Any]) -> n.Modifier:
        return n.Modifier("default", c[1], self.sp(c[0]))

    def mod_min(self, c: list[Any]) -> n.Modifier:
        return n.Modifier("min", c[1], self.sp(c[0]))

    def mod_max(self, c: list[Any]) -> n.Modifier:
        return n.Modifier("max", c[1], self.sp(c[0]))

    def mod_restricted(self, c: list[Any]) -> n.Modifier:
        roles = tuple(n.Role(str(t), None, self.sp(t)) for t in c if isinstance(t, Token) and t.type == "NAME")
        return n.Modifier("restricted", None, self.sp(c[0]), roles)

    def lit_string(self, c: list[Token]) -> n.Literal:
        return n.Literal("text", self.text(c[0]), self.sp(c[0]))

    def signed_number(self, c: list[Token]) -> n.Literal:
        if len(c) == 1:
            return n.Literal("number", self.number(c[0]), self.sp(c[0]))
        # `-3`: the span covers the sign and the digits, so a caret under the value underlines both.
        sign, digits = c
        span = n.Span(self.path, sign.line, sign.column, digits.end_line, digits.end_column)  # type: ignore[arg-type]
        return n.Literal("number", self.number(digits, negative=True), span)

    def lit_true(self, c: list[Token]) -> n.Literal:
        return n.Literal("bool", True, self.sp(c[0]))

    def lit_false(self, c: list[Token]) -> n.Literal:
        return n.Literal("bool", False, self.sp(c[0]))

    def lit_null(self, c: list[Token]) -> n.Literal:
        return n.Literal("null", None, self.sp(c[0]))

    def lit_name(self, c: list[Token]) -> n.Ref:
        return n.Ref((str(c[0]),), self.sp(c[0]))

    def lit_typed(self, c: list[Token]) -> n.Expr:
        ref = n.Ref((str(c[0]),), self.sp(c[0]))
        if ref.parts[0] in ("date", "datetime"):
            return self.typed_literal(ref, c[2])
        return n.Call(ref.parts, (n.Literal("text", self.text(c[2]), self.sp(c[2])),), ref.span)

    # -- processes ---------------------------------------------------------------
    def process_decl(self, c: list[Any]) -> n.Process:
        settings: list[n.ProcessSetting] = []
        flow: list[n.FlowItem] = []
        hooks: list[n.Hook] = []
        layout: list[tuple[str, int]] = []
        for item in c[6:-1]:
            if isinstance(item, n.ProcessSetting):
                layout.append(("setting", len(settings)))
                settings.append(item)
            elif isinstance(item, n.Hook):
                layout.append(("hook", len(hooks)))
                hooks.append(item)
            else:
                layout.append(("flow", len(flow)))
                flow.append(item)
        return n.Process(str(c[1]), self.label(c[2]), str(c[4]), tuple(settings), tuple(flow), tuple(hooks),
                         self.sp(c[1]), self.sp(c[-1]), tuple(layout), entity_span=self.sp(c[4]))

    def p_order(self, c: list[Any]) -> n.ProcessSetting:
        lit: n.Literal = c[1]
        return n.ProcessSetting("order", lit.value, self.sp(c[0]))

    def p_roles(self, c: list[Token]) -> n.ProcessSetting:
        names = tuple(n.Role(str(t), None, self.sp(t)) for t in c[1::2])
        return n.ProcessSetting("roles", names, self.sp(c[0]))

    def p_description(self, c: list[Token]) -> n.ProcessSetting:
        return n.ProcessSetting("description", self.text(c[1]), self.sp(c[0]))

    def finish(self, c: list[Any]) -> n.Finish:
        outcome: Token | None = c[1] if len(c) > 1 else None
        label: Token | None = c[2] if len(c) > 2 else None
        last = label or outcome or c[0]
        return n.Finish(self.sp_to(c[0], last), None if outcome is None else str(outcome), self.label(label))

    def s_roles(self, c: list[Token]) -> n.ProcessSetting:
        names = tuple(n.Role(str(t), None, self.sp(t)) for t in c if t.type == "NAME")
        return n.ProcessSetting("stage_roles", names, self.sp(c[0]))

    def s_gate(self, c: list[Any]) -> n.Gate:
        return n.Gate(c[1], self.text(c[2]), self.sp_to(c[0], c[2]))

    def s_sla(self, c: list[Token]) -> n.Sla:
        text = str(c[1])
        seconds = duration_seconds(text)
        if seconds == 0:
            self.fail("BPF070", f"`{text}` is no time at all: an sla must be longer than zero", self.sp(c[1]),
                      "write how long the stage may take, such as `3d`, or leave the `sla` out")
        if seconds is None:
            self.fail("BPF070", f"`{text}` is not a duration", self.sp(c[1]),
                      "write a number and a unit: `3d`, `4h`, `30m`, `1w`, or several like `1d12h`")
        if seconds is not None and seconds > MAX_SLA_SECONDS:
            self.fail("BPF070", f"`{text}` is longer than the 100 years an sla may be", self.sp(c[1]),
                      "write a shorter duration, such as `52w`")
        return n.Sla(text, seconds or 0, self.sp_to(c[0], c[1]))

    def stage_decl(self, c: list[Any]) -> n.Stage:
        category: Token | None = c[3]
        entity, via = c[4] if c[4] is not None else (None, None)
        create: n.CreateBlock | None = None
        steps: list[n.DataStep | n.ActionStep] = []
        hooks: list[n.Hook] = []
        gates: list[n.Gate] = []
        roles: n.ProcessSetting | None = None
        sla: n.Sla | None = None
        layout: list[tuple[str, int]] = []
        for item in c[6:-1]:
            if isinstance(item, n.CreateBlock):
                if create is not None:
                    self.fail("BPF047", "a stage has at most one `create` block", item.span,
                              "merge the assignments into the first `create` block")
                layout.append(("create", 0))
                create = item
            elif isinstance(item, n.Hook):
                layout.append(("hook", len(hooks)))
                hooks.append(item)
            elif isinstance(item, n.ProcessSetting):  # the stage's `roles` line
                if roles is not None:
                    self.fail("BPF071", "a stage has at most one `roles` line", item.span,
                              "list every role on the first `roles` line")
                layout.append(("roles", 0))
                roles = item
            elif isinstance(item, n.Gate):
                layout.append(("gate", len(gates)))
                gates.append(item)
            elif isinstance(item, n.Sla):
                if sla is not None:
                    self.fail("BPF072", "a stage has at most one `sla`", item.span, "keep one `sla` line")
                layout.append(("sla", 0))
                sla = item
            else:
                layout.append(("step", len(steps)))
                steps.append(item)
        return n.Stage(str(c[1]), self.label(c[2]), None if category is None else str(category),
                       None if entity is None else str(entity), None if via is None else str(via), create,
                       tuple(steps), tuple(hooks), self.sp(c[1]), self.sp(c[-1]), tuple(layout),
                       category_span=n.NO_SPAN if category is None else self.sp(category),
                       entity_span=n.NO_SPAN if entity is None else self.sp(entity),
                       via_span=n.NO_SPAN if via is None else self.sp(via),
                       roles=() if roles is None else roles.value,  # type: ignore[arg-type]
                       gates=tuple(gates), sla=sla, roles_span=n.NO_SPAN if roles is None else roles.span)

    def stage_category(self, c: list[Token]) -> Token:
        return c[1]

    def stage_entity(self, c: list[Any]) -> tuple[Token, Token | None]:
        # The tokens, not their text: the stage keeps where the entity and the lookup are named.
        names = [t for t in c if isinstance(t, Token) and t.type == "NAME"]
        return names[0], (names[1] if len(names) > 1 else None)

    def create_block(self, c: list[Any]) -> n.CreateBlock:
        return n.CreateBlock(_children(c, n.Assignment), self.sp(c[0]), self.sp(c[-1]))

    def assignment(self, c: list[Any]) -> n.Assignment:
        return n.Assignment(str(c[0]), c[2], self.sp(c[0]))

    def data_step(self, c: list[Any]) -> n.DataStep:
        return n.DataStep(str(c[1]), self.label(c[2]), c[3] is not None, self.sp(c[1]))

    def action_step(self, c: list[Any]) -> n.ActionStep:
        return n.ActionStep(self.text(c[1]), c[3], c[4] is not None, self.sp(c[0]))

    def branch(self, c: list[Any]) -> n.Branch:
        arms = tuple(a for a in c if a is not None)
        return self.nest(n.Branch(arms, arms[0].span), *arms, limit=MAX_BLOCK_DEPTH)  # type: ignore[no-any-return]

    def _arm(self, cond: n.Expr | None, items: list[Any], span: n.Span, end: Token) -> n.Arm:
        return self.carry(n.Arm(cond, tuple(items), span, self.sp(end)), items)  # type: ignore[no-any-return]

    def if_arm(self, c: list[Any]) -> n.Arm:
        return self._arm(c[1], c[3:-1], self.sp(c[0]), c[-1])

    def else_if_arm(self, c: list[Any]) -> n.Arm:
        return self._arm(c[2], c[4:-1], self.sp(c[0]), c[-1])

    def else_arm(self, c: list[Any]) -> n.Arm:
        return self._arm(None, c[2:-1], self.sp(c[0]), c[-1])

    def hook(self, c: list[Any]) -> n.Hook:
        return n.Hook(str(c[1]), tuple(c[3:-1]), self.sp(c[0]), self.sp(c[-1]))

    def hook_set(self, c: list[Any]) -> n.SetAction:
        return n.SetAction(c[1], c[3], self.sp(c[0]))

    def hook_call(self, c: list[Any]) -> n.CallAction:
        return n.CallAction(c[1], self.sp(c[0]))

    def call_target(self, c: list[Any]) -> n.ActionCall:
        return n.ActionCall(str(c[0]), str(c[2]), _children(c, n.Argument), self.sp(c[0]))

    def named_arg(self, c: list[Any]) -> n.Argument:
        return n.Argument(str(c[0]), c[2], self.sp(c[0]))

    # -- rules -------------------------------------------------------------------
    def rule_decl(self, c: list[Any]) -> n.Rule:
        return n.Rule(str(c[1]), self.label(c[2]), str(c[4]), tuple(c[6:-1]), self.sp(c[1]), self.sp(c[-1]),
                      entity_span=self.sp(c[4]))

    def rule_if(self, c: list[Any]) -> n.RuleIf:
        arms = tuple(a for a in c if a is not None)
        return self.nest(n.RuleIf(arms, arms[0].span), *arms, limit=MAX_BLOCK_DEPTH)  # type: ignore[no-any-return]

    def _rule_arm(self, cond: n.Expr | None, items: list[Any], span: n.Span, end: Token) -> n.RuleArm:
        return self.carry(n.RuleArm(cond, tuple(items), span, self.sp(end)), items)  # type: ignore[no-any-return]

    def rule_if_arm(self, c: list[Any]) -> n.RuleArm:
        return self._rule_arm(c[1], c[3:-1], self.sp(c[0]), c[-1])

    def rule_else_if_arm(self, c: list[Any]) -> n.RuleArm:
        return self._rule_arm(c[2], c[4:-1], self.sp(c[0]), c[-1])

    def rule_else_arm(self, c: list[Any]) -> n.RuleArm:
        return self._rule_arm(None, c[2:-1], self.sp(c[0]), c[-1])

    def _assign(self, kind: str, c: list[Any]) -> n.RuleAction:
        return n.RuleAction(kind, str(c[1]), c[3], None, self.sp(c[0]), self.sp(c[1]))

    def r_set(self, c: list[Any]) -> n.RuleAction:
        return self._assign("set", c)

    def r_default(self, c: list[Any]) -> n.RuleAction:
        return self._assign("default", c)

    def _message(self, kind: str, c: list[Any]) -> n.RuleAction:
        field: Token | None = c[1]
        return n.RuleAction(kind, None if field is None else str(field), None, self.text(c[2]), self.sp(c[0]),
                            n.NO_SPAN if field is None else self.sp(field))

    def r_error(self, c: list[Any]) -> n.RuleAction:
        return self._message("error", c)

    def r_recommend(self, c: list[Any]) -> n.RuleAction:
        return self._message("recommend", c)

    def _flag(self, c: list[Token]) -> n.RuleAction:
        return n.RuleAction(str(c[0]), str(c[1]), None, None, self.sp(c[0]), self.sp(c[1]))

    r_require = r_optional = r_lock = r_unlock = r_hide = r_show = _flag

    # -- expressions ---------------------------------------------------------------
    def _binary(self, op: str, left: n.Expr, right: n.Expr) -> n.Binary:
        node = n.Binary(op, left, right, left.span)
        group = n.CHAIN_GROUPS.get(op)
        if group is not None and isinstance(left, n.Binary) and n.CHAIN_GROUPS.get(left.op) == group:
            # `a and b and c`, `a + b - c`: one level however long the chain (every walk over
            # expressions follows such chains with a loop, see nodes.left_spine). Only real
            # nesting counts: parentheses, calls, `not`, `-`, and a change of operator.
            get = self.depth.get
            a, b = get(id(left), 1), 1 + get(id(right), 1)
            return self.set_depth(node, a if a > b else b)  # type: ignore[no-any-return]
        return self.nest(node, left, right)  # type: ignore[no-any-return]

    def e_or(self, c: list[Any]) -> n.Binary:
        return self._binary("or", c[0], c[2])

    def e_and(self, c: list[Any]) -> n.Binary:
        return self._binary("and", c[0], c[2])

    def e_not(self, c: list[Any]) -> n.Unary:
        return self.nest(n.Unary("not", c[1], self.sp(c[0])), c[1])  # type: ignore[no-any-return]

    def e_compare(self, c: list[Any]) -> n.Binary:
        return self._binary(str(c[1]), c[0], c[2])

    e_arith = e_compare

    def e_in(self, c: list[Any]) -> n.InList:
        return self.nest(n.InList(c[0], c[2], False, c[0].span), c[0], *c[2])  # type: ignore[no-any-return]

    def e_not_in(self, c: list[Any]) -> n.InList:
        return self.nest(n.InList(c[0], c[3], True, c[0].span), c[0], *c[3])  # type: ignore[no-any-return]

    def e_contains(self, c: list[Any]) -> n.Binary:
        return self._binary("contains", c[0], c[2])

    def e_starts_with(self, c: list[Any]) -> n.Binary:
        return self._binary("starts_with", c[0], c[3])

    def e_ends_with(self, c: list[Any]) -> n.Binary:
        return self._binary("ends_with", c[0], c[3])

    def e_is_empty(self, c: list[Any]) -> n.IsEmpty:
        return self.nest(n.IsEmpty(c[0], False, c[0].span), c[0])  # type: ignore[no-any-return]

    def e_is_not_empty(self, c: list[Any]) -> n.IsEmpty:
        return self.nest(n.IsEmpty(c[0], True, c[0].span), c[0])  # type: ignore[no-any-return]

    def e_neg(self, c: list[Any]) -> n.Expr:
        operand = c[1]
        if isinstance(operand, n.Literal) and operand.kind == "number" and isinstance(operand.value, (int, Decimal)):
            # `-3` is a number, not an operation: the formatter prints it back as written.
            return n.Literal("number", -operand.value, self.sp(c[0]))
        return self.nest(n.Unary("-", operand, self.sp(c[0])), operand)  # type: ignore[no-any-return]

    def e_number(self, c: list[Token]) -> n.Literal:
        return n.Literal("number", self.number(c[0]), self.sp(c[0]))

    def e_string(self, c: list[Token]) -> n.Literal:
        return self.lit_string(c)

    e_true = lit_true
    e_false = lit_false
    e_null = lit_null

    def e_ref(self, c: list[Any]) -> n.Ref:
        return c[0]  # type: ignore[no-any-return]

    def e_call(self, c: list[Any]) -> n.Expr:
        ref: n.Ref = c[0]
        args = tuple(a for a in c[2:-1] if a is not None and not isinstance(a, Token))
        if (len(ref.parts) == 1 and ref.parts[0] in ("date", "datetime") and len(args) == 1
                and isinstance(args[0], n.Literal) and args[0].kind == "text"):
            tok = Token("STRING", '"' + str(args[0].value).replace("\\", "\\\\").replace('"', '\\"') + '"',
                        line=args[0].span.line, column=args[0].span.column)
            return self.typed_literal(ref, tok)
        return self.nest(n.Call(ref.parts, args, ref.span), *args)  # type: ignore[no-any-return]

    def e_paren(self, c: list[Any]) -> n.Paren:
        return self.nest(n.Paren(c[1], self.sp(c[0])), c[1])  # type: ignore[no-any-return]

    def list(self, c: list[Any]) -> tuple[n.Expr, ...]:
        return tuple(x for x in c[1:-1] if x is not None and not isinstance(x, Token))


class Parser:
    """A thread-safe .bpf parser; build one with :func:`get_parser`."""

    def __init__(self, *, strict: bool = False, cache: bool = True) -> None:
        self._builder = _Builder()
        self._comments: list[Token] = []
        self._text = ""
        self._lock = threading.Lock()
        callbacks: dict[str, Any] = {"COMMENT": self._comments.append}
        for word in keywords():
            callbacks[word.upper()] = self._whole_word
        options: dict[str, Any] = dict(
            parser="lalr",
            keep_all_tokens=True,
            maybe_placeholders=True,
            transformer=self._builder,
            lexer_callbacks=callbacks,
            postlex=_NamesBeforeColonOrEquals(self),
        )
        if strict:
            options["strict"] = True
        elif cache:
            options["cache"] = _cache_file()
        self._lark = lark.Lark(grammar_text(), **options)

    @property
    def text(self) -> str:
        """The text being parsed (under the lock): what the lexer's helpers read past a token."""
        return self._text

    def _whole_word(self, tok: Token) -> Token:
        # lark matches a keyword where no name may stand even when it is only the start of a
        # longer word (`elseif`, `stagedevelop`): such a word is a typo, never two tokens.
        end = tok.end_pos or 0
        if end < len(self._text) and (self._text[end].isalnum() or self._text[end] == "_"):
            match = _WORD.match(self._text, tok.start_pos or 0)
            word = match.group(0) if match else str(tok)
            rest = word[len(tok):]
            span = n.Span(self._builder.path, tok.line or 1, tok.column or 1, tok.line or 1,
                          (tok.column or 1) + len(word))
            raise _Abort(Diagnostic("BPF001", f"unknown word `{word}`", span,
                                    f"did you mean `{tok} {rest}`? a keyword stands alone"))
        return tok

    def parse(self, text: str, path: str = "<string>") -> n.Module:
        """Parse ``text`` (the contents of ``path``) into a :class:`~bpf_dsl.nodes.Module`.

        Raises :class:`~bpf_dsl.errors.BpfSyntaxError` with one diagnostic.
        """
        size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > MAX_SOURCE_BYTES else len(text)
        if size > MAX_SOURCE_BYTES:
            raise BpfSyntaxError([Diagnostic(
                "BPF004", f"the file is {size / 1048576:.1f} MiB; the limit is {MAX_SOURCE_BYTES // 1048576} MiB",
                n.Span(path, 1, 1, 1, 2), "split it into several files joined with `import \"file.bpf\"`")])
        if text.startswith("\ufeff"):
            text = text[1:]  # a byte-order mark from a Windows editor is not part of the source
        with self._lock:
            self._text = text
            self._builder.path = path
            self._builder.depth = {}
            self._comments.clear()
            with gc_paused():
                try:
                    decls: list[n.Declaration] = self._lark.parse(text)  # type: ignore[assignment]
                except _Abort as abort:
                    raise BpfSyntaxError([abort.diagnostic]) from None
                except lark.exceptions.UnexpectedInput as err:
                    raise BpfSyntaxError([explain(err, text, path, self._lark)]) from None
                finally:
                    self._builder.depth = {}
            comments = tuple(n.Comment(str(t), self._builder.sp(t)) for t in self._comments)
        return n.Module(path, tuple(decls), comments)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# What follows a name that is declared or assigned: `:` (a field, a call's argument), with a label
# in between or not, or `=` but not `==` (an assignment, a rule's `set`).
_DECLARED = re.compile(r'[ \t\r\n\f]*(?:"(?:[^"\\\n]|\\.)*"[ \t\r\n\f]*)?:')
_ASSIGNED = re.compile(r"[ \t\r\n\f]*=(?!=)")
# Keywords that are values: `true = b` compares, so they stay keywords before `=`.
_VALUE_WORDS = frozenset({"TRUE", "FALSE", "NULL"})


class _NamesBeforeColonOrEquals:
    """lark's post-lexer: a keyword written where a name is declared or assigned is that name.

    The contextual lexer reserves a word wherever the parser *could* take it, and an LALR(1)
    parser sees one token ahead: after `a: integer`, `required` may be `a`'s modifier; after
    `min 0` (a state LALR shares with a process's `order 3`) `description` may be the process's.
    One more character settles it: the grammar never puts `:` after a keyword (only after a
    field's or an argument's name, and its label), nor `=` after one other than a literal
    (`true = b`). So such a word is re-typed a name before the parser sees it, and a field may
    be called `description`, `required` or `lock` wherever it stands.
    """

    always_accept: tuple[str, ...] = ()

    def __init__(self, parser: Parser) -> None:
        self._parser = parser
        self._keyword_types = frozenset(word.upper() for word in keywords())

    def process(self, stream: Any) -> Any:
        """The tokens of ``stream``, keywords that are names re-typed ``NAME``."""
        types = self._keyword_types
        for tok in stream:
            if tok.type in types and self._is_name(tok):
                tok.type = "NAME"
            yield tok

    def _is_name(self, tok: Token) -> bool:
        text, end = self._parser.text, tok.end_pos or 0
        if _DECLARED.match(text, end):
            return True
        return tok.type not in _VALUE_WORDS and _ASSIGNED.match(text, end) is not None


def _cache_file() -> str | bool:
    """Where lark keeps the analysed grammar; ``True`` lets lark pick a temp file."""
    base = os.environ.get("BPF_CACHE_DIR")
    if not base:
        return True
    os.makedirs(base, exist_ok=True)
    return os.path.join(base, "grammar.lark-cache")


@lru_cache(maxsize=1)
def get_parser() -> Parser:
    """The process-wide parser (the grammar is analysed once, and cached on disk by lark)."""
    return Parser()


def parse(text: str, path: str = "<string>") -> n.Module:
    """Parse .bpf text into a Module; see :meth:`Parser.parse`."""
    return get_parser().parse(text, path)


def build_bare_lalr(*, earley: bool = False) -> lark.Lark:
    """Lark with our grammar and no transformer: the floor the benchmark compares against."""
    if earley:
        return lark.Lark(grammar_text(), parser="earley", maybe_placeholders=True)
    return lark.Lark(grammar_text(), parser="lalr", maybe_placeholders=True)
