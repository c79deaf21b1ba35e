"""A property of access control, through a real uvicorn over SQLite and PostgreSQL: for random grants over a
small generated model, every role's callers get back, from every root query field that reaches records (found
by introspection), no record and no field they may not read; every record they may read comes back whole; and
every mutation they may not make is refused and changes nothing.

The expectations come from an oracle written here from LANGUAGE.md's words, not from the server's own
``bpf_dsl.service.access``: the two must agree.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import bpf_dsl
from bpf_dsl.plugins import Registry
from bpf_dsl.service import Caller, Service
from bpf_dsl.storage import RecordRow
from tests.backends import BACKENDS, database_url
from tests.server.helpers import Client, live_server

ROLES = ("r1", "r2", "r3")
VERBS = ("create", "read", "update", "delete", "assign")
#: Users and their roles: two of the same roles (``own`` tells them apart), one of two roles.
USERS = {"u1": ("r1",), "u2": ("r1",), "u3": ("r2",), "u4": ("r3",), "u5": ("r1", "r2")}
ROOT = Caller("root", frozenset({"admin"}))
#: Per entity: its plain field, its restricted field, and the entity of the generated typed GraphQL type.
FIELDS = {"thing": ("a", "b"), "other": ("name", "c")}
TYPED = {"Thing": "thing", "Other": "other"}


@dataclass(frozen=True)
class Grant:
    """One `allow ROLES to VERBS [own]` line."""

    roles: tuple[str, ...]
    verbs: tuple[str, ...]
    own: bool

    def line(self) -> str:
        return f"    allow {', '.join(self.roles)} to {', '.join(self.verbs)}{' own' if self.own else ''}\n"


@dataclass(frozen=True)
class Policy:
    """A generated model's access: each entity's grants and restricted field's roles, the process's roles."""

    grants: dict[str, tuple[Grant, ...]]
    restricted: dict[str, tuple[str, ...]]
    process_roles: tuple[str, ...]

    def text(self) -> str:
        def restricted(entity: str) -> str:
            roles = self.restricted[entity]
            return f" restricted to {', '.join(roles)}" if roles else ""

        roles_line = f"    roles {', '.join(self.process_roles)}\n" if self.process_roles else ""
        return (
            "role r1\nrole r2\nrole r3\n"
            "entity thing \"Thing\" {\n    a: text\n"
            f"    b: text{restricted('thing')}\n    link: lookup(other)\n"
            + "".join(g.line() for g in self.grants["thing"]) + "}\n"
            "entity other \"Other\" {\n    name: text\n"
            f"    c: text{restricted('other')}\n    back: lookup(thing)\n"
            + "".join(g.line() for g in self.grants["other"]) + "}\n"
            "process flow \"Flow\" on thing {\n" + roles_line
            + "    stage one { step a step b }\n"
            "    stage two { step b }\n"
            "    stage three on other via back {\n        create { name = a }\n        step c\n    }\n"
            "}\n")

    # -- the oracle: LANGUAGE.md, "Who may see and change records" ------------------------------------------
    def scope(self, roles: frozenset[str], verb: str, entity: str) -> str | None:
        if "admin" in roles:
            return "all"
        grants = self.grants[entity]
        if not grants:  # the processes that bind it (both entities: flow binds thing and, via `three`, other)
            return "all" if verb != "assign" and roles & set(self.process_roles) else None
        found = None
        for g in grants:
            if verb in g.verbs and roles & set(g.roles):
                if not g.own:
                    return "all"
                found = "own"
        return found

    def may(self, user: str, roles: frozenset[str], verb: str, row: RecordRow) -> bool:
        scope = self.scope(roles, verb, row.entity)
        return scope == "all" or (scope == "own" and row.owner == user)

    def fields(self, roles: frozenset[str], entity: str) -> set[str]:
        """The fields a caller of ``roles`` may read (and write)."""
        plain, secret = FIELDS[entity]
        lookup = "link" if entity == "thing" else "back"
        out = {plain, lookup}
        if "admin" in roles or not self.restricted[entity] or roles & set(self.restricted[entity]):
            out.add(secret)
        return out


_ROLE_SETS = st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True).map(lambda x: tuple(sorted(x)))
_GRANT = st.builds(Grant, _ROLE_SETS,
                   st.lists(st.sampled_from(VERBS), min_size=1, max_size=5, unique=True).map(
                       lambda vs: tuple(v for v in VERBS if v in vs)), st.booleans())
_GRANTS = st.lists(_GRANT, max_size=3).map(tuple)
POLICIES = st.builds(
    Policy,
    st.fixed_dictionaries({"thing": _GRANTS, "other": _GRANTS}),
    st.fixed_dictionaries({"thing": st.lists(st.sampled_from(ROLES), max_size=2, unique=True).map(tuple),
                           "other": st.lists(st.sampled_from(ROLES), max_size=2, unique=True).map(tuple)}),
    st.lists(st.sampled_from(ROLES), max_size=3, unique=True).map(lambda x: tuple(sorted(x))))


# -- the world: a server on the generated model, records of several owners -----------------------------------------

@dataclass
class World:
    policy: Policy
    service: Service
    url: str
    tokens: dict[str, str]
    records: dict[str, RecordRow]
    instances: list[str]

    def client(self, user: str) -> Client:
        return Client(self.url, self.tokens[user])

    def stored(self) -> dict[str, Any]:
        """Everything a mutation could change, as stored (read past the server)."""
        with self.service.storage.read() as tx:
            rows = {r.id: (r.owner, r.version, r.values) for e in FIELDS
                    for r in tx.list_records(e, {}, None, None, 500, None).items}
            instances = {i.id: (i.version, i.status, i.active_stage) for i in tx.running_instances(None)}
        return {"records": rows, "instances": instances}


@contextlib.contextmanager
def world(policy: Policy, backend: str, folder: Path) -> Iterator[World]:
    program = bpf_dsl.load_source(policy.text(), registry=Registry(entry_points=False))
    folder.mkdir(parents=True, exist_ok=True)
    with database_url(backend, folder) as url, live_server(url, program, Registry(entry_points=False)) as live:
        svc = live.service
        tokens = {user: live.token(user, *roles) for user, roles in USERS.items()}
        tokens["root"] = live.token("root", "admin")
        owners = ["u1", "u2", "u3", "u4", "u5", "root"]
        others = []
        for i in range(3):
            row = svc.create_record(ROOT, "other", {"name": f"other-{i}", "c": f"hidden-{i}"})
            assert isinstance(row, RecordRow), row
            others.append(row)
            svc.assign_record(ROOT, row.id, owners[(i + 2) % len(owners)])
        things = []
        for i in range(4):
            row = svc.create_record(ROOT, "thing", {"a": f"alpha-{i}", "b": f"secret-{i}", "link": others[i % 3].id})
            assert isinstance(row, RecordRow), row
            things.append(row)
            svc.assign_record(ROOT, row.id, owners[i % len(owners)])
        instances = [i.id for t in things for i in svc.instances_of(ROOT, t.id)]
        # One instance moves on to the stage on `other` (creating one, the admin's), one to the second stage.
        for iid, steps in zip(instances, (2, 1), strict=False):
            for _ in range(steps):
                moved = svc.move_next(ROOT, iid)
                assert not hasattr(moved, "code"), moved
        with svc.storage.read() as tx:
            records = {r.id: r for e in FIELDS for r in tx.list_records(e, {}, None, None, 500, None).items}
        yield World(policy, svc, live.url, tokens, records, instances)


# -- the walk: every root query field that reaches records, found by introspection -------------------------------

INTROSPECT = """{ __schema { queryType { name } types { name kind fields { name
  args { name defaultValue type { kind name ofType { kind name ofType { kind name } } } }
  type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"""


def base(ref: dict[str, Any]) -> dict[str, Any]:
    while ref.get("ofType"):
        ref = ref["ofType"]
    return ref


def required(arg: dict[str, Any]) -> bool:
    return arg["type"]["kind"] == "NON_NULL" and arg["defaultValue"] is None


class Schema:
    """What the walk needs of the introspected schema: which types lead to records, and their selections."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.types = {t["name"]: t for t in data["__schema"]["types"]}
        self.query = self.types[data["__schema"]["queryType"]["name"]]
        carriers = {"Record", "BarStep", "Entity", "FieldState", *TYPED}
        changed = True
        while changed:  # every object type with a field of a type that leads to records
            changed = False
            for name, t in self.types.items():
                if t["kind"] == "OBJECT" and name not in carriers and not name.startswith("__") and any(
                        base(f["type"]).get("name") in carriers for f in t["fields"] or []):
                    carriers.add(name)
                    changed = True
        self.carriers = carriers

    def selection(self, name: str, depth: int) -> str:
        parts = ["__typename"]
        for f in self.types[name]["fields"] or []:
            if any(required(a) for a in f["args"]):
                continue
            ref = base(f["type"])
            if ref["kind"] in ("SCALAR", "ENUM"):
                parts.append(f["name"])
            elif ref["kind"] == "OBJECT" and ref["name"] in self.carriers and depth > 0:
                parts.append(f"{f['name']} {{ {self.selection(ref['name'], depth - 1)} }}")
            elif ref["kind"] == "OBJECT" and ref["name"] == "Stage":
                parts.append(f"{f['name']} {{ name entity }}")  # a bar stage's entity: what its steps are of
        return " ".join(parts)

    def root_fields(self) -> list[dict[str, Any]]:
        """The root query fields whose answers lead to records."""
        return [f for f in self.query["fields"] if base(f["type"]).get("name") in self.carriers]


def queries(schema: Schema, w: World) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (query, variables) of the walk: each root field with each value of its required arguments."""
    record_ids = [*w.records, "no-such-id"]
    values: dict[str, list[Any]] = {"id": [*record_ids, *w.instances], "recordId": record_ids,
                                    "entity": list(FIELDS), "name": ["flow"]}
    for f in schema.root_fields():
        needed = [a for a in f["args"] if required(a)]
        if any(a["name"] not in values for a in needed):
            continue  # an argument the walk can't fill
        selection = schema.selection(base(f["type"])["name"], 2)
        types = {a["name"]: _type_text(a["type"]) for a in needed}
        header = f"({', '.join(f'${n}: {t}' for n, t in types.items())})" if types else ""
        call = f"({', '.join(f'{n}: ${n}' for n in types)})" if types else ""
        text = f"query{header} {{ {f['name']}{call} {{ {selection} }} }}"
        combos: list[dict[str, Any]] = [{}]
        for a in needed:
            combos = [{**c, a["name"]: v} for c in combos for v in values[a["name"]]]
        for combo in combos:
            yield text, combo
        if f["name"] == "records":  # searches: for values of the restricted fields too
            for entity, word in (("thing", "secret"), ("other", "hidden"), ("thing", "alpha")):
                yield ("query($e: String!, $s: String) { records(entity: $e, search: $s) { total items { "
                       f"{schema.selection('Record', 1)} }} }} }}", {"e": entity, "s": word})


def _type_text(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return _type_text(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{_type_text(ref['ofType'])}]"
    return str(ref["name"])


class Check:
    """Walks an answer for one caller and fails on anything it may not read."""

    def __init__(self, w: World, user: str) -> None:
        self.w, self.user = w, user
        self.roles = frozenset(USERS.get(user, ("admin",)))
        self.seen: set[str] = set()

    def readable(self, row: RecordRow) -> bool:
        return self.w.policy.may(self.user, self.roles, "read", row)

    def walk(self, node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                self.walk(item, where)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("__typename")
        if kind == "Record" or kind in TYPED:
            self.record(node, kind, where)
        elif kind == "BarStage":
            self.bar_stage(node, where)
        elif kind == "Entity":
            assert self.w.policy.scope(self.roles, "read", node["name"]) is not None, (self.user, where, node)
            names = {f["name"] for f in node.get("fields", [])}
            assert names <= self.w.policy.fields(self.roles, node["name"]), (self.user, where, node)
        elif kind == "ProcessAnalytics":
            assert self.w.policy.scope(self.roles, "read", "thing") == "all", (self.user, where)
        for value in node.values():
            self.walk(value, where)

    def record(self, node: dict[str, Any], kind: str, where: str) -> None:
        row = self.w.records.get(node["id"])
        entity = TYPED.get(kind) or (row.entity if row else node.get("entity"))
        if node.get("version") == 0:  # veiled: an instance's record it may not read, shown by its id alone
            assert node.get("values", {}) == {} and node.get("owner", "") == "", (self.user, where, node)
            assert node.get("permissions", []) == [] and node.get("form", []) == [], (self.user, where, node)
            return
        assert row is not None, (self.user, where, node)
        assert self.readable(row), f"{self.user} {sorted(self.roles)} read {row} through {where}"
        self.seen.add(row.id)
        allowed = self.w.policy.fields(self.roles, entity)
        if "values" in node:
            assert set(node["values"]) == allowed, (self.user, where, node["values"], allowed)
        if "form" in node:
            assert {f["name"] for f in node["form"]} == allowed, (self.user, where, node["form"])
        secret = FIELDS[entity][1]
        if kind in TYPED and secret not in allowed:
            assert node.get(secret) is None, (self.user, where, node)
        if "owner" in node:
            assert node["owner"] == row.owner, (self.user, where, node)

    def bar_stage(self, node: dict[str, Any], where: str) -> None:
        entity = node["stage"]["entity"]
        allowed = self.w.policy.fields(self.roles, entity)
        none = self.w.policy.scope(self.roles, "read", entity) is None
        for s in node.get("steps", []):
            field = s["step"]["field"] if isinstance(s.get("step"), dict) else None
            if field is not None and (none or field not in allowed):
                assert s["hidden"] is True and s["value"] is None and not s.get("done"), (self.user, where, s)


def walk_reads(w: World, schema: Schema) -> None:
    for user in (*USERS, "root"):
        client, check = w.client(user), Check(w, user)
        for text, variables in queries(schema, w):
            body = client.post(text, variables).json()
            errors = [e for e in body.get("errors") or [] if "is not a field" not in e["message"]]
            assert not errors, (text, variables, body)
            check.walk(body.get("data"), f"{text} {variables}")
            if "$s" in text and body.get("data"):
                # A search finds a record only by what the caller may read of it.
                entity, word = variables["e"], variables["s"]
                field = "a" if word == "alpha" else FIELDS[entity][1]
                if field not in w.policy.fields(check.roles, entity):
                    assert body["data"]["records"]["total"] == 0, (user, variables, body)
        # And whatever it may read, it gets: each readable record by id, with its readable fields.
        for row in w.records.values():
            got = client.gql("query($id: ID!) { record(id: $id) { id values } }", id=row.id)["record"]
            if check.readable(row):
                assert got is not None and set(got["values"]) == w.policy.fields(check.roles, row.entity), \
                    (user, row, got)
            else:
                assert got is None, (user, row, got)


MUTATIONS = {
    "update": ("mutation($id: ID!, $v: JSON!) { r: updateRecord(id: $id, values: $v) { __typename } }", "update"),
    "delete": ("mutation($id: ID!) { r: deleteRecord(id: $id) { __typename } }", "delete"),
    "assign": ('mutation($id: ID!) { r: assignRecord(id: $id, owner: "u1") { __typename } }', "assign"),
}


def walk_writes(w: World) -> None:
    """Every mutation the oracle says a caller may not make: refused, and nothing stored changes."""
    before = w.stored()
    tried = 0
    for user, roles_tuple in USERS.items():
        roles, client = frozenset(roles_tuple), w.client(user)
        for row in w.records.values():
            plain, secret = FIELDS[row.entity]
            readable = w.policy.may(user, roles, "read", row)
            for name, (text, verb) in MUTATIONS.items():
                variants = [{"v": {plain: "changed"}}, {"v": {secret: "changed"}}] if name == "update" else [{}]
                for extra in variants:
                    fields = set(extra.get("v", {}))
                    allowed = readable and w.policy.may(user, roles, verb, row) and \
                        fields <= w.policy.fields(roles, row.entity)
                    if allowed:
                        continue
                    got = client.gql(text, id=row.id, **extra)["r"]
                    assert got["__typename"] == "ValidationError", (user, name, extra, row, got)
                    tried += 1
        for entity in FIELDS:
            plain, secret = FIELDS[entity]
            for values in ({plain: "new"}, {plain: "new", secret: "new"}):
                allowed = w.policy.scope(roles, "create", entity) is not None and \
                    set(values) <= w.policy.fields(roles, entity)
                if allowed:
                    continue
                got = client.gql("mutation($e: String!, $v: JSON!) { r: createRecord(entity: $e, values: $v) "
                                 "{ __typename } }", e=entity, v=values)["r"]
                assert got["__typename"] == "ValidationError", (user, entity, values, got)
                tried += 1
        for iid in w.instances:
            with w.service.storage.read() as tx:
                inst = tx.get_instance(iid)
            assert inst is not None
            primary = w.records[inst.record_id]
            if roles & set(w.policy.process_roles) and w.policy.may(user, roles, "read", primary):
                continue
            got = client.gql("mutation($i: ID!) { r: abandonProcess(instanceId: $i) { __typename "
                             "... on TransitionError { code } } }", i=iid)["r"]
            assert got.get("code") in ("FORBIDDEN", "NOT_FOUND"), (user, iid, got)
            tried += 1
    assert w.stored() == before, "a refused mutation changed something"
    assert tried > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_caller_reads_or_changes_what_its_grants_do_not_give(backend: str,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    counter = iter(range(1_000_000))

    @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(policy=POLICIES)
    def check(policy: Policy) -> None:
        note(policy.text())  # a failure shows the model it happened on
        folder = tmp_path_factory.mktemp(f"access{next(counter)}")
        with world(policy, backend, folder) as w:
            schema = Schema(w.client("root").gql(INTROSPECT))
            names = {f["name"] for f in schema.root_fields()}
            assert {"record", "records", "processBar", "processInstances", "processInstance", "thing", "other",
                    "entities"} <= names, names
            walk_reads(w, schema)
            walk_writes(w)

    check()
