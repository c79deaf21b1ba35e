"""Plugin packs' sample records, for ``bpf serve --demo``.

::

    from bpf_dsl import load_source
    from bpf_dsl.check import check_packs
    from bpf_dsl.plugins import default_registry
    from bpf_dsl.service.samples import demo_source, load_samples

    registry = default_registry()
    check_packs(registry)                                   # drop broken packs first
    program = load_source(demo_source(registry, ["my.bpf"]), "<demo>", registry)
    svc = open_service(program, url, registry)
    load_samples(svc, registry)                             # before serving requests

Each pack's :class:`~bpf_dsl.plugins.SampleSpec` list is created through the
service (so rules, defaults, validation and processes apply as for any user),
then moved along its process: the values of each stage are written while the
instance stands there, required action steps are run, and ``moveNext`` is
applied ``moves`` times, then the process is finished or abandoned if asked.
The service's clock is set back while a sample loads, so each record is
created ``age_days`` ago and its stage visits spread over that time (the demo's
time-in-stage analytics then look like real use).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from bpf_dsl.errors import SampleError
from bpf_dsl.plugins import Registry, SampleSpec
from bpf_dsl.service.results import SYSTEM, Caller, TransitionFailure, ValidationFailure

if TYPE_CHECKING:
    from bpf_dsl.model import EntitySpec
    from bpf_dsl.service.core import Service
    from bpf_dsl.storage import InstanceRow

log = logging.getLogger("bpf.samples")

ENDS = ("finish", "abandon")


class _Skip(Exception):
    """This sample can't be loaded in this program (nothing wrong with it)."""


def demo_source(registry: Registry, paths: Iterable[str] = ()) -> str:
    """A .bpf text importing every pack module that has sample records, and ``paths`` (files or folders).

    Check and compile it with :func:`bpf_dsl.load_source`; the loader reads a file
    imported twice (a project that imports a pack itself) only once.
    """
    from bpf_dsl.loader import expand_paths

    lines = [f'import "{os.path.abspath(p)}"' for p in expand_paths(list(paths))]
    for pack in registry.packs:
        if pack.name in registry.samples:
            lines += [f"import {module}" for module in pack.modules]
    return "\n".join(lines) + "\n"


def load_samples(service: Service, registry: Registry, caller: Caller = SYSTEM, *, strict: bool = False,
                 now: dt.datetime | None = None) -> int:
    """Create every pack's sample records through ``service``; returns how many samples were created.

    Idempotent-ish: a sample is skipped when its entity already had records before
    the call (so a second ``--demo`` start adds nothing), or isn't in the program
    (its pack's module wasn't imported). A lookup value ``"@KEY"`` names the record
    of another sample of the same pack, ``"@PACK.KEY"`` one of another pack (whose
    samples are then loaded first: a pack's shared accounts before the cases that name
    them); a sample referring to a skipped one, or to a pack that isn't there, is skipped.
    A sample that fails is logged (its record stays where it got to) and the others
    go on, or it raises :class:`SampleError` when ``strict``. Run it before the
    service takes requests: it sets the service's clock back while it works (and
    restores it).
    """
    program = service.program
    existing = {e for e in program.entities if service.list_records(caller, e, first=1).total > 0}
    real_clock = service.clock
    end = now or real_clock()
    created = 0
    loaded: dict[str, _Pack] = {}
    try:
        for pack, specs in _dependency_order(registry.samples):
            loader = _Pack(service, caller, pack, specs, existing, end, strict, loaded)
            created += loader.load()
            loaded[pack] = loader
    finally:
        service.clock = real_clock
    return created


