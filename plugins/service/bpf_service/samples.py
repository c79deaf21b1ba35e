"""Sample records of the service pack for ``bpf serve --demo``.

Knowledge articles written, reviewed and published (New Process), translated
(Translation Process) and reviewed after they expired (Expired Process); 28
cases taken by phone (Phone to Case Process), two of them follow-ups of an
earlier case and two from private customers; 10 cases that need a technician
(Case to Work Order Business Process) and 6 work orders no case started (Work
Order Business Process), spread over every stage. The customers and the people
who call are the crm pack's (``"@crm.KEY"``, loaded first).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from bpf_dsl.plugins import SampleSpec


def _day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def _moment(offset: int, hour: int) -> str:
    day = dt.date.today() + dt.timedelta(days=offset)
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


# -- knowledge articles ---------------------------------------------------------------------------------

class Article(NamedTuple):
    key: str
    title: str
    subject: str
    keywords: str
    content: str
    author: str
    where: str  # author, review, publish, published


ARTICLES = [
    Article("password_reset", "Password reset emails blocked by spam filters", "software",
            "password, reset, email, spam", "Ask the customer's mail admin to allow-list our sender domain; "
            "meanwhile send the reset link by SMS from the admin centre.", "Megan Bowen", "published"),
    Article("tax_codes", "Changing tax codes on invoices", "accounts_billing", "VAT, tax code, invoice",
            "Correct the tax code on the price list, then issue a credit note and a corrected invoice.",
            "Alex Wilber", "published"),
    Article("exporting_reports", "Exporting reports", "software", "report, export, CSV",
            "Open the report, choose Export, pick CSV or Excel; scheduled exports go to the admin's mailbox.",
            "Megan Bowen", "published"),
    Article("terminal_host", "Payment terminal cannot reach its host", "hardware", "terminal, POS, offline, host",
            "Check the router firmware first: version 7.2 blocks the terminal's port. Roll back or open port 443.",
            "Lee Gu", "published"),
    Article("sync_timeouts", "Sync timeouts on large tables", "software", "sync, timeout, batch",
            "Lower the batch size to 5,000 rows and move the job out of the backup window.", "Lee Gu", "published"),
    Article("android_issues", "Known issues with Android 15", "software", "Android, crash, mobile app",
            "Version 4.2.0 crashes on start on Android 15; 4.2.1 fixes it. Clear the app's cache after updating.",
            "Megan Bowen", "published"),
    Article("contract_summary", "Reading your contract summary", "accounts_billing", "contract, renewal, licence",
            "The summary lists each licence with its renewal date; renewals are invoiced 30 days ahead.",
            "Alex Wilber", "published"),
    Article("duplicate_payments", "Refunding duplicate payments", "accounts_billing", "refund, duplicate, card",
            "Check the payment provider's log for the two captures, refund the second, note the case number.",
            "Alex Wilber", "published"),
    Article("label_settings", "Thermal label printer settings", "hardware", "label, printer, thermal, blank",
            "Blank labels mean the print darkness is too low or the ribbon is worn: reset darkness to 20.",
            "Lee Gu", "published"),
    Article("api_limits", "API limits", "software", "API, limits, throttling",
            "6,000 requests per 5 minutes per user; the bulk API takes 1,000 records a call.", "Lee Gu", "publish"),
    Article("currency_price_list", "Currency per price list", "accounts_billing", "currency, quote, price list",
            "A quote takes the price list's currency: give each country its own price list.", "Alex Wilber",
            "review"),
    Article("card_encoding", "Badge card encoding formats", "hardware", "badge, reader, card, door",
            "Readers on firmware before 3.4 reject cards encoded in the new 56-bit format.", "Lee Gu", "author"),
]

NEW_PATH = ("author", "review", "publish")


def _article(i: int, a: Article) -> SampleSpec:
    stop = "publish" if a.where == "published" else a.where
    end = "finish" if a.where == "published" else None
    moves = NEW_PATH.index(stop)
    stages: dict[str, dict[str, Any]] = {
        "author": {"keywords": a.keywords, "subject": a.subject, "primary_author": a.author, "content": a.content,
                   "ready_for_review": True},
        "review": {"review": "approved", "set_product_associations": i % 2 == 0},
        "publish": {"expiration_date": _day(150 + 30 * (i % 7))},
    }
    if stop == "author":
        stages["author"] = {"keywords": a.keywords, "subject": a.subject, "primary_author": a.author}
    if stop == "review" and not end:
        stages["review"] = {}
    values = {"title": a.title, "description": a.content.split(":")[0].split(";")[0][:400]}
    return SampleSpec("knowledge_article", values, process="new_article", key=a.key, moves=moves, stages=stages,
                      end=end, age_days=40 + 5 * moves + (i * 7) % 30 + (10 if end else 0))


TRANSLATIONS = [  # key, original, language, title, where
    ("terminal_host_de", "terminal_host", "de_de", "Zahlungsterminal erreicht den Host nicht", "published"),
    ("tax_codes_fr", "tax_codes", "fr_fr", "Modifier les codes de TVA sur les factures", "review"),
    ("android_issues_ja", "android_issues", "ja_jp", "Android 15 の既知の問題", "translate"),
]
TRANSLATION_PATH = ("translate", "review", "publish")


def _translation(i: int, key: str, original: str, language: str, title: str, where: str) -> SampleSpec:
    stop = "publish" if where == "published" else where
    end = "finish" if where == "published" else None
    moves = TRANSLATION_PATH.index(stop)
    stages: dict[str, dict[str, Any]] = {
        "translate": {"root_article": f"@{original}", "language": language, "title": title,
                      "content": f"({language}) {title}.", "ready_for_review": True},
        "review": {"review": "approved"} if end else {},
        "publish": {"expiration_date": _day(200)},
    }
    if stop == "translate":
        stages["translate"] = {"root_article": f"@{original}", "language": language}
    return SampleSpec("knowledge_article", {"title": title}, process="translation", key=key, moves=moves,
                      stages=stages, end=end, age_days=12 + 4 * moves + 3 * i)


EXPIRED = [  # title, content, option, where
    ("Resetting the 2023 handheld scanners", "Hold the trigger and power for ten seconds.", "archive", "archived"),
    ("Quarter-end closing checklist", "Run the accruals report before closing the period.", "needs_updating",
     "update"),
    ("Connecting to the guest Wi-Fi", "Use the daily code printed on the receipt.", "republish", "republished"),
    ("Booking a meeting room", "Book rooms in the calendar app; release them if plans change.", "needs_updating",
     "republished"),
]


def _expired(i: int, title: str, content: str, option: str, where: str) -> SampleSpec:
    path = {"archive": ("expired_review", "archive"), "needs_updating": ("expired_review", "update", "republish"),
            "republish": ("expired_review", "republish")}[option]
    stop = {"archived": "archive", "republished": "republish"}.get(where, where)
    end = "finish" if where in ("archived", "republished") else None
    stages: dict[str, dict[str, Any]] = {"expired_review": {"expired_review_option": option},
                                         "update": {"content": content + " (updated)",
                                                    **({"update_content": True} if end else {})},
                                         "republish": {"expiration_date": _day(365), "set_product_associations": True}}
    values = {"title": title, "content": content, "expiration_date": _day(-5 - 10 * i), "review": "approved"}
    return SampleSpec("knowledge_article", values, process="expired_article", moves=path.index(stop),
                      stages=stages, end=end, age_days=8 + 3 * i)


# -- cases by phone -------------------------------------------------------------------------------------

class Case(NamedTuple):
    title: str
    customer: str  # a crm account's key, or a private customer's (a crm contact without account)
    contact: str  # the crm contact who called
    origin: str
    case_type: str
    priority: str
    description: str
    kb: str | None  # a knowledge article's key
    resolution_type: str
    resolution: str
    where: str  # identify, research, escalation, resolve, resolved, cancelled
    escalate: bool = False
    key: str | None = None
    existing: str | None = None  # the key of an earlier case this call is about


PRIVATE = {"margaret", "lukas"}  # the crm pack's customers without an account

PHONE_CASES = [
    Case("Cannot log in to the supplier portal", "fabrikam", "tom", "phone", "problem", "high",
         "Password reset emails never arrive", "password_reset", "workaround",
         "Allow-listed our sender domain; reset link sent by SMS meanwhile", "resolved"),
    Case("Invoice shows the wrong VAT rate", "northwind", "oliver", "email", "problem", "normal",
         "March invoice applied 5% instead of 20%", "tax_codes", "problem_solved",
         "Credit note issued and tax code corrected", "resolved"),
    Case("How to export the monthly usage report", "alpine", "anna", "phone", "question", "low",
         "Wants the report as CSV for the accountant", "exporting_reports", "information_provided",
         "Sent the export steps and a sample file", "resolved"),
    Case("Payment terminal offline at the tasting room", "coho", "daniel", "phone", "problem", "urgent",
         "Terminal shows 'no host' since this morning", "terminal_host", "problem_solved",
         "Router firmware rolled back; terminal online", "resolve", True, key="terminal"),
    Case("Request for a second admin account", "fourth_coffee", "ben", "web", "request", "low",
         "New operations manager needs admin rights", None, "information_provided",
         "Admin role granted after approval", "research"),
    Case("Data sync fails every night", "contoso", "raj", "phone", "problem", "high",
         "The 02:00 sync to the data platform fails with a timeout", "sync_timeouts", "workaround",
         "Batch size lowered; permanent fix scheduled", "escalation", True, key="sync"),
    Case("Mobile app crashes on start", "woodgrove", "grace", "chat", "problem", "urgent",
         "Crash on Android 15 after the update", "android_issues", "problem_solved", "Hotfix 4.2.1 released",
         "resolved", True),
    Case("Change of billing address", "lamna", "hannah", "email", "request", "normal",
         "Billing moves to the finance shared service centre", None, "information_provided",
         "Address updated from next cycle", "identify"),
    Case("Question about contract renewal dates", "contoso", "nancy", "phone", "question", "normal",
         "Which licences renew in Q3?", "contract_summary", "information_provided",
         "Sent the renewal schedule", "research"),
    Case("Reports load slowly", "northwind", "emma", "web", "problem", "normal",
         "Sales dashboard takes 40 seconds to open", None, "workaround", "Filters narrowed by default", "resolve"),
    Case("Duplicate charges for the February subscription", "alpine", "anna", "phone", "problem", "high",
         "Charged twice for the February subscription", "duplicate_payments", "problem_solved", "Refund issued",
         "resolved"),
    Case("Training for new staff", "fourth_coffee", "leo_r", "email", "request", "low",
         "Five new shift leads need onboarding", None, "information_provided",
         "Booked onto the next online course", "cancelled"),
    Case("Badge readers reject new cards", "woodgrove_uk", "james", "phone", "problem", "high",
         "Cards issued this week are rejected at the branch doors", None, "problem_solved",
         "Reader firmware updated", "escalation", True),
    Case("Export to accounting fails", "coho", "daniel", "web", "problem", "normal",
         "Export stops at 80% with no message", "exporting_reports", "workaround", "Export split by month",
         "research"),
    Case("Add a new clinic to the contract", "lamna", "omar", "phone", "request", "normal",
         "New clinic opening in Cambridge, MA", None, "information_provided", "Site added to the schedule",
         "identify"),
    Case("Label printer prints blank labels", "fabrikam", "maria", "phone", "problem", "normal",
         "Shipping labels come out blank on line 3", "label_settings", "problem_solved",
         "Print darkness reset; ribbon replaced", "resolved"),
    Case("Bulk API limits", "contoso", "raj", "email", "question", "low",
         "What are the limits for the bulk API?", None, "information_provided", "Sent the limits table",
         "resolved"),
    Case("Cannot upload images over 10 MB", "northwind", "grace_o", "chat", "problem", "low",
         "Product photos are rejected", None, "workaround", "Images compressed on upload", "identify"),
    Case("Alarm notifications not received", "lamna", "hannah", "phone", "problem", "urgent",
         "Fridge temperature alarms are not paged to the on-call nurse", None, "problem_solved",
         "Paging gateway certificate renewed", "research", True),
    Case("Wrong currency on quotes", "alpine", "chloe_b", "email", "problem", "normal",
         "Quotes show USD instead of EUR", None, "problem_solved", "Price list currency corrected", "resolve"),
    Case("Close the account of a former employee", "fourth_coffee", "ben", "web", "request", "normal",
         "Remove access for a store manager who left", None, "problem_solved", "Account disabled", "resolved"),
    Case("Statement of work for the integration", "woodgrove", "grace", "email", "question", "normal",
         "Asks for the SOW template", None, "information_provided", "Template sent", "cancelled"),
    Case("Scanner app freezes when scanning", "fabrikam", "tom", "phone", "problem", "high",
         "Warehouse scanners freeze after 20 scans", None, "workaround",
         "Nightly restart scheduled; fix in next release", "identify"),
    Case("Single sign-on for the UK subsidiary", "woodgrove", "aisha", "web", "request", "normal",
         "Woodgrove Bank UK uses its own identity provider", None, "information_provided",
         "Federation steps sent", "research"),
    Case("Smart thermostat offline after a router change", "margaret", "margaret", "phone", "problem", "normal",
         "The thermostat lost Wi-Fi when the broadband router was replaced", None, "problem_solved",
         "Walked through re-pairing the thermostat with the new router", "resolved"),
    Case("Refund for a cancelled subscription", "lukas", "lukas", "email", "request", "low",
         "Cancelled within the 14-day withdrawal period; asks for the refund", "duplicate_payments",
         "problem_solved", "Refund issued", "research"),
    Case("Sync failed again after the batch change", "contoso", "raj", "phone", "problem", "high",
         "Timeouts are back since the batch size was changed", "sync_timeouts", "workaround",
         "Job moved out of the backup window", "identify", existing="sync"),
    Case("Terminal offline again on Saturday", "coho", "daniel", "phone", "problem", "urgent",
         "Same 'no host' error during the weekend tasting", "terminal_host", "problem_solved",
         "Router set to keep the older firmware", "research", existing="terminal"),
]

PHONE_PATH = ("identify", "research", "resolve")
ESCALATED_PATH = ("identify", "research", "escalation", "resolve")


def _phone_case(i: int, c: Case) -> SampleSpec:
    stop = {"resolved": "resolve", "cancelled": "research" if i % 2 else "identify"}.get(c.where, c.where)
    end = {"resolved": "finish", "cancelled": "abandon"}.get(c.where)
    path = ESCALATED_PATH if c.escalate else PHONE_PATH
    moves = path.index(stop)
    values: dict[str, Any] = {"title": c.title, "origin": c.origin, "priority": c.priority}
    identify: dict[str, Any] = {"case_type": c.case_type, "description": c.description}
    if c.customer in PRIVATE:
        identify["customer_contact"] = f"@crm.{c.customer}"  # the primary contact defaults to it
    else:
        identify.update(customer_account=f"@crm.{c.customer}", primary_contact=f"@crm.{c.contact}")
    if c.existing:
        identify["existing_case"] = f"@{c.existing}"
    stages: dict[str, dict[str, Any]] = {
        "identify": identify,
        "research": {"kb_article": f"@{c.kb}" if c.kb else None, "similar_cases_reviewed": True},
        "escalation": {"escalation_reason": f"Affects the customer's operations: {c.description}",
                       "escalation_approved": True},
        "resolve": {"resolution_type": c.resolution_type, "resolution": c.resolution,
                    "satisfaction": 3 + i % 3 if end else None},
    }
    if stop == "identify" and not end:
        identify.pop("description")
    if stop == "resolve" and not end:
        stages["resolve"] = {"resolution_type": c.resolution_type}
    stages = {k: {f: v for f, v in vs.items() if v is not None} for k, vs in stages.items()}
    actions = ("escalate",) if c.escalate and moves >= 1 else ()
    return SampleSpec("case", values, process="phone_to_case", key=c.key, moves=moves, stages=stages,
                      actions=actions, end=end, age_days=1 + 3 * moves + (i * 5) % 7 + (3 if end else 0))


# -- field service ----------------------------------------------------------------------------------------

class Visit(NamedTuple):
    title: str
    customer: str  # a crm account's key
    contact: str  # a crm contact's key
    incident: str  # incident type
    kind: str  # work order type
    location: str
    priority: str
    description: str
    parts: bool
    technician: str
    work: str
    hours: float
    where: str  # a stage's name, or invoiced
    billing: str | None = None  # a crm account billed instead of the customer


FIELD_CASES = [
    Visit("Chiller unit 2 not cooling", "contoso", "felix", "breakdown", "repair", "Building B, roof plant room",
          "urgent", "Chiller trips on high pressure within minutes", True, "Sam Ortiz",
          "Replaced condenser fan motor; pressures normal", 5.5, "service_visit"),
    Visit("Annual boiler service", "fabrikam", "jack", "maintenance", "maintenance", "Detroit plant, boiler house",
          "normal", "Yearly service and safety check of boilers 1-3", False, "Alex Chen",
          "Serviced three boilers; flue gas readings logged", 7, "invoiced"),
    Visit("Install EV chargers in the car park", "fourth_coffee", "leo_r", "installation", "installation",
          "Pearl Street roastery car park", "normal", "Four 22 kW chargers on the existing supply", True,
          "Jo Wright", "Four chargers installed and commissioned", 14, "schedule"),
    Visit("Sterilizer door seal leaking", "lamna", "omar", "breakdown", "repair",
          "Central sterile services, level -1", "high", "Steam escapes from the door of autoclave 3", True,
          "Sam Ortiz", "Door gasket replaced; chamber leak test passed", 3, "order_parts"),
    Visit("Quarterly fire door inspection", "woodgrove_uk", "james", "inspection", "inspection",
          "Gresham Street branch, all floors", "low", "Inspect 48 fire doors and closers", False, "Callum Reid",
          "46 doors passed; two closers adjusted", 6, "invoiced", billing="woodgrove"),
    Visit("Forklift charger fault", "fabrikam", "tom", "breakdown", "repair", "Dayton warehouse, charging bay",
          "high", "Charger 4 shows error E17", False, "Jo Wright", "Rectifier board replaced", 2.5, "review"),
    Visit("Walk-in cooler alarm", "coho", "daniel", "breakdown", "repair", "Cellar 1", "urgent",
          "Cooler alarm at 16 °C overnight", False, "Sam Ortiz", "", 0, "work_order"),
    Visit("Install digital menu boards", "fourth_coffee", "ben", "installation", "installation", "Pearl Street store",
          "low", "Three screens above the counter", False, "Jo Wright", "", 0, "identify"),
    Visit("Lift inspection before the audit", "lamna", "omar", "inspection", "inspection",
          "Main building, lifts A-D", "normal", "Statutory inspection of four lifts", False, "Alex Chen",
          "All four lifts certified", 4, "invoice"),
    Visit("Server room air conditioning noisy", "northwind", "grace_o", "maintenance", "maintenance",
          "Wharf Road office, server room", "normal", "Rattling from the CRAC unit", False, "Callum Reid",
          "Fan bearing replaced", 2, "service_visit"),
]

LIFE = ("work_order", "order_parts", "schedule", "service_visit", "review", "invoice")


def _work_stages(i: int, v: Visit, stop: str, end: str | None) -> dict[str, dict[str, Any]]:
    """What is filled in at each stage of a work order's life (the stage it stands in: half of it)."""
    estimate = max(1.0, round(v.hours * 0.8, 1)) if v.hours else 3.0
    rate = 95 if v.technician != "Callum Reid" else 85
    stages: dict[str, dict[str, Any]] = {
        "work_order": {"work_order_type": v.kind, "estimated_hours": estimate, "parts_needed": v.parts},
        "order_parts": {"parts_ordered": True},
        "schedule": {"technician": v.technician, "scheduled_for": _moment(-4 if end else 1 + i % 4, 8 + i % 6)},
        "service_visit": {"arrived": True, "work_performed": v.work, "hours_spent": v.hours,
                          "customer_signed_off": True},
        "review": {"reviewed": True, "total_amount": round(v.hours * rate + (180 if v.parts else 0), 2)},
        "invoice": {"invoice_number": f"INV-{24310 + i}"},
    }
    if v.billing:
        stages["work_order"]["billing_account"] = f"@crm.{v.billing}"
    if not end and stop in stages:
        if stop == "service_visit":
            stages[stop] = {"arrived": True}
        elif stop == "schedule":
            stages[stop] = {"technician": v.technician}
        elif stop in ("order_parts", "review", "invoice"):
            stages[stop] = {}
    return stages


