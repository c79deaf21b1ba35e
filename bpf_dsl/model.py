"""The resolved data model: entities with their merged, typed fields, and roles.

Built by the checker from the declarations of every module (``extend entity``
merged in); the engine, storage and server read it, never the AST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpf_dsl.nodes import NO_SPAN, Span, derive_label

TEXT_KINDS = frozenset({"text", "email", "phone", "url"})
NUMBER_KINDS = frozenset({"integer", "decimal", "money"})
TEMPORAL_KINDS = frozenset({"date", "datetime"})
SIMPLE_KINDS = TEXT_KINDS | NUMBER_KINDS | TEMPORAL_KINDS | {"bool"}
OPTION_KINDS = frozenset({"choice", "choices"})
ALL_KINDS = SIMPLE_KINDS | OPTION_KINDS | {"lookup"}
BUILTIN_COLUMNS = ("id", "created_at", "updated_at", "version", "owner", "created_by")
BUILTIN_ROLES = ("admin",)
#: What an ``allow`` line may grant on an entity's records (LANGUAGE.md, "Who may see and change records").
VERBS = ("create", "read", "update", "delete", "assign")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """An option of a choice: its name (the stored value) and label."""

    name: str
    label: str


@dataclass(frozen=True, slots=True)
class FieldType:
    """A field's type: ``kind`` plus options (choice/choices) or the target entity (lookup)."""

    kind: str
    options: tuple[OptionSpec, ...] = ()
    entity: str | None = None

    @property
    def option_names(self) -> tuple[str, ...]:
        """The options' names, in declaration order."""
        return tuple(o.name for o in self.options)

    def __str__(self) -> str:
        if self.kind in OPTION_KINDS:
            return f"{self.kind}({', '.join(self.option_names)})"
        if self.kind == "lookup":
            return f"lookup({self.entity})"
        return self.kind


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A declared field with everything resolved."""

    name: str
    label: str
    type: FieldType
    required: bool = False
    default: Any = None
    minimum: Any = None
    maximum: Any = None
    unique: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    #: ``restricted to ROLE, ...``: only these roles (and ``admin``) read or write it; empty: everyone who may
    #: read the record. Left out of ``repr``: who may see a field is no part of a process's version.
    restricted_to: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """``allow ROLES to VERBS [own]``, resolved."""

    roles: tuple[str, ...]
    verbs: tuple[str, ...]
    own: bool = False


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """An entity: its fields in declaration order (extensions appended) and its ``allow`` lines."""

    name: str
    label: str
    fields: dict[str, FieldSpec]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    #: The entity's grants, extensions' included; empty: the default derived from the processes (see
    #: ``bpf_dsl.service.access``). Left out of ``repr``, as ``FieldSpec.restricted_to``.
    grants: tuple[GrantSpec, ...] = field(default=(), repr=False)

    def field_list(self) -> tuple[FieldSpec, ...]:
        """The fields in order."""
        return tuple(self.fields.values())


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """A declared role."""

    name: str
    label: str


def label_of(name: str, label: str | None) -> str:
    """The label as written, or derived from the name."""
    return label if label is not None else derive_label(name)
