"""The rules pass: business rules' entity, fields, conditions and values."""

from __future__ import annotations

from bpf_dsl import nodes as n
from bpf_dsl.checker.context import Context, builtin_column_target, did_you_mean, listing
from bpf_dsl.checker.expressions import Scope, Typer
from bpf_dsl.model import BUILTIN_COLUMNS
from bpf_dsl.nodes import rule_actions, stages, walk_rule


def check_rules(ctx: Context, typer: Typer, rules: list[n.Rule]) -> None:
    """Check every rule against its entity."""
    for rule in rules:
        entity = ctx.entities.get(rule.entity)
        if entity is None:
            at = rule.span if rule.entity_span == n.NO_SPAN else rule.entity_span
            ctx.error("BPF021", f"the rule `{rule.name}` is on `{rule.entity}`, which is not declared", at,
                      did_you_mean(rule.entity, ctx.entities, also="declare it with `entity` or import it"))
            continue
        scope = Scope(entity, None, f"in the rule `{rule.name}`")
        for item in walk_rule(rule.body):
            if isinstance(item, n.RuleArm):
                if item.condition is not None:
                    typer.condition(item.condition, scope)
                continue
            if item.field is None:
                continue
            spec = entity.fields.get(item.field)
            at = item.span if item.field_span == n.NO_SPAN else item.field_span  # the field named, not the action
            if spec is None and item.field in BUILTIN_COLUMNS:
                builtin_column_target(ctx, item.field, at)
                if item.value is not None:
                    typer.infer(item.value, scope)
                continue
            if spec is None:
                ctx.error("BPF022", f"`{entity.name}` has no field `{item.field}`", at,
                          did_you_mean(item.field, entity.fields,
                                       also=f"fields of {entity.name}: {listing(entity.fields)}"))
                continue
            if item.value is not None:
                typer.fits(spec, item.value, scope, "BPF037", f"`{item.kind} {item.field}`")


def hidden_required_steps(ctx: Context, processes: list[n.Process], rules: list[n.Rule]) -> None:
    """Warn where a required step's field may be hidden by a rule: users couldn't fill what gates them."""
    # Only a field hidden unconditionally and shown by no rule is flagged: a conditional `hide`
    # (case.bpf hides escalation_reason unless escalated) is the rules' business, and guessing
    # at conditions would cry wolf on sound models.
    hidden: dict[str, dict[str, str]] = {}
    shown: set[tuple[str, str]] = set()
    for rule in rules:
        for item in rule.body:
            if isinstance(item, n.RuleAction) and item.kind == "hide" and item.field is not None:
                hidden.setdefault(rule.entity, {}).setdefault(item.field, rule.name)
        shown.update((rule.entity, a.field) for a in rule_actions(rule.body) if a.kind == "show" and a.field)
    for entity, fields in hidden.items():
        for name in [f for f in fields if (entity, f) in shown]:
            del fields[name]
    if not hidden:
        return
    for p in processes:
        for stage in stages(p.flow):
            entity = stage.entity or p.entity
            for step in stage.steps:
                if isinstance(step, n.DataStep) and step.required and step.field in hidden.get(entity, {}):
                    ctx.warn("BPF096", f"the required step `{step.field}` is hidden by the rule "
                                           f"`{hidden[entity][step.field]}`", step.span,
                                 "a hidden field can't be filled, so the stage could never be left; "
                                 "hide it only under a condition, or show it where the step is required")