def _field_case(i: int, v: Visit) -> SampleSpec:
    stop = "invoice" if v.where == "invoiced" else v.where
    end = "finish" if v.where == "invoiced" else None
    path = ("identify", *(s for s in LIFE if v.parts or s != "order_parts"))
    moves = path.index(stop)
    values = {"title": v.title, "origin": "phone", "case_type": "problem", "priority": v.priority}
    stages = {"identify": {"customer_account": f"@crm.{v.customer}", "primary_contact": f"@crm.{v.contact}",
                           "incident_type": v.incident, "functional_location": v.location,
                           "description": v.description}, **_work_stages(i, v, stop, end)}
    return SampleSpec("case", values, process="case_to_work_order", moves=moves, stages=stages, end=end,
                      age_days=2 + 3 * moves + (i * 3) % 5 + (2 if end else 0))


WORK_ORDERS = [
    Visit("Quarterly chiller maintenance", "contoso", "felix", "maintenance", "maintenance", "Building A plant room",
          "normal", "Agreement visit: filters, belts, refrigerant check", False, "Sam Ortiz",
          "Filters and belts replaced; refrigerant at charge", 4, "invoiced"),
    Visit("Espresso machine descaling, 12 stores", "fourth_coffee", "leo_r", "maintenance", "maintenance",
          "Portland stores 1-12", "low", "Descale and recalibrate the espresso machines", False, "Jo Wright",
          "", 0, "schedule"),
    Visit("Install a bike fitting studio", "adventure_works", "noah", "installation", "installation",
          "Bothell flagship store, first floor", "normal", "Fit-bike, motion capture cameras and lighting", True,
          "Alex Chen", "", 0, "order_parts"),
    Visit("Substation transformer inspection", "city_power", "ravi", "inspection", "inspection",
          "North Branch substation 14", "high", "Thermal imaging and oil sample of transformer T2", False,
          "Sam Ortiz", "Hot spot on bushing B; oil sample sent to the lab", 6, "review"),
    Visit("Annual sterilizer validation", "lamna", "omar", "inspection", "inspection",
          "Central sterile services, level -1", "normal", "Yearly validation of autoclaves 1-4", False,
          "Alex Chen", "", 0, "work_order"),
    Visit("Cold room compressor service", "northwind", "grace_o", "maintenance", "maintenance",
          "Hackney distribution centre, cold room 2", "normal", "Compressor service before the summer peak", True,
          "Callum Reid", "Compressor oil changed; contactor replaced", 3, "service_visit"),
]


