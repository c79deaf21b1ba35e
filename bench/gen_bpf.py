"""A deterministic generator of a large, valid .bpf program (the benchmark's input).

::

    python bench/gen_bpf.py --lines 10000 --seed 1 -o big.bpf

The program is made of "families": four related entities (a root, a child with
a lookup to the root, a grandchild with a lookup to the child, and a side
entity with a lookup to the root) with fields of every type, an ``extend
entity``, up to ten processes on the root (and a few on the child) that use
branches, nested branches, ``else if``, ``finish`` in arms, stages on other
entities entered through ``via`` with ``create`` blocks, hooks with ``set`` and
``call bpf.notify(...)`` and action steps, and business rules with every
action. Families are added until the text has about ``lines`` lines.

The generator mirrors the checker's flow analysis (which records are bound,
which fields earlier steps ask for) so that conditions only read fields that
were asked for on every path: ``bpf check`` reports no diagnostic at all, not
even a warning. The benchmark asserts this before it times anything.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field

# name -> type text; every entity has all of these (plus its lookups and extra fields).
_OPTIONS_LEVEL = ("low", "mid", "high")
_OPTIONS_STATUS = ("open", "done", "dropped")
_OPTIONS_TAGS = ("red", "green", "blue")

BASE_FIELDS: list[tuple[str, str | None, str, str]] = [
    # name, label, kind, declaration after the colon
    ("title", "Title", "text", "text required max 200"),
    ("code", None, "text", "text unique min 2 max 40"),
    ("quantity", "Quantity", "integer", "integer min 0 max 100000 default 1"),
    ("ratio", None, "decimal", "decimal min -100 max 100.5 default -1.5"),
    ("amount", "Amount", "money", "money min 0"),
    ("approved", "Approved", "bool", "bool default false"),
    ("urgent", None, "bool", "bool"),
    ("due_on", "Due On", "date", 'date default date("2026-01-31")'),
    ("seen_at", None, "datetime", 'datetime default datetime("2026-01-31T09:00:00Z")'),
    ("contact_email", "Contact Email", "email", "email"),
    ("contact_phone", None, "phone", "phone"),
    ("homepage", "Home Page", "url", "url"),
    ("level", "Level", "choice", 'choice(low "Low", mid "Mid", high "High") default mid'),
    ("tags", "Tags", "choices", 'choices(red "Red", green "Green", blue)'),
    ("summary", None, "text", "text max 2000"),
    ("internal_note", "Internal Note", "text", "text"),  # rules hide it: never a step
    ("status", None, "choice", 'choice(open "Open", done "Done", dropped "Dropped") default open'),
]

_EXTRA_TYPES: list[tuple[str, str]] = [
    ("text", 'text max 500 default "none"'),
    ("integer", "integer min -1000 max 1000"),
    ("decimal", "decimal default 2.5"),
    ("money", "money min 0 default 0"),
    ("bool", "bool default true"),
    ("date", "date"),
    ("datetime", "datetime"),
    ("email", "email"),
    ("phone", "phone unique"),
    ("url", "url"),
    ("choice", 'choice(low "Low", mid, high "High")'),
    ("choices", 'choices(red, green "Green", blue "Blue")'),
]

ROLES = [("agent", "Agent"), ("manager", "Manager"), ("auditor", "Auditor"), ("owner", None)]


@dataclass
class Entity:
    """What the generator knows of an entity: its fields' kinds, and its lookups."""

    name: str
    kinds: dict[str, str] = field(default_factory=dict)  # field -> kind
    lookups: dict[str, str] = field(default_factory=dict)  # lookup field -> target entity

    def steppable(self) -> list[str]:
        return [f for f in self.kinds if f != "internal_note"]


@dataclass
class State:
    """One point of the flow, as the checker sees it (asked: on every path, to stay safe)."""

    bound: frozenset[str]
    asked: frozenset[tuple[str, str]]
    last: str


