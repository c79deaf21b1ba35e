"""The names pass: roles, entities (with their extensions), fields and their types; duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bpf_dsl import nodes as n
from bpf_dsl.checker.context import Context, did_you_mean, listing
from bpf_dsl.model import (
    ALL_KINDS,
    BUILTIN_COLUMNS,
    BUILTIN_ROLES,
    NUMBER_KINDS,
    OPTION_KINDS,
    SIMPLE_KINDS,
    TEXT_KINDS,
    VERBS,
    EntitySpec,
    FieldSpec,
    FieldType,
    GrantSpec,
    OptionSpec,
    RoleSpec,
    kind_problem,
    label_of,
)

_TYPE_HINT = "the types are text, integer, decimal, money, bool, date, datetime, email, phone, url, " \
             "choice(...), choices(...) and lookup(ENTITY)"


def declare(ctx: Context, modules: Sequence[n.Module]) -> tuple[list[n.Process], list[n.Rule]]:
    """Fill ``ctx.roles`` and ``ctx.entities``; return the processes and rules in module order."""
    decls = [d for m in modules for d in m.declarations]
    seen: dict[tuple[str, str], n.Span] = {}

    def unique(kind: str, name: str, span: n.Span) -> bool:
        key = (kind, name)
        if key in seen:
            first = seen[key]
            ctx.error("BPF020", f"the {kind} `{name}` is declared twice (first at {first})", span,
                      f"names are unique per kind across every imported file; rename one {kind}")
            return False
        seen[key] = span
        return True

    for role in BUILTIN_ROLES:
        ctx.roles[role] = RoleSpec(role, label_of(role, None))
    bases: list[n.Entity] = []
    extensions: list[n.Entity] = []
    processes: list[n.Process] = []
    rules: list[n.Rule] = []
    for d in decls:
        if isinstance(d, n.Role):
            if d.name in BUILTIN_ROLES:
                ctx.error("BPF020", f"`{d.name}` is a built-in role", d.span, "choose another name")
            elif unique("role", d.name, d.span):
                ctx.roles[d.name] = RoleSpec(d.name, label_of(d.name, d.label))
        elif isinstance(d, n.Entity):
            if d.extend:
                extensions.append(d)
            elif unique("entity", d.name, d.span):
                bases.append(d)
        elif isinstance(d, n.Process):
            if unique("process", d.name, d.span):
                processes.append(d)
        elif isinstance(d, n.Rule) and unique("rule", d.name, d.span):
            rules.append(d)

    entity_names = {e.name for e in bases}
    fields: dict[str, list[n.FieldDecl]] = {e.name: list(e.fields) for e in bases}
    grants: dict[str, list[n.Grant]] = {e.name: list(e.grants) for e in bases}
    for ext in extensions:
        if ext.name not in entity_names:
            ctx.error("BPF025", f"`extend entity {ext.name}`: no entity `{ext.name}` is declared",
                      ext.span, did_you_mean(ext.name, entity_names, also="import the file or pack that declares it"))
            continue
        fields[ext.name].extend(ext.fields)
        grants[ext.name].extend(ext.grants)
    for e in bases:
        specs: dict[str, FieldSpec] = {}
        for f in fields[e.name]:
            spec = _field(ctx, e.name, f, entity_names)
            if f.name in BUILTIN_COLUMNS:
                ctx.error("BPF026", f"`{f.name}` is a built-in column of every record", f.span,
                          "id, created_at, updated_at, version, owner and created_by exist already; "
                          "choose another name")
            elif f.name in specs:
                ctx.error("BPF023", f"the field `{f.name}` is declared twice in `{e.name}`", f.span,
                          f"first at {specs[f.name].span}")
            else:
                specs[f.name] = spec
        ctx.entities[e.name] = EntitySpec(e.name, label_of(e.name, e.label), specs, e.span,
                                          tuple(_grant(ctx, g) for g in grants[e.name]))
    return processes, rules


def _known_roles(ctx: Context, roles: Sequence[n.Role], what: str) -> tuple[str, ...]:
    """The names of ``roles``, each unknown one an error (BPF024)."""
    for role in roles:
        if role.name not in ctx.roles:
            ctx.error("BPF024", f"unknown role `{role.name}` in {what}", role.span,
                      did_you_mean(role.name, ctx.roles, also=f"declare it with `role {role.name}`"))
    return tuple(dict.fromkeys(r.name for r in roles))


def _grant(ctx: Context, g: n.Grant) -> GrantSpec:
    roles = _known_roles(ctx, g.roles, "`allow`")
    for verb, at in zip(g.verbs, g.verb_spans or (g.span,) * len(g.verbs), strict=True):
        if verb not in VERBS:
            ctx.error("BPF073", f"`{verb}` is not something `allow` grants", at,
                      did_you_mean(verb, VERBS, also=f"the verbs: {listing(VERBS)}"))
    return GrantSpec(roles, tuple(dict.fromkeys(v for v in g.verbs if v in VERBS)), g.own)


def _field(ctx: Context, entity: str, f: n.FieldDecl, entity_names: set[str]) -> FieldSpec:
    ftype = _type(ctx, f.type, entity_names)
    mods: dict[str, n.Modifier] = {}
    for m in f.modifiers:
        if m.kind in mods:
            ctx.error("BPF038", f"`{m.kind}` is given twice for `{f.name}`", m.span, "keep one")
        mods[m.kind] = m
    minimum = _bound(ctx, f, ftype, mods.get("min"))
    maximum = _bound(ctx, f, ftype, mods.get("max"))
    if minimum is not None and maximum is not None and minimum > maximum:
        ctx.error("BPF033", f"`{f.name}` has min {minimum} above max {maximum}", _value_span(mods["max"]),
                  "swap them or widen the range")
    default = None
    if "default" in mods:
        default = _default(ctx, f, ftype, mods["default"], minimum, maximum)
    restricted = mods.get("restricted")
    restricted_to = () if restricted is None else _known_roles(ctx, restricted.roles, "`restricted to`")
    return FieldSpec(f.name, label_of(f.name, f.label), ftype, "required" in mods, default, minimum, maximum,
                     "unique" in mods, f.span, restricted_to)


def _type(ctx: Context, t: n.TypeRef, entity_names: set[str]) -> FieldType:
    if t.name not in ALL_KINDS:
        ctx.error("BPF030", f"unknown field type `{t.name}`", t.span, did_you_mean(t.name, sorted(ALL_KINDS),
                                                                                   also=None) or _TYPE_HINT)
        return FieldType("any")
    if t.name in SIMPLE_KINDS:
        if t.args is not None:
            ctx.error("BPF031", f"`{t.name}` takes no arguments", t.span,
                      "only choice(...), choices(...) and lookup(ENTITY) take arguments")
        return FieldType(t.name)
    if t.name in OPTION_KINDS:
        if not t.args:
            ctx.error("BPF031", f"`{t.name}` needs its options", t.span,
                      f'write {t.name}(a "Label A", b "Label B")')
            return FieldType("any")
        options: list[OptionSpec] = []
        names: set[str] = set()
        for o in t.args:
            if o.name in names:
                ctx.error("BPF028", f"the option `{o.name}` is listed twice", o.span, "remove one")
                continue
            names.add(o.name)
            options.append(OptionSpec(o.name, label_of(o.name, o.label)))
        return FieldType(t.name, tuple(options))
    # lookup
    if not t.args or len(t.args) != 1 or t.args[0].label is not None:
        ctx.error("BPF031", "`lookup` takes exactly one entity name", t.span, "write lookup(account)")
        return FieldType("any")
    target = t.args[0]
    if target.name not in entity_names:
        ctx.error("BPF021", f"unknown entity `{target.name}`", target.span,
                  did_you_mean(target.name, entity_names, also=f"entities: {listing(sorted(entity_names))}"))
        return FieldType("any")
    return FieldType("lookup", entity=target.name)


def _bound(ctx: Context, f: n.FieldDecl, ftype: FieldType, m: n.Modifier | None) -> Any:
    if m is None:
        return None
    if ftype.kind != "any" and ftype.kind not in NUMBER_KINDS and ftype.kind not in TEXT_KINDS:
        ctx.error("BPF033", f"`{m.kind}` doesn't apply to a {ftype.kind} field", m.span,
                  "min and max bound numbers, and the length of text")
        return None
    assert isinstance(m.value, n.Literal)
    value = m.value.value
    if ftype.kind in TEXT_KINDS and (not isinstance(value, int) or value < 0):
        ctx.error("BPF033", f"`{m.kind}` of a text field is a length: a whole number from 0", _value_span(m), None)
        return None
    return value


def _value_span(m: n.Modifier) -> n.Span:
    """Where a modifier's value stands (``150`` in ``default 150``): what a caret about the value points at."""
    if m.value is None or m.value.span == n.NO_SPAN:
        return m.span
    return m.value.span