def _work_order(i: int, v: Visit) -> SampleSpec:
    stop = "invoice" if v.where == "invoiced" else v.where
    end = "finish" if v.where == "invoiced" else None
    path = tuple(s for s in LIFE if v.parts or s != "order_parts")
    moves = path.index(stop)
    values = {"name": v.title, "service_account": f"@crm.{v.customer}", "reported_by_contact": f"@crm.{v.contact}",
              "primary_incident_type": v.incident, "instructions": v.description, "functional_location": v.location,
              "priority": v.priority, "promised_by": _day(3 + i)}
    return SampleSpec("work_order", values, process="work_order_process", moves=moves,
                      stages=_work_stages(i + 20, v, stop, end), end=end,
                      age_days=2 + 3 * moves + (i * 5) % 7 + (2 if end else 0))


def samples() -> list[SampleSpec]:
    """Every sample record of the pack, in creation order."""
    out = [_article(i, a) for i, a in enumerate(ARTICLES)]
    out += [_translation(i, *t) for i, t in enumerate(TRANSLATIONS)]
    out += [_expired(i, *e) for i, e in enumerate(EXPIRED)]
    out += [_phone_case(i, c) for i, c in enumerate(PHONE_CASES)]
    out += [_field_case(i, v) for i, v in enumerate(FIELD_CASES)]
    out += [_work_order(i, v) for i, v in enumerate(WORK_ORDERS)]
    return out
