"""Sample records of the marketing pack for ``bpf serve --demo``.

Ten campaigns on Campaign Launch (planned, being built, in logistics, awaiting
approval, ready to launch, in review, completed, cancelled), six events on the
Event Main Business Process Flow, 26 prospects on Lead Nurture from capture to
hand-off (the hand-offs make sales-ready leads that keep their source campaign)
and ten leads on the Lead to opportunity marketing sales process, some of them
through teleprospecting. The people already known are the crm pack's contacts
(``"@crm.KEY"``, loaded first); the others carry their own names and numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from bpf_crm.samples import BY_KEY, PERSON, email

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

LOGISTICS_PATH = ("plan", "build", "logistics", "approve", "launch", "review")
PATH = ("plan", "build", "approve", "launch", "review")


def _day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def _campaign(i: int, c: Campaign) -> SampleSpec:
    stop = {"completed": "review", "cancelled": "build"}.get(c.where, c.where)
    end = {"completed": "finish", "cancelled": "abandon"}.get(c.where)
    path = LOGISTICS_PATH if c.kind in ("event", "webinar") else PATH
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
    who: str | tuple[str, str, str, str, str]  # a crm contact's key, or: full name, job title, company, domain, phone
    campaign: str
    channel: str
    interests: tuple[str, ...]
    activity: tuple[int, int, int]  # emails opened, web visits, downloads
    fit: str
    budget: int | None
    timeframe: str
    where: str  # capture, nurture, disqualified, qualified, hand_off, handed_off


PROSPECTS = [
    Prospect(("Harper Lewis", "BI Manager", "Trey Research", "treyresearch.net", "+33 4 72 10 45 52"),
             "analytics_guide", "content_download", ("analytics",), (6, 5, 2), "good", 120_000, "this_quarter",
             "handed_off"),
    Prospect(("Mateo Alvarez", "IT Director", "Proseware, Inc.", "proseware.com", "+1 214 555 0133"),
             "spring_webinar", "webinar", ("analytics", "security"), (8, 7, 1), "good", 250_000, "next_quarter",
             "handed_off"),
    Prospect(("Zoe Martin", "Head of Stores", "Wingtip Toys", "wingtiptoys.com", "+44 121 496 0375"),
             "commerce_partner_webinar", "webinar", ("commerce",), (5, 4, 1), "average", 60_000, "this_year",
             "handed_off"),
    Prospect("ravi", "field_service_ads", "social", ("field_service",), (9, 6, 3), "good", 400_000, "this_quarter",
             "handed_off"),
    Prospect(("Ella Johansson", "Data Engineer", "Relecloud", "relecloud.com", "+46 8 123 456 78"),
             "analytics_guide", "content_download", ("analytics",), (7, 6, 1), "average", None, "unknown",
             "hand_off"),
    Prospect(("Samuel Okafor", "CIO", "VanArsdel, Ltd.", "vanarsdel.com", "+44 20 7946 0974"), "spring_webinar",
             "webinar", ("security", "service"), (10, 8, 2), "good", 500_000, "immediate", "hand_off"),
    Prospect(("Lily Chen", "E-commerce Manager", "Wide World Importers", "wideworldimporters.com",
              "+1 206 555 0149"), "commerce_partner_webinar", "webinar", ("commerce",), (6, 3, 1), "good", 90_000,
             "next_quarter", "hand_off"),
    Prospect("jack", "field_service_ads", "social", ("field_service", "service"), (5, 5, 1), "good", 150_000,
             "this_year", "qualified"),
    Prospect(("Amelia Clarke", "Analytics Lead", "Lucerne Publishing", "lucernepublishing.com",
              "+44 161 496 0629"), "analytics_guide", "content_download", ("analytics",), (4, 6, 2), "average",
             40_000, "this_year", "qualified"),
    Prospect(("Yusuf Demir", "CTO", "Humongous Insurance", "humongousinsurance.com", "+1 860 555 0118"),
             "spring_webinar", "webinar", ("security",), (6, 4, 1), "good", None, "next_quarter", "qualified"),
    Prospect("grace_o", "commerce_partner_webinar", "webinar", ("commerce",), (5, 2, 1), "average", 30_000,
             "unknown", "qualified"),
    Prospect("felix", "analytics_guide", "content_download", ("analytics",), (8, 4, 2), "good", 200_000,
             "this_quarter", "qualified"),
    Prospect("nina", "analytics_guide", "web_form", ("analytics",), (3, 2, 1), "good", None, "unknown", "nurture"),
    Prospect("omar", "field_service_ads", "social", ("field_service",), (2, 3, 0), "good", None, "unknown",
             "nurture"),
    Prospect("chloe_b", "commerce_partner_webinar", "webinar", ("commerce",), (1, 1, 0), "average", None, "unknown",
             "nurture"),
    Prospect("lucas", "spring_webinar", "webinar", ("security",), (4, 1, 0), "good", None, "unknown", "nurture"),
    Prospect("aria", "analytics_guide", "content_download", ("analytics",), (2, 2, 1), "average", None, "unknown",
             "nurture"),
    Prospect("daniel", "commerce_partner_webinar", "webinar", ("commerce",), (3, 0, 0), "average", None, "unknown",
             "nurture"),
    Prospect(("Sam Student", "Student", "Graphic Design Institute", "graphicdesigninstitute.com", "+34 913 456 789"),
             "analytics_guide", "content_download", ("analytics",), (1, 2, 1), "poor", None, "unknown",
             "disqualified"),
    Prospect(("Kai Nakamura", "Freelancer", "Nakamura Design", "nakamuradesign.jp", "+81 3 4567 8901"),
             "spring_webinar", "webinar", (), (0, 1, 0), "poor", None, "unknown", "disqualified"),
    Prospect(("Ivy Walker", "Consultant", "Margie's Travel", "margiestravel.com", "+61 2 5550 1296"),
             "commerce_partner_webinar", "webinar", ("commerce",), (2, 1, 0), "poor", None, "unknown",
             "disqualified"),
    Prospect(("Noah Becker", "Plant Engineer", "Fabrikam, Inc.", "fabrikam.com", "+1 313 555 0162"),
             "field_service_ads", "social", (), (0, 0, 0), "good", None, "unknown", "capture"),
    Prospect("maya", "analytics_guide", "web_form", (), (0, 0, 0), "good", None, "unknown", "capture"),
    Prospect("leo_r", "commerce_partner_webinar", "referral", (), (0, 0, 0), "average", None, "unknown", "capture"),
    Prospect(("Sara Ahmed", "IT Lead", "Blue Yonder Airlines", "blueyonderairlines.com", "+1 305 555 0177"),
             "spring_webinar", "webinar", (), (0, 0, 0), "average", None, "unknown", "capture"),
    Prospect(("Hugo Laurent", "COO", "Southridge Video", "southridgevideo.com", "+33 1 70 36 42 18"),
             "spring_webinar", "event", (), (0, 0, 0), "good", None, "unknown", "capture"),
]

NURTURE_PATH = ("capture", "nurture", "qualified", "hand_off")


def _who(p: Prospect) -> tuple[str, str, str, str, str, str | None]:
    """Full name, job title, company, email, phone and crm contact key of a prospect."""
    if isinstance(p.who, str):
        person = PERSON[p.who]
        assert person.account is not None
        return (person.full_name, person.title, BY_KEY[person.account].name, email(person), person.phone,
                person.key)
    name, title, company, domain, phone = p.who
    first, last = name.lower().replace("'", "").split(" ", 1)
    return name, title, company, f"{first}.{last.replace(' ', '')}@{domain}", phone, None


def _prospect(i: int, p: Prospect) -> SampleSpec:
    disqualified = p.where == "disqualified"
    stop = {"handed_off": "hand_off", "disqualified": "disqualify"}.get(p.where, p.where)
    end = "finish" if p.where in ("handed_off", "disqualified") else None
    path = ("capture", "nurture", "disqualify") if disqualified else NURTURE_PATH
    moves = path.index(stop)
    name, title, company, address, phone, contact = _who(p)
    emails, visits, downloads = p.activity
    stages: dict[str, dict[str, Any]] = {
        "capture": {"email": address, "company": company, "channel": p.channel, "consent": True},
        "nurture": {"interests": list(p.interests), "emails_opened": emails, "web_visits": visits,
                    "content_downloads": downloads, "fit": p.fit},
        "disqualify": {"disqualify_reason": "Not a buyer: " + ("student" if title == "Student" else
                                                              "too small for our offer")},
        "qualified": {"budget_indicated": p.budget, "timeframe": p.timeframe, "mql": True},
        "hand_off": {"job_title": title, "phone": phone},
    }
    if stop == "capture":  # just captured: consent not yet recorded for some
        stages["capture"] = {"company": company, "channel": p.channel, "consent": True if i % 2 else None}
    if stop == "nurture":
        stages["nurture"] = {"interests": list(p.interests), "emails_opened": emails, "web_visits": visits}
    if stop == "qualified" and i % 2:
        stages["qualified"] = {"budget_indicated": p.budget, "timeframe": p.timeframe}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    values = {"full_name": name, "source_campaign": f"@{p.campaign}", "email": address}
    if contact:
        values["contact"] = f"@crm.{contact}"
    return SampleSpec("prospect", values, process="lead_nurture", moves=moves, stages=stages, end=end,
                      age_days=2 + 5 * moves + (i * 3) % 8 + (3 if end else 0))


class Event(NamedTuple):
    name: str
    kind: str
    campaign: str | None
    start: int  # days from today
    days: int
    venue: str
    city: str
    country: str
    budget: int
    capacity: int
    where: str  # preliminaries, initial_planning, final_planning, post_event, done
    turnout: tuple[int, int] = (0, 0)  # registrations, checked in
    debrief: str = ""


EVENTS = [
    Event("Spring Product Launch Webinar", "webinar", "spring_webinar", -60, 1, "Online", "Seattle",
          "United States", 18_000, 1000, "done", (820, 540),
          "Tuesday 10:00 slot doubled attendance; send the recording within 24 hours"),
    Event("Retail Summit 2026", "trade_show", "retail_summit", 35, 3, "ExCeL London, booth N14", "London",
          "United Kingdom", 85_000, 300, "final_planning", (212, 0)),
    Event("Customer Advisory Board Dinner", "executive_briefing", "advisory_dinner", 28, 1,
          "The Lake Room, Lake Union", "Seattle", "United States", 15_000, 14, "initial_planning"),
    Event("Partner Webinar: Commerce", "webinar", "commerce_partner_webinar", -40, 1, "Online", "Toronto", "Canada",
          11_000, 600, "post_event", (460, 288)),
    Event("Field Service Roadshow Manchester", "roadshow", "field_service_ads", 75, 1, "Manchester Central",
          "Manchester", "United Kingdom", 22_000, 150, "preliminaries"),
    Event("Healthcare IT Breakfast", "seminar", None, 48, 1, "Back Bay Events Center", "Boston", "United States",
          9_000, 60, "initial_planning"),
]

EVENT_PATH = ("preliminaries", "initial_planning", "final_planning", "post_event")


def _event(i: int, e: Event) -> SampleSpec:
    stop = "post_event" if e.where == "done" else e.where
    end = "finish" if e.where == "done" else None
    moves = EVENT_PATH.index(stop)
    registrations, attendees = e.turnout
    stages: dict[str, dict[str, Any]] = {
        "preliminaries": {"event_type": e.kind, "team_defined": True, "marketing_plan": True,
                          "campaign": f"@{e.campaign}" if e.campaign else None, "budget": e.budget,
                          "start_date": _day(e.start), "end_date": _day(e.start + e.days - 1)},
        "initial_planning": {"venue": e.venue, "speakers_engaged": True, "sponsors_signed": e.kind == "trade_show",
                             "rooms_booked": True, "catering_ordered": e.kind != "webinar",
                             "sessions_scheduled": True, "max_attendees": e.capacity},
        "final_planning": {"registration_open": True, "invitations_sent": True, "reminders_sent": True,
                           "registrations": registrations or None},
        "post_event": {"attendees": attendees, "thank_you_sent": True, "leads_followed_up": True,
                       "debrief": e.debrief or None},
    }
    if not end:  # the stage it stands in: half done
        half = list(stages[stop])[: (len(stages[stop]) + 1) // 2]
        stages[stop] = {k: stages[stop][k] for k in half}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    values = {"name": e.name, "city": e.city, "country": e.country}
    return SampleSpec("event", values, process="event_main", moves=moves, stages=stages, end=end,
                      age_days=10 + 8 * moves + (i * 5) % 7 + (6 if end else 0))


class Inquiry(NamedTuple):
    topic: str
    who: str  # a crm contact's key
    campaign: str
    source: str
    score: int
    where: str  # a stage's name, or accepted
    teleprospecting: bool = False  # not sales ready by scoring: the teleprospectors qualify it


INQUIRIES = [
    Inquiry("Webinar follow-up: analytics for research", "felix", "spring_webinar", "seminar", 74, "accepted"),
    Inquiry("Field service scheduling for substations", "priya", "field_service_ads", "advertisement", 55,
            "accepted", True),
    Inquiry("Buyer's guide download: BI for retail", "noah", "analytics_guide", "web", 38, "automated_qualification"),
    Inquiry("Commerce suite for the ski shop", "chloe_b", "commerce_partner_webinar", "seminar", 46,
            "teleprospecting_acceptance", True),
    Inquiry("Security assessment enquiry", "lucas", "spring_webinar", "web", 52, "teleprospecting_qualification",
            True),
    Inquiry("Loyalty programme at the retail summit", "grace_o", "retail_summit", "trade_show", 81,
            "sales_acceptance"),
    Inquiry("Cold room monitoring", "omar", "field_service_ads", "advertisement", 20, "inquiry"),
    Inquiry("Analytics for the product team", "maya", "analytics_guide", "web", 12, "inquiry"),
    Inquiry("Partner co-selling programme", "kenji", "commerce_partner_webinar", "partner", 77, "accepted"),
    Inquiry("Tasting-room bookings online", "daniel", "commerce_partner_webinar", "web", 61, "sales_acceptance",
            True),
]

DIRECT = ("inquiry", "automated_qualification", "sales_acceptance")
TELE = ("inquiry", "automated_qualification", "teleprospecting_acceptance", "teleprospecting_qualification",
        "sales_acceptance")


def _inquiry(i: int, q: Inquiry) -> SampleSpec:
    stop = "sales_acceptance" if q.where == "accepted" else q.where
    end = "finish" if q.where == "accepted" else None
    path = TELE if q.teleprospecting else DIRECT
    moves = path.index(stop)
    person = PERSON[q.who]
    assert person.account is not None
    values = {"topic": q.topic, "first_name": person.first, "last_name": person.last, "job_title": person.title,
              "company": BY_KEY[person.account].name, "email": email(person), "phone": person.phone,
              "source": q.source, "source_campaign": f"@{q.campaign}"}
    stages: dict[str, dict[str, Any]] = {
        "inquiry": {"existing_contact": f"@crm.{person.key}", "existing_account": f"@crm.{person.account}"},
        "automated_qualification": {"marketing_score": q.score, "teleprospecting_ready": q.teleprospecting or None},
        "teleprospecting_acceptance": {"teleprospect_accepted": True},
        "teleprospecting_qualification": {"purchase_timeframe": "this_year", "budget_amount": 50_000 + 10_000 * i,
                                          "purchase_process": "committee", "decision_maker": True,
                                          "description": "Called: interested, budget set for this year",
                                          "sales_ready": True},
        "sales_acceptance": {"sales_accepted": True},
    }
    if not end and stop in ("inquiry", "teleprospecting_acceptance", "sales_acceptance"):
        stages[stop] = {}
    if not end and stop == "teleprospecting_qualification":
        stages[stop] = {"purchase_timeframe": "this_year"}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    return SampleSpec("lead", values, process="lead_to_opportunity_marketing", moves=moves, stages=stages, end=end,
                      age_days=3 + 4 * moves + (i * 5) % 6 + (2 if end else 0))


def samples() -> list[SampleSpec]:
    """Every sample record of the pack, in creation order."""
    return [_campaign(i, c) for i, c in enumerate(CAMPAIGNS)] + [_event(i, e) for i, e in enumerate(EVENTS)] + \
        [_prospect(i, p) for i, p in enumerate(PROSPECTS)] + [_inquiry(i, q) for i, q in enumerate(INQUIRIES)]
