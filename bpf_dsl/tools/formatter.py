"""The canonical layout of .bpf source, behind ``bpf fmt``.

There is exactly one layout. The formatter works in two passes:

1. The printer walks the AST and makes one output line per declaration,
   field, setting, step, action, hook action, block header or closing ``}``.
   Every line remembers where its first source token stood (an *anchor*: the
   span of a node, plus how many keywords precede it) and how far its tokens
   reach. Lines come out in source order, because the AST keeps source order
   (``Stage.layout`` and ``Process.layout`` for mixed items).
2. The placer puts every comment of ``Module.comments`` back between those
   lines. Each line covers a contiguous run of source tokens, so every comment
   sits either *inside* one line's run (it goes on its own line just before
   that line), right after it on the same source line (it stays a trailing
   ``  # comment``), or in the *gap* between two lines (it stays there, on its
   own line, with the author's blank lines kept but collapsed). Each comment
   is placed exactly once, by construction.

Which tokens a line covers is exact when the source text is known
(:func:`format_text` always knows it): the text is split into tokens and each
anchor is found among them. Without the text, the nodes' spans are used; they
are exact for a file that is already in canonical layout, and never lose a
comment on any other.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from bpf_dsl import nodes as n
from bpf_dsl.exprtext import expr_text, literal_text, quote
from bpf_dsl.parser import parse

__all__ = ["INDENT", "format_module", "format_text"]

INDENT = "    "
"""One level of indentation in the canonical layout."""

Pos = tuple[int, int]
"""A (line, column) place in the source, both 1-based; tuples order like the text."""

# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def format_text(text: str, path: str = "<string>") -> str:
    """Parse ``text`` and return it in canonical layout.

    Raises :class:`~bpf_dsl.errors.BpfSyntaxError` when the text does not parse.
    """
    return format_module(parse(text, path), source=text)


def format_module(module: n.Module, *, source: str | None = None) -> str:
    """Return ``module`` as canonical .bpf text, with all of its comments.

    ``source`` is the text the module was parsed from, if at hand: with it,
    comments and blank lines are placed from the exact token positions; without
    it, from the nodes' spans (exact for canonical input). The result ends with
    one newline, or is empty for a module with no declarations and no comments.
    """
    printer = _Printer()
    for decl in module.declarations:
        first = len(printer.lines)
        printer.declaration(decl)
        printer.lines[first].decl_start = True
    lines = printer.lines
    bounds = _token_bounds(lines, source) if source is not None else None
    if bounds is None:
        bounds = _span_bounds(lines)
    return _place(lines, module.comments, *bounds)


# ---------------------------------------------------------------------------
# Pass 1: the AST to lines
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    """One output line, before comments are put back."""

    depth: int
    text: str
    anchor: Pos  # a source token on this line that a node's span points at
    back: int  # how many tokens (keywords) precede the anchor in this line's run
    reach: Pos  # the furthest source position the line's nodes are known to cover
    opens: bool = False  # ends with `{`
    closes: bool = False  # starts with `}`
    decl_start: bool = False  # first line of a top-level declaration
    group: str = ""  # "import" or "role": a one-line declaration that may sit in a run of its kind


def _pos(span: n.Span) -> Pos:
    return (span.line, span.column)


def _reach(*things: object) -> Pos:
    """The furthest start or end of any span in ``things`` (nodes, tuples of nodes, spans)."""
    best: Pos = (0, 0)
    # Only leaf-ish nodes (fields, steps, actions, expressions) are passed here, never blocks,
    # so this never wanders into a block's children. An explicit stack: a chain of operators
    # (`a and b and ...`) may be thousands of nodes deep.
    stack: list[object] = list(things)
    while stack:
        thing = stack.pop()
        if isinstance(thing, n.Span):
            best = max(best, (thing.line, thing.column), (thing.end_line, thing.end_column))
        elif isinstance(thing, tuple):
            stack.extend(thing)
        elif is_dataclass(thing) and not isinstance(thing, type):
            stack.extend(getattr(thing, f.name) for f in fields(thing))
    return best


def _label(label: str | None) -> str:
    # A label of None is derived from the name and is never printed.
    return "" if label is None else " " + quote(label)


def _number(value: object) -> str:
    return literal_text(n.Literal("number", value, n.NO_SPAN))


def _call_text(call: n.ActionCall) -> str:
    args = ", ".join(f"{arg.name}: {expr_text(arg.value)}" for arg in call.args)
    return f"{call.namespace}.{call.name}({args})"


def _type_text(ref: n.TypeRef) -> str:
    if ref.args is None:
        return ref.name
    # Options stay on one line however many there are: simple, and idempotent.
    return ref.name + "(" + ", ".join(opt.name + _label(opt.label) for opt in ref.args) + ")"


def _modifier_text(mod: n.Modifier) -> str:
    if mod.kind == "restricted":
        return "restricted to " + ", ".join(role.name for role in mod.roles)
    if mod.value is None:
        return mod.kind
    # The parser may hold an option's name (a Ref) or a typed literal (a Call) here.
    value: n.Expr = mod.value
    return f"{mod.kind} {expr_text(value)}"


def _ordered(layout: Sequence[tuple[str, int]], default: list[tuple[str, int]]) -> Sequence[tuple[str, int]]:
    """The author's item order if ``layout`` describes every item exactly once, else ``default``."""
    return layout if sorted(layout) == sorted(default) else default


