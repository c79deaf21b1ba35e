"""What every checker pass shares: the diagnostics it collects, the model so far, and name resolutions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.model import EntitySpec, RoleSpec
from bpf_dsl.nodes import Span
from bpf_dsl.plugins import Registry


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A name in an expression that reads a field.

    ``source`` is None for the record in scope, or the name of an entity whose
    record is bound in the instance; ``path`` follows lookups to the field read.
    """

    source: str | None
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OptionValue:
    """A bare name that stands for an option of a choice."""

    name: str


Resolution = FieldPath | OptionValue


@dataclass
class Context:
    """Shared state of one check run."""

    registry: Registry
    diagnostics: list[Diagnostic] = field(default_factory=list)
    entities: dict[str, EntitySpec] = field(default_factory=dict)
    roles: dict[str, RoleSpec] = field(default_factory=dict)
    # id(Ref node) -> what it means; the compiler reads it (same AST objects, same run).
    resolutions: dict[int, Resolution] = field(default_factory=dict)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        """Record an error (or a warning: the code's table entry decides)."""
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    warn = error


def builtin_column_target(ctx: Context, name: str, span: Span) -> None:
    """Report a built-in column used where a rule or hook changes a field: the server alone writes them."""
    ctx.error("BPF026", f"`{name}` is a built-in column: it can be read, but only the server changes it", span,
              "id, created_at, updated_at and version can be read in expressions, never set, hidden, locked "
              "or required")


def did_you_mean(name: str, choices: Iterable[str], *, also: str | None = None) -> str | None:
    """A hint naming the closest known name, if one is close."""
    pool = list(choices)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?" + (f" {also}" if also else "")
    return also


def listing(names: Iterable[str], limit: int = 12) -> str:
    """``a, b, c`` (shortened past ``limit``)."""
    items = list(names)
    if not items:
        return "none"
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def snake_case(label: str) -> str:
    """An action step's name: its label in snake_case (API.md)."""
    out: list[str] = []
    prev_us = True
    for ch in label.strip().lower():
        if ch.isalnum():
            out.append(ch)
            prev_us = False
        elif not prev_us:
            out.append("_")
            prev_us = True
    return "".join(out).strip("_") or "action"
