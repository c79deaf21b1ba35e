"""The sales walk in a real browser: sign in, create a lead, fill the Qualify steps, be refused by
the gate, branch across to the opportunity, go back and forward, finish; abandon and reactivate
another lead; a second browser sees a move live (the processEvents subscription)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Browser, Locator, Page, expect

from .conftest import Server


def chevron(page: Page, stage: str) -> Locator:
    """A stage's chevron in the process bar (its accessible name starts with the stage label)."""
    return page.locator("ol.chevrons").get_by_role("button", name=re.compile(rf"^{re.escape(stage)}: stage"))


def flyout(page: Page) -> Locator:
    return page.locator("#flyout")


def commit(field: Locator, value: str) -> None:
    """Type a value and leave the field, as a user does; wait until the step is saved."""
    field.fill(value)
    field.dispatch_event("change")
    expect(field.page.locator("#bar-saving")).to_have_text("Saved")


def active_stage_is(page: Page, stage: str) -> None:
    expect(chevron(page, stage)).to_have_attribute("aria-current", "step")
    expect(flyout(page).get_by_role("heading", level=3)).to_contain_text(stage)


def create_lead(page: Page, topic: str, company: str = "") -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    page.get_by_label("Entity").select_option("lead")
    page.get_by_role("button", name="New Lead").click()
    dialog = page.get_by_role("dialog", name="New Lead")
    dialog.get_by_label("Topic").fill(topic)
    if company:
        dialog.get_by_label("Company").fill(company)
    dialog.get_by_role("button", name="Create Lead").click()
    expect(page.get_by_role("heading", level=1, name=topic)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/records/[^/]+$"))


def test_sales_walk(page: Page, browser: Browser, server: Server, sign_in: Callable[..., None]) -> None:
    sign_in(page)
    expect(page.get_by_role("heading", level=1, name="Records")).to_be_visible()
    create_lead(page, "Fleet renewal", "Northwind Traders")

    # Qualify: the active stage, its steps as inputs fitting their types.
    active_stage_is(page, "Qualify")
    steps = flyout(page)
    expect(chevron(page, "Develop")).to_contain_text("Opportunity")
    expect(steps.get_by_label("Purchase Timeframe")).to_have_js_property("tagName", "SELECT")
    expect(steps.get_by_role("switch", name="Identify Decision Maker")).to_be_visible()
    steps.get_by_label("Purchase Timeframe").select_option(label="Immediate")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    steps.get_by_label("Purchase Process").select_option(label="Committee")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    steps.get_by_role("switch", name="Identify Decision Maker").check()
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    commit(steps.get_by_label("Capture Summary"), "Replacing forty vans")

    # The gate: Next Stage is refused and names the missing required step, beside its field too.
    page.get_by_role("button", name="Next Stage", exact=True).click()
    expect(page.locator("#flyout-error")).to_contain_text("Estimated Budget")
    expect(steps.locator('[data-field="budget_amount"] .field-error')).to_contain_text("Required")
    active_stage_is(page, "Qualify")

    # A big budget and an immediate timeframe take the Confirm Interest branch.
    expect(chevron(page, "Confirm Interest")).to_have_count(0)
    commit(steps.get_by_label("Estimated Budget"), "1500000")
    expect(chevron(page, "Confirm Interest")).to_be_visible()
    expect(page.locator("#flyout-error")).to_be_empty()
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Confirm Interest")
    expect(chevron(page, "Qualify")).to_have_attribute("aria-label", re.compile("completed"))

    # Across to the opportunity: Develop works on the opportunity created from the lead.
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Develop")
    # The opportunity's page opened, the bar carried on (as D365).
    expect(page.locator(".eyebrow")).to_have_text("Opportunity")
    commit(flyout(page).get_by_label("Customer Need"), "Lower running costs")

    # Back with Previous Stage (across entities), then forward again to the same opportunity.
    page.get_by_role("button", name="Previous Stage", exact=True).click()
    active_stage_is(page, "Confirm Interest")
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Develop")
    expect(flyout(page).get_by_label("Customer Need")).to_have_value("Lower running costs")

    # A completed stage shows its steps read-only, with Set Active.
    chevron(page, "Qualify").click()
    expect(flyout(page).get_by_role("heading", level=3)).to_contain_text("Completed")
    expect(flyout(page).locator("input, select")).to_have_count(0)
    expect(flyout(page)).to_contain_text("Replacing forty vans")
    expect(flyout(page).get_by_role("button", name="Set Active", exact=True)).to_be_visible()
    chevron(page, "Develop").click()
    active_stage_is(page, "Develop")

    # A second browser on the same record sees the next move without reloading.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watcher = other.new_page()
        sign_in(watcher, page.url.removeprefix(server.url))
        expect(watcher.get_by_role("heading", level=1, name="Fleet renewal")).to_be_visible()
        expect(watcher.locator(".live")).to_have_attribute("data-state", "live")
        active_stage_is(watcher, "Develop")

        page.get_by_role("button", name="Next Stage", exact=True).click()
        active_stage_is(page, "Propose")
        active_stage_is(watcher, "Propose")
        expect(watcher.locator("#announcer")).to_contain_text("moved it to Propose")
    finally:
        other.close()

    # Propose, Close, Finish.
    flyout(page).get_by_role("switch", name="Develop Proposal").check()
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Close")
    expect(page.get_by_role("button", name="Next Stage", exact=True)).to_have_count(0)
    commit(flyout(page).get_by_label("Confirm Decision Date"), "2030-06-28")
    page.get_by_role("button", name="Finish", exact=True).click()
    expect(page.locator(".bar-sub")).to_contain_text("Finished")
    expect(page.get_by_role("button", name="Reactivate", exact=True)).to_be_visible()
    for stage in ("Qualify", "Confirm Interest", "Develop", "Propose", "Close"):
        expect(chevron(page, stage)).to_have_attribute("aria-label", re.compile("completed"))
    expect(page.locator("ol.timeline > li")).to_have_count(7)

    # Abandon and reactivate another lead.
    create_lead(page, "Spare parts")
    page.get_by_role("button", name="Abandon", exact=True).click()
    page.get_by_role("button", name="Yes, abandon").click()
    expect(page.locator(".bar-sub")).to_contain_text("Abandoned")
    expect(page.get_by_role("button", name="Abandon", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Reactivate", exact=True).click()
    expect(page.locator(".bar-sub")).to_contain_text("Active")
    expect(page.get_by_role("button", name="Abandon", exact=True)).to_be_visible()
    active_stage_is(page, "Qualify")


def test_deep_links_forms_and_filters(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    made = server.gql('mutation { createRecord(entity: "lead", values: {topic: "Deep link deal"}) '
                      '{ ... on Record { id } } }')
    lead_id = made["createRecord"]["id"]
    # A deep link survives signing in and a reload.
    sign_in(page, f"/records/{lead_id}")
    expect(page.get_by_role("heading", level=1, name="Deep link deal")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", level=1, name="Deep link deal")).to_be_visible()
    active_stage_is(page, "Qualify")

    # A record without a process, and a rule's error inline next to its field.
    made = server.gql('mutation { createRecord(entity: "opportunity", values: {name: "Loose opportunity"}) '
                      '{ ... on Record { id } } }')
    page.goto(f"{server.url}/records/{made['createRecord']['id']}")
    expect(page.get_by_role("heading", level=1, name="Loose opportunity")).to_be_visible()
    expect(page.locator(".bar-sub")).to_contain_text("No process")
    details = page.locator("section.details")
    details.get_by_label("Est. Revenue").fill("-5")
    details.get_by_role("button", name="Save").click()
    revenue = details.locator('[data-field="estimated_revenue"]')
    expect(revenue.locator(".field-error")).to_contain_text("can't be negative")
    expect(details.get_by_label("Est. Revenue")).to_have_attribute("aria-invalid", "true")
    details.get_by_label("Est. Revenue").fill("5000")
    details.get_by_role("button", name="Save").click()
    expect(details.get_by_role("status")).to_have_text("Saved.")
    expect(revenue.locator(".field-error")).to_be_empty()

    # The list: entity picker, stage filter, search.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    page.get_by_label("Entity").select_option("lead")
    page.get_by_label("Search").fill("deep link")
    expect(page.get_by_role("link", name="Deep link deal")).to_be_visible()
    page.get_by_label("Stage").select_option("develop")
    expect(page.get_by_role("link", name="Deep link deal")).to_have_count(0)
    page.get_by_label("Stage").select_option("qualify")
    expect(page.get_by_role("link", name="Deep link deal")).to_be_visible()
    page.get_by_label("Search").fill("no such words")
    expect(page.get_by_role("link", name="Deep link deal")).to_have_count(0)
    expect(page.get_by_role("status").first).to_contain_text("No Lead records match")

    # The process page, opened by its address.
    page.goto(f"{server.url}/processes/lead_to_opportunity")
    expect(page.get_by_role("heading", level=1, name="Lead to Opportunity Sales Process")).to_be_visible()
    expect(page.locator(".diagram svg")).to_be_visible()
    expect(page.locator(".diagram script, .diagram foreignObject")).to_have_count(0)
    expect(page.locator("table.funnel")).to_contain_text("Qualify")