class _Printer:
    """Turns declarations into :class:`_Line` objects, in source order."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []

    def emit(self, depth: int, text: str, anchor: n.Span, back: int = 0, reach: Pos = (0, 0), *,
             opens: bool = False, closes: bool = False) -> None:
        start = _pos(anchor)
        self.lines.append(_Line(depth, text, start, back, max(start, _reach(anchor), reach),
                                opens=opens, closes=closes))

    def close(self, depth: int, end: n.Span) -> None:
        self.emit(depth, "}", end, closes=True)

    # -- declarations ----------------------------------------------------------------
    def declaration(self, decl: n.Declaration) -> None:
        if isinstance(decl, n.Import):
            target = quote(decl.target) if decl.is_file else decl.target
            self.emit(0, f"import {target}", decl.span, 1)
            self.lines[-1].group = "import"
        elif isinstance(decl, n.Role):
            self.emit(0, f"role {decl.name}{_label(decl.label)}", decl.span, 1)
            self.lines[-1].group = "role"
        elif isinstance(decl, n.Entity):
            self.entity(decl)
        elif isinstance(decl, n.Process):
            self.process(decl)
        elif isinstance(decl, n.Rule):
            self.emit(0, f"rule {decl.name}{_label(decl.label)} on {decl.entity} {{", decl.span, 1, opens=True)
            for item in decl.body:
                self.rule_item(1, item)
            self.close(0, decl.end)
        else:
            raise TypeError(f"not a declaration: {decl!r}")

    def entity(self, ent: n.Entity) -> None:
        if ent.extend:
            self.emit(0, f"extend entity {ent.name} {{", ent.span, 2, opens=True)
        else:
            self.emit(0, f"entity {ent.name}{_label(ent.label)} {{", ent.span, 1, opens=True)
        default = [("field", i) for i in range(len(ent.fields))] + [("allow", i) for i in range(len(ent.grants))]
        for kind, i in _ordered(ent.layout, default):
            if kind == "allow":
                grant = ent.grants[i]
                text = (f"allow {', '.join(role.name for role in grant.roles)} to {', '.join(grant.verbs)}"
                        + (" own" if grant.own else ""))
                self.emit(1, text, grant.span, 0, _reach(grant))
                continue
            fld = ent.fields[i]
            text = f"{fld.name}{_label(fld.label)}: {_type_text(fld.type)}"
            text += "".join(" " + _modifier_text(mod) for mod in fld.modifiers)
            self.emit(1, text, fld.span, 0, _reach(fld))
        self.close(0, ent.end)

    def process(self, proc: n.Process) -> None:
        self.emit(0, f"process {proc.name}{_label(proc.label)} on {proc.entity} {{", proc.span, 1, opens=True)
        default = ([("setting", i) for i in range(len(proc.settings))] + [("flow", i) for i in range(len(proc.flow))]
                   + [("hook", i) for i in range(len(proc.hooks))])
        for kind, i in _ordered(proc.layout, default):
            if kind == "setting":
                self.setting(1, proc.settings[i])
            elif kind == "flow":
                self.flow_item(1, proc.flow[i])
            else:
                self.hook(1, proc.hooks[i])
        self.close(0, proc.end)

    def setting(self, depth: int, setting: n.ProcessSetting) -> None:
        value = setting.value
        if setting.kind == "roles" and isinstance(value, tuple):
            text = "roles " + ", ".join(role.name if isinstance(role, n.Role) else str(role) for role in value)
        elif setting.kind == "description" and isinstance(value, str):
            text = f"description {quote(value)}"
        else:
            text = f"{setting.kind} {_number(value)}"
        self.emit(depth, text, setting.span, 0, _reach(setting))

    # -- flow ------------------------------------------------------------------------
    def flow_item(self, depth: int, item: n.FlowItem) -> None:
        if isinstance(item, n.Stage):
            self.stage(depth, item)
        elif isinstance(item, n.Branch):
            self.arms(depth, item.arms, self.flow_item)
        elif isinstance(item, n.Finish):
            text = "finish" if item.outcome is None else f"finish {item.outcome}{_label(item.label)}"
            self.emit(depth, text, item.span, 0, _reach(item.span))
        else:
            raise TypeError(f"not a flow item: {item!r}")

    def stage(self, depth: int, stage: n.Stage) -> None:
        head = f"stage {stage.name}{_label(stage.label)}"
        if stage.category is not None:
            head += f" category {stage.category}"
        if stage.entity is not None:
            head += f" on {stage.entity}"
            if stage.via is not None:
                head += f" via {stage.via}"
        self.emit(depth, head + " {", stage.span, 1, opens=True)
        default = ([("create", 0)] if stage.create is not None else []) + \
            [("step", i) for i in range(len(stage.steps))] + [("hook", i) for i in range(len(stage.hooks))] + \
            ([("roles", 0)] if stage.roles else []) + [("gate", i) for i in range(len(stage.gates))] + \
            ([("sla", 0)] if stage.sla is not None else [])
        inner = depth + 1
        for kind, i in _ordered(stage.layout, default):
            if kind == "create" and stage.create is not None:
                self.create(inner, stage.create)
            elif kind == "step":
                self.step(inner, stage.steps[i])
            elif kind == "roles":
                self.emit(inner, "roles " + ", ".join(role.name for role in stage.roles), stage.roles_span, 0,
                          _reach(stage.roles, stage.roles_span))
            elif kind == "gate":
                gate = stage.gates[i]
                self.emit(inner, f"gate {expr_text(gate.condition)} {quote(gate.message)}", gate.span, 0,
                          _reach(gate))
            elif kind == "sla" and stage.sla is not None:
                self.emit(inner, f"sla {stage.sla.text}", stage.sla.span, 0, _reach(stage.sla))
            else:
                self.hook(inner, stage.hooks[i])
        self.close(depth, stage.end)

    def create(self, depth: int, block: n.CreateBlock) -> None:
        self.emit(depth, "create {", block.span, opens=True)
        for assign in block.assignments:
            self.emit(depth + 1, f"{assign.field} = {expr_text(assign.value)}", assign.span, 0, _reach(assign))
        self.close(depth, block.end)

    def step(self, depth: int, step: n.DataStep | n.ActionStep) -> None:
        required = " required" if step.required else ""
        if isinstance(step, n.DataStep):
            self.emit(depth, f"step {step.field}{_label(step.label)}{required}", step.span, 1)
        else:
            text = f"action {quote(step.label)} call {_call_text(step.call)}{required}"
            self.emit(depth, text, step.span, 0, _reach(step))

    def hook(self, depth: int, hook: n.Hook) -> None:
        self.emit(depth, f"on {hook.event} {{", hook.span, opens=True)
        for action in hook.actions:
            if isinstance(action, n.SetAction):
                text = f"set {action.target.dotted} = {expr_text(action.value)}"
            else:
                text = f"call {_call_text(action.call)}"
            self.emit(depth + 1, text, action.span, 0, _reach(action))
        self.close(depth, hook.end)

    def arms(self, depth: int, arms: Sequence[n.Arm | n.RuleArm], item: Callable[[int, Any], None]) -> None:
        """An ``if`` chain, in flows and in rules alike: ``} else if c {`` shares the ``}`` line."""
        for i, arm in enumerate(arms):
            cond = None if arm.condition is None else expr_text(arm.condition)
            reach = _reach(arm.span, arm.condition)
            if i == 0:
                if cond is None:
                    raise ValueError("an if chain must start with a condition")
                self.emit(depth, f"if {cond} {{", arm.span, 0, reach, opens=True)
            else:
                # The line's first token is the previous arm's `}`.
                text = "} else {" if cond is None else f"}} else if {cond} {{"
                self.emit(depth, text, arms[i - 1].end, 0, reach, opens=True, closes=True)
            for body_item in arm.body:
                item(depth + 1, body_item)
        self.close(depth, arms[-1].end)

    # -- rules -----------------------------------------------------------------------
    def rule_item(self, depth: int, item: n.RuleItem) -> None:
        if isinstance(item, n.RuleIf):
            self.arms(depth, item.arms, self.rule_item)
            return
        if item.kind in ("set", "default"):
            value = "null" if item.value is None else expr_text(item.value)
            text = f"{item.kind} {item.field} = {value}"
        elif item.kind in ("error", "recommend"):
            target = "" if item.field is None else f" {item.field}"
            text = f"{item.kind}{target} {quote(item.message or '')}"
        else:
            text = f"{item.kind} {item.field}"
        self.emit(depth, text, item.span, 0, _reach(item))


# ---------------------------------------------------------------------------
# Where each line starts and ends in the source
# ---------------------------------------------------------------------------

# Mirrors the terminals of grammar/bpf.lark closely enough that every token a
# node's span points at starts a token here too (NAME, NUMBER and STRING are
# copied; punctuation is one token per symbol).
_TOKENS = re.compile(r"""
    (?P<ws>[ \t\r\n\f]+)
  | (?P<comment>\#[^\n]*)
  | (?P<tok>"(?:[^"\\\n]|\\[^\n])*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|[<>!]=|[^ \t\r\n\f])
