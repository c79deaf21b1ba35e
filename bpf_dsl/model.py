"""The resolved data model: entities with their merged, typed fields, and roles.

Built by the checker from the declarations of every module (``extend entity``
merged in); the engine, storage and server read it, never the AST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bpf_dsl.nodes import NO_SPAN, Span, derive_label

TEXT_KINDS = frozenset({"text", "email", "phone", "url"})
NUMBER_KINDS = frozenset({"integer", "decimal", "money"})

# What a value of each kind may be, wherever it comes from (API input, a rule, a hook, a declared default):
# checked by the service before a write (bpf_dsl.service.values) and by the checker on a default.
#
# Numbers are bounded by their kind, so that every stored number is one both databases and JSON hold as it
# was given: an integer field takes 64-bit integers (SQLite's integers, PostgreSQL's bigint); decimal and
# money are stored as JSON numbers, which readers take as doubles: at most 15 digits before the point (every
# such whole number is exact in a double) and 17 significant digits (what a double's shortest form needs).
# Beyond, 1e308 was taken as money and echoed as a 309-digit integer, and matching it in `records(where:)`
# overflowed SQLite's reals.
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
MAX_WHOLE_DIGITS = 15
MAX_SIGNIFICANT_DIGITS = 17
_DECIMAL_LIMIT = Decimal(10) ** MAX_WHOLE_DIGITS
#: The text kinds with a format: the pattern a value matches, and what the error says it must be.
TEXT_FORMATS = {
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an email address such as ann@example.com"),
    "phone": (re.compile(r"^\+?[0-9 ().\-]{3,32}$"), "a phone number such as +44 20 7946 0000"),
    "url": (re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://\S+$"), "a URL such as https://example.com"),
}


def kind_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` (text, or a number) can't be a value of a field of ``kind``, as the end of a sentence
    beginning with the field's label ("must be an email address ..."); None when it can."""
    if kind in TEXT_FORMATS and isinstance(value, str):
        pattern, what = TEXT_FORMATS[kind]
        return None if not value or pattern.match(value) else f"must be {what}"
    if kind not in NUMBER_KINDS or isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if kind == "integer":
        if not MIN_INTEGER <= value <= MAX_INTEGER:
            return f"must be between {MIN_INTEGER} and {MAX_INTEGER} (a 64-bit integer)"
        return None
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    if not exact.is_finite():
        return None  # said by the caller, which knows where a value that is no number came from
    if abs(exact) >= _DECIMAL_LIMIT:
        return (f"must be less than 10^{MAX_WHOLE_DIGITS} in size "
                f"(at most {MAX_WHOLE_DIGITS} digits before the decimal point)")
    if exact and len(exact.normalize().as_tuple().digits) > MAX_SIGNIFICANT_DIGITS:
        return f"has more than {MAX_SIGNIFICANT_DIGITS} significant digits, more than can be stored exactly"
    return None
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
