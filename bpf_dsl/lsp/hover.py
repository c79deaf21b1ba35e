"""Hover: what a name is. A field's type, label and options; an entity's label and fields; a stage's
entity and category; a role's label; an action's or a function's signature and description."""

from __future__ import annotations

from bpf_dsl import nodes as n
from bpf_dsl.lsp.completion import action_signature, function_signature
from bpf_dsl.lsp.index import ENTITY, FIELD, OPTION, PROCESS, ROLE, RULE, STAGE, FileIndex, Info, Symbol
from bpf_dsl.model import OPTION_KINDS, FieldSpec
from bpf_dsl.plugins import Registry
from bpf_dsl.plugins.builtins import D365_CATEGORIES

_COLUMNS = {"id": ("text", "the record's id"), "created_at": ("datetime", "when the record was created"),
            "updated_at": ("datetime", "when it last changed"),
            "version": ("integer", "1 when created, one more at every change"),
            "owner": ("text", "the user who owns it (the creator, until it is assigned)"),
            "created_by": ("text", "the user who created it")}


def _code(text: str) -> str:
    return f"```bpf\n{text}\n```"


def field_text(f: FieldSpec, entity: str) -> str:
    """A field as its declaration reads, then its options and where it belongs."""
    mods = []
    if f.required:
        mods.append("required")
    if f.unique:
        mods.append("unique")
    if f.default is not None:
        mods.append(f"default {f.default}")
    if f.minimum is not None:
        mods.append(f"min {f.minimum}")
    if f.maximum is not None:
        mods.append(f"max {f.maximum}")
    if f.restricted_to:
        mods.append(f"restricted to {', '.join(f.restricted_to)}")
    lines = [_code(f"{f.name} \"{f.label}\": {f.type}{' ' if mods else ''}{' '.join(mods)}"),
             f"A field of `{entity}`."]
    if f.type.kind in OPTION_KINDS:
        lines.append("Options: " + ", ".join(f"`{o.name}` \"{o.label}\"" for o in f.type.options))
    if f.type.kind == "lookup":
        lines.append(f"A reference to a `{f.type.entity}` record.")
    return "\n\n".join(lines)


def _stage(index: FileIndex, process: str, name: str) -> tuple[n.Process, n.Stage] | None:
    p = next((p for p in index.check.processes if p.name == process), None)
    if p is None:
        return None
    s = next((s for s in n.stages(p.flow) if s.name == name), None)
    return None if s is None else (p, s)


def symbol_text(index: FileIndex, symbol: Symbol) -> str | None:
    """The hover of a declared name."""
    check = index.check
    if symbol.kind == FIELD:
        entity = check.entities.get(symbol.container)
        spec = entity.fields.get(symbol.name) if entity is not None else None
        return field_text(spec, symbol.container) if spec is not None else None
    if symbol.kind == ENTITY:
        e = check.entities.get(symbol.name)
        if e is None:
            return None
        processes = [p.name for p in check.processes if p.entity == e.name]
        text = [_code(f"entity {e.name} \"{e.label}\""),
                f"{len(e.fields)} fields: " + ", ".join(f"`{f}`" for f in e.fields)]
        if processes:
            text.append("Processes on it: " + ", ".join(f"`{p}`" for p in processes))
        return "\n\n".join(text)
    if symbol.kind == ROLE:
        role = check.roles.get(symbol.name)
        return _code(f"role {symbol.name} \"{role.label if role else symbol.name}\"")
    if symbol.kind == PROCESS:
        p = next((p for p in check.processes if p.name == symbol.name), None)
        if p is None:
            return None
        roles = p.setting("roles")
        names = ", ".join(r.name for r in roles.value) if roles is not None and isinstance(roles.value, tuple) \
            else "admins only"
        stages = n.stages(p.flow)
        return "\n\n".join([_code(f"process {p.name} \"{p.label or n.derive_label(p.name)}\" on {p.entity}"),
                            f"{len(stages)} stages: " + " → ".join(f"`{s.name}`" for s in stages),
                            f"Roles: {names}"])
    if symbol.kind == STAGE:
        staged = _stage(index, symbol.container, symbol.name)
        if staged is None:
            return None
        p, s = staged
        head = f"stage {s.name} \"{s.label or n.derive_label(s.name)}\""
        if s.category:
            head += f" category {s.category}"
        on = s.entity or p.entity
        head += f" on {on}" + (f" via {s.via}" if s.via else "")
        steps = [st.field if isinstance(st, n.DataStep) else f"\"{st.label}\"" for st in s.steps]
        text = [_code(head), f"A stage of `{p.name}`, on `{on}`"
                + (f", category `{s.category}`" if s.category else "") + "."]
        if steps:
            text.append("Steps: " + ", ".join(f"`{x}`" for x in steps))
        if s.sla is not None:
            text.append(f"SLA: {s.sla.text}")
        return "\n\n".join(text)
    if symbol.kind == OPTION:
        owner, _, name = symbol.container.partition(".")
        holder = check.entities.get(owner)
        spec = holder.fields.get(name) if holder is not None else None
        option = next((o for o in spec.type.options if o.name == symbol.name), None) if spec is not None else None
        label = option.label if option is not None else symbol.name
        kind = f" ({spec.type})" if spec is not None else ""
        return _code(f"{symbol.name} \"{label}\"") + f"\n\nAn option of `{owner}.{name}`{kind}."
    if symbol.kind == RULE:
        rule = next((r for r in check.rules if r.name == symbol.name), None)
        return _code(f"rule {symbol.name}" + (f" on {rule.entity}" if rule else ""))
    return None


def info_text(info: Info, registry: Registry) -> str | None:
    """The hover of a call, a category, a built-in column or an action's argument."""
    if info.kind == "action":
        action = registry.actions.get(info.name)
        if action is None:
            return None
        return _code(action_signature(action)) + (f"\n\n{action.description}" if action.description else "")
    if info.kind == "function":
        function = registry.functions.get(info.name)
        if function is None:
            return None
        return _code(function_signature(function)) + (f"\n\n{function.description}" if function.description else "")
    if info.kind == "argument":
        dotted, _, name = info.name.rpartition(".")
        action = registry.actions.get(dotted)
        param = next((p for p in action.params if p.name == name), None) if action is not None else None
        if param is None:
            return None
        values = f" (one of {', '.join(param.options)})" if param.options else ""
        return _code(f"{name}{'' if param.required else '?'}: {param.type}") + \
            f"\n\nAn argument of `{dotted}`{values}."
    if info.kind == "category":
        where = "one of D365's categories" if info.name in D365_CATEGORIES else "a category added by an installed pack"
        return _code(f"category {info.name}") + f"\n\nA stage category: {where}."
    if info.kind == "column":
        kind, meaning = _COLUMNS.get(info.name, ("", ""))
        return _code(f"{info.name}: {kind}") + f"\n\nA built-in column of every record: {meaning}. Only the server " \
                                                 "sets it."
    if info.kind == "event":
        return _code(f"on {info.name}") + "\n\nA hook: its actions run in the move's transaction."
    return None
