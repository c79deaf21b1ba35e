"""What the page says and marks, on the sales pack as `bpf serve --demo` has it: a required action
step's mark and gate note, an abandoned stage told apart from a completed one, one clock for the
bar and the history, a plugin's refusal in plain words, a role-limited user's "no process", paging
kept in the address, step names without the ✓, the process version as fine print, the heading's
focus ring clear of its neighbours, and the header on a 375px phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Browser, Page, expect

from .conftest import Server, token_for
from .test_walk import active_stage_is, chevron, flyout

CREATE = """mutation($e: String!, $v: JSON!, $p: String) { createRecord(entity: $e, values: $v, process: $p) {
  __typename ... on Record { id version activeInstance { id version } } ... on ValidationError { message } } }"""
UPDATE = """mutation($id: ID!, $v: JSON!) { updateRecord(id: $id, values: $v) {
  __typename ... on ValidationError { message } } }"""
NEXT = """mutation($i: ID!, $v: Int) { moveNext(instanceId: $i, expectedVersion: $v) {
  __typename ... on ProcessInstance { version } ... on TransitionError { code message } } }"""


def create(server: Server, entity: str, values: dict[str, Any], process: str | None = None) -> dict[str, Any]:
    made = server.gql(CREATE, {"e": entity, "v": values, "p": process})["createRecord"]
    assert made["__typename"] == "Record", made
    return made  # type: ignore[no-any-return]


def test_required_action_step(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Action step marks", "budget_amount": 20000})
    sign_in(page, f"/records/{lead['id']}", on=sales)
    active_stage_is(page, "Qualify")
    step = page.locator('#flyout .action-step[data-field="qualify_lead"]')
    button = step.get_by_role("button", name="Qualify lead")
    expect(step.locator(".req")).to_have_text("*")
    expect(step.locator(".req")).to_be_visible()
    expect(button).to_have_accessible_description(re.compile("Required step"))

    page.get_by_role("button", name="Next Stage", exact=True).click()
    expect(page.locator("#flyout-error")).to_contain_text("Qualify lead")
    expect(step.locator(".field-error")).to_have_text("Required to move to the next stage.")
    expect(button).to_have_accessible_description(re.compile("Required to move to the next stage"))

    button.click()
    expect(step).to_contain_text("done")
    expect(step.locator(".field-error")).to_be_empty()
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Develop")


def test_abandoned_stage_is_not_completed(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Abandoned marks"})
    sign_in(page, f"/records/{lead['id']}", on=sales)
    active_stage_is(page, "Qualify")
    page.get_by_role("button", name="Abandon", exact=True).click()
    page.get_by_role("button", name="Yes, abandon").click()
    expect(page.locator(".bar-sub")).to_contain_text("Abandoned")
    qualify = chevron(page, "Qualify")
    expect(qualify).to_have_attribute("aria-label", re.compile("abandoned here"))
    expect(qualify.locator(".chev-icon")).not_to_have_text("✓")
    expect(qualify.locator(".chev-state")).to_have_text("abandoned here")
    title = page.locator("#flyout-title")
    expect(title).to_contain_text("Abandoned")
    expect(title).not_to_contain_text("Completed")
    expect(page.locator("#flyout")).to_have_class(re.compile("is-abandoned"))


def test_one_clock_for_the_bar_and_the_history(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Ticking clocks"})
    sign_in(page, f"/records/{lead['id']}", on=sales)
    active_stage_is(page, "Qualify")
    bar_clock = page.locator(".bar-sub .clock")
    visit_clock = page.locator("ol.timeline li.is-open .visit-time .clock")
    expect(visit_clock).to_have_count(1)
    first = visit_clock.inner_text()
    # Both count on (a new lead is seconds old), and they say the same at every tick.
    expect(visit_clock).not_to_have_text(first, timeout=5000)
    expect(bar_clock).not_to_have_text(first, timeout=5000)
    shown = page.evaluate("""() => [document.querySelector('.bar-sub .clock').textContent,
      document.querySelector('ol.timeline li.is-open .visit-time .clock').textContent,
      document.querySelector('#flyout .flyout-facts .clock').textContent]""")
    assert shown[0] == shown[1] == shown[2], shown


def test_plugin_refusal_in_plain_words(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    account = create(sales, "account", {"name": "Refusing account"})
    opp = create(sales, "opportunity", {"name": "Refused finish", "account": account["id"]}, "opportunity_sales")
    instance, version = opp["activeInstance"]["id"], opp["activeInstance"]["version"]
    # Qualify → Develop → Propose → Close, each stage's required step filled after entering it.
    for values in ({"customer_need": "Vans"}, {"proposal_developed": True}, {"decision_date": "2030-06-28"}):
        moved = sales.gql(NEXT, {"i": instance, "v": version})["moveNext"]
        assert moved["__typename"] == "ProcessInstance", moved
        version = moved["version"]
        saved = sales.gql(UPDATE, {"id": opp["id"], "v": values})["updateRecord"]
        assert saved["__typename"] == "Record", saved

    sign_in(page, f"/records/{opp['id']}", on=sales)
    active_stage_is(page, "Close")
    page.get_by_role("button", name="Finish", exact=True).click()
    error = page.locator("#flyout-error")
    expect(error).to_contain_text("Close the opportunity as won or lost before finishing the process.")
    expect(error.locator("p").first).not_to_contain_text("sales.require_closed")
    expect(error.locator(".error-source")).to_contain_text("sales.require_closed")


ROLES = """
role agent "Agent"
role manager "Manager"