class _Pack:
    """Loading the samples of one pack (keys are local to a pack; ``@PACK.KEY`` reads a pack loaded before)."""

    def __init__(self, service: Service, caller: Caller, pack: str, specs: Iterable[SampleSpec],
                 existing: set[str], end: dt.datetime, strict: bool,
                 others: Mapping[str, _Pack] | None = None) -> None:
        self.service = service
        self.caller = caller
        self.pack = pack
        self.specs = list(specs)
        self.existing = existing
        self.end = end
        self.strict = strict
        self.keys: dict[str, str] = {}  # key -> record id
        self.skipped: set[str] = set()  # keys of samples not created (entity had records, or not in the program)
        self.others = others or {}  # the packs loaded before this one, by name
        self.moment = end

    def tick(self, at: dt.datetime | None = None, minutes: float = 0) -> None:
        """Move the loading clock on to ``at`` (or by ``minutes``): never back, never past the end."""
        self.moment = min(max(at or self.moment, self.moment) + dt.timedelta(minutes=minutes), self.end)

    def load(self) -> int:
        created = 0
        todo = list(enumerate(self.specs))
        known = {s.key for s in self.specs if s.key}
        while todo:
            later: list[tuple[int, SampleSpec]] = []
            for index, spec in todo:
                waiting = [k for k in _references(spec, self.pack)
                           if k in known and k not in self.keys and k not in self.skipped]
                if waiting:
                    later.append((index, spec))
                    continue
                try:
                    self.one(index, spec)
                    created += 1
                except _Skip:
                    if spec.key:
                        self.skipped.add(spec.key)
                except SampleError as err:
                    if spec.key:
                        self.skipped.add(spec.key)
                    if self.strict:
                        raise
                    log.warning("%s", err)
            if len(later) == len(todo):  # references that can never resolve (a cycle): report them
                for index, spec in later:
                    cycle = self.error(index, spec, f"its references {_references(spec, self.pack)} form a cycle")
                    if self.strict:
                        raise cycle
                    log.warning("%s", cycle)
                break
            todo = later
        return created

    def where(self, index: int, spec: SampleSpec, message: str) -> str:
        what = f"{spec.entity} {spec.key}" if spec.key else spec.entity
        return f"sample {index + 1} of the {self.pack} pack ({what}): {message}"

    def error(self, index: int, spec: SampleSpec, message: str) -> SampleError:
        return SampleError(self.where(index, spec, message))

    # -- one sample -----------------------------------------------------------------------------------
    def one(self, index: int, spec: SampleSpec) -> None:
        program = self.service.program
        entity = program.entities.get(spec.entity)
        if entity is None or spec.entity in self.existing or any(e not in program.entities for e in spec.needs):
            raise _Skip()
        if spec.end is not None and spec.end not in ENDS:
            raise SampleError(self.where(index, spec, f"end must be one of {ENDS}, not {spec.end!r}"))
        fail: Callable[[str], SampleError] = functools.partial(self.error, index, spec)
        values = self.resolve(entity, spec.values, fail)
        # The timeline: created age_days ago, then one stride of it per move (and one for the end).
        age = dt.timedelta(days=max(spec.age_days if spec.age_days is not None else
                                    2 + (index * 3) % 20 + 5 * spec.moves, 0))
        start = self.end - age
        # Uneven strides (deterministic per sample): real stage visits don't all last the same.
        weights = [1 + ((index + k) * 5 % 7) / 3 for k in range(spec.moves + (2 if spec.end else 1))]
        marks = [age * (sum(weights[:k]) / sum(weights)) for k in range(len(weights) + 1)]
        self.moment = start
        self.service.clock = lambda: self.moment

        process = spec.process or None
        made = self.service.create_record(self.caller, spec.entity, values, process=process,
                                          no_process=spec.process == "")
        if isinstance(made, ValidationFailure):
            raise fail(_validation(made))
        if spec.key:
            self.keys[spec.key] = made.id
        instances = self.service.instances_of(self.caller, made.id)
        row = next((i for i in instances if i.process == process), None) if process else \
            next((i for i in instances if i.id == made.active_instance_id), None)
        if row is None:
            if spec.moves or spec.stages or spec.end or spec.actions:
                raise fail(f"no process runs on the new {spec.entity} record to move it along")
            return
        for move in range(spec.moves + 1):
            row = self.work_in_stage(row, spec, fail, last=move == spec.moves)
            if move == spec.moves:
                break
            self.tick(start + marks[move + 1])
            row = _ok(self.service.move_next(self.caller, row.id, expected_version=row.version), fail,
                      f"move {move + 1} of {spec.moves} (from {row.active_stage})")
        if spec.end is not None:
            self.tick(start + marks[spec.moves + 1])
            do = self.service.finish if spec.end == "finish" else self.service.abandon
            _ok(do(self.caller, row.id, expected_version=row.version), fail, f"{spec.end} on {row.active_stage}")

    def work_in_stage(self, row: InstanceRow, spec: SampleSpec, fail: Callable[[str], SampleError], *,
                      last: bool) -> InstanceRow:
        """Fill the active stage's values and run its action steps, as a user would before moving on."""
        detail = self.service.detail(row)
        if detail is None:
            raise fail(f"the definition of {row.process} can't be loaded")
        stage = detail.active_stage
        values = spec.stages.get(stage.name)
        if values:
            entity = self.service.program.entities[stage.entity]
            record_id = row.bound.get(stage.entity)
            if record_id is None:
                raise fail(f"no {stage.entity} record is bound at the stage {stage.name}")
            self.tick(minutes=20)
            changed = self.service.update_record(self.caller, record_id, self.resolve(entity, values, fail))
            if isinstance(changed, ValidationFailure):
                raise fail(f"the values of the stage {stage.name}: {_validation(changed)}")
        moving_on = not last or spec.end == "finish"
        for step in stage.steps:
            if step.kind != "action":
                continue
            wanted = step.name in spec.actions or (step.required and moving_on and step.name not in row.actions_done)
            if wanted:
                self.tick(minutes=5)
                row = _ok(self.service.run_action_step(self.caller, row.id, step.name), fail,
                          f"the action step {step.name} of {stage.name}")
        return row

    def resolve(self, entity: EntitySpec, values: Mapping[str, Any],
                fail: Callable[[str], SampleError]) -> dict[str, Any]:
        """``values`` with ``"@KEY"`` lookups replaced by record ids."""
        out = dict(values)
        for name, value in values.items():
            spec = entity.fields.get(name)
            if spec is None or spec.type.kind != "lookup" or not isinstance(value, str) or not value.startswith("@"):
                continue
            key = value[1:]
            pack, dot, other_key = key.partition(".")
            if dot and pack != self.pack:
                out[name] = self.other_pack(pack, other_key, name, fail)
                continue
            key = other_key if dot else key
            if key in self.keys:
                out[name] = self.keys[key]
            elif key in self.skipped:
                raise _Skip()  # its sample wasn't created here, so neither is this one
            else:
                raise fail(f"`{name}` refers to `@{key}`, which no sample of the pack defines before it")
        return out

    def other_pack(self, pack: str, key: str, name: str, fail: Callable[[str], SampleError]) -> str:
        """The id of the sample ``key`` of the pack ``pack`` (loaded before this one)."""
        other = self.others.get(pack)
        if other is None or key in other.skipped:
            raise _Skip()  # that pack has no samples here, or this one of its samples wasn't created
        if key not in other.keys:
            raise fail(f"`{name}` refers to `@{pack}.{key}`, which no sample of the {pack} pack defines")
        return other.keys[key]


