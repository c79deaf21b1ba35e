"""Who may see and change records: the one place that decides (LANGUAGE.md, "Who may see and change records").

Every read and every command of the service asks :class:`Access`, and nothing else
decides. The policy, per entity:

- ``allow ROLE, ... to VERB, ... [own]`` grants the verbs (create, read, update,
  delete, assign) to the roles, on every record of the entity, or with ``own`` only
  on the records whose ``owner`` is the caller. Grants add up: of two grants of one
  verb, the wider wins. ``admin`` may do everything.
- An entity without any ``allow`` line: the roles of the processes that bind it (as
  primary entity or as a stage's entity), or that bind an entity with a lookup to
  it, may create, read, update and delete all its records; every other role nothing.
- ``restricted to ROLE, ...`` on a field: only those roles (and ``admin``) read or
  write it. Rules, conditions and gates still see it: they run as the server, not as
  the caller, so nothing here is asked by the engine.

What a caller may not read does not exist for it: reads leave such a record out (or
answer None), commands answer as for a record that isn't there. :meth:`Access.view`
is the record as the caller may see it: its restricted values dropped.

The answers depend on the caller's roles, and, where some grant is ``own``, on its
user name too (:attr:`Access.personal`): what a server keeps of an answer is keyed so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bpf_dsl.definition import Program
from bpf_dsl.model import VERBS, EntitySpec
from bpf_dsl.service.results import Caller
from bpf_dsl.storage import RecordRow

#: How far a verb reaches: every record of the entity, or only the caller's own.
ALL, OWN = "all", "own"
#: What an entity without ``allow`` lines gives the roles of its processes (not ``assign``: LANGUAGE.md).
DERIVED_VERBS = ("create", "read", "update", "delete")


@dataclass(frozen=True, slots=True)
class Allowed:
    """What one set of roles may do with one entity's records: each verb's reach (absent: not at all) and the
    fields it may neither read nor write."""

    scopes: Mapping[str, str]
    hidden: frozenset[str]

    def scope(self, verb: str) -> str | None:
        """``ALL``, ``OWN``, or None when the verb is not granted."""
        return self.scopes.get(verb)

    def may(self, verb: str, row: RecordRow, user: str) -> bool:
        """Whether the verb is granted on ``row`` for ``user``."""
        scope = self.scopes.get(verb)
        return scope == ALL or (scope == OWN and row.owner == user)

    def verbs_on(self, row: RecordRow, user: str) -> tuple[str, ...]:
        """The verbs granted on ``row`` for ``user``, in :data:`~bpf_dsl.model.VERBS` order."""
        return tuple(v for v in VERBS if self.may(v, row, user))


_NOTHING = Allowed({}, frozenset())
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class _Policy:
    """One entity's grants, resolved: per verb, the reach of each role; per restricted field, its roles."""

    by_verb: Mapping[str, Mapping[str, str]]
    restricted: Mapping[str, frozenset[str]]
    derived: bool


