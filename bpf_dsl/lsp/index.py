"""What each name in a file means: every declaration and every use of an entity, field, role, process,
stage or option, with where it stands, read from the AST and the checker's resolutions.

A :class:`Symbol` is named by its kind, its name, what contains it and **where it is declared**:
two unrelated files that both declare an entity `account` declare two symbols, so references and
renames never cross from one program into another. Uses that are not symbols (a call of an
action or a function, a category, a built-in column) are kept as :class:`Info` for hover and
semantic tokens.

Names in expressions resolve where the checker resolved them (``CheckResult.resolutions``,
keyed by the identity of each name's node), against the entity in scope at that place
(docs/language.md, "Where names resolve in a process"): the stage's entity in a stage, the
entity of the stage before a chain in its conditions, the record the ``via`` lookup points at on
the right of ``create``, the primary entity in process hooks, the rule's entity in a rule.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from bpf_dsl import nodes as n
from bpf_dsl.checker import CheckResult, FieldPath, OptionValue
from bpf_dsl.model import OPTION_KINDS, EntitySpec, FieldSpec

ENTITY, FIELD, ROLE, PROCESS, STAGE, OPTION, RULE = "entity", "field", "role", "process", "stage", "option", "rule"


class Symbol(NamedTuple):
    """A declared name: kind, name, container (the entity of a field, the process of a stage, ``entity.field``
    of an option) and where its declaration names it."""

    kind: str
    name: str
    container: str
    file: str
    line: int
    column: int

    @property
    def span(self) -> n.Span:
        """Where the declaration writes the name."""
        return n.Span(self.file, self.line, self.column, self.line, self.column + len(self.name))


class Occurrence(NamedTuple):
    """A place in a file that names a symbol (its declaration, or a use)."""

    span: n.Span
    symbol: Symbol
    declaration: bool


class Info(NamedTuple):
    """A name that is no declared symbol: ``action``/``function`` (dotted), ``category``, ``column``, ``argument``
    (``ns.action.arg``), ``event``."""

    span: n.Span
    kind: str
    name: str


@dataclass
class FileIndex:
    """The occurrences and infos of one file, in text order, and the check they were read from."""

    path: str
    check: CheckResult
    module: n.Module
    text: str = ""  # the text the module was parsed from (its spans are measured on it)
    occurrences: list[Occurrence] = field(default_factory=list)
    infos: list[Info] = field(default_factory=list)
    #: Symbols declared anywhere in the unit, by (kind, container, name): what a name written here may mean.
    symbols: dict[tuple[str, str, str], Symbol] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._starts: list[tuple[int, int]] = []

    def finish(self) -> None:
        """Sort what was found (the walk goes declaration by declaration)."""
        self.occurrences.sort(key=lambda o: (o.span.line, o.span.column))
        self.infos.sort(key=lambda i: (i.span.line, i.span.column))
        self._starts = [(o.span.line, o.span.column) for o in self.occurrences]

    def at(self, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based line and column (a cursor just after a name is on it)."""
        i = bisect.bisect_right(self._starts, (line, column))
        for o in self.occurrences[max(0, i - 2):i]:
            s = o.span
            if s.line == line and s.column <= column <= (s.end_column or s.column + 1):
                return o
        return None

    def info_at(self, line: int, column: int) -> Info | None:
        """The info under a 1-based line and column."""
        for info in self.infos:
            s = info.span
            if s.line == line and s.column <= column <= (s.end_column or s.column + 1):
                return info
            if s.line > line:
                break
        return None

    def of(self, symbol: Symbol) -> list[Occurrence]:
        """The occurrences of ``symbol`` in this file."""
        return [o for o in self.occurrences if o.symbol == symbol]

    def entity(self, name: str) -> EntitySpec | None:
        """An entity of the unit's model."""
        return self.check.entities.get(name)


