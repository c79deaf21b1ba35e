"""The flow pass: each process's settings, stages, steps, branches, bindings and hooks.

It walks the flow as the engine will, carrying a :class:`PathState` (which
entities have a bound record, which fields earlier steps ask for, the entity of
the last stage) through stages and branches, so that "a stage on an entity with
no bound record" and "a condition reading a field no step asks for" are proved
on every path, not guessed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bpf_dsl import nodes as n
from bpf_dsl.checker.arms import ArmReader, Box, covered
from bpf_dsl.checker.context import Context, FieldPath, builtin_column_target, did_you_mean, listing, snake_case
from bpf_dsl.checker.expressions import Scope, Typer, VType, accepts, literal_of, param_words, refs_in
from bpf_dsl.exprtext import expr_text
from bpf_dsl.model import BUILTIN_COLUMNS, EntitySpec
from bpf_dsl.nodes import stages

STAGE_EVENTS = ("enter", "exit", "overdue")
PROCESS_EVENTS = ("start", "finish", "abandon", "reactivate")
MAX_STAGES, MAX_STEPS, MAX_ENTITIES, MAX_PROCESSES = 30, 30, 5, 10


@dataclass(frozen=True, slots=True)
class PathState:
    """What holds on one way through the flow, at one point."""

    bound: frozenset[str]
    asked: frozenset[tuple[str, str]]
    last: EntitySpec


class FlowChecker:
    """Checks one process."""

    def __init__(self, ctx: Context, typer: Typer, process: n.Process, primary: EntitySpec) -> None:
        self.ctx = ctx
        self.typer = typer
        self.process = process
        self.primary = primary
        self.ends: list[PathState] = []
        self.everywhere: set[str] = {primary.name}
        self.stage_names: dict[str, n.Span] = {}
        self.stage_count = 0

    def run(self) -> None:
        p = self.process
        self.settings()
        first = p.flow[0] if p.flow else None
        if not isinstance(first, n.Stage):
            span = first.span if first is not None else p.span
            if not any(isinstance(i, n.Stage | n.Branch) for i in p.flow):
                self.ctx.error("BPF050", f"the process `{p.name}` has no stages", span,
                               "add `stage NAME { step FIELD }`")
            else:
                self.ctx.error("BPF051", f"the process `{p.name}` must start with a stage", span,
                               f"put a stage on `{p.entity}` before the first `if`")
        elif first.entity not in (None, p.entity):
            self.ctx.error("BPF051", f"the first stage must be on `{p.entity}`, the process's entity",
                           _at(first.entity_span, first.span),
                           "every instance starts on its primary record; remove `on ...` from the first stage")
        start = PathState(frozenset({self.primary.name}), frozenset(), self.primary)
        end = self.walk(p.flow, start)
        if end is not None:
            self.ends.append(end)
        if self.stage_count > MAX_STAGES:
            self.ctx.warn("BPF090", f"`{p.name}` has {self.stage_count} stages; D365 allows {MAX_STAGES}", p.span,
                          "a limit of D365, not of bpf: fine here, but the process won't port back")
        if len(self.everywhere) > MAX_ENTITIES:
            self.ctx.warn("BPF092", f"`{p.name}` spans {len(self.everywhere)} entities; D365 allows {MAX_ENTITIES}",
                          p.span, "a limit of D365, not of bpf")
        self.process_hooks()

    # -- settings ----------------------------------------------------------------
    def settings(self) -> None:
        seen: dict[str, n.ProcessSetting] = {}
        for s in self.process.settings:
            if s.kind in seen:
                self.ctx.error("BPF052", f"`{s.kind}` is given twice in `{self.process.name}`", s.span, "keep one")
            seen[s.kind] = s
            if s.kind == "order" and not isinstance(s.value, int):
                self.ctx.error("BPF052", "`order` takes a whole number", s.span, "for example `order 10`")
            if s.kind == "roles":
                assert isinstance(s.value, tuple)
                named: set[str] = set()
                for role in s.value:
                    if role.name in named:
                        self.ctx.error("BPF052", f"the role `{role.name}` is listed twice", role.span, "keep one")
                    named.add(role.name)
                    if role.name not in self.ctx.roles:
                        self.ctx.error("BPF024", f"unknown role `{role.name}`", role.span,
                                       did_you_mean(role.name, self.ctx.roles,
                                                    also=f"declare it with `role {role.name}`"))

    # -- the flow ------------------------------------------------------------------
    def walk(self, items: tuple[n.FlowItem, ...], state: PathState | None) -> PathState | None:
        """Check ``items`` entered with ``state``; the state after them, or None if no path gets past."""
        reported_unreachable = False
        for i, item in enumerate(items):
            if state is None:
                if not reported_unreachable and not isinstance(item, n.Finish):
                    first = _first_stage(item)
                    if first is not None:
                        self.ctx.error("BPF041", f"the stage `{first.name}` can never be reached", first.span,
                                       "every arm before it ends with `finish`; remove a `finish` or the stage")
                        reported_unreachable = True
                self.mute(item)
                continue
            if isinstance(item, n.Finish):
                if i != len(items) - 1:
                    self.ctx.error("BPF040", "`finish` must be the last item of its block", item.span,
                                   "move it to the end of the block, or remove what follows it")
                    reported_unreachable = True
                self.ends.append(state)
                state = None
            elif isinstance(item, n.Stage):
                state = self.stage(item, state)
            else:
                state = self.branch(item, state)
        return state

    def mute(self, item: n.FlowItem) -> None:
        """Still record the names of stages nobody reaches (duplicates stay errors)."""
        for stage in _stages_in(item):
            self.name(stage)

    def name(self, stage: n.Stage) -> None:
        self.stage_count += 1
        if stage.name in self.stage_names:
            self.ctx.error("BPF027", f"the stage `{stage.name}` is declared twice in `{self.process.name}`",
                           stage.span, f"first at {self.stage_names[stage.name]}; stage names are unique per process")
        else:
            self.stage_names[stage.name] = stage.span

    def branch(self, b: n.Branch, state: PathState) -> PathState | None:
        scope = Scope(state.last, state.bound, "before this branch")
        outs: list[PathState] = []
        taken_always = False
        reader = ArmReader(self.ctx)
        earlier: list[tuple[int, list[Box]]] = []  # (line of an arm, its condition as boxes)
        for arm in b.arms:
            if taken_always:
                for item in arm.body:
                    first = _first_stage(item)
                    if first is not None:
                        self.ctx.error("BPF041", f"the stage `{first.name}` can never be reached", first.span,
                                       "an earlier arm's condition is always true")
                        break
                for item in arm.body:
                    self.mute(item)
                continue
            if arm.condition is not None:
                self.typer.condition(arm.condition, scope)
                self.unasked(arm.condition, state)
                self.dead_arm(reader, arm.condition, scope, earlier)
                constant = _constant(arm.condition)
                if constant is True:
                    taken_always = True
                elif constant is False:
                    # `if false { ... }`: the arm is never taken, as an arm after `if true` is never reached.
                    first = next((s for s in map(_first_stage, arm.body) if s is not None), None)
                    if first is not None:
                        self.ctx.error("BPF041", f"the stage `{first.name}` can never be reached", first.span,
                                       "this arm's condition is always false; remove the arm, or write the "
                                       "condition it should test")
                    for item in arm.body:
                        self.mute(item)
                    continue
            out = self.walk(arm.body, state)
            if out is not None:
                outs.append(out)
        if not b.has_else and not taken_always:
            outs.append(state)
        if not outs:
            return None
        bound = frozenset.intersection(*(o.bound for o in outs))
        asked = frozenset().union(*(o.asked for o in outs))
        lasts = {o.last.name for o in outs}
        last = outs[0].last if len(lasts) == 1 else self.primary
        return PathState(bound, asked, last)

    def dead_arm(self, reader: ArmReader, cond: n.Expr, scope: Scope, earlier: list[tuple[int, list[Box]]]) -> None:
        """Warn about an arm whose condition contradicts itself, or that earlier arms cover (arms.py)."""
        boxes = reader.boxes(cond, scope.entity)
        if boxes is None:
            return
        live = [box for box in boxes if not box.impossible]
        if not live:
            self.ctx.warn("BPF098", f"`{expr_text(cond)}` can never hold: its comparisons contradict each other",
                          cond.span, "an arm with this condition is never taken; write the condition it should test")
        elif earlier:
            lines: list[int] = []
            for box in live:
                found = covered(box, earlier)
                if found is None:
                    break
                lines.extend(i for i in found if i not in lines)
            else:
                where = (f"the arm at line {lines[0]}" if len(lines) == 1 else
                         "the arms at lines " + ", ".join(str(i) for i in sorted(lines)))
                self.ctx.warn("BPF097", f"this arm is never taken: {where} already takes every value "
                                        f"`{expr_text(cond)}` allows", cond.span,
                              "remove the arm, or change the condition it tests")
        earlier.append((cond.span.line, boxes))

    def unasked(self, cond: n.Expr, state: PathState) -> None:
        for ref in refs_in(cond):
            res = self.ctx.resolutions.get(id(ref))
            if not isinstance(res, FieldPath) or res.path[0] in BUILTIN_COLUMNS:
                continue  # a built-in column is never a step: the server fills it
            entity = res.source or state.last.name
            if (entity, res.path[0]) not in state.asked:
                self.ctx.warn("BPF094", f"the condition reads `{ref.dotted}`, which no earlier step asks for",
                              ref.span, f"add `step {res.path[0]}` to an earlier stage, or users are never "
                                        "prompted to fill it")

    # -- stages ----------------------------------------------------------------------
    def stage(self, s: n.Stage, state: PathState) -> PathState:
        self.name(s)
        entity_name = s.entity or self.process.entity
        entity = self.ctx.entities.get(entity_name)
        if entity is None:
            self.ctx.error("BPF021", f"the stage `{s.name}` is on `{entity_name}`, which is not declared",
                           _at(s.entity_span, s.span),
                           did_you_mean(entity_name, self.ctx.entities,
                                        also=f"entities: {listing(sorted(self.ctx.entities))}"))
            return state
        bound = state.bound
        target: EntitySpec | None = None
        if s.via is not None:
            target = self.via(s, entity, state)
            bound = bound | {entity_name}
        elif entity_name not in bound:
            self.ctx.error("BPF043", f"the stage `{s.name}` is on `{entity_name}`, but no `{entity_name}` record is "
                                     "bound on every path to it", _at(s.entity_span, s.span),
                           f"enter the first stage on `{entity_name}` with `on {entity_name} via LOOKUP_FIELD`")
        self.everywhere.add(entity_name)
        if s.create is not None:
            self.create(s, entity, target, state)
        scope = Scope(entity, bound, f"at the stage `{s.name}`")
        asked = set(state.asked)
        names: dict[str, n.Span] = {}
        for step in s.steps:
            if isinstance(step, n.DataStep):
                key = step.field
                if step.field not in entity.fields:
                    self.ctx.error("BPF044", f"the step `{step.field}` is not a field of `{entity_name}`, the "
                                             f"stage's entity", step.span,
                                   did_you_mean(step.field, entity.fields,
                                                also=f"fields of {entity_name}: {listing(entity.fields)}"))
                asked.add((entity_name, step.field))
            else:
                key = snake_case(step.label)
                self.action_call(step.call, scope)
            if key in names:
                code = "BPF045" if isinstance(step, n.DataStep) else "BPF063"
                self.ctx.error(code, f"the step `{key}` appears twice in the stage `{s.name}`", step.span,
                               f"first at {names[key]}; a step's name is its field (or its label in snake_case)")
            else:
                names[key] = step.span
        if len(s.steps) > MAX_STEPS:
            self.ctx.warn("BPF091", f"the stage `{s.name}` has {len(s.steps)} steps; D365 allows {MAX_STEPS}",
                          s.span, "a limit of D365, not of bpf")
        self.unique_hooks(s.hooks)
        for hook in s.hooks:
            if hook.event not in STAGE_EVENTS:
                self.ctx.error("BPF049", f"a stage has no `on {hook.event}` hook", hook.span,
                               "stages have `on enter`, `on exit` and `on overdue`; process hooks go outside the "
                               "stage")
            elif hook.event == "overdue" and s.sla is None:
                self.ctx.error("BPF075", f"`on overdue` in the stage `{s.name}`, which has no `sla`", hook.span,
                               "give the stage a time limit, e.g. `sla 3d`, or remove the hook")
            self.hook_actions(hook, scope)
        self.stage_roles(s)
        for gate in s.gates:
            self.typer.condition(gate.condition, scope)
        return PathState(bound, frozenset(asked), entity)

    def stage_roles(self, s: n.Stage) -> None:
        """A stage's `roles`: declared, each once, and each a role of the process (LANGUAGE.md)."""
        setting = self.process.setting("roles")
        allowed = {r.name for r in setting.value} if setting is not None and isinstance(setting.value, tuple) else set()
        named: set[str] = set()
        for role in s.roles:
            if role.name in named:
                self.ctx.error("BPF071", f"the role `{role.name}` is listed twice", role.span, "keep one")
            named.add(role.name)
            if role.name not in self.ctx.roles:
                self.ctx.error("BPF024", f"unknown role `{role.name}`", role.span,
                               did_you_mean(role.name, self.ctx.roles, also=f"declare it with `role {role.name}`"))
            elif role.name not in allowed and role.name != "admin":
                self.ctx.error("BPF074", f"the stage `{s.name}` lists `{role.name}`, which is not a role of the "
                                         f"process `{self.process.name}`", role.span,
                               f"the process's roles: {listing(sorted(allowed)) if allowed else 'none (admins only)'}"
                               f"; add `{role.name}` to the process's `roles` line, or remove it here")

    def via(self, s: n.Stage, entity: EntitySpec, state: PathState) -> EntitySpec | None:
        assert s.via is not None
        at = _at(s.via_span, s.span)
        spec = entity.fields.get(s.via)
        if spec is None:
            self.ctx.error("BPF042", f"`{s.via}` is not a field of `{entity.name}`", at,
                           did_you_mean(s.via, [f.name for f in entity.field_list() if f.type.kind == "lookup"],
                                        also="`via` names a lookup field of the stage's entity"))
            return None
        if spec.type.kind != "lookup":
            self.ctx.error("BPF042", f"`{s.via}` is a {spec.type.kind} field, not a lookup", at,
                           "`via` names a lookup field of the stage's entity that points at a bound record")
            return None
        assert spec.type.entity is not None
        if spec.type.entity not in state.bound:
            self.ctx.error("BPF042", f"`{s.via}` points at `{spec.type.entity}`, which has no record bound before "
                                     f"this stage", at,
                           f"records bound here: {listing(sorted(state.bound))}")
            return None
        return self.ctx.entities.get(spec.type.entity)

    def create(self, s: n.Stage, entity: EntitySpec, target: EntitySpec | None, state: PathState) -> None:
        block = s.create
        assert block is not None
        if s.via is None:
            self.ctx.error("BPF046", f"the stage `{s.name}` has a `create` block but isn't entered through `via`",
                           block.span, "write `on ENTITY via LOOKUP_FIELD` on the stage, or remove `create`")
            return
        if target is None:
            return
        scope = Scope(target, state.bound, f"in `create` of `{s.name}`")
        seen: set[str] = set()
        for a in block.assignments:
            spec = entity.fields.get(a.field)
            if a.field in seen:
                self.ctx.error("BPF047", f"`{a.field}` is assigned twice in `create`", a.span, "keep one")
            seen.add(a.field)
            if spec is None and a.field in BUILTIN_COLUMNS:
                builtin_column_target(self.ctx, a.field, a.span)
                self.typer.infer(a.value, scope)
                continue
            if spec is None:
                self.ctx.error("BPF047", f"`create` sets `{a.field}`, which is not a field of `{entity.name}`",
                               a.span, did_you_mean(a.field, entity.fields))
                self.typer.infer(a.value, scope)
                continue
            self.typer.fits(spec, a.value, scope, "BPF047", "this `create` value doesn't fit")

    # -- hooks and actions -------------------------------------------------------------
    def hook_actions(self, hook: n.Hook, scope: Scope) -> None:
        for action in hook.actions:
            if isinstance(action, n.CallAction):
                self.action_call(action.call, scope)
                continue
            target = action.target
            parts = target.parts
            if parts[-1] in BUILTIN_COLUMNS and (len(parts) == 1 or parts[0] in self.ctx.entities):
                builtin_column_target(self.ctx, target.dotted, n.part_span(target, len(parts) - 1))
                self.typer.infer(action.value, scope)
                continue
            if len(parts) == 1:
                spec = scope.entity.fields.get(parts[0])
                if spec is None:
                    # The value isn't typed: without its target, its option names would be reported too.
                    self.ctx.error("BPF022", f"`{scope.entity.name}` has no field `{parts[0]}`", target.span,
                                   did_you_mean(parts[0], scope.entity.fields))
                    continue
            else:
                entity = self.ctx.entities.get(parts[0])
                if entity is None or len(parts) != 2:
                    self.ctx.error("BPF022", f"`set {target.dotted}`: write `set FIELD` or `set ENTITY.FIELD`",
                                   target.span, did_you_mean(parts[0], self.ctx.entities))
                    continue
                bound = scope.bound or frozenset()
                if parts[0] not in bound and parts[0] != scope.entity.name:
                    self.ctx.error("BPF053", f"no `{parts[0]}` record is bound {scope.where}",
                                   n.part_span(target, 0),
                                   f"bind one first with a stage `on {parts[0]} via LOOKUP`")
                    continue
                spec = entity.fields.get(parts[1])
                if spec is None:
                    self.ctx.error("BPF022", f"`{entity.name}` has no field `{parts[1]}`", n.part_span(target, 1),
                                   did_you_mean(parts[1], entity.fields))
                    continue
            self.typer.fits(spec, action.value, scope, "BPF037", "this value doesn't fit")

    def action_call(self, call: n.ActionCall, scope: Scope) -> None:
        spec = self.ctx.registry.actions.get(call.dotted)
        if spec is None:
            names = sorted(self.ctx.registry.actions)
            self.ctx.error("BPF060", f"unknown action `{call.dotted}`", call.span,
                           did_you_mean(call.dotted, names, also=f"installed actions: {listing(names)}"))
            for arg in call.args:
                self.typer.infer(arg.value, scope)
            return
        params = {p.name: p for p in spec.params}
        given: set[str] = set()
        explained: set[str] = set()  # missing parameters an unknown argument's hint already names
        for arg in call.args:
            param = params.get(arg.name)
            if arg.name in given:
                self.ctx.error("BPF061", f"the argument `{arg.name}` is given twice", arg.span, "keep one")
            given.add(arg.name)
            if param is None:
                hint = did_you_mean(arg.name, params, also=f"its arguments: {listing(params)}")
                explained.update(p for p in params if hint and hint.startswith(f"did you mean `{p}`"))
                self.ctx.error("BPF061", f"`{call.dotted}` has no argument `{arg.name}`", arg.span, hint)
                self.typer.infer(arg.value, scope)
                continue
            t = self.typer.infer(arg.value, scope)
            if not accepts(param, t):
                self.ctx.error("BPF062", f"the argument `{arg.name}` of `{call.dotted}` must be "
                                         f"{param_words(param)}, not {t.describe()}", arg.value.span, None)
            elif param.options and isinstance(arg.value, n.Literal) and arg.value.kind == "text" \
                    and arg.value.value not in param.options:
                self.ctx.error("BPF062", f"the argument `{arg.name}` of `{call.dotted}` must be one of "
                                         f"{listing(param.options)}, not \"{arg.value.value}\"", arg.value.span,
                               did_you_mean(str(arg.value.value), param.options))
        if call.dotted == "bpf.notify":
            for arg in call.args:
                value = arg.value
                if arg.name == "role" and isinstance(value, n.Literal) and value.kind == "text" \
                        and value.value not in self.ctx.roles:
                    self.ctx.error("BPF024", f"`bpf.notify` names the unknown role \"{value.value}\"", value.span,
                                   did_you_mean(str(value.value), self.ctx.roles,
                                                also=f"declare it with `role {value.value}`"))
        missing = [p.name for p in spec.params if p.required and p.name not in given and p.name not in explained]
        if missing:
            self.ctx.error("BPF061", f"`{call.dotted}` is missing {listing(f'`{m}`' for m in missing)}", call.span,
                           f"{call.dotted}({', '.join(f'{p.name}: ...' for p in spec.params)})")

    def unique_hooks(self, hooks: tuple[n.Hook, ...]) -> None:
        seen: dict[str, n.Span] = {}
        for hook in hooks:
            if hook.event in seen:
                self.ctx.error("BPF054", f"`on {hook.event}` is given twice here", hook.span,
                               f"first at {seen[hook.event]}; merge the two into one block")
            seen.setdefault(hook.event, hook.span)

    def process_hooks(self) -> None:
        self.unique_hooks(self.process.hooks)
        for hook in self.process.hooks:
            if hook.event not in PROCESS_EVENTS:
                where = "stages" if hook.event in STAGE_EVENTS else "processes"
                self.ctx.error("BPF049", f"a process has no `on {hook.event}` hook", hook.span,
                               f"processes have on start, on finish, on abandon and on reactivate"
                               f"{'; put it inside a stage' if where == 'stages' else ''}")
            bound: frozenset[str]
            if hook.event == "start":
                bound = frozenset({self.primary.name})
            elif hook.event == "finish":
                bound = frozenset.intersection(*(e.bound for e in self.ends)) if self.ends \
                    else frozenset({self.primary.name})
            else:
                bound = frozenset(self.everywhere)
            where = f"on every path that reaches `on {hook.event}`"
            self.hook_actions(hook, Scope(self.primary, bound, where))


