"""Where keyboard focus goes (docs/web.md, Keyboard): after every kind of navigation to a record (a
link in the list, Back, a reload, signing in on a deep link) to the new page's heading, and it stays
there once live updates start; after Finish, Abandon or Reactivate take the pressed button away, to
the flyout's heading; Escape closes the Switch Process panel and gives focus back to its button."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from .conftest import Server
from .test_walk import active_stage_is

CREATE = """mutation($v: JSON!) { createRecord(entity: "lead", values: $v) {
  __typename ... on Record { id activeInstance { id version } } } }"""


def heading_focused_when_live(page: Page, name: str) -> None:
    """The page's h1 has focus, and still has it after the page went live (it reads the data again)."""
    heading = page.get_by_role("heading", level=1, name=name)
    expect(heading).to_be_focused()
    expect(page.locator(".live")).to_have_attribute("data-state", "live")
    expect(heading).to_be_focused()


def test_focus_after_navigations(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    made = server.gql(CREATE, {"v": {"topic": "Focus after navigation"}})["createRecord"]
    path = f"/records/{made['id']}"

    # Signing in on a deep link.
    sign_in(page, path)
    heading_focused_when_live(page, "Focus after navigation")

    # A reload.
    page.reload()
    heading_focused_when_live(page, "Focus after navigation")

    # A link in the list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    expect(page.get_by_role("heading", level=1, name="Records")).to_be_focused()
    page.get_by_label("Search").fill("Focus after navigation")
    page.get_by_role("link", name="Focus after navigation").click()
    heading_focused_when_live(page, "Focus after navigation")

    # Back, after going on to the process page.
    page.get_by_role("link", name="Lead to Opportunity Sales Process").first.click()
    expect(page.get_by_role("heading", level=1, name="Lead to Opportunity Sales Process")).to_be_focused()
    page.go_back()
    heading_focused_when_live(page, "Focus after navigation")


def test_focus_after_the_pressed_button_goes(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    made = server.gql(CREATE, {"v": {"topic": "Focus after abandon", "budget_amount": 5000}})["createRecord"]
    sign_in(page, f"/records/{made['id']}")
    active_stage_is(page, "Qualify")
    flyout_title = page.locator("#flyout-title")

    page.get_by_role("button", name="Abandon", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Yes, abandon").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".bar-sub")).to_contain_text("Abandoned")
    expect(flyout_title).to_be_focused()

    page.get_by_role("button", name="Reactivate", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator(".bar-sub")).to_contain_text("Active")
    expect(flyout_title).to_be_focused()

    # Walk to the last stage and finish with the keyboard.
    for stage in ("Develop", "Propose", "Close"):
        page.get_by_role("button", name="Next Stage", exact=True).focus()
        if stage == "Propose":
            page.locator("#flyout").get_by_label("Customer Need").fill("Vans")
            page.locator("#flyout").get_by_label("Customer Need").dispatch_event("change")
            expect(page.locator("#bar-saving")).to_have_text("Saved")
            page.get_by_role("button", name="Next Stage", exact=True).focus()
        if stage == "Close":
            page.locator("#flyout").get_by_role("switch", name="Develop Proposal").check()
            expect(page.locator("#bar-saving")).to_have_text("Saved")
            page.get_by_role("button", name="Next Stage", exact=True).focus()
        page.keyboard.press("Enter")
        active_stage_is(page, stage)
    date = page.locator("#flyout").get_by_label("Confirm Decision Date")
    date.fill("2030-06-28")
    date.dispatch_event("change")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    page.get_by_role("button", name="Finish", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator(".bar-sub")).to_contain_text("Finished")
    expect(flyout_title).to_be_focused()


def test_escape_closes_switch_process(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    made = server.gql(CREATE, {"v": {"topic": "Escape the switch"}})["createRecord"]
    sign_in(page, f"/records/{made['id']}")
    active_stage_is(page, "Qualify")
    switch = page.get_by_role("button", name="Switch Process", exact=True)
    switch.focus()
    page.keyboard.press("Enter")
    select = page.get_by_label("Process", exact=True)
    expect(select).to_be_focused()
    expect(switch).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(select).to_have_count(0)
    expect(switch).to_be_focused()
    expect(switch).to_have_attribute("aria-expanded", "false")