def declared_symbols(modules: tuple[n.Module, ...] | list[n.Module]) -> dict[tuple[str, str, str], Symbol]:
    """Every declaration of a unit's modules as a symbol, keyed by (kind, container, name); the first wins."""
    out: dict[tuple[str, str, str], Symbol] = {}

    def add(kind: str, container: str, name: str, span: n.Span) -> None:
        out.setdefault((kind, container, name), Symbol(kind, name, container, span.file, span.line, span.column))

    for module in modules:
        for d in module.declarations:
            if isinstance(d, n.Role):
                add(ROLE, "", d.name, d.span)
            elif isinstance(d, n.Entity) and not d.extend:
                add(ENTITY, "", d.name, d.span)
            elif isinstance(d, n.Process):
                add(PROCESS, "", d.name, d.span)
                for s in n.stages(d.flow):
                    add(STAGE, d.name, s.name, s.span)
            elif isinstance(d, n.Rule):
                add(RULE, "", d.name, d.span)
    for module in modules:  # fields and options after the entities: an extension may come first
        for d in module.declarations:
            if isinstance(d, n.Entity):
                for f in d.fields:
                    add(FIELD, d.name, f.name, f.span)
                    for o in f.type.args or () if f.type.name in OPTION_KINDS else ():
                        add(OPTION, f"{d.name}.{f.name}", o.name, o.span)
    return out


def build_index(path: str, module: n.Module, check: CheckResult,
                symbols: dict[tuple[str, str, str], Symbol], text: str = "") -> FileIndex:
    """The index of ``module`` (the file ``path``, parsed from ``text``), read with the check of a unit it
    belongs to."""
    index = FileIndex(path, check, module, text, symbols=symbols)
    _Walker(index).module(module)
    index.finish()
    return index


_Choice = tuple[str, str] | None  # (entity, field) of the choice an option name belongs to