def _at(span: n.Span, fallback: n.Span) -> n.Span:
    """``span``, or ``fallback`` for a node built without it (not by the parser)."""
    return fallback if span == n.NO_SPAN else span


def _constant(cond: n.Expr) -> bool | None:
    """``True`` or ``False`` for a condition written as that literal (in parentheses or not), else None."""
    literal = literal_of(cond, "bool")
    return None if literal is None else bool(literal.value)


def _first_stage(item: n.FlowItem) -> n.Stage | None:
    found = stages([item])
    return found[0] if found else None


def _stages_in(item: n.FlowItem) -> list[n.Stage]:
    return stages([item])


def check_processes(ctx: Context, typer: Typer, processes: list[n.Process]) -> None:
    """Check every process, then the per-entity limit."""
    per_entity: Counter[str] = Counter()
    for p in processes:
        primary = ctx.entities.get(p.entity)
        if primary is None:
            ctx.error("BPF021", f"the process `{p.name}` is on `{p.entity}`, which is not declared",
                      _at(p.entity_span, p.span),
                      did_you_mean(p.entity, ctx.entities, also="declare it with `entity` or import it"))
            continue
        per_entity[p.entity] += 1
        if per_entity[p.entity] == MAX_PROCESSES + 1:
            ctx.warn("BPF093", f"more than {MAX_PROCESSES} processes on `{p.entity}` (D365's limit)", p.span,
                     "a limit of D365, not of bpf")
        FlowChecker(ctx, typer, p, primary).run()


def category_check(ctx: Context, processes: list[n.Process]) -> None:
    """Stage categories must be D365's or a plugin's."""
    known = ctx.registry.categories
    for p in processes:
        for item in p.flow:
            for s in _stages_in(item):
                if s.category is not None and s.category not in known:
                    ctx.error("BPF048", f"unknown stage category `{s.category}`", _at(s.category_span, s.span),
                              did_you_mean(s.category, sorted(known), also=f"categories: {listing(sorted(known))}"))


__all__ = ["VType", "category_check", "check_processes"]
