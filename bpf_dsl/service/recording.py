"""What a read depended on, so that its answer can be kept and known to be still right.

While a :class:`Dependencies` is recording (:meth:`~bpf_dsl.service.Service.recording`,
a context variable: the reads of one request, whatever task or thread runs them), the
service's reads note the rows they read, by key, with what says whether they changed:

- a record: its ``version`` (raised by every change of its values) and its active
  instance (set without a new version when a process starts), or that it is absent;
- an instance: its ``version`` (raised by every move; its history changes only with it);
- the instances of a record: their ids and versions (a new one, or another record's
  instance reaching it, changes the list).

Definitions are not noted: a version's definition never changes. Anything else read
(a list of records, analytics, the records pointing at one) makes the reads *opaque*:
their answer is right only as long as nothing at all was committed. An instance on a
definition version other than the current one makes the answer uncacheable (whether
that version's conditions read the clock is not known without rebuilding it).
:meth:`~bpf_dsl.service.Service.unchanged` reads the noted rows again and compares.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bpf_dsl import nodes as n
from bpf_dsl.definition import Program
from bpf_dsl.plugins import Registry
from bpf_dsl.storage import InstanceRow, RecordRow

_RECORDING: contextvars.ContextVar[Dependencies | None] = contextvars.ContextVar("bpf_recording", default=None)


@dataclass
class Dependencies:
    """The rows some reads depended on, with their versions; whether they read more than rows by key."""

    records: dict[str, tuple[int, str | None] | None] = field(default_factory=dict)
    instances: dict[str, int | None] = field(default_factory=dict)
    involving: dict[str, frozenset[tuple[str, int]]] = field(default_factory=dict)
    #: Something was read that is not a row by key: right only while nothing at all is committed.
    opaque: bool = False
    #: An answer that must not be kept (see the module's docstring).
    uncacheable: bool = False

    @property
    def none(self) -> bool:
        """Whether the reads read no row at all (the program's metadata only): their answer always holds."""
        return not (self.records or self.instances or self.involving or self.opaque)

    def record(self, record_id: str, row: RecordRow | None) -> None:
        """A record was read (or found absent)."""
        self.records[record_id] = None if row is None else (row.version, row.active_instance_id)

    def instance(self, instance_id: str, row: InstanceRow | None) -> None:
        """An instance was read (or found absent)."""
        self.instances[instance_id] = None if row is None else row.version

    def instances_of(self, record_id: str, rows: Iterable[InstanceRow]) -> None:
        """The instances of a record (its own and those working on it) were listed."""
        # A set: their order (newest activity first) follows from the rows, unchanged while their versions are.
        listed = frozenset((r.id, r.version) for r in rows)
        self.involving[record_id] = listed
        for iid, version in listed:
            self.instances[iid] = version


def reads_may_depend_on_time(program: Program, registry: Registry) -> bool:
    """Whether what a read computes may change with the clock alone: whether an expression evaluated when
    reading (a business rule, a branch condition of a flow, a stage's gate) calls a function given the evaluation
    environment (``now()``, ``today()``, a pack's function with ``needs_env``), or calls one the registry doesn't
    know.
    Hooks, ``create`` blocks and actions run only in commands. Unknown (a program without its ASTs): True."""
    if len(program.process_nodes) < len(program.processes) or (program.rules and not program.rule_nodes):
        return True
    exprs: list[n.Expr] = []
    rule_items: list[n.RuleItem] = [item for rule in program.rule_nodes for item in rule.body]
    while rule_items:
        item = rule_items.pop()
        if isinstance(item, n.RuleIf):
            for rule_arm in item.arms:
                if rule_arm.condition is not None:
                    exprs.append(rule_arm.condition)
                rule_items.extend(rule_arm.body)
        elif item.value is not None:
            exprs.append(item.value)
    flow: list[n.FlowItem] = [item for proc in program.process_nodes.values() for item in proc.flow]
    while flow:
        flow_item = flow.pop()
        if isinstance(flow_item, n.Branch):
            for arm in flow_item.arms:
                if arm.condition is not None:
                    exprs.append(arm.condition)
                flow.extend(arm.body)
        elif isinstance(flow_item, n.Stage):
            # `unmetGates` and `canMoveNext` are computed when reading: `gate days_between(..., today()) ...`
            exprs.extend(gate.condition for gate in flow_item.gates)
    while exprs:
        e = exprs.pop()
        if isinstance(e, n.Call):
            spec = registry.functions.get(e.dotted)
            if spec is None or spec.needs_env:
                return True
            exprs.extend(e.args)
        elif isinstance(e, n.Binary):
            exprs += (e.left, e.right)
        elif isinstance(e, n.Unary | n.IsEmpty):
            exprs.append(e.operand)
        elif isinstance(e, n.InList):
            exprs += (e.operand, *e.items)
        elif isinstance(e, n.Paren):
            exprs.append(e.inner)
    return False


def recording() -> Dependencies | None:
    """The dependencies being recorded in this context, if any."""
    return _RECORDING.get()


@contextmanager
def record() -> Iterator[Dependencies]:
    """Record the dependencies of the reads made in the block (in this context and those it starts)."""
    deps = Dependencies()
    token = _RECORDING.set(deps)
    try:
        yield deps
    finally:
        _RECORDING.reset(token)


def opaque() -> None:
    """The read being made is not a row by key."""
    deps = _RECORDING.get()
    if deps is not None:
        deps.opaque = True
