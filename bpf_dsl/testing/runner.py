"""Running scenario files: the files under test checked and compiled, each scenario run step by step in a
fresh :class:`~bpf_dsl.testing.world.World`.

A scenario **passes** when every step does what it says; it **fails** at the first step that
doesn't (an expectation not met, a move refused that wasn't expected to be, or one expected to
be refused that wasn't); it is an **error** when it can't be run as written: the scenario file
doesn't parse, the files under test don't check, or a step names something the program doesn't
have (an entity, a field, a stage, a handle, a value of the wrong type).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bpf_dsl.check import check_paths
from bpf_dsl.checker.context import snake_case
from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.engine import (
    Abandon,
    Action,
    Finish,
    InstanceState,
    Next,
    Previous,
    Reactivate,
    RunAction,
    SetActive,
    active_path,
    missing_steps,
)
from bpf_dsl.errors import SourceError
from bpf_dsl.model import OPTION_KINDS, TEXT_KINDS, FieldSpec
from bpf_dsl.nodes import Span
from bpf_dsl.parser.scenarios import Scenario, ScenarioFile, Step, Value, parse_scenarios
from bpf_dsl.plugins import Registry, default_registry
from bpf_dsl.testing.coverage import Coverage
from bpf_dsl.testing.world import Refusal, World

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass(frozen=True)
class Result:
    """What became of one scenario (or of a whole file that couldn't be run: ``name`` is then empty)."""

    file: str
    name: str
    span: Span
    outcome: str  # passed, failed, error
    message: str | None = None
    at: Span | None = None  # the step that failed or erred


class _Stop(Exception):
    """A scenario stops here: ``outcome`` failed or error, with a message about the step at ``span``."""

    def __init__(self, outcome: str, message: str, span: Span) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.span = span


def _failed(step: Step, message: str) -> _Stop:
    return _Stop(FAILED, message, step.span)


def _error(step: Step | Value, message: str) -> _Stop:
    return _Stop(ERROR, message, step.span)


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


# -- files under test -------------------------------------------------------------------------------


def files_under_test(parsed: ScenarioFile, registry: Registry) -> list[str]:
    """The .bpf files a scenario file `use`s (absolute); without `use`, the .bpf file of the same name beside it."""
    base = Path(parsed.path).resolve().parent
    out: list[str] = []
    for use in parsed.uses:
        if use.is_file:
            out.append(os.path.normpath(base / use.target))
        else:
            spec = registry.modules.get(use.target)
            if spec is None:
                known = ", ".join(sorted(registry.modules)) or "none"
                raise _Stop(ERROR, f"no installed plugin pack supplies the module `{use.target}` (installed: {known})",
                            use.span)
            out.append(os.path.normpath(spec.path))
    if not parsed.uses:
        sibling = Path(parsed.path).resolve().with_suffix(".bpf")
        if not sibling.is_file():
            raise _Stop(ERROR, f"`{Path(parsed.path).name}` says no `use \"FILE.bpf\"` and there is no "
                               f"{sibling.name} beside it", Span(parsed.path, 1, 1, 1, 2))
        out.append(str(sibling))
    for path in out:
        if not os.path.isfile(path):
            raise _Stop(ERROR, f"the file under test `{path}` does not exist", next(
                (u.span for u in parsed.uses if u.is_file and os.path.normpath(base / u.target) == path),
                Span(parsed.path, 1, 1, 1, 2)))
    return out


def run_file(path: str, registry: Registry | None = None, coverage: Coverage | None = None) -> list[Result]:
    """Run every scenario of the file at ``path``."""
    registry = registry or default_registry()
    try:
        parsed = parse_scenarios(Path(path).read_text(encoding="utf-8"), path)
    except SourceError as err:
        d = err.diagnostics[0]
        return [Result(path, "", d.span, ERROR, d.message + (f"\nhint: {d.hint}" if d.hint else ""), d.span)]
    except (OSError, UnicodeDecodeError) as err:
        at = Span(path, 1, 1, 1, 2)
        return [Result(path, "", at, ERROR, f"can't read {path}: {err}", at)]
    try:
        files = files_under_test(parsed, registry)
    except _Stop as stop:
        return [Result(path, s.name, s.span, ERROR, stop.message, stop.span) for s in parsed.scenarios] or \
            [Result(path, "", stop.span, ERROR, stop.message, stop.span)]
    report = check_paths(files, registry)
    program = report.program
    if program is None:
        errors = [d for d in report.diagnostics if d.is_error]
        shown = "\n".join(d.render(report.sources.get(d.span.file)) for d in errors[:5])
        message = f"the files under test don't check ({len(errors)} error{'s' * (len(errors) != 1)}):\n{shown}"
        return [Result(path, s.name, s.span, ERROR, message, s.span) for s in parsed.scenarios]
    if coverage is not None:
        coverage.add_program(program, {p.span.file for p in program.process_nodes.values()
                                       if not p.span.file.startswith("<")})
    return [run_scenario(path, scenario, program, coverage) for scenario in parsed.scenarios]


def run_scenario(path: str, scenario: Scenario, program: Program, coverage: Coverage | None = None) -> Result:
    """Run one scenario in a fresh world."""
    run = _Run(program, coverage)
    try:
        for step in scenario.steps:
            run.step(step)
    except _Stop as stop:
        return Result(path, scenario.name, scenario.span, stop.outcome, stop.message, stop.span)
    return Result(path, scenario.name, scenario.span, PASSED)


# -- one scenario -------------------------------------------------------------------------------------


class _Run:
    """A scenario's world, its handles (``create ... as NAME``) and the instance its moves act on."""

    def __init__(self, program: Program, coverage: Coverage | None) -> None:
        self.program = program
        self.world = World(program)
        self.handles: dict[str, str] = {}
        self.current: str | None = None
        if coverage is not None:
            world = self.world
            world.on_move = lambda defn, before, after, action: coverage.moved(program, defn, before, after, action,
                                                                             world.data, world.now)

    # -- where things are -----------------------------------------------------------------------
    def instance(self, step: Step) -> tuple[ProcessDefinition, InstanceState]:
        if self.current is None:
            raise _error(step, "no process instance yet: `create` a record of an entity with a process first")
        state = self.world.instances[self.current]
        return self.program.processes[state.process], state

    def record(self, step: Step, head: str | None) -> tuple[str, str]:
        """(entity, record id) of a target's record: a handle, an entity bound in the instance, else the
        record of the active stage's entity."""
        if head is not None and head in self.handles:
            record_id = self.handles[head]
            entity = self.world.entity_of(record_id)
            assert entity is not None
            return entity, record_id
        if head is not None:
            if self.current is None or head not in self.program.entities:
                known = [*self.handles, *self.program.entities]
                raise _error(step, f"`{head}` is neither a record made with `create ... as {head}` nor an entity "
                                   f"bound in the instance{_hint(head, known)}")
            _, state = self.instance(step)
            bound = state.record_of(head)
            if bound is None:
                raise _failed(step, f"no `{head}` record is bound in the instance yet")
            return head, bound
        defn, state = self.instance(step)
        entity = defn.stages[state.active_stage].entity
        own = state.record_of(entity)
        if own is None:
            raise _failed(step, f"no `{entity}` record is bound for the stage "
                                f"`{defn.stages[state.active_stage].name}`")
        return entity, own

    def field(self, step: Step, target: tuple[str, ...]) -> tuple[str, str, FieldSpec]:
        """(entity, record id, field) of ``FIELD``, ``RECORD.FIELD``, ``ENTITY.FIELD`` or ``LOOKUP.FIELD`` (lookups
        followed as in expressions: ``company.tier``)."""
        head = target[0] if len(target) > 1 else None
        if head is not None and head not in self.handles and self.current is not None:
            entity, record_id = self.record(step, None)
            spec = self.program.entities[entity].fields.get(head)
            if spec is not None and spec.type.kind == "lookup":
                return self.follow(step, entity, record_id, target)
        entity, record_id = self.record(step, head)
        return self.follow(step, entity, record_id, target[1:] if head is not None else target)

    def follow(self, step: Step, entity: str, record_id: str, parts: tuple[str, ...]) -> tuple[str, str, FieldSpec]:
        """Follow the lookups ``parts[:-1]`` from a record to the field ``parts[-1]``."""
        for i, name in enumerate(parts):
            fields = self.program.entities[entity].fields
            spec = fields.get(name)
            if spec is None:
                raise _error(step, f"`{entity}` has no field `{name}`{_hint(name, fields)}")
            if i == len(parts) - 1:
                return entity, record_id, spec
            if spec.type.kind != "lookup" or spec.type.entity is None:
                raise _error(step, f"`{name}` is not a lookup: `{'.'.join(parts)}` names nothing")
            values = self.world.data.values(entity, record_id) or {}
            linked = values.get(name)
            if linked is None:
                raise _failed(step, f"`{name}` is empty: `{'.'.join(parts)}` reads no record")
            entity, record_id = spec.type.entity, str(linked)
        raise _error(step, "a field's name is missing")

    # -- values -------------------------------------------------------------------------------------
    def convert(self, value: Value, spec: FieldSpec) -> Any:
        kind = spec.type.kind
        v = value.value
        if value.kind == "null":
            return None
        if kind in TEXT_KINDS and value.kind == "text":
            return v
        if kind == "integer" and value.kind == "number" and isinstance(v, int):
            return v
        if kind in ("decimal", "money") and value.kind == "number":
            return Decimal(str(v))
        if kind == "bool" and value.kind == "bool":
            return v
        try:
            if kind == "date" and value.kind == "date":
                return dt.date.fromisoformat(v)
            if kind == "datetime" and value.kind in ("date", "datetime"):
                moment = dt.datetime.fromisoformat(v)
                if moment.tzinfo is None:
                    if value.kind == "datetime":
                        raise _error(value, f"`{value.shown()}` has no time zone: end it with Z or +02:00")
                    moment = moment.replace(tzinfo=dt.UTC)
                return moment
        except ValueError:
            raise _error(value, f"`{value.shown()}` is not a valid {value.kind}") from None
        if kind == "choice" and value.kind in ("name", "text"):
            return self.option(value, spec, str(v))
        if kind == "choices" and value.kind in ("name", "text", "list"):
            items = v if value.kind == "list" else (value,)
            return tuple(sorted({self.option(item, spec, str(item.value)) for item in items}))
        if kind == "lookup" and value.kind == "record":
            record_id = self.handles.get(v)
            if record_id is None:
                raise _error(value, f"no record `@{v}`: name one with `create {spec.type.entity} as {v}`"
                                    f"{_hint(v, self.handles)}")
            if self.world.entity_of(record_id) != spec.type.entity:
                raise _error(value, f"`@{v}` is a {self.world.entity_of(record_id)}, not a {spec.type.entity}")
            return record_id
        raise _error(value, f"`{value.shown()}` doesn't fit `{spec.name}`, a {spec.type} field")

    def option(self, value: Value, spec: FieldSpec, name: str) -> str:
        if value.kind not in ("name", "text") or name not in spec.type.option_names:
            raise _error(value, f"`{value.shown()}` is not an option of `{spec.name}` "
                                f"({', '.join(spec.type.option_names)}){_hint(name, spec.type.option_names)}")
        return name

    def values(self, step: Step, entity: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fields = self.program.entities[entity].fields
        for target, value in step.values:
            if len(target) != 1 or target[0] not in fields:
                name = ".".join(target)
                raise _error(value, f"`{entity}` has no field `{name}`{_hint(name, fields)}")
            out[target[0]] = self.convert(value, fields[target[0]])
        return out

    # -- steps ----------------------------------------------------------------------------------------
    def step(self, step: Step) -> None:
        handler = getattr(self, "do_" + step.kind, None)
        if handler is None:
            raise _error(step, f"unknown step {step.kind}")
        handler(step)

    def refused(self, step: Step, code: str | None, message: str | None) -> None:
        """Compare what happened with the step's ``fails``: a refusal (code, message) or a success (None)."""
        fails = step.fails
        what = _words(step)
        if fails is None:
            if code is not None:
                raise _failed(step, f"{what} was refused: {code}: {message}")
            return
        if code is None:
            raise _failed(step, f"{what} was expected to fail{' with ' + fails.code if fails.code else ''}, "
                                "but it succeeded")
        if fails.code is not None and fails.code != code:
            raise _failed(step, f"{what} failed with {code}, not {fails.code}: {message}")
        if fails.text is not None and fails.text not in (message or ""):
            raise _failed(step, f"{what} failed, but its message doesn't say \"{fails.text}\": {message}")

    def do_create(self, step: Step) -> None:
        entity, handle, process = step.names
        if entity not in self.program.entities:
            raise _error(step, f"unknown entity `{entity}`{_hint(entity, self.program.entities)}")
        if process and (process not in self.program.processes or self.program.processes[process].entity != entity):
            on = [p.name for p in self.program.processes_on(entity)]
            raise _error(step, f"`{process}` is not a process on `{entity}` (processes on it: "
                               f"{', '.join(on) or 'none'}){_hint(process, on)}")
        if handle and handle in self.handles:
            raise _error(step, f"`{handle}` names a record already")
        values = self.values(step, entity)
        try:
            record_id, instance = self.world.create(entity, values, process or None)
        except Refusal as refusal:
            self.refused(step, refusal.code, refusal.message)
            return
        self.refused(step, None, None)
        if handle:
            self.handles[handle] = record_id
        if instance is not None:
            self.current = instance

    def do_set(self, step: Step) -> None:
        assert step.value is not None
        entity, record_id, spec = self.field(step, step.target)
        value = self.convert(step.value, spec)
        try:
            self.world.write(entity, record_id, {spec.name: value})
        except Refusal as refusal:
            self.refused(step, refusal.code, refusal.message)
            return
        self.refused(step, None, None)

    def do_as(self, step: Step) -> None:
        unknown = [r for r in step.names if r not in self.program.roles]
        if unknown:
            raise _error(step, f"unknown role `{unknown[0]}`{_hint(unknown[0], self.program.roles)}")
        self.world.roles = frozenset(step.names)

    def move(self, step: Step, action: Action) -> None:
        _, state = self.instance(step)
        refusal = self.world.move(state.id, action)
        self.refused(step, None if refusal is None else str(refusal.code),
                     None if refusal is None else refusal.message)

    def do_next(self, step: Step) -> None:
        target = None
        if step.names:
            if step.names[0] not in self.handles:
                raise _error(step, f"no record `{step.names[0]}`{_hint(step.names[0], self.handles)}")
            target = self.handles[step.names[0]]
        self.move(step, Next(target))

    def do_previous(self, step: Step) -> None:
        self.move(step, Previous())

    def do_back(self, step: Step) -> None:
        defn, _ = self.instance(step)
        self.stage_named(step, defn, step.names[0])
        self.move(step, SetActive(step.names[0]))

    def do_finish(self, step: Step) -> None:
        self.move(step, Finish())

    def do_abandon(self, step: Step) -> None:
        self.move(step, Abandon())

    def do_reactivate(self, step: Step) -> None:
        self.move(step, Reactivate())

    def do_run(self, step: Step) -> None:
        defn, state = self.instance(step)
        stage = defn.stages[state.active_stage]
        wanted = step.names[0]
        found = next((s for s in stage.steps if s.kind == "action" and wanted in (s.name, s.label)), None)
        self.move(step, RunAction(found.name if found is not None else snake_case(wanted)))

    def stage_named(self, step: Step, defn: ProcessDefinition, name: str) -> None:
        if defn.stage(name) is None:
            raise _error(step, f"the process `{defn.name}` has no stage `{name}`{_hint(name, defn.by_name)}")

    # -- expectations ----------------------------------------------------------------------------------
    def do_expect_stage(self, step: Step) -> None:
        defn, state = self.instance(step)
        self.stage_named(step, defn, step.names[0])
        stage = defn.stages[state.active_stage]
        if stage.name != step.names[0]:
            raise _failed(step, f"the instance is at `{stage.name}`")

    def do_expect_path(self, step: Step) -> None:
        defn, state = self.instance(step)
        for name in step.names:
            self.stage_named(step, defn, name)
        path = [s.name for s in active_path(defn, state, self.world.data, self.world.now)]
        if path != list(step.names):
            raise _failed(step, f"the path is {', '.join(path)}")

    def do_expect_status(self, step: Step) -> None:
        _, state = self.instance(step)
        if state.status != step.names[0]:
            raise _failed(step, f"the instance is {state.status}")

    def do_expect_outcome(self, step: Step) -> None:
        defn, state = self.instance(step)
        wanted = None if step.names[0] == "none" else step.names[0]
        names = [name for name, _ in defn.outcomes]
        if wanted is not None and wanted not in names:
            raise _error(step, f"the process `{defn.name}` has no outcome `{wanted}` (its outcomes: "
                               f"{', '.join(names) or 'none'}){_hint(wanted, names)}")
        got = getattr(state, "outcome", None)
        if got != wanted:
            raise _failed(step, f"the outcome is {got or 'none'}" + (f" ({state.status})" if got is None else ""))

    def do_expect_missing(self, step: Step) -> None:
        defn, state = self.instance(step)
        wanted = [] if step.names == ("none",) else list(step.names)
        got = [s.name for s in missing_steps(defn, state, self.world.data)]
        if sorted(got) != sorted(wanted):
            raise _failed(step, f"the missing steps are {', '.join(got) or 'none'}")

    def do_expect_notified(self, step: Step) -> None:
        role = step.names[0]
        found = [m for r, m in self.world.notifications if r == role]
        if not found or (step.text is not None and not any(step.text in m for m in found)):
            said = "; ".join(f"{r}: {m}" for r, m in self.world.notifications) or "none"
            raise _failed(step, f"no notification to {role}" + (f" saying \"{step.text}\"" if step.text else "")
                          + f" (notifications: {said})")

    def do_expect_called(self, step: Step) -> None:
        dotted = ".".join(step.names)
        if not any(c.action.dotted == dotted for c in self.world.calls):
            called = ", ".join(dict.fromkeys(c.action.dotted for c in self.world.calls)) or "none"
            raise _failed(step, f"{dotted} was not called (called: {called})")

    def stored(self, step: Step) -> tuple[FieldSpec, Any]:
        entity, record_id, spec = self.field(step, step.target)
        values: Mapping[str, Any] = self.world.data.values(entity, record_id) or {}
        return spec, values.get(spec.name)

    def do_expect_value(self, step: Step) -> None:
        assert step.value is not None
        spec, got = self.stored(step)
        wanted = self.convert(step.value, spec)
        if spec.type.kind in OPTION_KINDS and isinstance(got, list | set | frozenset):
            got = tuple(sorted(got))
        if got != wanted:
            raise _failed(step, f"`{'.'.join(step.target)}` is {_shown(got)}")

    def do_expect_empty(self, step: Step) -> None:
        _, got = self.stored(step)
        if got not in (None, "", (), [], frozenset()):
            raise _failed(step, f"`{'.'.join(step.target)}` is {_shown(got)}")

    def do_expect_filled(self, step: Step) -> None:
        _, got = self.stored(step)
        if got in (None, "", (), [], frozenset()):
            raise _failed(step, f"`{'.'.join(step.target)}` is empty")


def _shown(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _words(step: Step) -> str:
    """A step as the author wrote its head: ``next``, ``run notify``, ``create ticket``, ``set note``..."""
    if step.kind == "create":
        return f"create {step.names[0]}"
    if step.kind == "set":
        return f"set {'.'.join(step.target)}"
    if step.kind == "run":
        return f"run {step.names[0]}"
    if step.kind == "back":
        return f"back to {step.names[0]}"
    return step.kind