def _default(ctx: Context, f: n.FieldDecl, ftype: FieldType, m: n.Modifier, lo: Any, hi: Any) -> Any:
    v = m.value
    at = _value_span(m)
    kind = ftype.kind
    if kind == "any" or (isinstance(v, n.Literal) and v.kind == "null"):
        return None
    bad = f"the default of `{f.name}` doesn't fit its type {ftype}"
    if kind in OPTION_KINDS:
        if isinstance(v, n.Ref) and v.parts[0] in ftype.option_names:
            return v.parts[0] if kind == "choice" else (v.parts[0],)
        name = v.parts[0] if isinstance(v, n.Ref) else None
        ctx.error("BPF032", f"`{name}` is not an option of `{f.name}`" if name else bad, at,
                  did_you_mean(name or "", ftype.option_names, also=f"options: {listing(ftype.option_names)}"))
        return None
    if kind == "lookup":
        ctx.error("BPF032", f"a lookup (`{f.name}`) can't have a default", at,
                  "records are referenced by id; set it with a rule or a hook")
        return None
    if not isinstance(v, n.Literal):
        ctx.error("BPF032", bad, at, "a default is a literal value, or an option's name for a choice")
        return None
    ok = (
        (kind in TEXT_KINDS and v.kind == "text")
        or (kind in NUMBER_KINDS and v.kind == "number" and (kind != "integer" or isinstance(v.value, int)))
        or (kind == "bool" and v.kind == "bool")
        or (kind == "date" and v.kind == "date")
        or (kind == "datetime" and v.kind == "datetime")
    )
    if not ok:
        ctx.error("BPF032", bad, at, _example_for(kind))
        return None
    value = v.value
    problem = kind_problem(kind, value)
    if problem:  # what every write of the default would be refused for
        ctx.error("BPF032", f"the default of `{f.name}` {problem}", at, None)
        return None
    measure = len(value) if isinstance(value, str) else value
    if isinstance(measure, int | Decimal) and not isinstance(measure, bool) and (
            (lo is not None and measure < lo) or (hi is not None and measure > hi)):
        ctx.error("BPF032", f"the default of `{f.name}` is outside its min/max", at, None)
    return value


def _example_for(kind: str) -> str:
    return {
        "integer": "for example `default 0`",
        "decimal": "for example `default 12.5`",
        "money": "for example `default 0`",
        "bool": "write `default true` or `default false`",
        "date": 'write `default date("2026-01-31")`',
        "datetime": 'write `default datetime("2026-01-31T09:00:00Z")`',
    }.get(kind, 'for example `default "text"`')
