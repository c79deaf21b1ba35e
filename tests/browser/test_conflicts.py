"""Edits not yet saved survive someone else's change (docs/web.md): a step or a form saved against a
stale version is sent again on the fresh one when the other change was to other fields, kept and
said when it was to the same field, never shown as "Saved" when it wasn't; and another user's move
doesn't take a step field, or what is typed in it, from under the user. On the sales pack, as the
audit found it with `bpf serve --demo`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from .conftest import Server
from .test_walk import active_stage_is, flyout

CREATE = """mutation($e: String!, $v: JSON!) { createRecord(entity: $e, values: $v) {
  __typename ... on Record { id version activeInstance { id version } } ... on ValidationError { message } } }"""
UPDATE = """mutation($id: ID!, $v: JSON!) { updateRecord(id: $id, values: $v) {
  __typename ... on Record { version } ... on ValidationError { message } } }"""
VALUES = "query($id: ID!) { record(id: $id) { version values } }"


def create(server: Server, entity: str, values: dict[str, Any]) -> dict[str, Any]:
    made = server.gql(CREATE, {"e": entity, "v": values})["createRecord"]
    assert made["__typename"] == "Record", made
    return made  # type: ignore[no-any-return]


def change(server: Server, record_id: str, values: dict[str, Any]) -> None:
    """Another client's change (ann's token, but not this page)."""
    done = server.gql(UPDATE, {"id": record_id, "v": values})["updateRecord"]
    assert done["__typename"] == "Record", done


def values_of(server: Server, record_id: str) -> dict[str, Any]:
    return server.gql(VALUES, {"id": record_id})["record"]["values"]  # type: ignore[no-any-return]


def open_lead(page: Page, sales: Server, sign_in: Callable[..., None], topic: str) -> str:
    lead = create(sales, "lead", {"topic": topic})
    sign_in(page, f"/records/{lead['id']}", on=sales)
    expect(page.get_by_role("heading", level=1, name=topic)).to_be_visible()
    active_stage_is(page, "Qualify")
    return str(lead["id"])


def test_step_saved_over_a_change_to_other_fields(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    # No live updates (the socket goes nowhere): the change below is met on saving, as a version conflict.
    page.route_web_socket(re.compile(r".*/graphql$"), lambda ws: ws.on_message(lambda message: None))
    lead = open_lead(page, sales, sign_in, "Conflict on another field")
    change(sales, lead, {"email": "buyer@example.com"})

    budget = flyout(page).get_by_label("Estimated Budget")
    budget.fill("5000")
    budget.press("Tab")
    # Sent again on the fresh version: saved, kept on screen, and the other change is kept too.
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    expect(page.locator("#flyout-error")).to_be_empty()
    expect(budget).to_have_value("5000")
    saved = values_of(sales, lead)
    assert saved["budget_amount"] == 5000
    assert saved["email"] == "buyer@example.com"
    expect(page.locator("#announcer")).to_contain_text("saved on top of theirs")


def test_step_clash_is_said_and_the_edit_kept(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    # No live updates (the socket goes nowhere): the change below is met on saving, as a version conflict.
    page.route_web_socket(re.compile(r".*/graphql$"), lambda ws: ws.on_message(lambda message: None))
    lead = open_lead(page, sales, sign_in, "Conflict on the same field")
    change(sales, lead, {"budget_amount": 3000})

    budget = flyout(page).get_by_label("Estimated Budget")
    budget.fill("5000")
    budget.press("Tab")
    error = page.locator("#flyout-error")
    expect(error).to_contain_text("Someone else also changed Estimated Budget on this Lead")
    expect(page.locator("#bar-saving")).to_have_text("Not saved")
    expect(budget).to_have_value("5000")
    expect(page.locator('#flyout [data-field="budget_amount"] .field-error')).to_contain_text("3,000")
    assert values_of(sales, lead)["budget_amount"] == 3000

    # Keeping mine sends it on the fresh version.
    error.get_by_role("button", name="Save mine").click()
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    expect(error).to_be_empty()
    expect(budget).to_have_value("5000")
    assert values_of(sales, lead)["budget_amount"] == 5000

    # Or take theirs: the field shows what the record has.
    change(sales, lead, {"budget_amount": 7000})
    budget.fill("6000")
    budget.press("Tab")
    expect(error).to_contain_text("Someone else also changed Estimated Budget")
    expect(budget).to_have_value("6000")
    error.get_by_role("button", name="Use theirs").click()
    expect(budget).to_have_value("7000")
    expect(error).to_be_empty()
    assert values_of(sales, lead)["budget_amount"] == 7000


def test_form_saved_over_a_change_to_other_fields(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = open_lead(page, sales, sign_in, "Form conflict elsewhere")
    details = page.locator("section.details")
    details.get_by_label("Job Title").fill("Fleet manager")
    change(sales, lead, {"email": "fleet@example.com"})

    details.get_by_role("button", name="Save", exact=True).click()
    expect(details.get_by_role("status")).to_have_text("Saved.")
    expect(details.get_by_label("Job Title")).to_have_value("Fleet manager")
    expect(details.get_by_label("Email")).to_have_value("fleet@example.com")
    saved = values_of(sales, lead)
    assert saved["job_title"] == "Fleet manager"
    assert saved["email"] == "fleet@example.com"


def test_form_clash_keeps_the_edit(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    # No live updates (the socket goes nowhere): the change below is met on Save, as a version conflict.
    page.route_web_socket(re.compile(r".*/graphql$"), lambda ws: ws.on_message(lambda message: None))
    lead = open_lead(page, sales, sign_in, "Form conflict same field")
    details = page.locator("section.details")
    job = details.get_by_label("Job Title")
    job.fill("Fleet manager")
    details.get_by_label("Last Name").fill("Okafor")
    change(sales, lead, {"job_title": "Buyer"})

    details.get_by_role("button", name="Save", exact=True).click()
    alert = details.locator(".error-box")
    expect(alert).to_contain_text("Someone else changed Job Title (now “Buyer”)")
    expect(details.get_by_role("status")).not_to_have_text("Saved.")
    expect(job).to_have_value("Fleet manager")
    # The field nobody else touched was saved; the clashing one waits for the user.
    expect(details.get_by_label("Last Name")).to_have_value("Okafor")
    assert values_of(sales, lead)["last_name"] == "Okafor"
    assert values_of(sales, lead)["job_title"] == "Buyer"

    # A refresh of the page's data (someone else's move, a step saved) keeps the edit too.
    budget = flyout(page).get_by_label("Estimated Budget")
    budget.fill("9000")
    budget.press("Tab")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    expect(job).to_have_value("Fleet manager")

    alert.get_by_role("button", name="Save mine").click()
    expect(details.get_by_role("status")).to_have_text("Saved.")
    expect(alert).to_be_hidden()
    assert values_of(sales, lead)["job_title"] == "Fleet manager"

    change(sales, lead, {"job_title": "Head of fleet"})
    job.fill("Driver")
    details.get_by_role("button", name="Save", exact=True).click()
    expect(alert).to_contain_text("Someone else changed Job Title")
    alert.get_by_role("button", name="Use theirs").click()
    expect(job).to_have_value("Head of fleet")


def test_a_move_elsewhere_waits_while_typing(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    made = create(sales, "lead", {"topic": "Typing while moved", "budget_amount": 20000})
    lead, instance = made["id"], made["activeInstance"]
    sign_in(page, f"/records/{lead}", on=sales)
    active_stage_is(page, "Qualify")
    expect(page.locator(".live")).to_have_attribute("data-state", "live")

    summary = flyout(page).get_by_label("Capture Summary")
    summary.click()
    page.keyboard.type("Wants forty vans")

    # Someone else qualifies the lead and moves it on to Develop.
    ran = sales.gql("mutation($i: ID!) { runActionStep(instanceId: $i, step: \"qualify_lead\") { __typename } }",
                    {"i": instance["id"]})
    assert ran["runActionStep"]["__typename"] == "ProcessInstance", ran
    version = sales.gql("query($id: ID!) { processInstance(id: $id) { version } }",
                        {"id": instance["id"]})["processInstance"]["version"]
    moved = sales.gql("mutation($i: ID!, $v: Int) { moveNext(instanceId: $i, expectedVersion: $v) { __typename "
                      "... on TransitionError { message } } }", {"i": instance["id"], "v": version})
    assert moved["moveNext"]["__typename"] == "ProcessInstance", moved
    expect(page.locator("#announcer")).to_contain_text("moved it to Develop")
    expect(page.locator("#flyout-error")).to_contain_text("moved this process to Develop")

    # The field, what was typed and the focus are still there; leaving it saves and shows Develop.
    expect(summary).to_be_focused()
    expect(summary).to_have_value("Wants forty vans")
    page.keyboard.press("Tab")
    active_stage_is(page, "Develop")
    expect(page.locator("#flyout-error")).to_be_empty()
    assert values_of(sales, lead)["description"] == "Wants forty vans"
    expect(page.locator("section.details").get_by_label("Description")).to_have_value("Wants forty vans")
    expect(page.locator("#flyout")).to_contain_text(re.compile("Opportunity “Typing while moved”"))
