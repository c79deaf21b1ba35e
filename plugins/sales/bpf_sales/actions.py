"""The sales pack's actions (buttons and hook calls) and its expression function.

Actions receive the service's ``ActionContext`` and Python values (money as
``Decimal``, dates as ``date``, choices as option names, lookups as record ids);
they write through ``context.update``/``context.create`` (rules and validation
apply) and refuse with ``ActionFailed``, which cancels the move.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bpf_dsl.plugins import ActionFailed, ActionSpec, FunctionSpec, Param

OUTCOME = Param("outcome", "text", options=("won", "lost"))
LOST_REASON = Param("reason", "text", required=False, options=("canceled", "out_sold"))
DISQUALIFY_REASON = Param("reason", "text", required=False,
                          options=("lost", "cannot_contact", "no_longer_interested", "canceled"))


def _check(param: Param, value: Any) -> None:
    problem = param.invalid(value)
    if problem:
        raise ActionFailed(problem)


def qualify_lead(context: Any, create_account: bool = True, create_contact: bool = True) -> None:
    """D365's Qualify: mark the lead qualified, creating its account and contact when it names none.

    The account comes from the company name, the contact from the person's name;
    the lead's ``existing_account``/``existing_contact`` then point at them, so the
    opportunity created on the next move links to both.
    """
    lead_id, lead = context.own_record("lead")
    if lead.get("status") == "disqualified":
        raise ActionFailed("a disqualified lead can't be qualified; reactivate the process to reopen it")
    changes: dict[str, Any] = {}
    account = lead.get("existing_account")
    if account is None and create_account and lead.get("company"):
        account = context.create("account", {"name": lead["company"], "relationship": "prospect"})
        changes["existing_account"] = account
    contact = lead.get("existing_contact")
    name = " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    if contact is None and create_contact and name:
        contact = context.create("contact", {"full_name": name, "job_title": lead.get("job_title"),
                                             "email": lead.get("email"), "phone": lead.get("phone"),
                                             "account": account})
        changes["existing_contact"] = contact
    changes["status"] = "qualified"
    changes["qualified_on"] = context.now.date()
    context.update(lead_id, changes)


def disqualify_lead(context: Any, reason: str = "no_longer_interested") -> None:
    """Mark an open lead disqualified with a reason; a lead already qualified is left as it is."""
    _check(DISQUALIFY_REASON, reason)
    origin = context.origin
    lead_id = origin.record_id if origin.entity == "lead" else None
    lead = context.record(lead_id) if lead_id else None
    if lead_id is None or lead is None:
        raise ActionFailed("this action works on a lead record")
    if lead.get("status") == "open":
        context.update(lead_id, {"status": "disqualified", "disqualify_reason": reason})


def reopen_lead(context: Any) -> None:
    """Reopen a disqualified lead (D365's Reactivate Lead); a qualified lead is left as it is."""
    lead_id, lead = context.own_record("lead")
    if lead.get("status") == "disqualified":
        context.update(lead_id, {"status": "open", "disqualify_reason": None})


def close_opportunity(context: Any, outcome: str, reason: str | None = None, opportunity: str | None = None) -> None:
    """Close the opportunity as won (actual revenue, probability 100) or lost (with a reason).

    On a stage of the opportunity it closes that record. In a process hook of a process
    on another entity (the Lead to Opportunity process's ``on abandon``), ``opportunity``
    names it (``opportunity.id``), and an empty one (none created yet) closes nothing.
    An opportunity closed the other way is refused: so abandoning a won deal, which
    closes it as lost (canceled), cancels the abandon, as D365 won't lose a won deal.
    """
    _check(OUTCOME, outcome)
    _check(LOST_REASON, reason)
    if context.origin.entity == "opportunity":
        opp_id, opp = context.own_record("opportunity")
    elif opportunity is None:
        return  # no opportunity yet: nothing to close
    else:
        found = context.record(opportunity)
        if found is None:
            raise ActionFailed(f"no opportunity {opportunity}")
        opp_id, opp = opportunity, found
    status = opp.get("status")
    if status == outcome:
        return  # closing twice the same way changes nothing
    if status in ("won", "lost"):
        raise ActionFailed(f"the opportunity is already closed as {status}")
    today = context.now.date()
    if outcome == "won":
        revenue = opp.get("estimated_revenue") or opp.get("budget_amount")
        if revenue is None:
            raise ActionFailed("enter the estimated revenue before closing the opportunity as won")
        context.update(opp_id, {"status": "won", "status_reason": "won", "probability": 100,
                                "actual_revenue": Decimal(revenue), "actual_close_date": today})
        context.notify("sales_manager", f"Won: {opp.get('name')} ({Decimal(revenue):,.2f})")
    else:
        context.update(opp_id, {"status": "lost", "status_reason": reason or "out_sold", "probability": 0,
                                "actual_revenue": Decimal(0), "actual_close_date": today})


def require_closed(context: Any) -> None:
    """Refuse to finish while the opportunity is still open."""
    _, opp = context.own_record("opportunity")
    if opp.get("status") not in ("won", "lost"):
        raise ActionFailed("close the opportunity as won or lost before finishing the process")


TIMEFRAME_POINTS = {"immediate": 30, "this_quarter": 25, "next_quarter": 15, "this_year": 10}


def lead_score(budget: Any, timeframe: Any, decision_maker: Any) -> int:
    """0 to 100: budget (up to 50 points), purchase timeframe (up to 30), a known decision maker (20)."""
    points = 0
    if budget is not None:
        amount = Decimal(budget)
        points += 50 if amount >= 500_000 else 35 if amount >= 100_000 else 20 if amount >= 10_000 else 5
    points += TIMEFRAME_POINTS.get(str(timeframe), 0)
    if decision_maker is True:
        points += 20
    return points


ACTIONS = (
    ActionSpec("sales", "qualify_lead", (Param("create_account", "bool", required=False),
                                         Param("create_contact", "bool", required=False)), qualify_lead,
               "mark the lead qualified, creating its account and contact from the lead when it names none"),
    ActionSpec("sales", "disqualify_lead", (DISQUALIFY_REASON,), disqualify_lead,
               "mark an open lead disqualified with a reason"),
    ActionSpec("sales", "reopen_lead", (), reopen_lead, "reopen a disqualified lead"),
    ActionSpec("sales", "close_opportunity", (OUTCOME, LOST_REASON, Param("opportunity", "text", required=False)),
               close_opportunity, "close the opportunity as won or lost (in a process hook: the one named)"),
    ActionSpec("sales", "require_closed", (), require_closed,
               "refuse the move while the opportunity is still open"),
)

FUNCTIONS = (
    FunctionSpec("sales", "lead_score", (Param("budget", "number"), Param("timeframe", "text"),
                                         Param("decision_maker", "bool")), "integer", lead_score,
                 description="a 0-100 lead score from budget, purchase timeframe and decision maker"),
)