entity ticket "Ticket" {
    title: text required
    notes: text
}

process triage "Triage" on ticket {
    order 1
    roles agent
    stage look "Look" { step notes }
    stage fix "Fix" { step title }
}

process review "Review" on ticket {
    order 2
    roles manager
    stage read "Read" { step notes }
    stage sign "Sign" { step title }
}
"""


def test_no_process_you_can_use(page: Page, serve: Callable[[str, list[str]], Server],
                                sign_in: Callable[..., None]) -> None:
    own = serve(ROLES, ["agent"])
    manager = token_for(own, "max", ["manager"])
    ticket = create(manager, "ticket", {"title": "Only managers see this process"}, "review")
    sign_in(page, f"/records/{ticket['id']}", on=own)
    expect(page.get_by_role("heading", level=1, name="Only managers see this process")).to_be_visible()
    expect(page.locator(".bar-sub")).to_have_text(re.compile("^No process you can use runs on this record"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    row = page.get_by_role("row", name=re.compile("Only managers see this process"))
    expect(row.locator('td[data-label="Process"]')).to_have_text("—")
    expect(row).not_to_contain_text("None")


def test_paging_kept_in_the_address(page: Page, browser: Browser, sales: Server,
                                    sign_in: Callable[..., None]) -> None:
    for n in range(45):
        create(sales, "account", {"name": f"Paged account {n:02d}"})
    sign_in(page, "/?entity=account", on=sales)
    pager = page.get_by_role("navigation", name="Pages")
    pager.get_by_role("button", name="Next page").click()
    expect(pager).to_contain_text("Page 2")
    expect(page).to_have_url(re.compile(r"[?&]after=[^&]+.*[?&]?page=2"))
    first_on_two = page.locator("table.records tbody th a").first.inner_text()

    page.reload()
    expect(pager).to_contain_text("Page 2")
    expect(page.locator("table.records tbody th a").first).to_have_text(first_on_two)
    pager.get_by_role("button", name="Next page").click()
    expect(pager).to_contain_text("Page 3")
    page_three = page.url.removeprefix(sales.url)
    page.reload()
    expect(pager).to_contain_text("Page 3")
    pager.get_by_role("button", name="Previous page").click()
    expect(pager).to_contain_text("Page 2")
    expect(page.locator("table.records tbody th a").first).to_have_text(first_on_two)

    # A shared link knows its page but not the ones before it: "First page" goes back to the start.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tab = other.new_page()
        sign_in(tab, page_three, on=sales)
        tab_pager = tab.get_by_role("navigation", name="Pages")
        expect(tab_pager).to_contain_text("Page 3")
        expect(tab.get_by_role("status").first).to_contain_text("Showing 41–")
        tab_pager.get_by_role("button", name="First page").click()
        expect(tab_pager).to_contain_text("Page 1")
        expect(tab).not_to_have_url(re.compile("after="))
    finally:
        other.close()


def test_names_version_and_focus_ring(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Clean names", "purchase_timeframe": "this_year"})
    sign_in(page, f"/records/{lead['id']}", on=sales)
    active_stage_is(page, "Qualify")
    # A done step shows its ✓ but is named by its label alone, and described as done.
    timeframe = flyout(page).get_by_role("combobox", name="Purchase Timeframe", exact=True)
    expect(timeframe).to_have_accessible_name("Purchase Timeframe")
    expect(timeframe).to_have_accessible_description(re.compile("Done"))
    expect(page.locator('#flyout [data-field="purchase_timeframe"] label .done-mark')).to_be_visible()

    # The process page: the version is fine print, not in the subtitle.
    page.goto(f"{sales.url}/processes/lead_to_opportunity")
    heading = page.get_by_role("heading", level=1, name="Lead to Opportunity Sales Process")
    expect(heading).to_be_focused()
    expect(page.locator(".page-head p.muted")).not_to_contain_text("version")
    expect(page.locator(".fine-print")).to_contain_text("Definition version")
    # The focus ring (3px, 2px away) stays clear of the lines above and below the heading.
    gaps = page.evaluate("""() => {
      const h1 = document.querySelector('main h1').getBoundingClientRect();
      const above = document.querySelector('main h1').previousElementSibling.getBoundingClientRect();
      const below = document.querySelector('main h1').nextElementSibling.getBoundingClientRect();
      const style = getComputedStyle(document.querySelector('main h1'));
      const ring = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth);
      return { above: h1.top - above.bottom - ring, below: below.top - h1.bottom - ring };
    }""")
    assert gaps["above"] >= 0 and gaps["below"] >= 0, gaps


def test_phone_header(browser: Browser, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Phone header"})
    phone = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                                has_touch=True)
    try:
        small = phone.new_page()
        sign_in(small, f"/records/{lead['id']}", on=sales)
        expect(small.get_by_role("heading", level=1, name="Phone header")).to_be_visible()
        lines = small.evaluate("""() => {
          const summary = document.querySelector('.menu summary');
          const style = getComputedStyle(summary);
          const inner = summary.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
          return inner / parseFloat(style.lineHeight);
        }""")
        assert lines < 1.5, f"“Processes ▾” takes {lines:.1f} lines at 375px"
        overflow = small.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the record page is {overflow}px wider than a 375px screen"
    finally:
        phone.close()


def test_a_bar_started_on_another_record(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    """The opportunity a lead's process works on at Develop shows that process's bar, says where it
    was started and links there, and moves it from its own page."""
    made = create(sales, "lead", {"topic": "Secondary bar", "budget_amount": 20000})
    lead, instance = made["id"], made["activeInstance"]["id"]
    ran = sales.gql('mutation($i: ID!) { runActionStep(instanceId: $i, step: "qualify_lead") { '
                    "__typename ... on ProcessInstance { version } } }", {"i": instance})["runActionStep"]
    assert ran["__typename"] == "ProcessInstance", ran
    moved = sales.gql("mutation($i: ID!, $v: Int) { moveNext(instanceId: $i, expectedVersion: $v) { __typename "
                      "... on ProcessInstance { activeRecord { id } } } }", {"i": instance, "v": ran["version"]})
    opportunity = moved["moveNext"]["activeRecord"]["id"]
    assert opportunity != lead
    shown = sales.gql("query($id: ID!) { record(id: $id) { activeInstance { id } } }", {"id": opportunity})
    if not shown["record"]["activeInstance"]:
        pytest.skip("this server doesn't show another record's instance on the record it works on yet")

    sign_in(page, f"/records/{opportunity}", on=sales)
    expect(page.get_by_role("heading", level=1, name="Secondary bar")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="Lead to Opportunity Sales Process")).to_be_visible()
    origin = page.locator(".bar-origin")
    expect(origin).to_contain_text("Started on Lead")
    expect(origin.get_by_role("link", name="“Secondary bar”")).to_have_attribute("href", f"/records/{lead}")
    active_stage_is(page, "Develop")
    # The stage works on this very record: no link to itself.
    expect(flyout(page).locator(".flyout-facts a")).to_have_count(0)
    need = flyout(page).get_by_label("Customer Need")
    need.fill("Forty vans")
    need.dispatch_event("change")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Propose")

    # Switch Process is about this record's own processes.
    page.get_by_role("button", name="Switch Process", exact=True).click()
    expect(page.get_by_label("Process", exact=True)).to_contain_text("Opportunity Sales Process (not started)")
    page.keyboard.press("Escape")

    origin.get_by_role("link", name="“Secondary bar”").click()
    expect(page.get_by_role("heading", level=1, name="Secondary bar")).to_be_focused()
    active_stage_is(page, "Propose")
    expect(page.locator(".bar-origin")).to_have_count(0)