class Gen:
    """Writes one program; ``self.out`` collects its lines."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out: list[str] = []
        self.entities: dict[str, Entity] = {}

    # -- helpers ------------------------------------------------------------------
    def emit(self, line: str = "", indent: int = 0) -> None:
        self.out.append("    " * indent + line if line else "")

    def pick(self, seq: list[str] | tuple[str, ...]) -> str:
        return seq[self.rng.randrange(len(seq))]

    def number(self, kind: str) -> str:
        if kind == "integer":
            return str(self.rng.randrange(0, 500))
        if kind == "decimal":
            return f"{self.rng.randrange(0, 90)}.{self.rng.randrange(1, 10)}"
        return str(self.rng.choice([100, 1000, 25000, 1000000]))

    # -- expressions ---------------------------------------------------------------
    def atom_condition(self, ref: str, kind: str) -> str:
        """A yes/no test of the field ``ref`` (a name or a dotted path) of kind ``kind``."""
        r = self.rng.randrange(6)
        if kind in ("integer", "decimal", "money"):
            op = self.pick((">=", "<", ">", "<=", "=", "!="))
            return [f"{ref} {op} {self.number(kind)}", f"{ref} + 1 > {self.number(kind)}",
                    f"{ref} * 2 <= {self.number(kind)}", f"-{ref} < 0", f"{ref} / 4 >= 1.5",
                    f"({ref} - 3) * 2 > {self.number(kind)}"][r]
        if kind == "bool":
            return [f"{ref} = true", f"{ref} = false", f"not ({ref} = false)", f"{ref} != true",
                    f"{ref} is not empty", f"{ref} = true"][r]
        if kind == "choice":
            opts = _OPTIONS_STATUS if ref.endswith("status") else _OPTIONS_LEVEL
            return [f"{ref} = {opts[2]}", f"{ref} in [{opts[0]}, {opts[1]}]", f"{ref} not in [{opts[2]}]",
                    f"{ref} != {opts[0]}", f'{ref} = "{opts[1]}"', f"{ref} is empty"][r]
        if kind == "choices":
            return [f"{ref} contains red", f"len({ref}) > 1", f"{ref} contains blue", f"{ref} is not empty",
                    f"len({ref}) = 0", f"{ref} contains green"][r]
        if kind in ("text", "email", "phone", "url"):
            return [f'{ref} starts with "A"', f'{ref} ends with ".com"', f'{ref} contains "x"',
                    f"{ref} is not empty", f"len({ref}) > {self.rng.randrange(1, 40)}",
                    f'lower({ref}) = "yes" or upper({ref}) = "NO"'][r]
        if kind == "date":
            return [f'{ref} < date("2026-06-01")', f"days_between({ref}, today()) > 30", f"{ref} >= today()",
                    f"{ref} + 7 > today()", f"{ref} is empty", f'{ref} != date("2027-01-01")'][r]
        if kind == "datetime":
            return [f'{ref} > datetime("2026-01-01T00:00:00Z")', f"{ref} <= now()",
                    f"days_between({ref}, now()) >= 2", f"{ref} is not empty",
                    f'{ref} < datetime("2030-01-01T00:00:00+02:00")', f"{ref} > today()"][r]
        raise ValueError(kind)

    def condition(self, refs: list[tuple[str, str]]) -> str:
        """A condition that reads only ``refs`` (name, kind), with and/or/not/parentheses."""
        n = min(len(refs), self.rng.randrange(1, 4))
        parts = [self.atom_condition(*self.rng.choice(refs)) for _ in range(n)]
        expr = parts[0]
        for p in parts[1:]:
            op = self.pick(("and", "or", "and"))
            expr = f"{expr} {op} {p}" if self.rng.random() < 0.6 else f"({expr}) {op} {p}"
        if self.rng.random() < 0.15:
            expr = f"not ({expr})"
        return expr

    def value_for(self, name: str, kind: str, src: Entity) -> str:
        """An expression of ``src``'s fields that fits a field ``name`` of ``kind``."""
        same = src.kinds.get(name) == kind
        r = self.rng.randrange(3)
        if kind == "text":
            return [f'{name} + " (copy)"' if same else '"generated"', f"upper({name})" if same else '"x"',
                    'coalesce(summary, "none")'][r]
        if kind in ("email", "phone", "url"):
            return name if same else '"n/a"'
        if kind == "integer":
            return [f"{name} + 1" if same else "1", "len(title)", "days_between(due_on, today())"][r]
        if kind in ("decimal", "money"):
            return [f"{name} * 2" if same else "0", "amount / 3", "quantity * 1.5"][r]
        if kind == "bool":
            return ["true", "false", "urgent"][r]
        if kind == "date":
            return ["today()", "due_on + 14", 'date("2026-12-31")'][r]
        if kind == "datetime":
            return ["now()", "seen_at", "due_on"][r]
        if kind == "choice":
            opts = _OPTIONS_STATUS if name == "status" else _OPTIONS_LEVEL
            return [self.pick(opts), name if same else self.pick(opts), f'"{opts[0]}"'][r]
        if kind == "choices":
            return "tags" if src.kinds.get("tags") == "choices" else "red"
        raise ValueError(kind)

    # -- declarations ----------------------------------------------------------------
    def roles(self) -> None:
        for name, label in ROLES:
            self.emit(f'role {name} "{label}"' if label else f"role {name}")
        self.emit()

    def entity(self, name: str, label: str, lookups: dict[str, str], extra: int) -> Entity:
        ent = Entity(name)
        self.emit(f'entity {name} "{label}" {{')
        for fname, flabel, kind, decl in BASE_FIELDS:
            lab = f' "{flabel}"' if flabel else ""
            self.emit(f"{fname}{lab}: {decl}", 1)
            ent.kinds[fname] = kind
        for fname, target in lookups.items():
            req = " required" if self.rng.random() < 0.5 else ""
            self.emit(f'{fname} "{fname.replace("_", " ").title()}": lookup({target}){req}', 1)
            ent.lookups[fname] = target
        for i in range(extra):
            kind, decl = _EXTRA_TYPES[(i + len(name)) % len(_EXTRA_TYPES)]
            self.emit(f"extra_{i}: {decl}", 1)
            ent.kinds[f"extra_{i}"] = kind
        self.emit("}")
        self.emit()
        self.entities[name] = ent
        return ent

    def extend(self, ent: Entity) -> None:
        self.emit(f"extend entity {ent.name} {{")
        for fname, decl, kind in (("score", "integer min 0 max 10", "integer"),
                                  ("reviewed_on", "date", "date"), ("priority", 'choice(low, mid, high "High")',
                                                                    "choice")):
            self.emit(f'{fname} "{fname.title()}": {decl}', 1)
            ent.kinds[fname] = kind
        self.emit("}")
        self.emit()

    # -- processes --------------------------------------------------------------------
    def process(self, name: str, primary: Entity, chain: list[tuple[Entity, str]], order: int) -> None:
        """A process on ``primary``; ``chain`` lists (entity, via field) reachable one after the other."""
        p = _Proc(self, name, primary)
        self.emit(f'process {name} "{name.replace("_", " ").title()}" on {primary.name} {{')
        self.emit(f"order {order}", 1)
        self.emit(f"roles {', '.join(r for r, _ in ROLES[: self.rng.randrange(1, len(ROLES) + 1)])}", 1)
        if self.rng.random() < 0.5:
            self.emit(f'description "Generated process {name}: {len(chain)} related entities"', 1)
        self.emit()
        state = State(frozenset({primary.name}), frozenset(), primary.name)
        state = p.stage(state, primary, None, 1, first=True)
        state = p.branch(state, 1, depth=0)
        for ent, via in chain:
            if state is None or p.stages > p.limit - 4:
                break
            state = p.stage(state, ent, via, 1)
            if self.rng.random() < 0.6:
                state = p.stage(state, ent, None, 1)
            if p.stages < p.limit - 6:
                state = p.branch(state, 1, depth=0)
        if state is not None and p.stages < p.limit:
            state = p.stage(state, primary, None, 1)
        if state is not None and self.rng.random() < 0.3:
            self.emit("finish", 1)
        self.emit()
        self.emit("on start {", 1)
        self.emit("set status = open", 2)
        self.emit('call bpf.notify(role: "agent", message: "Started: " + title)', 2)
        self.emit("}", 1)
        self.emit("on finish {", 1)
        self.emit("set status = done", 2)
        self.emit("set seen_at = now()", 2)
        self.emit("}", 1)
        self.emit("on abandon {", 1)
        self.emit("set status = dropped", 2)
        for ent in sorted(p.touched - {primary.name}):
            self.emit(f"set {ent}.status = dropped", 2)
        self.emit("}", 1)
        if self.rng.random() < 0.5:
            self.emit("on reactivate {", 1)
            self.emit('call bpf.notify(role: "manager", message: "Reopened")', 2)
            self.emit("}", 1)
        self.emit("}")
        self.emit()

    # -- rules ------------------------------------------------------------------------
    def rule(self, name: str, ent: Entity) -> None:
        refs = [(f, k) for f, k in ent.kinds.items()]
        for lk, target in ent.lookups.items():
            refs.append((f"{lk}.amount", "money"))
            refs.append((f"{lk}.level", "choice"))
            del target
        self.emit(f'rule {name} "Rule {name}" on {ent.name} {{')
        self.emit(f"if {self.condition(refs)} {{", 1)
        self.emit("require summary", 2)
        self.emit("show internal_note", 2)
        self.emit("lock amount", 2)
        self.emit('recommend summary "Describe the big ones"', 2)
        self.emit(f"if {self.condition(refs)} {{", 2)
        self.emit('error "This combination needs a review"', 3)
        self.emit(f"}} else if {self.condition(refs)} {{", 2)
        self.emit('error quantity "Too many for this level"', 3)
        self.emit("} else {", 2)
        self.emit("unlock amount", 3)
        self.emit("}", 2)
        self.emit(f"}} else if {self.condition(refs)} {{", 1)
        self.emit("lock title", 2)
        self.emit("hide internal_note", 2)
        self.emit("} else {", 1)
        self.emit("optional summary", 2)
        self.emit("unlock title", 2)
        self.emit('recommend "Keep the record up to date"', 2)
        self.emit("}", 1)
        target = self.pick(("summary", "contact_email", "homepage"))
        self.emit(f"set {target} = {self.value_for(target, ent.kinds[target], ent)}", 1)
        self.emit(f"default level = {self.pick(_OPTIONS_LEVEL)}", 1)
        self.emit("default due_on = today()", 1)
        if self.rng.random() < 0.5:
            self.emit("set quantity = coalesce(quantity, 1)", 1)
        self.emit("}")
        self.emit()

    # -- families -----------------------------------------------------------------------
    def family(self, k: int, lines: int) -> None:
        root = self.entity(f"f{k}_root", f"Root {k}", {}, self.rng.randrange(2, 8))
        child = self.entity(f"f{k}_child", f"Child {k}", {"parent": root.name}, self.rng.randrange(0, 6))
        grand = self.entity(f"f{k}_grand", f"Grandchild {k}", {"parent": child.name}, self.rng.randrange(0, 4))
        side = self.entity(f"f{k}_side", f"Side {k}", {"root_ref": root.name, "other_child": child.name},
                           self.rng.randrange(0, 4))
        self.extend(root)
        for j in range(self.rng.randrange(6, 11)):  # D365 allows 10 processes per entity
            if j and len(self.out) >= lines:
                break
            chain = [(child, "parent"), (grand, "parent"), (side, "root_ref")]
            if self.rng.random() < 0.4:
                chain = [(side, "root_ref"), (child, "parent")]
            self.process(f"f{k}_p{j}", root, chain, j + 1)
        for j in range(self.rng.randrange(1, 4)):
            self.process(f"f{k}_cp{j}", child, [(grand, "parent")], 100 + j)
        for ent in (root, child, grand, side):
            for j in range(self.rng.randrange(2, 5)):
                self.rule(f"{ent.name}_r{j}", ent)

    def program(self, lines: int) -> str:
        self.emit(f"# Generated by bench/gen_bpf.py: about {lines} lines of valid .bpf.")
        self.emit()
        self.roles()
        k = 0
        while len(self.out) < lines:
            self.family(k, lines)
            k += 1
        return "\n".join(self.out) + "\n"


