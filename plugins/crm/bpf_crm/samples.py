"""Sample records of the crm pack for ``bpf serve --demo``: the one set of companies and people.

Fourteen accounts (Microsoft's fictitious companies, one subsidiary among them) and
the people who work there, plus two private customers with no account. The other
packs' samples name them as ``"@crm.KEY"`` (their leads, opportunities, cases,
prospects and events), so that Nancy Anderson of Contoso is the same contact in a
deal, a phone call to the service desk and a webinar. Phone numbers follow each
country's plan, in the ranges set aside for fiction where there is one (North
America's 555-01xx, Ofcom's drama numbers in the United Kingdom).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bpf_dsl.plugins import SampleSpec


class Account(NamedTuple):
    key: str
    name: str
    industry: str
    relationship: str
    street: str
    city: str
    postal_code: str
    country: str
    domain: str
    phone: str
    revenue: int
    employees: int
    number: str
    parent: str | None = None


ACCOUNTS = [
    Account("contoso", "Contoso Pharmaceuticals", "healthcare", "customer", "1 Microsoft Way", "Seattle", "98101",
            "United States", "contoso.com", "+1 206 555 0110", 480_000_000, 2300, "ACC-1001"),
    Account("fabrikam", "Fabrikam, Inc.", "manufacturing", "customer", "400 Industrial Drive", "Detroit", "48226",
            "United States", "fabrikam.com", "+1 313 555 0142", 1_250_000_000, 8100, "ACC-1002"),
    Account("adventure_works", "Adventure Works Cycles", "retail", "customer", "2251 Elliot Avenue", "Bothell",
            "98011", "United States", "adventure-works.com", "+1 425 555 0187", 95_000_000, 640, "ACC-1003"),
    Account("northwind", "Northwind Traders", "retail", "customer", "12 Wharf Road", "London", "N1 7GR",
            "United Kingdom", "northwindtraders.com", "+44 20 7946 0312", 61_000_000, 420, "ACC-1004"),
    Account("litware", "Litware, Inc.", "technology", "prospect", "600 Congress Avenue", "Austin", "78701",
            "United States", "litware.com", "+1 512 555 0164", 38_000_000, 210, "ACC-1005"),
    Account("adatum", "A. Datum Corporation", "technology", "partner", "220 King Street West", "Toronto", "M5H 1K4",
            "Canada", "adatum.com", "+1 416 555 0139", 152_000_000, 900, "ACC-1006"),
    Account("alpine", "Alpine Ski House", "retail", "customer", "Maria-Theresien-Straße 5", "Innsbruck", "6020",
            "Austria", "alpineskihouse.com", "+43 512 586 018", 12_500_000, 85, "ACC-1007"),
    Account("coho", "Coho Winery", "hospitality", "customer", "2200 Silverado Trail", "Napa", "94558",
            "United States", "cohowinery.com", "+1 707 555 0121", 8_200_000, 60, "ACC-1008"),
    Account("woodgrove", "Woodgrove Bank", "finance", "customer", "55 Broad Street", "New York", "10004",
            "United States", "woodgrovebank.com", "+1 212 555 0176", 2_900_000_000, 15200, "ACC-1009"),
    Account("woodgrove_uk", "Woodgrove Bank UK", "finance", "customer", "30 Gresham Street", "London", "EC2V 7PG",
            "United Kingdom", "woodgrovebank.co.uk", "+44 20 7946 0881", 410_000_000, 1900, "ACC-1010",
            "woodgrove"),
    Account("tailspin", "Tailspin Toys", "manufacturing", "prospect", "3 Hardman Street", "Manchester", "M3 3HF",
            "United Kingdom", "tailspintoys.com", "+44 161 496 0544", 27_000_000, 190, "ACC-1011"),
    Account("lamna", "Lamna Healthcare", "healthcare", "customer", "80 Longwood Avenue", "Boston", "02115",
            "United States", "lamnahealthcare.com", "+1 617 555 0190", 640_000_000, 5200, "ACC-1012"),
    Account("fourth_coffee", "Fourth Coffee", "hospitality", "customer", "18 Pearl Street", "Portland", "97209",
            "United States", "fourthcoffee.com", "+1 503 555 0155", 44_000_000, 730, "ACC-1013"),
    Account("city_power", "City Power & Light", "utilities", "prospect", "77 West Wacker Drive", "Chicago", "60601",
            "United States", "cpandl.com", "+1 312 555 0117", 3_400_000_000, 6100, "ACC-1014"),
]


class Person(NamedTuple):
    key: str
    first: str
    last: str
    title: str
    account: str | None  # an account's key; None for a private customer
    phone: str
    mobile: str | None = None
    preferred: str = "any"
    city: str | None = None  # private customers only: the account's otherwise
    country: str | None = None
    email: str | None = None  # private customers only: first.last@DOMAIN otherwise

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"


PEOPLE = [
    Person("nancy", "Nancy", "Anderson", "Chief Procurement Officer", "contoso", "+1 206 555 0131", "+1 206 555 0192"),
    Person("raj", "Raj", "Patel", "IT Director", "contoso", "+1 206 555 0133", preferred="email"),
    Person("felix", "Felix", "Wagner", "IT Manager", "contoso", "+1 206 555 0137"),
    Person("maria", "Maria", "Gonzalez", "VP Operations", "fabrikam", "+1 313 555 0151", "+1 313 555 0188"),
    Person("tom", "Tom", "Becker", "Plant Manager", "fabrikam", "+1 313 555 0153", preferred="phone"),
    Person("jack", "Jack", "Thompson", "Service Manager", "fabrikam", "+1 313 555 0158"),
    Person("linda", "Linda", "Mitchell", "Head of E-commerce", "adventure_works", "+1 425 555 0114"),
    Person("noah", "Noah", "Fischer", "Head of Merchandising", "adventure_works", "+1 425 555 0119"),
    Person("oliver", "Oliver", "Hughes", "Buying Director", "northwind", "+44 20 7946 0327", "+44 7700 900412"),
    Person("emma", "Emma", "Wright", "Marketing Director", "northwind", "+44 20 7946 0335"),
    Person("grace_o", "Grace", "O'Neill", "Store Operations Lead", "northwind", "+44 20 7946 0348",
           "+44 7700 900733", preferred="phone"),
    Person("sofia", "Sofia", "Rossi", "CTO", "litware", "+1 512 555 0170", preferred="email"),
    Person("isabel", "Isabel", "Costa", "Sales Director", "litware", "+1 512 555 0172"),
    Person("nina", "Nina", "Petrova", "Marketing Analyst", "litware", "+1 512 555 0176"),
    Person("kenji", "Kenji", "Watanabe", "Partner Manager", "adatum", "+1 416 555 0143"),
    Person("maya", "Maya", "Singh", "Data Scientist", "adatum", "+1 416 555 0146"),
    Person("anna", "Anna", "Gruber", "Managing Director", "alpine", "+43 512 586 021", "+43 664 381 2290"),
    Person("chloe_b", "Chloé", "Bernard", "Buyer", "alpine", "+43 512 586 024"),
    Person("daniel", "Daniel", "Brooks", "Owner", "coho", "+1 707 555 0126", "+1 707 555 0183", preferred="phone"),
    Person("grace", "Grace", "Kim", "Head of Digital Channels", "woodgrove", "+1 212 555 0180"),
    Person("aisha", "Aisha", "Khan", "CISO", "woodgrove", "+1 212 555 0184", preferred="email"),
    Person("lucas", "Lucas", "Meyer", "Security Analyst", "woodgrove", "+1 212 555 0186"),
    Person("james", "James", "Carter", "Head of Branch Facilities", "woodgrove_uk", "+44 20 7946 0892",
           "+44 7700 900561"),
    Person("peter", "Peter", "Walsh", "Finance Director", "tailspin", "+44 161 496 0551"),
    Person("leo", "Leo", "Novak", "Design Lead", "tailspin", "+44 161 496 0557"),
    Person("aria", "Aria", "Rahman", "Operations Analyst", "tailspin", "+44 161 496 0562"),
    Person("hannah", "Hannah", "Schmidt", "Chief Nursing Officer", "lamna", "+1 617 555 0193"),
    Person("omar", "Omar", "Haddad", "Facilities Director", "lamna", "+1 617 555 0195", "+1 617 555 0168",
           preferred="phone"),
    Person("ben", "Ben", "Turner", "Operations Director", "fourth_coffee", "+1 503 555 0158"),
    Person("leo_r", "Leo", "Rossi", "Store Manager", "fourth_coffee", "+1 503 555 0161"),
    Person("priya", "Priya", "Nair", "Network Planning Lead", "city_power", "+1 312 555 0124"),
    Person("ravi", "Ravi", "Shah", "Operations Director", "city_power", "+1 312 555 0129", preferred="email"),
    # Private customers: a case's customer may be a contact with no account.
    Person("margaret", "Margaret", "Ellis", "", None, "+44 117 496 0718", "+44 7700 900218", "phone", "Bristol",
           "United Kingdom", "margaret.ellis@outlook.example"),
    Person("lukas", "Lukas", "Berger", "", None, "+43 1 4038 2217", None, "email", "Vienna", "Austria",
           "lukas.berger@gmx.example"),
]

BY_KEY = {a.key: a for a in ACCOUNTS}
PERSON = {p.key: p for p in PEOPLE}


def email(person: Person) -> str:
    """The person's email address: at their company's domain, or their own."""
    if person.email:
        return person.email
    assert person.account is not None
    local = f"{person.first}.{person.last}".lower().replace("'", "").replace("é", "e")
    return f"{local}@{BY_KEY[person.account].domain}"


def samples() -> list[SampleSpec]:
    """Every sample record of the pack, in creation order."""
    out: list[SampleSpec] = []
    for a in ACCOUNTS:
        values: dict[str, Any] = {
            "name": a.name, "account_number": a.number, "industry": a.industry, "relationship": a.relationship,
            "street": a.street, "city": a.city, "postal_code": a.postal_code, "country": a.country,
            "website": f"https://www.{a.domain}", "email": f"info@{a.domain}", "phone": a.phone,
            "annual_revenue": a.revenue, "employees": a.employees,
        }
        if a.parent:
            values["parent_account"] = f"@{a.parent}"
        out.append(SampleSpec("account", values, key=a.key))
    for p in PEOPLE:
        company = BY_KEY[p.account] if p.account else None
        values = {"first_name": p.first, "last_name": p.last, "email": email(p), "phone": p.phone,
                  "preferred_contact_method": p.preferred, "city": p.city or (company.city if company else None),
                  "country": p.country or (company.country if company else None)}
        if p.title:
            values["job_title"] = p.title
        if p.mobile:
            values["mobile_phone"] = p.mobile
        if p.account:
            values["account"] = f"@{p.account}"
        out.append(SampleSpec("contact", values, key=p.key))
    return out
