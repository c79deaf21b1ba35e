"""Sample records of the service pack for ``bpf serve --demo``.

Eight customers, 24 cases taken by phone (Phone to Case Process) and 10 cases
that need a technician (Case to Work Order), spread over every stage: new,
being researched, escalated, resolved, cancelled; work orders being planned,
waiting for parts, scheduled, worked and completed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from bpf_dsl.plugins import SampleSpec

CUSTOMERS = [
    # key, name, email, phone, address, service level
    ("contoso", "Contoso Pharmaceuticals", "facilities@contoso.com", "+1 206 555 0110",
     "1 Contoso Way, Seattle, WA", "enterprise"),
    ("fabrikam", "Fabrikam, Inc.", "maintenance@fabrikam.com", "+1 313 555 0142",
     "400 Industrial Dr, Detroit, MI", "premium"),
    ("northwind", "Northwind Traders", "it@northwindtraders.com", "+44 20 7946 0312",
     "12 Wharf Road, London", "standard"),
    ("alpine", "Alpine Ski House", "office@alpineskihouse.com", "+43 512 555 018",
     "Maria-Theresien-Str. 5, Innsbruck", "standard"),
    ("woodgrove", "Woodgrove Bank", "branch.support@woodgrovebank.com", "+1 212 555 0176",
     "55 Broad St, New York, NY", "enterprise"),
    ("coho", "Coho Winery", "daniel.brooks@cohowinery.com", "+1 707 555 0121",
     "2200 Silverado Trail, Napa, CA", "standard"),
    ("lamna", "Lamna Healthcare", "biomed@lamnahealthcare.com", "+1 617 555 0190",
     "80 Longwood Ave, Boston, MA", "premium"),
    ("fourth_coffee", "Fourth Coffee", "ops@fourthcoffee.com", "+1 503 555 0155",
     "18 Pearl St, Portland, OR", "standard"),
]


class Case(NamedTuple):
    title: str
    customer: str
    contact: str
    origin: str
    case_type: str
    priority: str
    description: str
    kb_article: str
    resolution_type: str
    resolution: str
    where: str  # identify, research, escalation, resolve, resolved, cancelled
    escalate: bool = False


PHONE_CASES = [
    Case("Cannot log in to the supplier portal", "fabrikam", "Tom Becker", "phone", "problem", "high",
         "Password reset emails never arrive", "KB-1042 Password reset emails blocked by spam filters",
         "workaround", "Allow-listed our sender domain; reset link sent by SMS meanwhile", "resolved"),
    Case("Invoice shows the wrong VAT rate", "northwind", "Oliver Hughes", "email", "problem", "normal",
         "March invoice applied 5% instead of 20%", "KB-2210 Changing tax codes on invoices",
         "problem_solved", "Credit note issued and tax code corrected", "resolved"),
    Case("How to export the monthly usage report", "alpine", "Anna Gruber", "phone", "question", "low",
         "Wants the report as CSV for the accountant", "KB-0877 Exporting reports",
         "information_provided", "Sent the export steps and a sample file", "resolved"),
    Case("Payment terminal offline at the tasting room", "coho", "Daniel Brooks", "phone", "problem", "urgent",
         "Terminal shows 'no host' since this morning", "KB-3105 Terminal cannot reach host",
         "problem_solved", "Router firmware rolled back; terminal online", "resolve", True),
    Case("Request for a second admin account", "fourth_coffee", "Ben Turner", "web", "request", "low",
         "New operations manager needs admin rights", "", "information_provided",
         "Admin role granted after approval", "research"),
    Case("Data sync fails every night", "contoso", "Raj Patel", "phone", "problem", "high",
         "The 02:00 sync to the data platform fails with a timeout", "KB-4420 Sync timeouts on large tables",
         "workaround", "Batch size lowered; permanent fix scheduled", "escalation", True),
    Case("Mobile app crashes on start", "woodgrove", "Grace Kim", "chat", "problem", "urgent",
         "Crash on Android 15 after the update", "KB-5001 Known issues with Android 15",
         "problem_solved", "Hotfix 4.2.1 released", "resolved", True),
    Case("Change of billing address", "lamna", "Hannah Schmidt", "email", "request", "normal",
         "Billing moves to the finance shared service centre", "", "information_provided",
         "Address updated from next cycle", "identify"),
    Case("Question about contract renewal dates", "contoso", "Nancy Anderson", "phone", "question", "normal",
         "Which licences renew in Q3?", "KB-0450 Reading your contract summary",
         "information_provided", "Sent the renewal schedule", "research"),
    Case("Reports load slowly", "northwind", "Emma Wright", "web", "problem", "normal",
         "Sales dashboard takes 40 seconds to open", "KB-2890 Dashboard performance",
         "workaround", "Filters narrowed by default", "resolve"),
    Case("Duplicate charges on the card statement", "alpine", "Anna Gruber", "phone", "problem", "high",
         "Charged twice for the February subscription", "KB-3300 Refunding duplicate payments",
         "problem_solved", "Refund issued", "resolved"),
    Case("Training for new staff", "fourth_coffee", "Ben Turner", "email", "request", "low",
         "Five new shift leads need onboarding", "", "information_provided",
         "Booked onto the next online course", "cancelled"),
    Case("Badge readers reject new cards", "woodgrove", "Aisha Khan", "phone", "problem", "high",
         "Cards issued this week are rejected at the branch doors", "KB-6120 Card encoding formats",
         "problem_solved", "Reader firmware updated", "escalation", True),
    Case("Export to accounting fails", "coho", "Daniel Brooks", "web", "problem", "normal",
         "Export stops at 80% with no message", "KB-2215 Export errors", "workaround",
         "Export split by month", "research"),
    Case("Add a new site to the contract", "lamna", "Priya Nair", "phone", "request", "normal",
         "New clinic opening in Cambridge", "", "information_provided", "Site added to the schedule", "identify"),
    Case("Label printer prints blank labels", "fabrikam", "Maria Gonzalez", "phone", "problem", "normal",
         "Shipping labels come out blank on line 3", "KB-1710 Thermal label settings",
         "problem_solved", "Print darkness reset; ribbon replaced", "resolved"),
    Case("API rate limit questions", "contoso", "Raj Patel", "email", "question", "low",
         "What are the limits for the bulk API?", "KB-0990 API limits", "information_provided",
         "Sent the limits table", "resolved"),
    Case("Cannot upload images over 10 MB", "northwind", "Oliver Hughes", "chat", "problem", "low",
         "Product photos are rejected", "KB-2001 Upload limits", "workaround", "Images compressed on upload",
         "identify"),
    Case("Alarm notifications not received", "lamna", "Hannah Schmidt", "phone", "problem", "urgent",
         "Fridge temperature alarms are not paged to the on-call nurse", "KB-6601 Paging gateway",
         "problem_solved", "Paging gateway certificate renewed", "research", True),
    Case("Wrong currency on quotes", "alpine", "Anna Gruber", "email", "problem", "normal",
         "Quotes show USD instead of EUR", "KB-2400 Currency per price list", "problem_solved",
         "Price list currency corrected", "resolve"),
    Case("Close account of a former employee", "fourth_coffee", "Ben Turner", "web", "request", "normal",
         "Remove access for a store manager who left", "", "problem_solved", "Account disabled", "resolved"),
    Case("Statement of work for the integration", "woodgrove", "Grace Kim", "email", "question", "normal",
         "Asks for the SOW template", "", "information_provided", "Template sent", "cancelled"),
    Case("Scanner app freezes when scanning", "fabrikam", "Tom Becker", "phone", "problem", "high",
         "Warehouse scanners freeze after 20 scans", "KB-1880 Scanner memory", "workaround",
         "Nightly restart scheduled; fix in next release", "identify"),
    Case("Single sign-on for the new subsidiary", "contoso", "Raj Patel", "web", "request", "normal",
         "Subsidiary uses its own identity provider", "KB-0301 Adding identity providers",
         "information_provided", "Federation steps sent", "research"),
]

PHONE_PATH = ("identify", "research", "resolve")
ESCALATED_PATH = ("identify", "research", "escalation", "resolve")


class Visit(NamedTuple):
    title: str
    customer: str
    incident: str  # incident type
    kind: str  # work order type
    location: str
    priority: str
    description: str
    parts: bool
    technician: str
    work: str
    hours: float
    where: str  # triage, create_work_order, order_parts, schedule, perform, close_work_order, completed


FIELD_CASES = [
    Visit("Chiller unit 2 not cooling", "contoso", "breakdown", "repair", "Building B, roof plant room", "urgent",
          "Chiller trips on high pressure within minutes", True, "Sam Ortiz",
          "Replaced condenser fan motor; pressures normal", 5.5, "perform"),
    Visit("Annual boiler service", "fabrikam", "maintenance", "maintenance", "Detroit plant, boiler house", "normal",
          "Yearly service and safety check of boilers 1-3", False, "Alex Chen",
          "Serviced three boilers; flue gas readings logged", 7, "completed"),
    Visit("Install EV chargers in the car park", "fourth_coffee", "installation", "installation",
          "Portland roastery car park", "normal", "Four 22 kW chargers on the existing supply", True, "Jo Wright",
          "Four chargers installed and commissioned", 14, "schedule"),
    Visit("Sterilizer door seal leaking", "lamna", "breakdown", "repair", "Central sterile services, floor -1",
          "high", "Steam escapes from the door of autoclave 3", True, "Sam Ortiz",
          "Door gasket replaced; chamber leak test passed", 3, "order_parts"),
    Visit("Quarterly fire door inspection", "woodgrove", "inspection", "inspection", "Broad St branch, all floors",
          "low", "Inspect 48 fire doors and closers", False, "Alex Chen",
          "46 doors passed; two closers adjusted", 6, "completed"),
    Visit("Forklift charger fault", "fabrikam", "breakdown", "repair", "Dayton warehouse, charging bay", "high",
          "Charger 4 shows error E17", False, "Jo Wright", "Rectifier board replaced", 2.5, "close_work_order"),
    Visit("Walk-in cooler alarm", "coho", "breakdown", "repair", "Cellar 1", "urgent",
          "Cooler alarm at 16 °C overnight", False, "Sam Ortiz", "", 0, "create_work_order"),
    Visit("Install digital menu boards", "fourth_coffee", "installation", "installation", "Pearl St store",
          "low", "Three screens above the counter", False, "Jo Wright", "", 0, "triage"),
    Visit("Lift inspection before audit", "lamna", "inspection", "inspection", "Main building, lifts A-D", "normal",
          "Statutory inspection of four lifts", False, "Alex Chen", "All four lifts certified", 4, "completed"),
    Visit("Server room air conditioning noisy", "northwind", "maintenance", "maintenance",
          "London office, server room", "normal", "Rattling from the CRAC unit", False, "Alex Chen",
          "Fan bearing replaced", 2, "perform"),
]


def _day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def _moment(offset: int, hour: int) -> str:
    day = dt.date.today() + dt.timedelta(days=offset)
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def _phone_case(i: int, c: Case, keys: dict[str, str]) -> SampleSpec:
    stop = {"resolved": "resolve", "cancelled": "research" if i % 2 else "identify"}.get(c.where, c.where)
    end = {"resolved": "finish", "cancelled": "abandon"}.get(c.where)
    path = ESCALATED_PATH if c.escalate else PHONE_PATH
    moves = path.index(stop)
    values: dict[str, Any] = {"title": c.title, "customer": keys[c.customer], "contact_name": c.contact,
                              "origin": c.origin, "priority": c.priority}
    stages: dict[str, dict[str, Any]] = {
        "identify": {"case_type": c.case_type, "existing_case_checked": True, "description": c.description},
        "research": {"kb_article": c.kb_article or None, "similar_cases_reviewed": True},
        "escalation": {"escalation_reason": f"{c.customer.replace('_', ' ').title()} is affected: {c.description}",
                       "escalation_approved": True},
        "resolve": {"resolution_type": c.resolution_type, "resolution": c.resolution,
                    "satisfaction": 3 + i % 3 if end else None},
    }
    if stop == "identify" and not end:
        stages["identify"].pop("description")
    if stop == "resolve" and not end:
        stages["resolve"] = {"resolution_type": c.resolution_type}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    actions = ("escalate",) if c.escalate and moves >= 1 else ()
    return SampleSpec("case", values, process="phone_to_case", moves=moves, stages=stages, actions=actions,
                      end=end, age_days=1 + 3 * moves + (i * 5) % 7 + (3 if end else 0))


FIELD_PATH = ("triage", "create_work_order", "schedule", "perform", "close_work_order")
PARTS_PATH = ("triage", "create_work_order", "order_parts", "schedule", "perform", "close_work_order")


def _field_case(i: int, v: Visit, keys: dict[str, str]) -> SampleSpec:
    stop = "close_work_order" if v.where == "completed" else v.where
    end = "finish" if v.where == "completed" else None
    path = PARTS_PATH if v.parts else FIELD_PATH
    moves = path.index(stop)
    values = {"title": v.title, "customer": keys[v.customer], "origin": "phone", "case_type": "problem",
              "priority": v.priority}
    estimate = max(1.0, round(v.hours * 0.8, 1)) if v.hours else 3.0
    stages: dict[str, dict[str, Any]] = {
        "triage": {"incident_type": v.incident, "functional_location": v.location, "description": v.description},
        "create_work_order": {"work_order_type": v.kind, "estimated_hours": estimate, "parts_needed": v.parts},
        "order_parts": {"parts_ordered": True},
        "schedule": {"technician": v.technician, "scheduled_for": _moment(-2 if end else 1 + i % 4, 8 + i % 6)},
        "perform": {"arrived": True, "work_performed": v.work, "hours_spent": v.hours},
        "close_work_order": {"customer_signed_off": True},
    }
    if stop == "perform" and not end:
        stages["perform"] = {"arrived": True}
    if stop == "schedule":
        stages["schedule"] = {"technician": v.technician}
    if stop == "order_parts":
        stages["order_parts"] = {}
    return SampleSpec("case", values, process="case_to_work_order", moves=moves, stages=stages, end=end,
                      age_days=2 + 2 * moves + (i * 3) % 5 + (2 if end else 0))


def samples() -> list[SampleSpec]:
    """Every sample record of the pack, in creation order."""
    out = [SampleSpec("customer", {"name": name, "email": email, "phone": phone, "address": address,
                                   "service_level": level}, key=key)
           for key, name, email, phone, address, level in CUSTOMERS]
    keys = {c[0]: f"@{c[0]}" for c in CUSTOMERS}
    out += [_phone_case(i, c, keys) for i, c in enumerate(PHONE_CASES)]
    out += [_field_case(i, v, keys) for i, v in enumerate(FIELD_CASES)]
    return out