class _Proc:
    """The state of one process being written: stage names and count, entities touched."""

    def __init__(self, gen: Gen, name: str, primary: Entity) -> None:
        self.g = gen
        self.name = name
        self.primary = primary
        self.stages = 0
        self.touched: set[str] = {primary.name}
        self.action_n = 0
        self.limit = gen.rng.randrange(6, 29)  # stages at most: D365 allows 30

    def refs(self, state: State) -> list[tuple[str, str]]:
        """Fields a condition may read here: asked fields of the last entity, and of bound ones by name."""
        last = self.g.entities[state.last]
        out: list[tuple[str, str]] = []
        for ent_name, f in sorted(state.asked):
            ent = self.g.entities[ent_name]
            if ent_name == state.last:
                # a lookup asked for may be followed: `parent.amount`
                out.append((f"{f}.amount", "money") if f in ent.lookups else (f, last.kinds[f]))
            elif ent_name in state.bound and f in ent.kinds and self.g.rng.random() < 0.3:
                out.append((f"{ent_name}.{f}", ent.kinds[f]))  # a record bound earlier, by entity name
        return out

    def stage(self, state: State, ent: Entity, via: str | None, indent: int, first: bool = False) -> State:
        g = self.g
        rng = g.rng
        self.stages += 1
        self.touched.add(ent.name)
        sname = f"s{self.stages}"
        category = g.pick(("qualify", "develop", "propose", "close", "identify", "research", "resolve", "approval"))
        head = f'stage {sname} "Stage {self.stages}"'
        if rng.random() < 0.8:
            head += f" category {category}"
        if not first and (via is not None or ent.name != self.primary.name or rng.random() < 0.3):
            head += f" on {ent.name}"
            if via is not None:
                head += f" via {via}"
        g.emit(head + " {", indent)
        if via is not None:
            target = g.entities[ent.lookups[via]]
            g.emit("create {", indent + 1)
            for f in ("title", "amount", "level", "status", "due_on", "tags")[: rng.randrange(2, 7)]:
                g.emit(f"{f} = {g.value_for(f, ent.kinds[f], target)}", indent + 2)
            g.emit("}", indent + 1)
        fields = ent.steppable()
        if first:
            chosen = ["title", "amount", "level", "urgent", "quantity", "tags", "due_on"]
            chosen += rng.sample([f for f in fields if f not in chosen], 3)
        else:
            chosen = rng.sample(fields, min(len(fields), rng.randrange(2, 9)))
        lookups = [lk for lk in ent.lookups if rng.random() < 0.7]
        chosen += lookups
        for f in chosen:
            label = f' "Ask {f.replace("_", " ")}"' if rng.random() < 0.3 else ""
            req = " required" if rng.random() < 0.3 else ""
            g.emit(f"step {f}{label}{req}", indent + 1)
        if rng.random() < 0.5:
            self.action_n += 1
            req = " required" if rng.random() < 0.3 else ""
            g.emit(f'action "Notify team {self.action_n}" call bpf.notify(role: "{g.pick([r for r, _ in ROLES])}", '
                   f'message: "Stage {sname} of {self.name}"){req}', indent + 1)
        if rng.random() < 0.5:
            g.emit("on enter {", indent + 1)
            target_field = g.pick(("summary", "seen_at", "quantity", "level", "approved"))
            g.emit(f"set {target_field} = {g.value_for(target_field, ent.kinds[target_field], ent)}", indent + 2)
            if ent.name != self.primary.name and self.primary.name in state.bound:
                g.emit(f"set {self.primary.name}.status = open", indent + 2)
            g.emit("}", indent + 1)
        if rng.random() < 0.5:
            g.emit("on exit {", indent + 1)
            g.emit(f'call bpf.notify(role: "manager", message: "Leaving " + title + " ({sname})")', indent + 2)
            g.emit("}", indent + 1)
        g.emit("}", indent)
        asked = set(state.asked) | {(ent.name, f) for f in chosen}
        return State(state.bound | {ent.name}, frozenset(asked), ent.name)

    def branch(self, state: State, indent: int, depth: int) -> State | None:
        """An ``if`` chain whose conditions read asked fields; stages in arms stay on the last entity."""
        g = self.g
        rng = g.rng
        refs = self.refs(state)
        if not refs or self.stages > self.limit - 2:
            return state
        ent = g.entities[state.last]
        n_arms = rng.randrange(1, 4)
        has_else = rng.random() < 0.6
        arms = n_arms + (1 if has_else else 0)
        finishing = rng.randrange(arms) if rng.random() < 0.5 and (arms > 1 or not has_else) else -1
        outs: list[State] = []
        for i in range(arms):
            is_else = has_else and i == arms - 1
            if i == 0:
                g.emit(f"if {g.condition(refs)} {{", indent)
            elif is_else:
                g.emit("} else {", indent)
            else:
                g.emit(f"}} else if {g.condition(refs)} {{", indent)
            arm_state: State | None = state
            for _ in range(rng.randrange(1, 3)):
                if self.stages >= self.limit:
                    break
                assert arm_state is not None
                arm_state = self.stage(arm_state, ent, None, indent + 1)
            if depth < 2 and rng.random() < 0.35 and arm_state is not None:
                arm_state = self.branch(arm_state, indent + 1, depth + 1)
            if i == finishing and arm_state is not None:
                g.emit("finish", indent + 1)
                arm_state = None
            if arm_state is not None:
                outs.append(arm_state)
        g.emit("}", indent)
        if not has_else:
            outs.append(state)
        if not outs:
            return None
        asked = frozenset.intersection(*(o.asked for o in outs))
        bound = frozenset.intersection(*(o.bound for o in outs))
        lasts = {o.last for o in outs}
        last = outs[0].last if len(lasts) == 1 else self.primary.name
        return State(bound, asked, last)


def generate(lines: int = 10_000, seed: int = 1) -> str:
    """A valid .bpf program of about ``lines`` lines, the same for the same arguments."""
    return Gen(seed).program(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000, help="about how many lines (default 10000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = ap.parse_args(argv)
    text = generate(args.lines, args.seed)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
