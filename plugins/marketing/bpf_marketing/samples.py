"""Sample records of the marketing pack for ``bpf serve --demo``.

Ten campaigns on Campaign Launch (planned, being built, in logistics, awaiting
approval, ready to launch, in review, completed, cancelled) and 26 prospects on
Lead Nurture from capture to hand-off. The prospects handed off to sales need
the sales pack's ``lead`` entity; without it they are left out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from bpf_dsl.plugins import SampleSpec


class Campaign(NamedTuple):
    key: str
    name: str
    kind: str
    objective: str
    audience: str
    budget: int
    revenue: int
    start: int  # days from today
    days: int
    channels: tuple[str, ...]
    where: str  # plan, build, logistics, approve, launch, review, completed, cancelled
    results: tuple[int, int, int, int] = (0, 0, 0, 0)  # cost, responses, leads, revenue influenced
    lesson: str = ""


CAMPAIGNS = [
    Campaign("spring_webinar", "Spring Product Launch Webinar", "webinar",
             "Introduce the spring release to existing customers", "Customer admins and IT leads", 18_000, 250_000,
             -60, 1, ("email", "web", "social"), "completed", (16_400, 820, 64, 310_000),
             "Tuesday 10:00 slot doubled attendance; send the recording within 24 hours"),
    Campaign("retail_summit", "Retail Summit 2026 Booth", "event", "Meet 300 retail decision makers",
             "Heads of e-commerce and store operations", 85_000, 1_200_000, 35, 3, ("events", "email"), "approve"),
    Campaign("q3_nurture", "Q3 Email Nurture Series", "email", "Move webinar attendees to a demo request",
             "Webinar attendees who didn't ask for a demo", 6_000, 180_000, 10, 60, ("email",), "launch"),
    Campaign("analytics_guide", "Analytics Buyer's Guide", "content", "Capture analytics buyers researching options",
             "Data and BI managers", 22_000, 400_000, -25, 90, ("web", "paid_search", "social"), "review",
             (14_800, 1_350, 88, 0)),
    Campaign("field_service_ads", "LinkedIn Ads: Field Service", "advertisement",
             "Reach operations directors in utilities and manufacturing", "Operations and service directors",
             30_000, 350_000, 21, 45, ("social", "paid_search"), "build"),
    Campaign("holiday_mail", "Holiday Direct Mail", "direct_mail", "Thank top customers and promote renewals",
             "Top 200 customers", 12_000, 90_000, 70, 20, ("print",), "plan"),
    Campaign("advisory_dinner", "Customer Advisory Board Dinner", "event",
             "Hear the roadmap wishes of twelve key customers", "Executive sponsors of key accounts", 15_000, 0,
             28, 1, ("events",), "logistics"),
    Campaign("security_month", "Security Awareness Month", "social", "Position the security offer",
             "CISOs and IT security managers", 9_000, 120_000, 40, 30, ("social", "web"), "cancelled"),
    Campaign("commerce_partner_webinar", "Partner Webinar: Commerce", "webinar",
             "Co-market the commerce suite with A. Datum", "Retail IT managers", 11_000, 150_000, -40, 1,
             ("email", "web"), "completed", (12_300, 460, 31, 95_000),
             "Partner-led demos converted better than slides; cost 12% over budget because of paid promotion"),
    Campaign("healthcare_newsletter", "Healthcare Newsletter Q2", "email", "Keep hospital IT engaged",
             "Hospital IT and biomedical engineering", 3_000, 60_000, 50, 1, ("email",), "plan"),
]

EVENT_PATH = ("plan", "build", "logistics", "approve", "launch", "review")
PATH = ("plan", "build", "approve", "launch", "review")


def _day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def _campaign(i: int, c: Campaign) -> SampleSpec:
    stop = {"completed": "review", "cancelled": "build"}.get(c.where, c.where)
    end = {"completed": "finish", "cancelled": "abandon"}.get(c.where)
    path = EVENT_PATH if c.kind in ("event", "webinar") else PATH
    moves = path.index(stop)
    cost, responses, leads, influenced = c.results
    stages: dict[str, dict[str, Any]] = {
        "plan": {"campaign_type": c.kind, "objective": c.objective, "target_audience": c.audience,
                 "budget": c.budget, "expected_revenue": c.revenue or None, "launch_date": _day(c.start),
                 "end_date": _day(c.start + c.days)},
        "build": {"channels": list(c.channels), "content_ready": True, "tracking_configured": True,
                  "landing_page": f"https://www.example.com/campaigns/{c.key.replace('_', '-')}"},
        "logistics": {"venue_booked": True, "speakers_confirmed": True},
        "approve": {"compliance_checked": True, "budget_approved": True if c.budget > 50_000 else None,
                    "approved": True},
        "launch": {"expected_responses": max(responses, c.budget // 40)},
        "review": {"actual_cost": cost, "responses": responses, "leads_generated": leads,
                   "revenue_influenced": influenced or None, "lessons_learned": c.lesson or None},
    }
    if not end and stop in ("build", "approve", "plan"):  # the stage it stands in: half done
        half = list(stages[stop])[: (len(stages[stop]) + 1) // 2]
        stages[stop] = {k: stages[stop][k] for k in half}
    if stop == "approve" and not end:
        stages["approve"] = {"compliance_checked": True}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    return SampleSpec("campaign", {"name": c.name}, process="campaign_launch", key=c.key, moves=moves,
                      stages=stages, end=end, age_days=5 + 6 * moves + (i * 7) % 9 + (4 if end else 0))


class Prospect(NamedTuple):
    name: str
    title: str
    company: str
    domain: str
    campaign: str
    channel: str
    interests: tuple[str, ...]
    activity: tuple[int, int, int]  # emails opened, web visits, downloads
    fit: str
    budget: int | None
    timeframe: str
    where: str  # capture, nurture, disqualified, qualified, hand_off, handed_off


PROSPECTS = [
    Prospect("Harper Lewis", "BI Manager", "Trey Research", "treyresearch.net", "analytics_guide",
             "content_download", ("analytics",), (6, 5, 2), "good", 120_000, "this_quarter", "handed_off"),
    Prospect("Mateo Alvarez", "IT Director", "Proseware, Inc.", "proseware.com", "spring_webinar", "webinar",
             ("analytics", "security"), (8, 7, 1), "good", 250_000, "next_quarter", "handed_off"),
    Prospect("Zoe Martin", "Head of Stores", "Wingtip Toys", "wingtiptoys.com", "commerce_partner_webinar",
             "webinar", ("commerce",), (5, 4, 1), "average", 60_000, "this_year", "handed_off"),
    Prospect("Ravi Shah", "Operations Director", "City Power & Light", "cpandl.com", "field_service_ads", "social",
             ("field_service",), (9, 6, 3), "good", 400_000, "this_quarter", "handed_off"),
    Prospect("Ella Johansson", "Data Engineer", "Relecloud", "relecloud.com", "analytics_guide",
             "content_download", ("analytics",), (7, 6, 1), "average", None, "unknown", "hand_off"),
    Prospect("Samuel Okafor", "CIO", "VanArsdel, Ltd.", "vanarsdel.com", "spring_webinar", "webinar",
             ("security", "service"), (10, 8, 2), "good", 500_000, "immediate", "hand_off"),
    Prospect("Lily Chen", "E-commerce Manager", "Wide World Importers", "wideworldimporters.com",
             "commerce_partner_webinar", "webinar", ("commerce",), (6, 3, 1), "good", 90_000, "next_quarter",
             "hand_off"),
    Prospect("Jack Thompson", "Service Manager", "Fabrikam, Inc.", "fabrikam.com", "field_service_ads",
             "social", ("field_service", "service"), (5, 5, 1), "good", 150_000, "this_year", "qualified"),
    Prospect("Amelia Clarke", "Analytics Lead", "Lucerne Publishing", "lucernepublishing.com", "analytics_guide",
             "content_download", ("analytics",), (4, 6, 2), "average", 40_000, "this_year", "qualified"),
    Prospect("Yusuf Demir", "CTO", "Humongous Insurance", "humongousinsurance.com", "spring_webinar", "webinar",
             ("security",), (6, 4, 1), "good", None, "next_quarter", "qualified"),
    Prospect("Grace O'Neill", "Store Operations Lead", "Northwind Traders", "northwindtraders.com",
             "commerce_partner_webinar", "webinar", ("commerce",), (5, 2, 1), "average", 30_000, "unknown",
             "qualified"),
    Prospect("Felix Wagner", "IT Manager", "Contoso Pharmaceuticals", "contoso.com", "analytics_guide",
             "content_download", ("analytics",), (8, 4, 2), "good", 200_000, "this_quarter", "qualified"),
    Prospect("Nina Petrova", "Marketing Analyst", "Litware, Inc.", "litware.com", "analytics_guide", "web_form",
             ("analytics",), (3, 2, 1), "good", None, "unknown", "nurture"),
    Prospect("Omar Haddad", "Facilities Director", "Lamna Healthcare", "lamnahealthcare.com", "field_service_ads",
             "social", ("field_service",), (2, 3, 0), "good", None, "unknown", "nurture"),
    Prospect("Chloe Bernard", "Buyer", "Alpine Ski House", "alpineskihouse.com", "commerce_partner_webinar",
             "webinar", ("commerce",), (1, 1, 0), "average", None, "unknown", "nurture"),
    Prospect("Lucas Meyer", "Security Analyst", "Woodgrove Bank", "woodgrovebank.com", "spring_webinar",
             "webinar", ("security",), (4, 1, 0), "good", None, "unknown", "nurture"),
    Prospect("Aria Rahman", "Operations Analyst", "Tailspin Toys", "tailspintoys.com", "analytics_guide",
             "content_download", ("analytics",), (2, 2, 1), "average", None, "unknown", "nurture"),
    Prospect("Ethan Brooks", "Owner", "Coho Winery", "cohowinery.com", "commerce_partner_webinar", "webinar",
             ("commerce",), (3, 0, 0), "average", None, "unknown", "nurture"),
    Prospect("Student Researcher", "Student", "Graphic Design Institute", "graphicdesigninstitute.com",
             "analytics_guide", "content_download", ("analytics",), (1, 2, 1), "poor", None, "unknown",
             "disqualified"),
    Prospect("Kai Nakamura", "Freelancer", "Nakamura Design", "nakamuradesign.com", "spring_webinar", "webinar",
             (), (0, 1, 0), "poor", None, "unknown", "disqualified"),
    Prospect("Ivy Walker", "Consultant", "Margie's Travel", "margiestravel.com", "commerce_partner_webinar",
             "webinar", ("commerce",), (2, 1, 0), "poor", None, "unknown", "disqualified"),
    Prospect("Noah Becker", "Plant Engineer", "Fabrikam, Inc.", "fabrikam.com", "field_service_ads", "social",
             (), (0, 0, 0), "good", None, "unknown", "capture"),
    Prospect("Maya Singh", "Data Scientist", "A. Datum Corporation", "adatum.com", "analytics_guide", "web_form",
             (), (0, 0, 0), "good", None, "unknown", "capture"),
    Prospect("Leo Rossi", "Store Manager", "Fourth Coffee", "fourthcoffee.com", "commerce_partner_webinar",
             "referral", (), (0, 0, 0), "average", None, "unknown", "capture"),
    Prospect("Sara Ahmed", "IT Lead", "Blue Yonder Airlines", "blueyonderairlines.com", "spring_webinar",
             "webinar", (), (0, 0, 0), "average", None, "unknown", "capture"),
    Prospect("Hugo Laurent", "COO", "Southridge Video", "southridgevideo.com", "spring_webinar", "event",
             (), (0, 0, 0), "good", None, "unknown", "capture"),
]

NURTURE_PATH = ("capture", "nurture", "qualified", "hand_off")


def _prospect(i: int, p: Prospect) -> SampleSpec:
    disqualified = p.where == "disqualified"
    stop = {"handed_off": "hand_off", "disqualified": "disqualify"}.get(p.where, p.where)
    end = "finish" if p.where in ("handed_off", "disqualified") else None
    path = ("capture", "nurture", "disqualify") if disqualified else NURTURE_PATH
    moves = path.index(stop)
    first, last = p.name.lower().replace("'", "").split(" ", 1)
    email = f"{first}.{last.replace(' ', '')}@{p.domain}"
    emails, visits, downloads = p.activity
    stages: dict[str, dict[str, Any]] = {
        "capture": {"email": email, "company": p.company, "channel": p.channel, "consent": True},
        "nurture": {"interests": list(p.interests), "emails_opened": emails, "web_visits": visits,
                    "content_downloads": downloads, "fit": p.fit},
        "disqualify": {"disqualify_reason": "Not a buyer: " + ("student" if p.title == "Student" else
                                                              "too small for our offer")},
        "qualified": {"budget_indicated": p.budget, "timeframe": p.timeframe, "mql": True},
        "hand_off": {"job_title": p.title, "phone": f"+1 555 03{i:02d}"},
    }
    if stop == "capture":  # just captured: consent not yet recorded for some
        stages["capture"] = {"company": p.company, "channel": p.channel, "consent": True if i % 2 else None}
    if stop == "nurture":
        stages["nurture"] = {"interests": list(p.interests), "emails_opened": emails, "web_visits": visits}
    if stop == "qualified" and i % 2:
        stages["qualified"] = {"budget_indicated": p.budget, "timeframe": p.timeframe}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    values = {"full_name": p.name, "source_campaign": f"@{p.campaign}", "email": email}
    return SampleSpec("prospect", values, process="lead_nurture", moves=moves, stages=stages, end=end,
                      needs=("lead",) if p.where == "handed_off" else (),
                      age_days=2 + 5 * moves + (i * 3) % 8 + (3 if end else 0))


def samples() -> list[SampleSpec]:
    """Every sample record of the pack, in creation order."""
    return [_campaign(i, c) for i, c in enumerate(CAMPAIGNS)] + [_prospect(i, p) for i, p in enumerate(PROSPECTS)]
