"""Completion: what may be written at the cursor, from the grammar (keywords) and the unit's model (names).

Keywords are those the LALR parser accepts at the cursor (:mod:`bpf_dsl.parser.prefix`); names
come from the last good check of the file's unit: the fields of the stage's entity after
``step``, the options of a choice compared in a condition, the roles after ``roles`` or
``allow``, the categories after ``category``, the entities after ``on``, the lookup fields after
``via``, and the installed packs' actions and functions with their parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types as lsp

from bpf_dsl.lsp.context import Cursor, Frame
from bpf_dsl.lsp.index import FileIndex
from bpf_dsl.model import ALL_KINDS, BUILTIN_COLUMNS, OPTION_KINDS, VERBS, EntitySpec, FieldSpec
from bpf_dsl.plugins import ActionSpec, FunctionSpec, Param, Registry

K = lsp.CompletionItemKind
STAGE_EVENTS = ("enter", "exit", "overdue")
PROCESS_EVENTS = ("start", "finish", "abandon", "reactivate")
_RULE_FIELD_WORDS = frozenset({"require", "optional", "lock", "unlock", "hide", "show", "error", "recommend", "set",
                               "default"})
_EXPRESSION_AFTER = frozenset({"=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", "[", ",", "and", "or", "not",
                               "contains", "with", "if", "gate", ":"})
_TYPE_SNIPPETS = {"choice": "choice(${1:option})", "choices": "choices(${1:option})", "lookup": "lookup(${1:entity})"}


class Completer:
    """Completion items for one request."""

    def __init__(self, cursor: Cursor, index: FileIndex | None, registry: Registry, snippets: bool) -> None:
        self.cursor = cursor
        self.index = index
        self.registry = registry
        self.snippets = snippets

    # -- the model ---------------------------------------------------------------------------------
    @property
    def entities(self) -> dict[str, EntitySpec]:
        return dict(self.index.check.entities) if self.index is not None else {}

    def entity(self, name: str | None) -> EntitySpec | None:
        return self.entities.get(name or "")

    def primary(self) -> str | None:
        process = self.cursor.enclosing("process")
        if process is None and self.cursor.header is not None and self.cursor.header.kind == "process":
            process = self.cursor.header
        return process.after("on") if process is not None else None

    def stage_entity(self, stage: Frame | None = None) -> str | None:
        stage = stage or self.cursor.enclosing("stage")
        if stage is None:
            return None
        return stage.after("on") or self.primary()

    def scope(self) -> str | None:
        """The entity whose fields plain names read at the cursor."""
        c = self.cursor
        rule = c.enclosing("rule")
        if rule is not None:
            return rule.after("on")
        if c.header is not None and c.header.kind == "rule":
            return c.header.after("on")
        create = c.enclosing("create")
        if create is not None:
            stage_entity = self.entity(self.stage_entity())
            if "=" not in c.statement:
                return stage_entity.name if stage_entity is not None else None
            via = c.enclosing("stage").after("via") if c.enclosing("stage") is not None else None  # type: ignore[union-attr]
            spec = stage_entity.fields.get(via or "") if stage_entity is not None else None
            return spec.type.entity if spec is not None else None
        if c.enclosing("stage") is not None:
            return self.stage_entity()
        if c.header is not None and c.header.kind == "branch":
            flow = next((f for f in reversed(c.frames) if f.kind in ("process", "branch")), None)
            last = flow.last_entity if flow is not None else None
            return last or self.primary()
        return self.primary()

    # -- items ---------------------------------------------------------------------------------------
    def keywords(self, words: Iterable[str]) -> list[lsp.CompletionItem]:
        return [lsp.CompletionItem(w, kind=K.Keyword, sort_text=f"3{w}") for w in sorted(words)
                if w.isalpha() and w.islower()]

    def accepted_keywords(self) -> list[lsp.CompletionItem]:
        return self.keywords(self.cursor.accepted or ())

    def fields(self, entity: str | None, *, columns: bool = False, only: str | None = None) -> list[lsp.CompletionItem]:
        spec = self.entity(entity)
        if spec is None:
            return []
        items = [_field_item(f, spec.name) for f in spec.field_list() if only is None or f.type.kind == only]
        if columns:
            items += [lsp.CompletionItem(c, kind=K.Field, detail=f"built-in column of every {spec.name}",
                                         sort_text=f"2{c}") for c in BUILTIN_COLUMNS]
        return items

    def entity_items(self) -> list[lsp.CompletionItem]:
        return [lsp.CompletionItem(e.name, kind=K.Class, detail=f"entity \"{e.label}\"",
                                   documentation=f"{len(e.fields)} fields", sort_text=f"2{e.name}")
                for e in self.entities.values()]

    def roles(self) -> list[lsp.CompletionItem]:
        roles = self.index.check.roles if self.index is not None else {}
        return [lsp.CompletionItem(r.name, kind=K.Constant, detail=f"role \"{r.label}\"", sort_text=f"1{r.name}")
                for r in roles.values()]

    def options(self, spec: FieldSpec, entity: str) -> list[lsp.CompletionItem]:
        return [lsp.CompletionItem(o.name, kind=K.EnumMember, detail=f"option \"{o.label}\" of {entity}.{spec.name}",
                                   sort_text=f"0{i:03}") for i, o in enumerate(spec.type.options)]

    def actions(self) -> list[lsp.CompletionItem]:
        return [self._callable(a.dotted, a.params, action_signature(a), a.description, K.Method)
                for a in self.registry.actions.values()]

    def functions(self, namespace: str | None = None) -> list[lsp.CompletionItem]:
        out = []
        for f in self.registry.functions.values():
            if namespace is not None and f.namespace != namespace:
                continue
            label = f.name if namespace is not None else f.dotted
            out.append(self._callable(label, f.params, function_signature(f), f.description, K.Function,
                                      positional=True))
        return out

    def _callable(self, label: str, params: tuple[Param, ...], signature: str, doc: str, kind: lsp.CompletionItemKind,
                  positional: bool = False) -> lsp.CompletionItem:
        if self.snippets:
            args = ", ".join(f"${{{i + 1}:{p.name}}}" if positional else f"{p.name}: ${{{i + 1}}}"
                             for i, p in enumerate(params))
            return lsp.CompletionItem(label, kind=kind, detail=signature, documentation=doc or None,
                                      insert_text=f"{label}({args})", insert_text_format=lsp.InsertTextFormat.Snippet,
                                      sort_text=f"2{label}")
        return lsp.CompletionItem(label, kind=kind, detail=signature, documentation=doc or None,
                                  insert_text=f"{label}(", sort_text=f"2{label}")

    def types(self) -> list[lsp.CompletionItem]:
        out = []
        for t in sorted(ALL_KINDS):
            if t in _TYPE_SNIPPETS and self.snippets:
                out.append(lsp.CompletionItem(t, kind=K.TypeParameter, insert_text=_TYPE_SNIPPETS[t],
                                              insert_text_format=lsp.InsertTextFormat.Snippet))
            else:
                out.append(lsp.CompletionItem(t, kind=K.TypeParameter))
        return out

    # -- what fits where ------------------------------------------------------------------------------
    def items(self) -> list[lsp.CompletionItem]:
        c = self.cursor
        if "." in c.word:
            return self.members(c.word.rsplit(".", 1)[0])
        prev = c.previous
        if c.brackets:
            found = self.in_brackets(*c.brackets[-1])
            if found is not None:
                return found
        header = c.header
        if header is not None:
            found = self.in_header(header, prev)
            if found is not None:
                return found
        block = c.block.kind
        first = c.statement[0] if c.statement else ""
        if prev == "call":
            return self.actions()
        if prev == "step" and block == "stage":
            return self.fields(self.stage_entity())
        if prev in _RULE_FIELD_WORDS and block in ("rule", "rule-if"):
            return self.fields(self.scope())
        if prev == "set" and block == "hook":
            return self.fields(self.scope()) + self.entity_items()
        if block == "create" and not c.statement:
            return self.fields(self.stage_entity())
        if first == "roles" and prev in ("roles", ","):
            return self.roles()
        if first == "allow":
            return [lsp.CompletionItem(v, kind=K.Keyword) for v in VERBS] if "to" in c.statement else self.roles()
        if prev == "to" and len(c.statement) >= 2 and c.statement[-2] == "restricted":
            return self.roles()
        if prev == "," and "restricted" in c.statement and c.statement.count(":") and \
                c.statement.index("restricted") > c.statement.index(":"):
            return self.roles()
        if block == "entity":
            found = self.in_entity(prev)
            if found is not None:
                return found
        if prev in _EXPRESSION_AFTER or (block in ("rule", "rule-if", "hook", "create") and prev == "="):
            return self.expression(prev)
        return self.accepted_keywords()

    def in_header(self, header: Frame, prev: str) -> list[lsp.CompletionItem] | None:
        if header.kind == "import" and prev == "import":
            return [lsp.CompletionItem(m, kind=K.Module, detail=f"the module of the installed pack {m}")
                    for m in sorted(self.registry.modules)]
        if header.kind == "hook" and prev == "on":
            inside_stage = self.cursor.block.kind == "stage"
            return [lsp.CompletionItem(e, kind=K.Event) for e in (STAGE_EVENTS if inside_stage else PROCESS_EVENTS)]
        if prev == "on" and header.kind in ("process", "rule", "stage"):
            return self.entity_items()
        if prev == "via" and header.kind == "stage":
            return self.fields(header.after("on"), only="lookup")
        if prev == "category" and header.kind == "stage":
            return [lsp.CompletionItem(cat, kind=K.EnumMember, detail="stage category") for cat in
                    sorted(self.registry.categories)]
        if header.kind == "entity" and header.words == ["extend"]:
            return self.keywords(["entity"])
        if header.kind == "entity" and header.words == ["extend", "entity"]:
            return self.entity_items()
        if header.kind in ("branch", "rule-if") and prev in _EXPRESSION_AFTER:
            return self.expression(prev)
        return None

    def in_brackets(self, kind: str, before: list[str]) -> list[lsp.CompletionItem] | None:
        prev = self.cursor.previous
        if kind == "(" and len(before) >= 4 and before[-4] == "call" and before[-2] == ".":
            action = self.registry.actions.get(f"{before[-3]}.{before[-1]}")
            if prev in ("(", ","):
                if action is None:
                    return []
                given = {self.cursor.statement[i - 1] for i, t in enumerate(self.cursor.statement) if t == ":"}
                return [lsp.CompletionItem(p.name, kind=K.Property, detail=param_text(p), insert_text=f"{p.name}: ",
                                           sort_text=f"0{i:02}") for i, p in enumerate(action.params)
                        if p.name not in given]
            if prev == ":" and action is not None:
                name = self.cursor.statement[-2]
                param = next((p for p in action.params if p.name == name), None)
                if param is not None and param.options:
                    return [lsp.CompletionItem(f'"{o}"', kind=K.EnumMember, detail=f"a value of {name}")
                            for o in param.options] + self.expression(prev)
                if param is not None and action.dotted == "bpf.notify" and name == "role":
                    return [lsp.CompletionItem(f'"{r.label and r.name}"', kind=K.Constant, detail="role")
                            for r in self.index.check.roles.values()] if self.index is not None else []
            return None
        if kind == "(" and before and before[-1] == "lookup":
            return self.entity_items()
        if kind == "(" and before and before[-1] in OPTION_KINDS:
            return []
        if kind == "[" and prev in ("[", ","):
            owner = self.operand(before[:-1] if before and before[-1] == "in" else before)
            if before and before[-1] == "not":
                owner = self.operand(before[:-1])
            items = self.options_of(owner)
            return items + self.expression(prev, choice=False) if items else self.expression(prev)
        return None

    def in_entity(self, prev: str) -> list[lsp.CompletionItem] | None:
        c = self.cursor
        if prev == ":":
            return self.types()
        if prev == "default":
            colon = len(c.statement) - 1 - c.statement[::-1].index(":") if ":" in c.statement else -1
            if colon >= 0 and colon + 1 < len(c.statement) and c.statement[colon + 1] in OPTION_KINDS:
                rest = c.statement[colon + 2:]
                names = [t for i, t in enumerate(rest) if t.isidentifier() and i and rest[i - 1] in ("(", ",")]
                return [lsp.CompletionItem(o, kind=K.EnumMember) for o in names]
            if colon >= 0 and colon + 1 < len(c.statement) and c.statement[colon + 1] == "bool":
                return self.keywords(["true", "false"])
            return []
        return None

    def operand(self, tokens: list[str]) -> tuple[str, FieldSpec] | None:
        """The field the dotted name at the end of ``tokens`` reads (from the scope, following lookups)."""
        parts: list[str] = []
        i = len(tokens) - 1
        while i >= 0 and tokens[i].isidentifier():
            parts.insert(0, tokens[i])
            if i >= 1 and tokens[i - 1] == ".":
                i -= 2
            else:
                break
        if not parts:
            return None
        return self.resolve(parts)

    def resolve(self, parts: list[str]) -> tuple[str, FieldSpec] | None:
        entity = self.entity(self.scope())
        if entity is None:
            return None
        if parts[0] not in entity.fields and parts[0] in self.entities and len(parts) > 1:
            entity = self.entities[parts[0]]
            parts = parts[1:]
        spec: FieldSpec | None = None
        for i, part in enumerate(parts):
            if i:
                if spec is None or spec.type.kind != "lookup" or self.entity(spec.type.entity) is None:
                    return None
                entity = self.entities[spec.type.entity or ""]
            spec = entity.fields.get(part)
            if spec is None:
                return None
        return (entity.name, spec) if spec is not None else None

    def options_of(self, owner: tuple[str, FieldSpec] | None) -> list[lsp.CompletionItem]:
        if owner is None or owner[1].type.kind not in OPTION_KINDS:
            return []
        return self.options(owner[1], owner[0])

    def expression(self, prev: str, choice: bool = True) -> list[lsp.CompletionItem]:
        """Names a value may be made of here: options first where a choice is compared, then fields,
        built-in columns, entities (``E.field``), functions and the literals."""
        items: list[lsp.CompletionItem] = []
        if choice and prev in ("=", "!=", "contains"):
            items += self.options_of(self.operand(self.cursor.statement[:-1]))
        if choice and prev == "=" and self.cursor.block.kind in ("rule", "rule-if", "hook", "create") \
                and len(self.cursor.statement) >= 2:
            target = self.cursor.statement[:-1]
            if target and target[0] in ("set", "default"):
                target = target[1:]
            items += self.options_of(self.operand(target)) if not items else []
        items += self.fields(self.scope(), columns=True)
        items += self.entity_items()
        items += self.functions()
        items += self.keywords(["true", "false", "null", "not"])
        return items

    def members(self, head: str) -> list[lsp.CompletionItem]:
        """After ``head.``: the fields of a lookup's or an entity's record, a namespace's functions or actions."""
        c = self.cursor
        if c.previous == "call" or (c.statement and c.statement[-1] == "call"):
            return [self._callable(a.name, a.params, action_signature(a), a.description, K.Method)
                    for a in self.registry.actions.values() if a.namespace == head]
        found = self.resolve(head.split("."))
        if found is not None and found[1].type.kind == "lookup":
            return self.fields(found[1].type.entity, columns=True)
        if head in self.entities and "." not in head:
            return self.fields(head, columns=True)
        namespaces = {f.namespace for f in self.registry.functions.values()}
        if head in namespaces:
            return self.functions(head)
        return []


