"""Sample records of the sales pack for ``bpf serve --demo``.

26 leads on the Lead to Opportunity Sales Process and 12 opportunities on the
Opportunity Sales Process, spread over every stage: some still being
qualified, some developing, proposing or closing, some won, lost or
disqualified. Their companies and people are the crm pack's (``"@crm.KEY"``,
loaded first); leads from companies new to us carry their own names and
numbers, and the Qualify button makes their accounts and contacts. Values are
API JSON; dates are relative to today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from bpf_crm.samples import BY_KEY, PERSON, email

from bpf_dsl.plugins import SampleSpec

PATH = ("qualify", "develop", "propose", "close")
BIG_PATH = ("qualify", "confirm_interest", "develop", "propose", "close")


class Deal(NamedTuple):
    topic: str
    who: str | tuple[str, str, str, str]  # a crm person's key, or someone new: first, last, job title, phone
    company: str | None  # a crm account's key when `who` is new to us but their company isn't; else its name
    domain: str | None  # a new company's web domain
    source: str
    rating: str
    budget: int | None
    timeframe: str
    process: str  # purchase process
    need: str
    solution: str
    where: str  # qualify, confirm_interest, develop, propose, close, won, lost, disqualified
    discount: float = 0


LEADS = [
    Deal("Fleet telematics for 40 delivery vans", "oliver", None, None, "web", "warm", 85_000, "this_quarter",
         "individual", "Real-time tracking and fuel reports for the London delivery fleet",
         "Telematics units with the fleet dashboard, 3-year subscription", "won", 5),
    Deal("ERP upgrade for three plants", "maria", None, None, "employee_referral", "hot", 1_400_000, "this_quarter",
         "committee", "Replace the 15-year-old ERP in the Detroit, Dayton and Monterrey plants",
         "Cloud ERP with manufacturing module, phased roll-out per plant", "close", 12),
    Deal("Point-of-sale refresh, 120 stores", "linda", None, None, "trade_show", "hot", 640_000, "next_quarter",
         "committee", "Unified checkout across stores and web shop",
         "POS terminals with the omnichannel retail suite", "propose", 8),
    Deal("Clinical trial data platform", "raj", None, None, "partner", "hot", 2_100_000, "immediate", "committee",
         "A validated platform for trial data from 40 sites",
         "Hosted clinical data platform with GxP validation pack", "confirm_interest"),
    Deal("Mobile banking app redesign", "grace", None, None, "seminar", "warm", 900_000, "this_year", "committee",
         "A mobile app customers rate above 4.5 stars",
         "Design sprint, then a 9-month rebuild by a joint team", "develop"),
    Deal("Ski rental booking system", "anna", None, None, "web", "warm", 45_000, "next_quarter", "individual",
         "Online booking of rental gear with pick-up slots",
         "Booking module on the retail suite, with the payment add-on", "develop"),
    Deal("Cellar sensors and temperature alerts", "daniel", None, None, "external_referral", "cold", 18_000,
         "this_year", "individual", "Alerts when the barrel cellar leaves 12-14 °C",
         "Wireless sensors with the monitoring service", "lost"),
    Deal("Partner portal for resellers", "kenji", None, None, "partner", "warm", 260_000, "this_quarter", "committee",
         "Deal registration and co-selling with 300 resellers",
         "Partner portal with deal registration and MDF tracking", "propose", 15),
    Deal("Toy safety test lab equipment", "peter", None, None, "trade_show", "warm", 120_000, "next_quarter",
         "individual", "In-house EN 71 testing to cut lab lead times",
         "Test rig bundle with calibration service", "qualify"),
    Deal("Data warehouse modernisation", "sofia", None, None, "web", "hot", 330_000, "immediate", "individual",
         "Move reporting off the on-premises warehouse before the licence renewal",
         "Cloud warehouse migration with 6 months of managed service", "won"),
    Deal("Warehouse robotics pilot", ("Ethan", "Moore", "Head of Fulfilment", "+1 206 555 0147"),
         "Wide World Importers", "wideworldimporters.com", "trade_show", "hot", 1_800_000, "this_quarter",
         "committee", "Pick rates up 30% in the Seattle distribution centre",
         "Autonomous mobile robots, 12-week pilot then roll-out", "develop"),
    Deal("Energy monitoring for 12 offices", ("Chloé", "Dubois", "Facilities Manager", "+33 4 72 10 45 38"),
         "Trey Research", "treyresearch.net", "advertisement", "warm", 64_000, "this_year", "individual",
         "Cut energy use by 15% across the office estate",
         "Smart meters with the energy analytics service", "qualify"),
    Deal("Customer support chatbot", ("Lucas", "Silva", "Customer Service Director", "+1 214 555 0139"),
         "Proseware, Inc.", "proseware.com", "web", "warm", 95_000, "next_quarter", "individual",
         "Deflect a third of the 20,000 monthly support chats",
         "Chatbot on the service suite with knowledge base integration", "propose", 5),
    Deal("Hospital asset tracking", "hannah", None, None, "seminar", "hot", 1_150_000, "immediate", "committee",
         "Find infusion pumps and wheelchairs in under two minutes",
         "RTLS tags and readers across two hospitals, with integration", "close", 8),
    Deal("Coffee machine leasing, 60 sites", "ben", None, None, "external_referral", "warm", 210_000,
         "this_quarter", "individual", "Replace owned machines with a serviced lease",
         "Lease with quarterly servicing and telemetry", "won", 10),
    Deal("Grid maintenance scheduling", "priya", None, None, "seminar", "warm", 780_000, "this_year", "committee",
         "Plan crews for 4,000 substations from sensor data",
         "Field service scheduling with predictive maintenance", "develop"),
    Deal("Loyalty programme platform", "emma", None, None, "marketing", "warm", 150_000, "next_quarter", "committee",
         "One loyalty scheme across stores and online",
         "Loyalty module with the customer data platform", "qualify"),
    Deal("Employee laptops refresh", ("Carlos", "Méndez", "IT Manager", "+34 912 345 678"),
         "Graphic Design Institute", "graphicdesigninstitute.com", "web", "cold", 40_000, "unknown", "unknown",
         "", "", "disqualified"),
    Deal("Contract management system", ("Olivia", "Bennett", "General Counsel", "+61 2 5550 1284"),
         "Margie's Travel", "margiestravel.com", "employee_referral", "warm", 72_000, "this_quarter", "individual",
         "Find any supplier contract in seconds, with renewal alerts",
         "Contract management with e-signature", "close"),
    Deal("Retail analytics dashboards", "noah", None, None, "web", "warm", 58_000, "this_quarter", "individual",
         "Daily sell-through per store and bike model",
         "Analytics workspace with the retail data model", "qualify"),
    Deal("Supplier portal", "tom", None, None, "partner", "warm", 175_000, "next_quarter", "committee",
         "Suppliers confirm orders and deliveries online",
         "Supplier portal on the procurement suite", "lost"),
    Deal("Call centre headsets", ("Mia", "Lopez", "Office Manager", "+1 305 555 0162"), "Blue Yonder Airlines",
         "blueyonderairlines.com", "advertisement", "cold", 9_000, "unknown", "individual", "", "", "disqualified"),
    Deal("Wine club subscriptions online", "daniel", None, None, "web", "warm", 26_000, "this_quarter", "individual",
         "Sign-ups and monthly billing for the wine club",
         "Subscription billing on the commerce suite", "develop"),
    Deal("Cyber security assessment", "aisha", None, None, "seminar", "hot", 1_300_000, "immediate", "committee",
         "An independent assessment before the regulator's audit",
         "Red-team assessment and remediation roadmap", "propose", 4),
    Deal("3D printers for prototyping", "leo", None, None, "trade_show", "warm", 48_000, "this_year", "individual",
         "Print prototypes in-house instead of waiting two weeks",
         "Two industrial printers with materials contract", "qualify"),
    Deal("Field sales mobile app", "isabel", None, None, "employee_referral", "warm", 68_000, "next_quarter",
         "individual", "Reps log visits and orders offline",
         "Mobile sales app with offline sync", "close"),
]

OPPORTUNITIES = [
    # name, account, contact, budget, timeframe, need, solution, where, discount
    ("Renewal: analytics licences 2027", "contoso", "nancy", 240_000, "this_quarter",
     "Keep 400 analytics seats for the research division", "Three-year renewal with volume tier", "close", 6),
    ("Expansion: second manufacturing site", "fabrikam", "tom", 520_000, "next_quarter",
     "Roll the MES out to the Dayton plant", "MES licences and a 10-week implementation", "propose", 12),
    ("Upsell: premium support", "adventure_works", "linda", 36_000, "immediate",
     "Four-hour response during the summer peak", "Premium support plan", "won", 0),
    ("Store Wi-Fi upgrade", "northwind", "oliver", 88_000, "this_year",
     "Guest Wi-Fi and handhelds in every store", "Managed Wi-Fi for 35 stores", "develop", 0),
    ("Co-sell: healthcare analytics", "adatum", "kenji", 300_000, "this_quarter",
     "A joint offer for A. Datum's hospital clients", "Joint solution with partner margin", "qualify", 0),
    ("Online shop for rentals", "alpine", "anna", 24_000, "next_quarter",
     "Sell season passes and rentals online", "Commerce starter package", "lost", 0),
    ("Treasury workstation", "woodgrove", "grace", 1_100_000, "this_year",
     "Replace spreadsheets in treasury with a controlled system", "Treasury module with audit trail", "develop", 0),
    ("Tasting room POS", "coho", "daniel", 12_000, "immediate",
     "Faster checkout at weekend tastings", "Two POS terminals with the small business plan", "won", 0),
    ("Product data hub", "tailspin", "peter", 140_000, "next_quarter",
     "One source of product data for 2,000 SKUs", "Product information management, 2-year term", "qualify", 0),
    ("Developer platform seats", "litware", "sofia", 56_000, "this_quarter",
     "Seats for the new platform team", "60 developer seats with CI minutes", "close", 3),
    ("Safety training content", "fabrikam", "maria", 30_000, "this_year",
     "Annual safety training for 8,000 workers", "E-learning library with tracking", "qualify", 0),
    ("Insurance claims automation", "woodgrove", None, 410_000, "next_quarter",
     "Automate first notice of loss for card insurance", "Claims intake automation", "propose", 18),
]


def _day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def _stage_values(stage: str, need: str, solution: str, discount: float, i: int, done: bool) -> dict[str, Any]:
    values: dict[str, Any]
    if stage == "develop":
        values = {"customer_need": need or "To be confirmed", "proposed_solution": solution or None,
                  "stakeholders_identified": True, "competitors_identified": i % 3 != 0}
    elif stage == "propose":
        values = {"proposal_developed": True, "sales_team_identified": True, "discount_percent": discount,
                  "internal_review_completed": True, "proposal_presented": i % 2 == 0}
    elif stage == "close":
        values = {"decision_date": _day(-3 - i % 10) if done else _day(7 + 3 * (i % 6)),
                  "final_proposal_completed": True, "final_proposal_presented": True, "thank_you_sent": done,
                  "debrief_filed": done and i % 2 == 0}
    elif stage == "confirm_interest":
        values = {"decision_maker": True}
    else:
        values = {}
    if not done:  # the stage the record stands in: half filled in
        keys = list(values)
        values = {k: values[k] for k in keys[: max(1, (len(keys) + 1) // 2)]}
    return {k: v for k, v in values.items() if v is not None}


def _ending(where: str) -> tuple[str, tuple[str, ...], str | None]:
    """The stage a sample stops in, the action steps it runs, and how its process ends."""
    if where == "won":
        return "close", ("close_as_won",), "finish"
    if where == "lost":
        return "close", ("close_as_lost",), "finish"
    if where == "disqualified":
        return "qualify", (), "abandon"
    return where, (), None


def _lead_values(d: Deal, i: int) -> dict[str, Any]:
    """The lead as a form would create it: the person, their company, where the lead came from."""
    if isinstance(d.who, str):  # someone we know: the crm pack's contact and account
        person = PERSON[d.who]
        assert person.account is not None
        return {"topic": d.topic, "first_name": person.first, "last_name": person.last, "job_title": person.title,
                "company": BY_KEY[person.account].name, "email": email(person), "phone": person.phone,
                "source": d.source, "rating": d.rating, "existing_contact": f"@crm.{person.key}",
                "existing_account": f"@crm.{person.account}"}
    first, last, title, phone = d.who
    local = f"{first}.{last}".lower().replace("é", "e")
    return {"topic": d.topic, "first_name": first, "last_name": last, "job_title": title, "company": d.company,
            "email": f"{local}@{d.domain}", "phone": phone, "source": d.source, "rating": d.rating}


def samples() -> list[SampleSpec]:
    """Every sample record of the pack, in creation order."""
    out: list[SampleSpec] = []
    for i, d in enumerate(LEADS):
        stop, actions, end = _ending(d.where)
        big = (d.budget or 0) >= 1_000_000 and d.timeframe in ("immediate", "this_quarter")
        path = BIG_PATH if big else PATH
        moves = path.index(stop)
        qualify = {"budget_amount": d.budget, "purchase_timeframe": d.timeframe, "purchase_process": d.process,
                   "decision_maker": d.process == "individual" or moves > 0,
                   "description": f"{d.need}. Proposed: {d.solution}." if d.need else "No clear need yet"}
        if stop == "qualify" and not end:  # still being qualified: the summary isn't written yet
            qualify.pop("description")
        stages = {"qualify": qualify}
        for stage in path[1:moves + 1]:
            stages[stage] = _stage_values(stage, d.need, d.solution, d.discount, i, stage != stop or bool(end))
        out.append(SampleSpec("lead", _lead_values(d, i), process="lead_to_opportunity", moves=moves, stages=stages,
                              actions=actions, end=end, age_days=4 + 9 * moves + (i * 7) % 11 + (6 if end else 0)))
    for i, (name, account, contact, budget, timeframe, need, solution, where, discount) in enumerate(OPPORTUNITIES):
        stop, actions, end = _ending(where)
        moves = PATH.index(stop)
        values = {"name": name, "account": f"@crm.{account}", "purchase_timeframe": timeframe,
                  "budget_amount": budget}
        if contact:
            values["contact"] = f"@crm.{contact}"
        stages = {"qualify": {"description": f"{need}.", "purchase_process": "committee" if budget > 200_000
                              else "individual", "decision_maker": True}}
        for stage in PATH[1:moves + 1]:
            stages[stage] = _stage_values(stage, need, solution, discount, i, stage != stop or bool(end))
        out.append(SampleSpec("opportunity", values, process="opportunity_sales", moves=moves, stages=stages,
                              actions=actions, end=end, age_days=3 + 8 * moves + (i * 5) % 9 + (5 if end else 0)))
    return out
