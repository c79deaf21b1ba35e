"""Checked AST → immutable process definitions and compiled rules, ready for the engine.

A :class:`ProcessDefinition` indexes its stages (0 is where every instance
starts) and keeps the branch structure as a table: ``next[i]`` says where stage
``i`` leads, either a stage index, :data:`END`, or a :class:`Decision` whose arms
are compiled conditions. ``version`` is a hash of the process's meaning, so
re-formatting a file never makes a new version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from bpf_dsl import nodes as n
from bpf_dsl.checker import CheckResult
from bpf_dsl.checker.context import snake_case
from bpf_dsl.expr import Compiled, Env, ExprCompiler, truthy
from bpf_dsl.exprtext import expr_text
from bpf_dsl.model import EntitySpec, label_of
from bpf_dsl.plugins import ActionSpec, Registry

END = -1
"""Where a flow ends. A ``finish OUTCOME`` ends it with that outcome: the target ``-2 - k`` for
``ProcessDefinition.outcomes[k]`` (:meth:`ProcessDefinition.successor` answers END for every end)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A branch point: the first arm whose condition holds, else ``default``."""

    arms: tuple[tuple[Compiled, str, Target], ...]  # (condition, its source text, target)
    default: Target
    scope_entity: str  # the entity whose record the conditions read (the stage before the chain)


Target = int | Decision


@dataclass(frozen=True, slots=True)
class CompiledCall:
    """An action call with compiled arguments."""

    action: ActionSpec
    args: tuple[tuple[str, Compiled], ...]


@dataclass(frozen=True, slots=True)
class HookStep:
    """One hook action: ``set`` (``entity`` None = the scope's record) or ``call``."""

    kind: str
    entity: str | None = None
    field: str | None = None
    value: Compiled | None = None
    call: CompiledCall | None = None


@dataclass(frozen=True, slots=True)
class StepDef:
    """A step of a stage: ``kind`` is ``data`` (bound to ``field``) or ``action`` (runs ``call``)."""

    name: str
    label: str
    kind: str
    field: str | None
    required: bool
    call: CompiledCall | None = None


@dataclass(frozen=True, slots=True)
class StageDef:
    """A stage, with its index in :attr:`ProcessDefinition.stages`."""

    index: int
    name: str
    label: str
    category: str | None
    entity: str
    via: str | None
    via_entity: str | None  # the entity the `via` lookup points at
    create: tuple[tuple[str, Compiled], ...] | None  # its `create` block's values; None: it has none
    steps: tuple[StepDef, ...]
    on_enter: tuple[HookStep, ...]
    on_exit: tuple[HookStep, ...]
    # Precomputed for the gate, which runs on every move: whether anything here can ever be
    # required (a required step, a required field, or a rule that switches a step's field),
    # and whether rules can change a step's requirement or visibility (then they must run).
    may_gate: bool = True
    rules_matter: bool = True
    #: ``roles``: who may move the instance out of this stage (forward, back, finish); empty: every role of
    #: the process.
    roles: tuple[str, ...] = ()
    #: ``gate CONDITION "message"``: (condition, message), each must hold to leave forward or finish here.
    gates: tuple[tuple[Compiled, str], ...] = ()
    #: ``sla``: how long a visit may take, in seconds, and as written (``3d``); None: no time limit.
    sla_seconds: int | None = None
    sla_text: str | None = None
    on_overdue: tuple[HookStep, ...] = ()

    def may_leave(self, roles: frozenset[str]) -> bool:
        """Whether a caller with ``roles`` may move the instance out of this stage (``admin`` always may)."""
        return not self.roles or "admin" in roles or not roles.isdisjoint(self.roles)


@dataclass(frozen=True, slots=True)
class ProcessDefinition:
    """A compiled, immutable process."""

    name: str
    label: str
    entity: str
    order: int
    roles: tuple[str, ...]
    description: str
    version_of: Callable[[], str] = field(compare=False, repr=False)
    stages: tuple[StageDef, ...] = ()
    next: tuple[Target, ...] = ()
    hooks: Mapping[str, tuple[HookStep, ...]] = field(default_factory=dict)
    entities: tuple[str, ...] = ()
    by_name: Mapping[str, int] = field(default_factory=dict)
    _version: list[str] = field(default_factory=list, compare=False, repr=False)
    #: The outcomes named by ``finish OUTCOME "Label"``: (name, label), indexed as :data:`END` explains.
    outcomes: tuple[tuple[str, str], ...] = ()

    @property
    def version(self) -> str:
        """A hash of the process's meaning, computed on first use (checking never needs it)."""
        if not self._version:
            self._version.append(self.version_of())
        return self._version[0]

    def stage(self, name: str) -> StageDef | None:
        """The stage called ``name``, if any."""
        i = self.by_name.get(name)
        return None if i is None else self.stages[i]

    def successor(self, index: int, env_for: Any) -> int:
        """The stage after ``index`` on current data, or :data:`END`.

        ``env_for(entity_name)`` gives the :class:`~bpf_dsl.expr.Env` whose scope is that
        entity's bound record (conditions read the entity of the stage before the chain).
        """
        target = self._resolve(index, env_for)
        return END if target < 0 else target

    def outcome_after(self, index: int, env_for: Any) -> str | None:
        """The outcome the flow ends with after ``index`` on current data (None: it goes on, or ends without
        one)."""
        target = self._resolve(index, env_for)
        return self.outcomes[-2 - target][0] if target <= -2 else None

    def _resolve(self, index: int, env_for: Any) -> int:
        target = self.next[index]
        while isinstance(target, Decision):
            env: Env = env_for(target.scope_entity)
            for cond, _text, arm_target in target.arms:
                if truthy(cond(env)):
                    target = arm_target
                    break
            else:
                target = target.default
        return target

    def predicted_path(self, index: int, env_for: Any) -> list[int]:
        """Stages from ``index`` (included) to the end, as the current data selects them."""
        path = [index]
        seen = {index}
        nxt = self.successor(index, env_for)
        while nxt != END and nxt not in seen:
            path.append(nxt)
            seen.add(nxt)
            nxt = self.successor(nxt, env_for)
        return path


@dataclass(frozen=True, slots=True)
class RuleAction:
    """A compiled rule action (LANGUAGE.md, business rules)."""

    kind: str
    field: str | None
    value: Compiled | None
    message: str | None


@dataclass(frozen=True, slots=True)
class RuleBranch:
    """A compiled ``if`` chain of a rule: arms of (condition or None for else, body)."""

    arms: tuple[tuple[Compiled | None, tuple[RuleItem, ...]], ...]


RuleItem = RuleAction | RuleBranch


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A business rule, ready to run on a record of ``entity``."""

    name: str
    label: str
    entity: str
    body: tuple[RuleItem, ...]


class _Compiler:
    def __init__(self, checked: CheckResult, registry: Registry) -> None:
        self.checked = checked
        self.registry = registry
        self.exprs = ExprCompiler(checked.resolutions, registry)
        # Per entity, the fields some rule may require, make optional, hide or show.
        self.switched: dict[str, frozenset[str]] = {}
        for rule in checked.rules:
            found = {a.field for a in n.rule_actions(rule.body)
                     if a.kind in ("require", "optional", "hide", "show") and a.field is not None}
            self.switched[rule.entity] = self.switched.get(rule.entity, frozenset()) | found

    def call(self, c: n.ActionCall) -> CompiledCall:
        return CompiledCall(self.registry.actions[c.dotted],
                            tuple((a.name, self.exprs.compile(a.value)) for a in c.args))

    def hook(self, hook: n.Hook) -> tuple[HookStep, ...]:
        out: list[HookStep] = []
        for a in hook.actions:
            if isinstance(a, n.CallAction):
                out.append(HookStep("call", call=self.call(a.call)))
            else:
                parts = a.target.parts
                entity = parts[0] if len(parts) == 2 else None
                out.append(HookStep("set", entity, parts[-1], self.exprs.compile(a.value)))
        return tuple(out)

    def process(self, p: n.Process) -> ProcessDefinition:
        stages = n.stages(p.flow)
        index = {id(s): i for i, s in enumerate(stages)}
        entity_of = {id(s): s.entity or p.entity for s in stages}
        nxt: list[Target] = [END] * len(stages)
        outcomes: dict[str, str] = {}  # name → label, in first-seen order
        for finish in _finishes(p.flow):
            if finish.outcome is not None and finish.outcome not in outcomes:
                outcomes[finish.outcome] = label_of(finish.outcome, finish.label)
        outcome_index = {name: i for i, name in enumerate(outcomes)}

        def link(items: tuple[n.FlowItem, ...], cont: Target, before: str) -> Target:
            # Walks a block backwards so each item knows what follows it.
            target = cont
            positions = list(enumerate(items))
            for pos, item in reversed(positions):
                if isinstance(item, n.Finish):
                    target = END if item.outcome is None else -2 - outcome_index[item.outcome]
                elif isinstance(item, n.Stage):
                    nxt[index[id(item)]] = target
                    target = index[id(item)]
                else:
                    scope = _entity_before(items, pos, before, entity_of)
                    arms: list[tuple[Compiled, str, Target]] = []
                    default: Target = target
                    for arm in item.arms:
                        entry = link(arm.body, target, scope)
                        if arm.condition is None:
                            default = entry
                        else:
                            arms.append((self.exprs.compile(arm.condition), expr_text(arm.condition), entry))
                    target = Decision(tuple(arms), default, scope)
            return target

        link(p.flow, END, p.entity)
        defs = []
        for i, s in enumerate(stages):
            entity = s.entity or p.entity
            via_entity = None
            if s.via is not None:
                via_entity = self.checked.entities[entity].fields[s.via].type.entity
            fields = self.checked.entities[entity].fields
            steps = tuple(
                StepDef(st.field, st.label if st.label is not None else fields[st.field].label, "data", st.field,
                        st.required) if isinstance(st, n.DataStep) else
                StepDef(snake_case(st.label), st.label, "action", None, st.required, self.call(st.call))
                for st in s.steps
            )
            create = None if s.create is None else \
                tuple((a.field, self.exprs.compile(a.value)) for a in s.create.assignments)
            hooks = {h.event: self.hook(h) for h in s.hooks}
            switched = self.switched.get(entity, frozenset())
            rules_matter = any(st.field in switched for st in steps if st.field is not None)
            may_gate = rules_matter or any(st.required or (st.field is not None and fields[st.field].required)
                                           for st in steps)
            gates = tuple((self.exprs.compile(g.condition), g.message) for g in s.gates)
            defs.append(StageDef(i, s.name, label_of(s.name, s.label), s.category, entity, s.via, via_entity, create,
                                 steps, hooks.get("enter", ()), hooks.get("exit", ()), may_gate or bool(gates),
                                 rules_matter, tuple(r.name for r in s.roles), gates,
                                 None if s.sla is None else s.sla.seconds, None if s.sla is None else s.sla.text,
                                 hooks.get("overdue", ())))
        order = p.setting("order")
        roles = p.setting("roles")
        desc = p.setting("description")
        entities = tuple(dict.fromkeys(d.entity for d in defs)) or (p.entity,)
        return ProcessDefinition(
            p.name, label_of(p.name, p.label), p.entity,
            int(order.value) if order is not None and isinstance(order.value, int) else 1000,
            tuple(r.name for r in roles.value) if roles is not None and isinstance(roles.value, tuple) else (),
            str(desc.value) if desc is not None else "",
            _lazy_version(p, [self.checked.entities[e] for e in entities]),
            tuple(defs), tuple(nxt), {h.event: self.hook(h) for h in p.hooks}, entities,
            {d.name: d.index for d in defs}, outcomes=tuple(outcomes.items()),
        )

    def rule(self, r: n.Rule) -> CompiledRule:
        def body(items: tuple[n.RuleItem, ...]) -> tuple[RuleItem, ...]:
            out: list[RuleItem] = []
            for item in items:
                if isinstance(item, n.RuleIf):
                    out.append(RuleBranch(tuple(
                        (None if arm.condition is None else self.exprs.compile(arm.condition), body(arm.body))
                        for arm in item.arms)))
                else:
                    value = None if item.value is None else self.exprs.compile(item.value)
                    out.append(RuleAction(item.kind, item.field, value, item.message))
            return tuple(out)

        return CompiledRule(r.name, label_of(r.name, r.label), r.entity, body(r.body))


def _finishes(items: tuple[n.FlowItem, ...]) -> list[n.Finish]:
    """Every ``finish`` of a flow, inside its branches too, in text order."""
    out: list[n.Finish] = []
    stack: list[n.FlowItem] = list(reversed(items))
    while stack:
        item = stack.pop()
        if isinstance(item, n.Finish):
            out.append(item)
        elif isinstance(item, n.Branch):
            for arm in reversed(item.arms):
                stack.extend(reversed(arm.body))
    return out


def _entity_before(items: tuple[n.FlowItem, ...], pos: int, before: str, entity_of: dict[int, str]) -> str:
    # A condition reads the entity of the stage just before its chain (LANGUAGE.md).
    for item in reversed(items[:pos]):
        if isinstance(item, n.Stage):
            return entity_of[id(item)]
    return before


def _lazy_version(p: n.Process, entities: list[EntitySpec]) -> Callable[[], str]:
    return lambda: process_version(p, entities)


def process_version(p: n.Process, entities: list[EntitySpec]) -> str:
    """A hash of what the process means: its AST (no positions, no comments) and its entities' fields."""
    h = hashlib.sha256()
    h.update(node_repr(p).encode())
    for e in sorted(entities, key=lambda x: x.name):
        h.update(repr((e.name, e.fields)).encode())
    return h.hexdigest()[:16]


class _Raw(str):
    """Text :func:`node_repr` emits as is (a plain ``str`` is a value, shown by ``repr``)."""

    __slots__ = ()


def node_repr(node: object) -> str:
    """``repr(node)`` of an AST node, exactly, without recursion.

    Versions are hashes of this text, so it must never change for a given tree; but a
    chain of operators (``a and b and ...``) may be thousands of nodes deep, where the
    dataclasses' own ``repr`` would exceed Python's recursion limit.
    """
    out: list[str] = []
    stack: list[object] = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, _Raw):
            out.append(x)
        elif is_dataclass(x) and not isinstance(x, type):
            items: list[object] = [_Raw(type(x).__qualname__ + "(")]
            # A field the second round added counts only where it is used: the versions of processes
            # that don't use it stay what they were.
            shown = (f for f in fields(x)
                     if f.repr or (f.metadata.get("later") and getattr(x, f.name) != f.default))
            for i, f in enumerate(shown):
                items += (_Raw(f"{', ' if i else ''}{f.name}="), getattr(x, f.name))
            items.append(_Raw(")"))
            stack.extend(reversed(items))
        elif type(x) is tuple:
            parts: list[object] = [_Raw("(")]
            for i, item in enumerate(x):
                parts += (_Raw(", "), item) if i else (item,)
            parts.append(_Raw(",)" if len(x) == 1 else ")"))
            stack.extend(reversed(parts))
        else:
            out.append(repr(x))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Program:
    """Everything loaded from a set of .bpf files, checked and compiled."""

    entities: Mapping[str, EntitySpec]
    roles: Mapping[str, Any]
    processes: Mapping[str, ProcessDefinition]
    rules: Mapping[str, tuple[CompiledRule, ...]]
    warnings: tuple[Any, ...] = ()
    # (path, text) of every module, imports first: what a stored version is rebuilt from.
    sources: tuple[tuple[str, str], ...] = ()
    # The checked AST of every process, by name: what its diagram is drawn from (no source is parsed twice).
    process_nodes: Mapping[str, n.Process] = field(default_factory=dict, compare=False, repr=False)
    # The checked AST of every business rule: what tells whether reads may depend on the clock.
    rule_nodes: tuple[n.Rule, ...] = field(default=(), compare=False, repr=False)

    def processes_on(self, entity: str) -> list[ProcessDefinition]:
        """The processes whose primary entity is ``entity``, lowest order first."""
        return sorted((p for p in self.processes.values() if p.entity == entity), key=lambda p: (p.order, p.name))


def compile_program(checked: CheckResult, registry: Registry) -> Program:
    """Compile a checked program (``checked.ok`` must hold)."""
    c = _Compiler(checked, registry)
    processes = {p.name: c.process(p) for p in checked.processes}
    rules: dict[str, list[CompiledRule]] = {}
    for r in checked.rules:
        rules.setdefault(r.entity, []).append(c.rule(r))
    return Program(dict(checked.entities), dict(checked.roles), processes,
                   {k: tuple(v) for k, v in rules.items()},
                   tuple(d for d in checked.diagnostics if not d.is_error),
                   process_nodes={p.name: p for p in checked.processes}, rule_nodes=tuple(checked.rules))
