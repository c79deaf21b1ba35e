"""The service pack's actions and functions (see the sales pack's actions for the conventions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bpf_dsl.plugins import ActionFailed, ActionSpec, FunctionSpec, Param

PRIORITIES = ("low", "normal", "high", "urgent")


def escalate(context: Any, reason: str) -> None:
    """Escalate an active case: flag it, raise its priority one level and tell the service managers."""
    case_id, case = context.own_record("case")
    if case.get("status") != "active":
        raise ActionFailed(f"only an active case can be escalated; this one is {case.get('status')}")
    if case.get("escalated"):
        raise ActionFailed("the case is already escalated")
    priority = case.get("priority") or "normal"
    raised = PRIORITIES[min(PRIORITIES.index(priority) + 1, len(PRIORITIES) - 1)]
    context.update(case_id, {"escalated": True, "priority": raised,
                             "escalation_reason": case.get("escalation_reason") or reason})
    context.notify("service_manager", f"Escalated ({raised}): {case.get('title')}")


def resolve_case(context: Any) -> None:
    """D365's Resolve Case: needs a resolution and its type; marks the case resolved now."""
    case_id, case = context.own_record("case")
    if case.get("status") == "resolved":
        return
    missing = [label for name, label in (("resolution_type", "the resolution type"), ("resolution", "the resolution"))
               if not case.get(name)]
    if missing:
        raise ActionFailed(f"enter {' and '.join(missing)} before resolving the case")
    context.update(case_id, {"status": "resolved", "resolved_on": context.now})


def complete_work_order(context: Any, resolve_case: bool = True) -> None:
    """Complete the work order (signed off, work recorded); optionally resolve its case with the work done."""
    wo_id, wo = context.own_record("work_order")
    if wo.get("status") == "completed":
        return
    if not wo.get("work_performed"):
        raise ActionFailed("record the work performed before completing the work order")
    if wo.get("customer_signed_off") is not True:
        raise ActionFailed("the customer hasn't signed off the work yet")
    context.update(wo_id, {"status": "completed", "completed_on": context.now})
    case_id = wo.get("case")
    if resolve_case and case_id:
        case = context.record(case_id)
        if case is not None and case.get("status") == "active":
            context.update(case_id, {"status": "resolved", "resolved_on": context.now,
                                     "resolution_type": "field_service",
                                     "resolution": case.get("resolution") or wo.get("work_performed")})


def business_days(start: Any, end: Any) -> int | None:
    """Weekdays from ``start`` to ``end`` (Monday to Friday; negative when ``end`` is earlier; empty if either is)."""
    if start is None or end is None:
        return None
    a = start.date() if isinstance(start, dt.datetime) else start
    b = end.date() if isinstance(end, dt.datetime) else end
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    weeks, extra = divmod((b - a).days, 7)
    days = weeks * 5 + sum(1 for i in range(1, extra + 1) if (a + dt.timedelta(days=i)).weekday() < 5)
    return sign * days


ACTIONS = (
    ActionSpec("service", "escalate", (Param("reason", "text"),), escalate,
               "flag the case escalated, raise its priority one level and notify the service managers"),
    ActionSpec("service", "resolve_case", (), resolve_case, "mark the case resolved (needs a resolution)"),
    ActionSpec("service", "complete_work_order", (Param("resolve_case", "bool", required=False),),
               complete_work_order, "complete the work order and, if asked, resolve its case"),
)

FUNCTIONS = (
    FunctionSpec("service", "business_days", (Param("start", "temporal"), Param("end", "temporal")), "integer",
                 business_days, description="weekdays from start to end"),
)