class _Walker:
    """Fills a :class:`FileIndex`, one declaration at a time (expressions with an explicit stack)."""

    def __init__(self, index: FileIndex) -> None:
        self.index = index
        self.check = index.check
        self.symbols = index.symbols

    # -- recording ---------------------------------------------------------------------------
    def use(self, kind: str, container: str, name: str, span: n.Span, declaration: bool = False) -> None:
        symbol = self.symbols.get((kind, container, name))
        if symbol is not None and span != n.NO_SPAN:
            self.index.occurrences.append(Occurrence(span, symbol, declaration))

    def info(self, kind: str, name: str, span: n.Span) -> None:
        if span != n.NO_SPAN:
            self.index.infos.append(Info(span, kind, name))

    def field_of(self, entity: str | None, name: str) -> FieldSpec | None:
        spec = self.check.entities.get(entity or "")
        return None if spec is None else spec.fields.get(name)

    def field_use(self, entity: str | None, name: str, span: n.Span) -> None:
        if entity is None:
            return
        if self.field_of(entity, name) is None:
            if name in ("id", "created_at", "updated_at", "version", "owner", "created_by"):
                self.info("column", name, span)
            return
        self.use(FIELD, entity, name, span)

    # -- declarations ----------------------------------------------------------------------------
    def module(self, module: n.Module) -> None:
        for d in module.declarations:
            if isinstance(d, n.Role):
                self.use(ROLE, "", d.name, d.span, True)
            elif isinstance(d, n.Entity):
                self.entity(d)
            elif isinstance(d, n.Process):
                self.process(d)
            elif isinstance(d, n.Rule):
                self.rule(d)

    def entity(self, e: n.Entity) -> None:
        self.use(ENTITY, "", e.name, e.span, not e.extend)
        for f in e.fields:
            self.use(FIELD, e.name, f.name, f.span, True)
            t = f.type
            if t.name == "lookup" and t.args:
                self.use(ENTITY, "", t.args[0].name, t.args[0].span)
            elif t.name in OPTION_KINDS:
                for o in t.args or ():
                    self.use(OPTION, f"{e.name}.{f.name}", o.name, o.span, True)
            for m in f.modifiers:
                if m.kind == "default" and isinstance(m.value, n.Ref):
                    self.use(OPTION, f"{e.name}.{f.name}", m.value.parts[0], m.value.span)
                for r in m.roles:
                    self.use(ROLE, "", r.name, r.span)
        for g in e.grants:
            for r in g.roles:
                self.use(ROLE, "", r.name, r.span)

    def process(self, p: n.Process) -> None:
        self.use(PROCESS, "", p.name, p.span, True)
        self.use(ENTITY, "", p.entity, p.entity_span)
        for s in p.settings:
            if s.kind == "roles" and isinstance(s.value, tuple):
                for r in s.value:
                    self.use(ROLE, "", r.name, r.span)
        self.flow(p, p.flow, p.entity)
        for hook in p.hooks:
            self.info("event", hook.event, hook.span)
            self.hook(hook, p.entity)

    def flow(self, p: n.Process, items: tuple[n.FlowItem, ...], last: str) -> str:
        """Walk a block of the flow; the entity of its last stage (the scope of a condition after it)."""
        for item in items:
            if isinstance(item, n.Stage):
                last = self.stage(p, item)
            elif isinstance(item, n.Branch):
                ends = set()
                for arm in item.arms:
                    if arm.condition is not None:
                        self.expr(arm.condition, last)
                    ends.add(self.flow(p, arm.body, last))
                if not item.has_else:
                    ends.add(last)
                last = ends.pop() if len(ends) == 1 else p.entity
        return last

    def stage(self, p: n.Process, s: n.Stage) -> str:
        entity = s.entity or p.entity
        self.use(STAGE, p.name, s.name, s.span, True)
        if s.category is not None:
            self.info("category", s.category, s.category_span)
        if s.entity is not None:
            self.use(ENTITY, "", s.entity, s.entity_span)
        target = None
        if s.via is not None:
            self.field_use(entity, s.via, s.via_span)
            via = self.field_of(entity, s.via)
            target = via.type.entity if via is not None else None
        if s.create is not None:
            for a in s.create.assignments:
                self.field_use(entity, a.field, a.span)
                self.expr(a.value, target, self._choice(entity, a.field))
        for step in s.steps:
            if isinstance(step, n.DataStep):
                self.field_use(entity, step.field, step.span)
            else:
                self.call(step.call, entity)
        for r in s.roles:
            self.use(ROLE, "", r.name, r.span)
        for gate in s.gates:
            self.expr(gate.condition, entity)
        for hook in s.hooks:
            self.info("event", hook.event, hook.span)
            self.hook(hook, entity)
        return entity

    def hook(self, hook: n.Hook, entity: str) -> None:
        for action in hook.actions:
            if isinstance(action, n.CallAction):
                self.call(action.call, entity)
                continue
            parts = action.target.parts
            if len(parts) == 1:
                self.field_use(entity, parts[0], action.target.span)
                self.expr(action.value, entity, self._choice(entity, parts[0]))
            else:
                self.use(ENTITY, "", parts[0], n.part_span(action.target, 0))
                self.field_use(parts[0], parts[1], n.part_span(action.target, 1))
                self.expr(action.value, entity, self._choice(parts[0], parts[1]))

    def call(self, call: n.ActionCall, entity: str) -> None:
        self.info("action", call.dotted, n.Span(call.span.file, call.span.line, call.span.column, call.span.line,
                                                call.span.column + len(call.dotted)))
        for arg in call.args:
            self.info("argument", f"{call.dotted}.{arg.name}", n.Span(arg.span.file, arg.span.line,
                                                                       arg.span.column, arg.span.line,
                                                                       arg.span.column + len(arg.name)))
            if call.dotted == "bpf.notify" and arg.name == "role" and isinstance(arg.value, n.Literal) \
                    and arg.value.kind == "text":
                s = arg.value.span  # the role's name inside the quotes
                self.use(ROLE, "", str(arg.value.value), n.Span(s.file, s.line, s.column + 1, s.line,
                                                               s.column + 1 + len(str(arg.value.value))))
            self.expr(arg.value, entity)

    def rule(self, r: n.Rule) -> None:
        self.use(RULE, "", r.name, r.span, True)
        self.use(ENTITY, "", r.entity, r.entity_span)
        for item in n.walk_rule(r.body):
            if isinstance(item, n.RuleArm):
                if item.condition is not None:
                    self.expr(item.condition, r.entity)
                continue
            if item.field is not None:
                self.field_use(r.entity, item.field, item.field_span)
            if item.value is not None:
                self.expr(item.value, r.entity, self._choice(r.entity, item.field))

    # -- expressions ----------------------------------------------------------------------------
    def _choice(self, entity: str | None, name: str | None) -> _Choice:
        spec = self.field_of(entity, name or "") if name else None
        return (entity, name) if spec is not None and spec.type.kind in OPTION_KINDS and entity and name else None

    def _field_path(self, e: n.Expr, scope: str | None) -> _Choice:
        """The (entity, field) a name reads, when it reads a choice (what a bare option beside it belongs to)."""
        while isinstance(e, n.Paren):
            e = e.inner
        if not isinstance(e, n.Ref):
            return None
        res = self.check.resolutions.get(id(e))
        if not isinstance(res, FieldPath):
            return None
        entity, spec = self._follow(res.source or scope, res.path)
        return self._choice(entity, spec.name) if spec is not None else None

    def _follow(self, entity: str | None, path: tuple[str, ...]) -> tuple[str | None, FieldSpec | None]:
        spec = None
        for i, part in enumerate(path):
            if i:
                if spec is None or spec.type.kind != "lookup":
                    return None, None
                entity = spec.type.entity
            spec = self.field_of(entity, part)
            if spec is None:
                return entity, None
        return entity, spec

    def expr(self, root: n.Expr, scope: str | None, choice: _Choice = None) -> None:
        stack: list[tuple[n.Expr, _Choice]] = [(root, choice)]
        while stack:
            e, expected = stack.pop()
            if isinstance(e, n.Ref):
                self.ref(e, scope, expected)
            elif isinstance(e, n.Binary):
                left: _Choice = None
                right: _Choice = None
                if e.op in ("=", "!=", "contains"):
                    left, right = self._field_path(e.right, scope), self._field_path(e.left, scope)
                stack += ((e.left, left), (e.right, right))
            elif isinstance(e, n.InList):
                owner = self._field_path(e.operand, scope)
                stack.append((e.operand, None))
                stack += ((item, owner) for item in e.items)
            elif isinstance(e, n.Unary | n.IsEmpty):
                stack.append((e.operand, None))
            elif isinstance(e, n.Paren):
                stack.append((e.inner, expected))
            elif isinstance(e, n.Call):
                self.info("function", e.dotted, n.Span(e.span.file, e.span.line, e.span.column, e.span.line,
                                                       e.span.column + len(e.dotted)))
                stack += ((a, expected if e.dotted == "coalesce" else None) for a in e.args)
            elif isinstance(e, n.Literal) and e.kind == "text" and expected is not None:
                s = e.span  # "open" where a choice is expected names its option
                self.use(OPTION, f"{expected[0]}.{expected[1]}", str(e.value),
                         n.Span(s.file, s.line, s.column + 1, s.line, s.column + 1 + len(str(e.value))))

    def ref(self, ref: n.Ref, scope: str | None, expected: _Choice) -> None:
        res = self.check.resolutions.get(id(ref))
        if isinstance(res, OptionValue):
            if expected is not None:
                self.use(OPTION, f"{expected[0]}.{expected[1]}", res.name, ref.span)
            return
        if not isinstance(res, FieldPath):
            return
        entity = scope
        offset = 0
        if res.source is not None:
            self.use(ENTITY, "", res.source, n.part_span(ref, 0))
            entity, offset = res.source, 1
        spec: FieldSpec | None = None
        for i, part in enumerate(res.path):
            if i:
                if spec is None or spec.type.kind != "lookup":
                    return
                entity = spec.type.entity
            self.field_use(entity, part, n.part_span(ref, offset + i))
            spec = self.field_of(entity, part)


def occurrences_in(indexes: list[FileIndex], symbol: Symbol) -> Iterator[Occurrence]:
    """Every occurrence of ``symbol`` in ``indexes``."""
    for index in indexes:
        yield from index.of(symbol)
