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
    """Complete the work order (signed off, work recorded): system status Completed.

    With ``resolve_case``, its case is resolved too, with the work performed as the
    resolution (the service was delivered; reviewing and invoicing follow).
    """
    wo_id, wo = context.own_record("work_order")
    if wo.get("system_status") in ("completed", "posted"):
        return
    if wo.get("system_status") == "cancelled":
        raise ActionFailed("a cancelled work order can't be completed")
    if not wo.get("work_performed"):
        raise ActionFailed("record the work performed before completing the work order")
    if wo.get("customer_signed_off") is not True:
        raise ActionFailed("the customer hasn't signed off the work yet")
    context.update(wo_id, {"system_status": "completed", "completed_on": context.now, "substatus": "ready_to_invoice"})
    case_id = wo.get("case")
    if resolve_case and case_id:
        case = context.record(case_id)
        if case is not None and case.get("status") == "active":
            context.update(case_id, {"status": "resolved", "resolved_on": context.now,
                                     "resolution_type": "field_service",
                                     "resolution": case.get("resolution") or wo.get("work_performed")})


def post_work_order(context: Any) -> None:
    """Field Service's Posted: a completed, reviewed work order is invoiced and closed."""
    wo_id, wo = context.own_record("work_order")
    if wo.get("system_status") == "posted":
        return
    if wo.get("system_status") != "completed":
        raise ActionFailed(f"only a completed work order is posted; this one is {wo.get('system_status')}")
    if wo.get("reviewed") is not True:
        raise ActionFailed("review the work order before posting it")
    if not wo.get("invoice_number"):
        raise ActionFailed("enter the invoice number before posting the work order")
    context.update(wo_id, {"system_status": "posted", "posted_on": context.now.date(), "substatus": None})


def publish_article(context: Any) -> None:
    """Publish a knowledge article: approved by its reviewer, not past its expiration date."""
    ka_id, ka = context.own_record("knowledge_article")
    if ka.get("status") == "published":
        return
    if ka.get("status") in ("archived", "discarded"):
        raise ActionFailed(f"an {ka.get('status')} article can't be published")
    expires = ka.get("expiration_date")
    today = context.now.date()
    if expires is not None and expires <= today:
        raise ActionFailed("the expiration date has passed: set a later one before publishing")
    if ka.get("status") != "expired" and ka.get("review") != "approved":
        raise ActionFailed("only an approved article is published")
    context.update(ka_id, {"status": "published", "published_on": today})


def archive_article(context: Any) -> None:
    """Archive a knowledge article: it leaves the knowledge base's search but is kept."""
    ka_id, ka = context.own_record("knowledge_article")
    if ka.get("status") != "archived":
        context.update(ka_id, {"status": "archived"})


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
    ActionSpec("service", "post_work_order", (), post_work_order,
               "post a completed, reviewed work order: invoiced and closed"),
    ActionSpec("service", "publish_article", (), publish_article,
               "publish an approved knowledge article (an expired one is republished)"),
    ActionSpec("service", "archive_article", (), archive_article, "archive a knowledge article"),
)

FUNCTIONS = (
    FunctionSpec("service", "business_days", (Param("start", "temporal"), Param("end", "temporal")), "integer",
                 business_days, description="weekdays from start to end"),
)
