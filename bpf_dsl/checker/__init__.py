"""The checker: every static check of LANGUAGE.md, all problems in one run.

Passes, each its own module: names and types of declarations
(:mod:`.declarations`), process flows (:mod:`.flow`), business rules
(:mod:`.rules`); expressions are typed by :mod:`.expressions` on their behalf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bpf_dsl import nodes as n
from bpf_dsl.checker.context import Context, FieldPath, OptionValue, Resolution
from bpf_dsl.checker.declarations import declare
from bpf_dsl.checker.expressions import Typer
from bpf_dsl.checker.flow import category_check, check_processes
from bpf_dsl.checker.rules import check_rules, hidden_required_steps
from bpf_dsl.diagnostics import Diagnostic, sort_key
from bpf_dsl.model import EntitySpec, RoleSpec
from bpf_dsl.plugins import Registry


@dataclass
class CheckResult:
    """What the checker found, and the model it resolved."""

    diagnostics: list[Diagnostic]
    entities: dict[str, EntitySpec]
    roles: dict[str, RoleSpec]
    processes: list[n.Process]
    rules: list[n.Rule]
    resolutions: dict[int, Resolution] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(d.is_error for d in self.diagnostics)


def check_modules(modules: Sequence[n.Module], registry: Registry) -> CheckResult:
    """Check modules that were loaded together (imports first)."""
    ctx = Context(registry)
    processes, rules = declare(ctx, modules)
    typer = Typer(ctx)
    category_check(ctx, processes)
    check_processes(ctx, typer, processes)
    check_rules(ctx, typer, rules)
    hidden_required_steps(ctx, processes, rules)
    diagnostics = sorted(_dedupe(ctx.diagnostics), key=sort_key)
    return CheckResult(diagnostics, ctx.entities, ctx.roles, processes, rules, ctx.resolutions)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str, int, int, str]] = set()
    out = []
    for d in diags:
        key = (d.code, d.span.file, d.span.line, d.span.column, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


__all__ = ["CheckResult", "FieldPath", "OptionValue", "Resolution", "check_modules"]
