"""The rules pass: business rules' entity, fields, conditions and values."""

from __future__ import annotations

from .. import nodes as n
from .context import Context, did_you_mean, listing
from .expressions import Scope, Typer


def check_rules(ctx: Context, typer: Typer, rules: list[n.Rule]) -> None:
    """Check every rule against its entity."""
    for rule in rules:
        entity = ctx.entities.get(rule.entity)
        if entity is None:
            ctx.error("BPF021", f"the rule `{rule.name}` is on `{rule.entity}`, which is not declared", rule.span,
                      did_you_mean(rule.entity, ctx.entities, also="declare it with `entity` or import it"))
            continue
        scope = Scope(entity, None, f"in the rule `{rule.name}`")
        stack: list[n.RuleItem] = list(reversed(rule.body))
        while stack:
            item = stack.pop()
            if isinstance(item, n.RuleIf):
                for arm in reversed(item.arms):
                    stack.extend(reversed(arm.body))
                for arm in item.arms:
                    if arm.condition is not None:
                        typer.condition(arm.condition, scope)
                continue
            if item.field is None:
                continue
            spec = entity.fields.get(item.field)
            if spec is None:
                ctx.error("BPF022", f"`{entity.name}` has no field `{item.field}`", item.span,
                          did_you_mean(item.field, entity.fields,
                                       also=f"fields of {entity.name}: {listing(entity.fields)}"))
                if item.value is not None:
                    typer.infer(item.value, scope)
                continue
            if item.value is not None:
                typer.fits(spec, item.value, scope, "BPF037", f"`{item.kind} {item.field}`")
