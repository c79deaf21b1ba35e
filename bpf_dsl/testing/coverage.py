"""Which stages and which ``if`` arms the scenarios reached.

A stage is reached when an instance enters it. An arm is reached when a move takes it: the
branch table of the compiled definition (``ProcessDefinition.next``, whose :class:`Decision`
objects the compiler built from the AST) is walked beside a table built the same way from the
AST here (:func:`arm_table`), evaluating the compiled conditions on the data of the move, so
an arm without stages (``else { finish lost }``) counts too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from bpf_dsl import nodes as n
from bpf_dsl.definition import END, Decision, ProcessDefinition, Program
from bpf_dsl.engine import Action, Finish, InstanceState, Next
from bpf_dsl.engine.data import RecordSource
from bpf_dsl.engine.paths import env_for
from bpf_dsl.expr import truthy
from bpf_dsl.exprtext import expr_text


@dataclass(frozen=True)
class Choice:
    """An ``if`` chain in the AST's branch table: its arms with conditions, then the ``else`` (or fall-through)."""

    branch: n.Branch
    arms: tuple[tuple[n.Arm, object], ...]
    default: tuple[n.Arm | None, object]


def arm_table(p: n.Process) -> list[object]:
    """``next`` of each stage, as the compiler links it (definition.py), with the AST's arms in place of conditions.

    Walks the flow the same way and in the same order as the compiler, so that the i-th entry
    stands beside ``ProcessDefinition.next[i]``, Choice for Decision.
    """
    stages = n.stages(p.flow)
    index = {id(s): i for i, s in enumerate(stages)}
    table: list[object] = [END] * len(stages)

    def link(items: tuple[n.FlowItem, ...], cont: object) -> object:
        target = cont
        for item in reversed(items):
            if isinstance(item, n.Finish):
                target = END
            elif isinstance(item, n.Stage):
                table[index[id(item)]] = target
                target = index[id(item)]
            else:
                arms: list[tuple[n.Arm, object]] = []
                default: tuple[n.Arm | None, object] = (None, target)
                for arm in item.arms:
                    entry = link(arm.body, target)
                    if arm.condition is None:
                        default = (arm, entry)
                    else:
                        arms.append((arm, entry))
                target = Choice(item, tuple(arms), default)
        return target

    link(p.flow, END)
    return table


@dataclass(frozen=True)
class Spot:
    """A stage or an arm, with where it is written."""

    process: str
    kind: str  # stage or arm
    name: str  # the stage's name, or the arm as written: `if x > 1`, `else if ...`, `else`
    span: n.Span