""", re.VERBOSE)


def _token_positions(text: str) -> list[Pos]:
    """The (line, column) of every token of ``text``, as lark counts them."""
    out: list[Pos] = []
    line, line_start = 1, 0
    for match in _TOKENS.finditer(text):
        if match.lastgroup == "tok":
            out.append((line, match.start() - line_start + 1))
        elif match.lastgroup == "ws":
            newlines = match.group().count("\n")
            if newlines:
                line += newlines
                line_start = match.start() + match.group().rindex("\n") + 1
    return out


def _token_bounds(lines: list[_Line], source: str) -> tuple[list[Pos], list[Pos]] | None:
    """Each line's first and last source token, or None when the source doesn't match the lines."""
    if not lines:
        return [], []
    tokens = _token_positions(source)
    index = {pos: i for i, pos in enumerate(tokens)}
    firsts: list[int] = []
    for line in lines:
        at = index.get(line.anchor)
        if at is None or at - line.back < (firsts[-1] + 1 if firsts else 0):
            return None
        firsts.append(at - line.back)
    lasts = [nxt - 1 for nxt in firsts[1:]] + [len(tokens) - 1]
    return [tokens[i] for i in firsts], [tokens[i] for i in lasts]


def _span_bounds(lines: list[_Line]) -> tuple[list[Pos], list[Pos]]:
    """Each line's start and reach as the spans tell them (kept in order, whatever the spans say)."""
    starts: list[Pos] = []
    ends: list[Pos] = []
    for line in lines:
        start = max(line.anchor, starts[-1]) if starts else line.anchor
        starts.append(start)
        ends.append(max(line.reach, start))
    return starts, ends