def _references(spec: SampleSpec, pack: str | None = None) -> list[str]:
    """The keys of the pack's own samples that ``spec`` refers to (``@KEY``, or ``@PACK.KEY`` of its own pack)."""
    found = [v[1:] for v in spec.values.values() if isinstance(v, str) and v.startswith("@")]
    for values in spec.stages.values():
        found += [v[1:] for v in values.values() if isinstance(v, str) and v.startswith("@")]
    own = [k.partition(".")[2] if k.partition(".")[0] == pack else k for k in found]
    return [k for k in own if "." not in k]


def _packs_referred(specs: Iterable[SampleSpec]) -> set[str]:
    """The other packs whose samples ``specs`` name as ``@PACK.KEY``."""
    found: set[str] = set()
    for spec in specs:
        for values in (spec.values, *spec.stages.values()):
            found.update(v[1:].partition(".")[0] for v in values.values()
                         if isinstance(v, str) and v.startswith("@") and "." in v)
    return found


def _dependency_order(samples: Mapping[str, tuple[SampleSpec, ...]]) -> list[tuple[str, tuple[SampleSpec, ...]]]:
    """The packs' samples with every pack after the packs it refers to (else in the registry's order)."""
    needs = {pack: _packs_referred(specs) - {pack} for pack, specs in samples.items()}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(pack: str) -> None:
        if pack in order or pack in visiting or pack not in samples:
            return  # done, a cycle (left in the registry's order), or a pack that isn't there
        visiting.add(pack)
        for other in sorted(needs[pack]):
            visit(other)
        visiting.discard(pack)
        order.append(pack)

    for pack in samples:
        visit(pack)
    return [(pack, samples[pack]) for pack in order]


def _ok(result: InstanceRow | TransitionFailure, fail: Callable[[str], SampleError], what: str) -> InstanceRow:
    if isinstance(result, TransitionFailure):
        missing = f" (missing: {', '.join(result.missing_steps)})" if result.missing_steps else ""
        raise fail(f"{what}: {result.code}: {result.message}{missing}")
    return result


def _validation(failure: ValidationFailure) -> str:
    details = "; ".join(f"{e.field + ': ' if e.field else ''}{e.message}" for e in failure.field_errors)
    return f"{failure.message}: {details}" if details else failure.message