@dataclass
class Coverage:
    """The stages and arms of the processes under test, and those the scenarios reached."""

    spots: dict[tuple[str, str, int, int], Spot] = field(default_factory=dict)
    reached: set[tuple[str, str, int, int]] = field(default_factory=set)
    _tables: dict[tuple[str, str], list[object]] = field(default_factory=dict)

    @staticmethod
    def key(spot: Spot) -> tuple[str, str, int, int]:
        """A stage or an arm, the same in every program that loads its file."""
        return spot.span.file, spot.kind, spot.span.line, spot.span.column

    def add_program(self, program: Program, files: Iterable[str]) -> None:
        """Count the processes of ``program`` declared in ``files`` (the files under test)."""
        wanted = set(files)
        for name, p in program.process_nodes.items():
            if p.span.file not in wanted:
                continue
            self._tables[(p.span.file, name)] = arm_table(p)
            for s in n.stages(p.flow):
                spot = Spot(name, "stage", s.name, s.span)
                self.spots.setdefault(self.key(spot), spot)
            for branch in _branches(p.flow):
                for i, arm in enumerate(branch.arms):
                    spot = Spot(name, "arm", _arm_words(arm, i), arm.span)
                    self.spots.setdefault(self.key(spot), spot)

    def moved(self, program: Program, defn: ProcessDefinition, before: InstanceState | None, after: InstanceState,
              action: Action | None, data: RecordSource, now: dt.datetime) -> None:
        """Record what a move reached: the stage entered, and the arms taken to get there (or to the end)."""
        node = program.process_nodes.get(defn.name)
        if node is None or (node.span.file, defn.name) not in self._tables:
            return
        stage = node_stage(node, after.active_stage)
        if stage is not None:
            self._reach(Spot(defn.name, "stage", stage.name, stage.span))
        if before is None or not isinstance(action, Next | Finish):
            return
        table = self._tables[(node.span.file, defn.name)]
        goal = after.active_stage if isinstance(action, Next) else END
        taken = self._trace(defn.next[before.active_stage], table[before.active_stage],
                            env_for(data, now, after.bound_map()), goal)
        for arm, i in taken:
            self._reach(Spot(defn.name, "arm", _arm_words(arm, i), arm.span))

    def _trace(self, target: object, mirror: object, make_env: object, goal: int) -> list[tuple[n.Arm, int]]:
        """The arms the data takes from a stage's ``next``; when the data (changed by hooks since) doesn't lead to
        ``goal``, the arms of the one way through the chains that does (none if several do)."""
        root = mirror
        taken: list[tuple[n.Arm, int]] = []
        while isinstance(target, Decision) and isinstance(mirror, Choice):
            env = make_env(target.scope_entity)  # type: ignore[operator]
            for j, (condition, _text, arm_target) in enumerate(target.arms):
                if truthy(condition(env)):
                    taken.append((mirror.arms[j][0], mirror.branch.arms.index(mirror.arms[j][0])))
                    target, mirror = arm_target, mirror.arms[j][1]
                    break
            else:
                arm = mirror.default[0]
                if arm is not None:
                    taken.append((arm, mirror.branch.arms.index(arm)))
                target, mirror = target.default, mirror.default[1]
        end = END if isinstance(target, int) and target < 0 else target
        if end == goal:
            return taken
        ways = _ways(root, goal)
        return ways[0] if len(ways) == 1 else []

    def _reach(self, spot: Spot) -> None:
        key = self.key(spot)
        if key in self.spots:
            self.reached.add(key)

    # -- numbers -------------------------------------------------------------------------------------
    def counts(self, kind: str | None = None) -> tuple[int, int]:
        """(reached, total) of stages, arms, or both."""
        keys = [k for k, s in self.spots.items() if kind is None or s.kind == kind]
        return sum(1 for k in keys if k in self.reached), len(keys)

    def percent(self) -> float:
        """Stages and arms reached, in percent of all (100 when there are none)."""
        reached, total = self.counts()
        return 100.0 if total == 0 else 100.0 * reached / total

    def missed(self) -> list[Spot]:
        """The stages and arms no scenario reached, in file and text order."""
        return sorted((s for k, s in self.spots.items() if k not in self.reached),
                      key=lambda s: (s.span.file, s.span.line, s.span.column))


def _ways(mirror: object, goal: int) -> list[list[tuple[n.Arm, int]]]:
    """Every way through the chains from ``mirror`` that ends at ``goal``: the arms each takes."""
    if not isinstance(mirror, Choice):
        end = END if isinstance(mirror, int) and mirror < 0 else mirror
        return [[]] if end == goal else []
    out: list[list[tuple[n.Arm, int]]] = []
    options: list[tuple[n.Arm | None, object]] = [*mirror.arms, mirror.default]
    for arm, target in options:
        for rest in _ways(target, goal):
            out.append(([(arm, mirror.branch.arms.index(arm))] if arm is not None else []) + rest)
    return out


def node_stage(p: n.Process, index: int) -> n.Stage | None:
    """The AST of the stage at ``index`` of the definition."""
    found = n.stages(p.flow)
    return found[index] if 0 <= index < len(found) else None


def _branches(items: tuple[n.FlowItem, ...]) -> list[n.Branch]:
    out: list[n.Branch] = []
    stack: list[n.FlowItem] = list(reversed(items))
    while stack:
        item = stack.pop()
        if isinstance(item, n.Branch):
            out.append(item)
            for arm in reversed(item.arms):
                stack.extend(reversed(arm.body))
    return out


def _arm_words(arm: n.Arm, i: int) -> str:
    if arm.condition is None:
        return "else"
    return ("else if " if i else "if ") + expr_text(arm.condition)
