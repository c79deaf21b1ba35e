"""Fixes from a browser audit (docs/web.md): "Save mine" sends only the fields the user edited,
field ids never take the page's own ids, focus after saving the record form, Back through the
records list, the flyout's time over several visits, wording, and Abandon's confirmation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from .conftest import Server, token_for
from .test_conflicts import change, create, values_of
from .test_walk import active_stage_is, chevron, flyout

INSTANCE = "query($id: ID!) { processInstance(id: $id) { version activeRecord { id } } }"


def lead_at_develop(sales: Server, topic: str) -> dict[str, Any]:
    """A lead qualified and moved on to Develop (its opportunity): {lead, opportunity, instance}."""
    made = create(sales, "lead", {"topic": topic, "budget_amount": 20000})
    instance = made["activeInstance"]["id"]
    ran = sales.gql('mutation($i: ID!) { runActionStep(instanceId: $i, step: "qualify_lead") { __typename } }',
                    {"i": instance})
    assert ran["runActionStep"]["__typename"] == "ProcessInstance", ran
    version = sales.gql(INSTANCE, {"id": instance})["processInstance"]["version"]
    moved = sales.gql("mutation($i: ID!, $v: Int) { moveNext(instanceId: $i, expectedVersion: $v) { __typename "
                      "... on TransitionError { message } } }", {"i": instance, "v": version})
    assert moved["moveNext"]["__typename"] == "ProcessInstance", moved
    opportunity = sales.gql(INSTANCE, {"id": instance})["processInstance"]["activeRecord"]["id"]
    return {"lead": made["id"], "opportunity": opportunity, "instance": instance}


def test_save_mine_sends_only_the_users_fields(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    made = lead_at_develop(sales, "Save mine only mine")
    opportunity = made["opportunity"]
    change(sales, opportunity, {"proposed_solution": "Old plan"})
    sign_in(page, f"/records/{made['lead']}", on=sales)
    active_stage_is(page, "Develop")
    need = flyout(page).get_by_label("Customer Need")
    solution = flyout(page).get_by_label("Proposed Solution")
    expect(solution).to_have_value("Old plan")

    need.fill("Forty vans")
    change(sales, opportunity, {"proposed_solution": "Their plan"})
    need.press("Tab")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    expect(solution).to_be_focused()
    # Untouched, the field with the focus shows what the record has now, not the old value.
    expect(solution).to_have_value("Their plan")

    need.fill("Mine")
    change(sales, opportunity, {"customer_need": "Theirs"})
    need.press("Tab")
    error = page.locator("#flyout-error")
    expect(error).to_contain_text("Someone else also changed Customer Need")
    error.get_by_role("button", name="Save mine").click()
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    saved = values_of(sales, opportunity)
    assert saved["customer_need"] == "Mine"
    assert saved["proposed_solution"] == "Their plan"


def test_form_save_mine_sends_only_the_users_fields(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Form mine only", "job_title": "Buyer"})["id"]
    # No live updates (the socket goes nowhere): the change below is met on Save, as a version conflict.
    page.route_web_socket(re.compile(r".*/graphql$"), lambda ws: ws.on_message(lambda message: None))
    sign_in(page, f"/records/{lead}", on=sales)
    details = page.locator("section.details")
    job = details.get_by_label("Job Title")
    expect(job).to_have_value("Buyer")
    job.fill("Fleet manager")
    change(sales, lead, {"job_title": "Head buyer", "email": "new@example.com"})
    details.get_by_role("button", name="Save", exact=True).click()
    alert = details.locator(".error-box")
    expect(alert).to_contain_text("Someone else changed Job Title")
    expect(alert).to_be_focused()
    expect(details.get_by_label("Email")).to_have_value("new@example.com")
    change(sales, lead, {"email": "newer@example.com"})
    alert.get_by_role("button", name="Save mine").click()
    expect(details.get_by_role("status")).to_have_text("Saved.")
    saved = values_of(sales, lead)
    assert saved["job_title"] == "Fleet manager"
    assert saved["email"] == "newer@example.com"


def test_field_ids_never_take_the_pages_ids(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    sign_in(page, "/?entity=case")
    page.get_by_role("button", name="New Case").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name("New Case")
    expect(dialog.get_by_role("textbox", name="Title", exact=True)).to_be_visible()
    duplicates = page.evaluate("""() => { const seen = {}; document.querySelectorAll('[id]').forEach((e) => {
      seen[e.id] = (seen[e.id] || 0) + 1; }); return Object.keys(seen).filter((k) => seen[k] > 1); }""")
    assert duplicates == []


def test_focus_after_saving_the_record_form(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Focus after save"})["id"]
    sign_in(page, f"/records/{lead}", on=sales)
    details = page.locator("section.details")
    details.get_by_label("Job Title").fill("Buyer")
    save = details.get_by_role("button", name="Save", exact=True)
    save.focus()
    page.keyboard.press("Enter")
    expect(details.get_by_role("status")).to_have_text("Saved.")
    expect(save).to_be_focused()

    # Saved on top of someone else's change to another field: still on Save.
    details.get_by_label("Last Name").fill("Okafor")
    change(sales, lead, {"email": "a@example.com"})
    save.focus()
    page.keyboard.press("Enter")
    expect(details.get_by_role("status")).to_have_text("Saved.")
    expect(save).to_be_focused()


def test_back_through_the_records_list(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    for n in range(22):
        server.gql("mutation($v: JSON!) { createRecord(entity: \"case\", values: $v) { __typename } }",
                   {"v": {"title": f"Paging case {n:02d}"}})
    sign_in(page, "/?entity=case")
    expect(page.locator(".list-status")).to_contain_text("Showing 1–")
    page.get_by_role("button", name="Next page").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator(".pager")).to_contain_text("Page 2")
    page.get_by_label("Entity").select_option("opportunity")
    expect(page).to_have_url(re.compile(r"entity=opportunity"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"entity=case.*page=2"))
    expect(page.locator(".pager")).to_contain_text("Page 2")
    expect(page.get_by_label("Entity")).to_have_value("case")
    page.go_back()
    expect(page.locator(".pager")).to_contain_text("Page 1")
    expect(page.get_by_role("heading", level=1, name="Records")).to_be_visible()
    page.go_forward()
    expect(page.locator(".pager")).to_contain_text("Page 2")
    page.reload()
    expect(page.locator(".pager")).to_contain_text("Page 2")


def test_deep_link_past_page_two_says_first_page(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    for n in range(45):
        server.gql("mutation($v: JSON!) { createRecord(entity: \"case\", values: $v) { __typename } }",
                   {"v": {"title": f"Deep case {n:02d}"}})
    sign_in(page, "/?entity=case")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator(".pager")).to_contain_text("Page 2")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator(".pager")).to_contain_text("Page 3")
    other = page.context.new_page()
    sign_in(other, page.url[len(server.url):])
    expect(other.locator(".pager")).to_contain_text("Page 3")
    expect(other.get_by_role("button", name="First page")).to_be_visible()
    expect(other.get_by_role("button", name="Previous page")).to_have_count(0)
    other.close()


def test_wording(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    sign_in(page, "/?entity=case")
    expect(page.get_by_role("columnheader", name="Created")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Updated")).to_have_count(0)


def test_a_stage_filter_not_yours_is_said_and_dropped(page: Page, server: Server,
                                                      sign_in: Callable[..., None]) -> None:
    sales_only = token_for(server, "sam", ["salesperson"])
    sign_in(page, "/?entity=case&stage=research", on=sales_only)
    expect(page.locator(".list-status, .filter-note")).to_contain_text(["that stage filter isn't available to you"])
    expect(page).not_to_have_url(re.compile(r"stage=research"))


def test_flyout_time_over_visits_and_finished_wording(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    made = lead_at_develop(sales, "Time over visits")
    version = sales.gql(INSTANCE, {"id": made["instance"]})["processInstance"]["version"]
    back = sales.gql("mutation($i: ID!, $v: Int) { movePrevious(instanceId: $i, expectedVersion: $v) { __typename } }",
                     {"i": made["instance"], "v": version})
    assert back["movePrevious"]["__typename"] == "ProcessInstance", back
    sales.gql('mutation($i: ID!) { runActionStep(instanceId: $i, step: "qualify_lead") { __typename } }',
              {"i": made["instance"]})
    version = sales.gql(INSTANCE, {"id": made["instance"]})["processInstance"]["version"]
    again = sales.gql("mutation($i: ID!, $v: Int, $t: ID) { moveNext(instanceId: $i, expectedVersion: $v, "
                      "targetRecordId: $t) { __typename ... on TransitionError { message } } }",
                      {"i": made["instance"], "v": version, "t": made["opportunity"]})
    assert again["moveNext"]["__typename"] == "ProcessInstance", again
    sign_in(page, f"/records/{made['lead']}", on=sales)
    active_stage_is(page, "Develop")
    chevron(page, "Qualify").click()
    expect(flyout(page).locator(".flyout-facts")).to_contain_text(re.compile(r"Time spent .+ over 2 visits"))


def test_abandon_asks_first(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Abandon asks"})["id"]
    sign_in(page, f"/records/{lead}", on=sales)
    active_stage_is(page, "Qualify")
    page.get_by_role("button", name="Abandon", exact=True).click()
    no = page.get_by_role("button", name="No", exact=True)
    expect(no).to_be_focused()
    expect(page.locator(".bar-tools")).to_contain_text("Abandon Lead to Opportunity Sales Process?")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Abandon", exact=True)).to_be_focused()
    expect(page.locator(".bar-sub")).to_contain_text("Active")
    page.get_by_role("button", name="Abandon", exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Abandon", exact=True)).to_be_focused()
    page.get_by_role("button", name="Abandon", exact=True).click()
    page.get_by_role("button", name="Yes, abandon").click()
    expect(page.locator(".bar-sub")).to_contain_text("Abandoned")
