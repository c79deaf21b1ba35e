"""``bpf instances upgrade``: moving instances to the newest version of their process, by stage name.

A stage matches by name, after ``--rename OLD=NEW``. An instance whose path the new
version no longer allows (a stage inserted between two it went through) is listed and
stays on its version (docs/decisions.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bpf_dsl.definition import END, Decision, ProcessDefinition, Program, Target
from bpf_dsl.service.core import Service, _Work
from bpf_dsl.service.data import TxData
from bpf_dsl.storage import Storage, Tx


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What ``bpf instances upgrade`` did (or would do) with one instance."""

    instance_id: str
    record_id: str
    process: str
    from_version: str
    to_version: str | None
    moved: bool
    reason: str = ""


def plan_upgrades(program: Program, storage: Storage, process: str | None,
                  renames: Mapping[str, str] | None = None) -> list[Upgrade]:
    """What moving instances to the newest version of their process would do; reads only (a dry run).

    Every instance is considered, finished and abandoned ones too (they may be
    reactivated). Stages are matched by name, after ``renames`` (old name → new name,
    ``--rename``). An instance can move when its active stage and every stage of its
    traversed path exist in the newest version, and each stage of the path can still
    follow the one before it there: a stage the new version inserts between two the
    instance went through is reported (the instance stays on its version), never
    skipped in silence. ``moved`` is True for those that can move.
    """
    renames = renames or {}
    out: list[Upgrade] = []
    with storage.read() as tx:
        rows = tx.running_instances(process)
    for row in rows:
        defn = program.processes.get(row.process)
        if defn is None:
            out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, None, False,
                               "the process is no longer declared"))
            continue
        path = [renames.get(s, s) for s in row.traversed]
        active = renames.get(row.active_stage, row.active_stage)
        if row.definition_version == defn.version and path == list(row.traversed):
            continue
        missing = [s for s in (*path, active) if defn.stage(s) is None]
        if missing:
            out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, defn.version, False,
                               f"the new version has no stage {', '.join(dict.fromkeys(missing))}"
                               + _rename_hint(missing)))
            continue
        broken = _broken_step(defn, path)
        if broken is not None:
            out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, defn.version, False,
                               broken))
            continue
        out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, defn.version, True))
    return out


def _rename_hint(missing: list[str]) -> str:
    """What to write when a stage was renamed rather than removed."""
    return f" (if it was renamed: --rename {missing[0]}=NEW_NAME)"


def _broken_step(defn: ProcessDefinition, path: list[str]) -> str | None:
    """Why ``path`` (stage names) is no way through ``defn``, or None if each stage may follow the one before."""
    for before, after in itertools.pairwise(path):
        i, j = defn.by_name[before], defn.by_name[after]
        possible = _possible_next(defn, i)
        if j in possible:
            continue
        between = [defn.stages[k].name for k in sorted(possible) if k >= 0 and k != j]
        inserted = f": the new version puts {', '.join(between)} after {before}" if between else ""
        return f"in the new version {after} can't follow {before}{inserted}; the instance stays on its version"
    return None


def _possible_next(defn: ProcessDefinition, index: int) -> set[int]:
    """Every stage (or END, as -1) that may follow ``index`` on some data: each arm of each branch."""
    out: set[int] = set()
    stack: list[Target] = [defn.next[index]]
    while stack:
        target = stack.pop()
        if isinstance(target, Decision):
            stack.extend(t for _, _, t in target.arms)
            stack.append(target.default)
        else:
            out.add(target if target >= 0 else END)
    return out


def upgrade_instances(service: Service, process: str | None,
                      renames: Mapping[str, str] | None = None) -> list[Upgrade]:
    """Move instances to the newest version of their process, by stage name (after ``renames``); report those
    that can't move."""
    planned = plan_upgrades(service.program, service.storage, process, renames)
    for upgrade in planned:
        if upgrade.moved and upgrade.to_version is not None:
            _move_version(service, upgrade.instance_id, upgrade.to_version, renames or {})
    return planned


def _move_version(service: Service, instance_id: str, version: str, renames: Mapping[str, str]) -> None:
    def command(tx: Tx, data: TxData, work: _Work) -> None:
        current = tx.get_instance(instance_id, lock=True)
        path = tuple(renames.get(s, s) for s in current.traversed) if current is not None else ()
        if current is None or (current.definition_version == version and path == current.traversed):
            return
        moved = replace(current, definition_version=version, version=current.version + 1, updated_at=data.now,
                        traversed=path, active_stage=renames.get(current.active_stage, current.active_stage))
        if not tx.update_instance(moved, current.version):
            from bpf_dsl.service.core import _Conflict

            raise _Conflict()

    service._run(command)
