"""The marketing pack's actions and functions (see the sales pack's actions for the conventions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bpf_dsl.plugins import ActionFailed, ActionSpec, FunctionSpec, Param


def launch_campaign(context: Any) -> None:
    """Launch an approved campaign: status launched, launched today."""
    campaign_id, campaign = context.own_record("campaign")
    if campaign.get("status") == "launched":
        return
    if campaign.get("approved") is not True:
        raise ActionFailed("the campaign isn't approved yet")
    budget = campaign.get("budget")
    if budget is not None and budget > 50000 and campaign.get("budget_approved") is not True:
        raise ActionFailed("a budget over 50,000 needs the marketing manager's approval before launch")
    context.update(campaign_id, {"status": "launched", "launched_on": context.now.date()})


def hand_off(context: Any, notify_role: str = "salesperson") -> None:
    """Hand a marketing-qualified prospect to sales: a lead, sales ready, that keeps its source campaign.

    The lead names the prospect's contact and that contact's account when marketing
    knows them (D365's Existing Contact? and Existing Account?), carries the engagement
    score as its marketing score, and starts the caller's default lead process (the
    sales pack's Lead to Opportunity Sales Process when it is installed).
    """
    prospect_id, p = context.own_record("prospect")
    if p.get("sales_lead"):
        raise ActionFailed("this prospect was already handed off to sales")
    if p.get("mql") is not True:
        raise ActionFailed("only a marketing-qualified prospect is handed off to sales")
    first, _, last = (p.get("full_name") or "").partition(" ")
    interests = ", ".join(p.get("interests") or ()) or "our products"
    company = p.get("company")
    contact_id = p.get("contact")
    contact = context.record(contact_id) if contact_id else None
    lead = {
        "topic": f"{company or p.get('full_name')}: interested in {interests}",
        "first_name": first or None, "last_name": last or None, "company": company,
        "job_title": p.get("job_title"), "email": p.get("email"), "phone": p.get("phone"),
        "source": "marketing", "source_campaign": p.get("source_campaign"),
        "existing_contact": contact_id if contact is not None else None,
        "existing_account": contact.get("account") if contact is not None else None,
        "budget_amount": p.get("budget_indicated"), "purchase_timeframe": p.get("timeframe") or "unknown",
        "marketing_score": p.get("engagement_score"), "sales_ready": True,
        "description": f"Handed off by marketing. Engagement score {p.get('engagement_score') or 0}; "
                       f"interests: {interests}.",
    }
    lead_id = context.create("lead", {k: v for k, v in lead.items() if v is not None})
    context.update(prospect_id, {"sales_lead": lead_id, "handed_off_on": context.now.date(), "status": "handed_off"})
    context.notify(notify_role, f"New lead from marketing: {lead['topic']}")


def engagement_score(emails_opened: Any, web_visits: Any, content_downloads: Any) -> int:
    """0 to 100: 4 points an opened email (up to 40), 3 a web visit (up to 30), 10 a download (up to 30)."""
    def n(x: Any) -> int:
        return int(x) if isinstance(x, int | Decimal) and x > 0 else 0

    return min(40, 4 * n(emails_opened)) + min(30, 3 * n(web_visits)) + min(30, 10 * n(content_downloads))


ACTIONS = (
    ActionSpec("marketing", "launch_campaign", (), launch_campaign, "launch an approved campaign"),
    ActionSpec("marketing", "hand_off", (Param("notify_role", "text", required=False),), hand_off,
               "create a sales-ready lead from a marketing-qualified prospect, keeping its source campaign"),
)

FUNCTIONS = (
    FunctionSpec("marketing", "engagement_score", (Param("emails_opened", "number"), Param("web_visits", "number"),
                                                   Param("content_downloads", "number")), "integer",
                 engagement_score, description="a 0-100 engagement score from email, web and content activity"),
)