class Access:
    """The access policy of a program (immutable, as the program is); answers are memoised per roles."""

    def __init__(self, program: Program) -> None:
        self.program = program
        derived = _derived_roles(program)
        self._policies: dict[str, _Policy] = {}
        personal = False
        for name, spec in program.entities.items():
            policy = _policy(spec, derived.get(name, frozenset()))
            personal = personal or any(OWN in reach.values() for reach in policy.by_verb.values())
            self._policies[name] = policy
        #: Whether some grant is ``own``: then what a caller may see depends on its user name, not only its roles.
        self.personal = personal
        self._memo: dict[tuple[frozenset[str], str], Allowed] = {}
        self._specs: dict[tuple[str, frozenset[str]], EntitySpec] = {}
        self._all = {name: Allowed({v: ALL for v in VERBS}, frozenset()) for name in program.entities}

    # -- what a caller may do with an entity --------------------------------------------------------------
    def allowed(self, caller: Caller, entity: str) -> Allowed:
        """What ``caller``'s roles may do with ``entity``'s records (nothing for an undeclared entity)."""
        if caller.is_admin:
            return self._all.get(entity, _NOTHING)
        key = (caller.roles, entity)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._resolve(caller.roles, entity)
        return found

    def _resolve(self, roles: frozenset[str], entity: str) -> Allowed:
        policy = self._policies.get(entity)
        if policy is None:
            return _NOTHING
        scopes: dict[str, str] = {}
        for verb, reach in policy.by_verb.items():
            for role in roles:
                scope = reach.get(role)
                if scope == ALL or (scope == OWN and verb not in scopes):
                    scopes[verb] = scope
        hidden = frozenset(f for f, who in policy.restricted.items() if not roles & who)
        return Allowed(scopes, hidden)

    def scope(self, caller: Caller, verb: str, entity: str) -> str | None:
        """How far ``verb`` reaches on ``entity`` for ``caller``: ``ALL``, ``OWN`` or None."""
        return self.allowed(caller, entity).scope(verb)

    def may_create(self, caller: Caller, entity: str) -> bool:
        """Whether ``caller`` may create records of ``entity`` (``create own`` too: a new record is its creator's)."""
        return self.allowed(caller, entity).scope("create") is not None

    def may_read_entity(self, caller: Caller, entity: str) -> bool:
        """Whether ``caller`` may read some records of ``entity`` (all, or its own)."""
        return self.allowed(caller, entity).scope("read") is not None

    def readable_spec(self, caller: Caller, entity: str) -> EntitySpec | None:
        """``entity``'s declaration as ``caller`` may know it: only the fields it may read; None when it may
        read none of its records. One object per (entity, fields hidden), made once."""
        if not self.may_read_entity(caller, entity):
            return None
        spec = self.program.entities[entity]
        hidden = self.hidden(caller, entity)
        if not hidden:
            return spec
        key = (entity, hidden)
        found = self._specs.get(key)
        if found is None:
            fields = {name: f for name, f in spec.fields.items() if name not in hidden}
            found = self._specs[key] = dataclasses.replace(spec, fields=fields)
        return found

    def hidden(self, caller: Caller, entity: str) -> frozenset[str]:
        """The fields of ``entity`` that ``caller`` may neither read nor write (restricted to other roles)."""
        return self.allowed(caller, entity).hidden

    def list_owner(self, caller: Caller, entity: str) -> tuple[bool, str | None]:
        """How a list of ``entity``'s records is narrowed for ``caller``: (whether it may list any, the owner its
        records must have, None: any)."""
        scope = self.allowed(caller, entity).scope("read")
        if scope is None:
            return False, None
        return True, caller.user if scope == OWN else None

    # -- what a caller may do with a record ------------------------------------------------------------------
    def may(self, caller: Caller, verb: str, row: RecordRow) -> bool:
        """Whether ``caller`` may ``verb`` the record ``row`` (as stored: its ``owner`` decides ``own`` grants)."""
        return self.allowed(caller, row.entity).may(verb, row, caller.user)

    def readable(self, caller: Caller, row: RecordRow) -> bool:
        """Whether ``row`` exists for ``caller``."""
        return self.allowed(caller, row.entity).may("read", row, caller.user)

    def verbs(self, caller: Caller, row: RecordRow) -> tuple[str, ...]:
        """Every verb ``caller`` may use on ``row`` (``read`` first among them when it may read it)."""
        return self.allowed(caller, row.entity).verbs_on(row, caller.user)

    def view(self, caller: Caller, row: RecordRow | None) -> RecordRow | None:
        """``row`` as ``caller`` may see it: None when it may not read it, else without the values of the fields
        it may not read (the same row when there are none: no copy)."""
        if row is None:
            return None
        allowed = self.allowed(caller, row.entity)
        if not allowed.may("read", row, caller.user):
            return None
        return strip(row, allowed.hidden)

    def views(self, caller: Caller, rows: Iterable[RecordRow]) -> list[RecordRow]:
        """:meth:`view` of each row, those the caller may not read left out."""
        out = []
        for row in rows:
            seen = self.view(caller, row)
            if seen is not None:
                out.append(seen)
        return out

    def unwritable(self, caller: Caller, entity: str, names: Iterable[str]) -> list[str]:
        """Of the field ``names`` a write gives, those ``caller`` may not write (restricted to other roles)."""
        hidden = self.allowed(caller, entity).hidden
        return [n for n in names if n in hidden] if hidden else []


def strip(row: RecordRow, hidden: frozenset[str]) -> RecordRow:
    """``row`` without the values of the ``hidden`` fields (the same row when it holds none of them)."""
    if not hidden or hidden.isdisjoint(row.values):
        return row
    return dataclasses.replace(row, values={k: v for k, v in row.values.items() if k not in hidden})


def veiled(record_id: str, entity: str) -> RecordRow:
    """What is shown of a record the caller may not read where something must be shown (an instance's active
    record): its id and entity, nothing else (no values, no owner, version 0, the epoch for its times)."""
    return RecordRow(record_id, entity, {}, 0, _EPOCH, _EPOCH)


def is_veiled(row: RecordRow) -> bool:
    """Whether ``row`` is a :func:`veiled` one (a stored record's version is 1 or more)."""
    return row.version == 0


def _policy(spec: EntitySpec, derived: frozenset[str]) -> _Policy:
    by_verb: dict[str, dict[str, str]] = {v: {} for v in VERBS}
    if spec.grants:
        for grant in spec.grants:
            scope = OWN if grant.own else ALL
            for verb in grant.verbs:
                reach = by_verb[verb]
                for role in grant.roles:
                    if reach.get(role) != ALL:  # grants add up: the wider reach wins
                        reach[role] = scope
    else:
        for verb in DERIVED_VERBS:
            by_verb[verb] = dict.fromkeys(derived, ALL)
    restricted = {f.name: frozenset(f.restricted_to) for f in spec.field_list() if f.restricted_to}
    return _Policy({v: r for v, r in by_verb.items() if r}, restricted, not spec.grants)


def _derived_roles(program: Program) -> dict[str, frozenset[str]]:
    """Per entity, the roles of the processes that bind it or an entity with a lookup to it (the default of an
    entity without ``allow`` lines)."""
    out: dict[str, set[str]] = {}
    for defn in program.processes.values():
        bound = {defn.entity, *defn.entities}
        reached = set(bound)
        for name in bound:
            spec = program.entities.get(name)
            if spec is None:
                continue
            reached.update(f.type.entity for f in spec.field_list() if f.type.kind == "lookup" and f.type.entity)
        for name in reached:
            out.setdefault(name, set()).update(defn.roles)
    return {name: frozenset(roles) for name, roles in out.items()}


def declared_roles(program: Program) -> frozenset[str]:
    """Every role a program declares, and ``admin``."""
    return frozenset({*program.roles, "admin"})