# ---------------------------------------------------------------------------
# Pass 2: comments and blank lines
# ---------------------------------------------------------------------------

_BLANK = None  # a blank line, in a gap's sequence of comments and blank lines
_Gap = list[n.Comment | None]


def _place(lines: list[_Line], comments: Sequence[n.Comment], starts: list[Pos], ends: list[Pos]) -> str:
    """Print ``lines`` with every comment and the author's blank lines (normalised) put back."""
    count = len(lines)
    inside: list[list[n.Comment]] = [[] for _ in range(count)]
    trailing: list[n.Comment | None] = [None] * count
    # gap[k + 1] holds what stands after line k; gap[0] is the head of the file.
    gap: list[list[n.Comment]] = [[] for _ in range(count + 1)]
    for comment in sorted(comments, key=lambda c: _pos(c.span)):
        at = _pos(comment.span)
        k = bisect.bisect_right(starts, at) - 1
        if k >= 0 and at < ends[k]:
            inside[k].append(comment)
        elif k >= 0 and comment.span.line == ends[k][0] and trailing[k] is None:
            trailing[k] = comment
        else:
            gap[k + 1].append(comment)

    out: list[str] = []
    for k in range(-1, count):
        if k >= 0:
            line = lines[k]
            text = INDENT * line.depth + line.text
            if trailing[k] is not None:
                text += "  " + _comment_text(trailing[k])
            out.append(text)
        nxt = lines[k + 1] if k + 1 < count else None
        # The source lines between this line's last token and the next line's first one
        # hold only comments and blank lines: every line without a comment was blank.
        low = ends[k][0] if k >= 0 else 0
        high = starts[k + 1][0] if nxt is not None else None
        seq: _Gap = []
        previous = low
        for comment in gap[k + 1]:
            if comment.span.line - previous > 1:
                seq.append(_BLANK)
            seq.append(comment)
            previous = comment.span.line
        if high is not None and high - previous > 1:
            seq.append(_BLANK)
        if nxt is not None:
            seq.extend(inside[k + 1])  # comments from within the next line's tokens go just before it
        seq = _normalise(
            seq,
            strip_start=k < 0 or lines[k].opens,
            strip_end=nxt is None or nxt.closes,
            # One blank line between declarations, except that a run of imports, or of roles,
            # may stay together as the author grouped it.
            blank_first=(k >= 0 and nxt is not None and nxt.decl_start
                         and not (lines[k].group and lines[k].group == nxt.group)),
        )
        # A comment belongs to what follows it: indented as the next line, or as the
        # items of the block that the next `}` closes.
        depth = 0 if nxt is None else nxt.depth + (1 if nxt.closes else 0)
        out.extend("" if item is None else INDENT * depth + _comment_text(item) for item in seq)
    return "\n".join(out) + "\n" if out else ""


def _comment_text(comment: n.Comment | None) -> str:
    # Trailing whitespace (and the \r of a CRLF file) is never part of what a comment says.
    return "" if comment is None else comment.text.rstrip()


def _normalise(seq: _Gap, *, strip_start: bool, strip_end: bool, blank_first: bool) -> _Gap:
    """Collapse blank-line runs; none right after ``{`` or before ``}``; one between declarations.

    Idempotent, which the whole formatter's idempotency rests on.
    """
    out: _Gap = []
    for item in seq:
        if item is _BLANK and ((not out and strip_start) or (out and out[-1] is _BLANK)):
            continue
        out.append(item)
    while strip_end and out and out[-1] is _BLANK:
        out.pop()
    if blank_first and (not out or out[0] is not _BLANK):
        out.insert(0, _BLANK)
    return out