def _field_item(f: FieldSpec, entity: str) -> lsp.CompletionItem:
    return lsp.CompletionItem(f.name, kind=K.Field, detail=f"{f.type}{' required' if f.required else ''}",
                              documentation=f"\"{f.label}\", a field of {entity}", sort_text=f"1{f.name}")


def param_text(p: Param) -> str:
    """``name: type`` of a parameter, ``name?: type`` when optional, with its accepted values."""
    values = f" (one of {', '.join(p.options)})" if p.options else ""
    return f"{p.name}{'' if p.required else '?'}: {p.type}{values}"


def action_signature(a: ActionSpec) -> str:
    """``ns.name(p: type, q?: type)``."""
    return f"{a.dotted}({', '.join(param_text(p) for p in a.params)})"


def function_signature(f: FunctionSpec) -> str:
    """``name(a: type, b: type) -> type``."""
    return f"{f.dotted}({', '.join(param_text(p) for p in f.params)}) -> {f.returns}"


def complete(cursor: Cursor, index: FileIndex | None, registry: Registry, snippets: bool) -> list[lsp.CompletionItem]:
    """The completion items at ``cursor``, each label once."""
    seen: set[str] = set()
    out: list[lsp.CompletionItem] = []
    for item in Completer(cursor, index, registry, snippets).items():
        if item.label not in seen:
            seen.add(item.label)
            out.append(item)
    return out
