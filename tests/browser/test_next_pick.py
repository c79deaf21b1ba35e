"""Next Stage into a stage on another entity reached through a lookup, with `create` (the sales pack's
Develop: the opportunity whose originating lead is this lead): when opportunities already point at
the lead, the page asks which one to continue with, or to create a new one (D365 asks too), and
sends the one picked as `targetRecordId`; with none it moves straight on and the server creates one;
Escape cancels and gives the focus back to Next Stage; going back and forward again reuses the
opportunity bound on the first visit without asking."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from .conftest import Server
from .test_walk import active_stage_is, commit, flyout

CREATE = """mutation($e: String!, $v: JSON!, $np: Boolean) { createRecord(entity: $e, values: $v, noProcess: $np) {
  __typename ... on Record { id } ... on ValidationError { message } } }"""
BAR = """query($id: ID!) { processBar(recordId: $id) { instance {
  activeStage { name } activeRecord { id entity values } } } }"""
LINKED = """query($w: JSON) { records(entity: "opportunity", where: $w) { total items { id } } }"""

DIALOG = "Which Opportunity for Develop?"
CREATE_NEW = "Create a new Opportunity"


def create(server: Server, entity: str, values: dict[str, Any], no_process: bool = False) -> str:
    made = server.gql(CREATE, {"e": entity, "v": values, "np": no_process})["createRecord"]
    assert made["__typename"] == "Record", made
    return str(made["id"])


def bar_of(server: Server, record_id: str) -> dict[str, Any]:
    return server.gql(BAR, {"id": record_id})["processBar"]["instance"]  # type: ignore[no-any-return]


def linked(server: Server, lead: str) -> list[str]:
    return [r["id"] for r in server.gql(LINKED, {"w": {"originating_lead": lead}})["records"]["items"]]


def qualified_lead(page: Page, sales: Server, sign_in: Callable[..., None], topic: str,
                   opportunities: tuple[str, ...] = ()) -> str:
    """A lead (with opportunities already pointing at it) whose Qualify steps are filled in the page."""
    lead = create(sales, "lead", {"topic": topic})
    for name in opportunities:
        create(sales, "opportunity", {"name": name, "originating_lead": lead}, no_process=True)
    sign_in(page, f"/records/{lead}", on=sales)
    expect(page.get_by_role("heading", level=1, name=topic)).to_be_visible()
    active_stage_is(page, "Qualify")
    commit(flyout(page).get_by_label("Estimated Budget"), "25000")
    flyout(page).get_by_role("button", name="Qualify lead").click()
    expect(page.locator('#flyout .action-step[data-field="qualify_lead"]')).to_contain_text("done")
    return lead


def test_next_stage_offers_the_linked_records(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    create(sales, "opportunity", {"name": "Someone else's deal"}, no_process=True)  # not this lead's: not offered
    lead = qualified_lead(page, sales, sign_in, "Picker fleet", ("Picker fleet (first try)",))
    existing = linked(sales, lead)
    assert len(existing) == 1

    next_stage = page.get_by_role("button", name="Next Stage", exact=True)
    next_stage.click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    expect(dialog).to_be_visible()
    said = re.compile("1 Opportunity already has Originating Lead “Picker fleet”")
    expect(dialog).to_have_accessible_description(said)
    expect(next_stage).to_have_attribute("aria-expanded", "true")
    radios = dialog.get_by_role("radio")
    expect(radios).to_have_count(2)
    new = dialog.get_by_role("radio", name=CREATE_NEW, exact=True)
    expect(new).to_be_checked()
    expect(new).to_be_focused()  # focus moved into the picker, on the choice made
    first_try = dialog.get_by_role("radio", name=re.compile(r"^Picker fleet \(first try\) created "))
    expect(first_try).not_to_be_checked()
    expect(dialog).not_to_contain_text("Someone else's deal")
    active_stage_is(page, "Qualify")  # nothing moved yet

    first_try.check()
    dialog.get_by_role("button", name="Move to Develop").click()
    active_stage_is(page, "Develop")
    expect(page.get_by_role("dialog")).to_have_count(0)
    # The opportunity's page opened, the bar carried on (as D365).
    expect(page.get_by_role("heading", level=1, name="Picker fleet (first try)")).to_be_visible()
    expect(page.get_by_role("button", name="Next Stage", exact=True)).to_be_focused()
    instance = bar_of(sales, lead)
    assert instance["activeStage"]["name"] == "develop"
    assert instance["activeRecord"]["id"] == existing[0]
    assert linked(sales, lead) == existing  # no new opportunity

    # Back and forward again: the opportunity bound on the first visit is reused, nothing asked.
    page.get_by_role("button", name="Previous Stage", exact=True).click()
    active_stage_is(page, "Qualify")
    flyout(page).get_by_role("button", name="Qualify lead").click()  # an action is run again on each visit
    expect(page.locator('#flyout .action-step[data-field="qualify_lead"]')).to_contain_text("done")
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Develop")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert bar_of(sales, lead)["activeRecord"]["id"] == existing[0]
    assert linked(sales, lead) == existing


def test_no_linked_record_moves_straight_on(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = qualified_lead(page, sales, sign_in, "Picker none linked")
    assert linked(sales, lead) == []
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Develop")
    expect(page.get_by_role("dialog")).to_have_count(0)
    made = linked(sales, lead)
    assert len(made) == 1  # created by the move, with the lead's values
    instance = bar_of(sales, lead)
    assert instance["activeRecord"]["id"] == made[0]
    assert instance["activeRecord"]["values"]["name"] == "Picker none linked"
    expect(page.get_by_role("heading", level=1, name="Picker none linked")).to_be_visible()  # its page opened


def test_escape_cancels_the_picker(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = qualified_lead(page, sales, sign_in, "Picker escape", ("Picker escape (old)", "Picker escape (older)"))
    existing = linked(sales, lead)
    next_stage = page.get_by_role("button", name="Next Stage", exact=True)
    next_stage.click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    expect(dialog).to_have_accessible_description(re.compile("2 Opportunity records already have Originating Lead"))
    expect(dialog.get_by_role("radio")).to_have_count(3)
    expect(dialog.get_by_role("radio", name=CREATE_NEW, exact=True)).to_be_focused()
    page.keyboard.press("ArrowDown")  # arrows move the choice within the group
    expect(dialog.get_by_role("radio", name=CREATE_NEW, exact=True)).not_to_be_checked()

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(next_stage).to_be_focused()
    expect(next_stage).not_to_have_attribute("aria-expanded", "true")
    active_stage_is(page, "Qualify")
    assert bar_of(sales, lead)["activeStage"]["name"] == "qualify"
    assert sorted(linked(sales, lead)) == sorted(existing)

    # Again, by keyboard: the picker opens afresh ("Create a new" chosen); Tab reaches Move, Enter moves.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio", name=CREATE_NEW, exact=True)).to_be_checked()
    expect(dialog.get_by_role("radio", name=CREATE_NEW, exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Move to Develop")).to_be_focused()
    page.keyboard.press("Enter")
    active_stage_is(page, "Develop")
    made = set(linked(sales, lead)) - set(existing)
    assert len(made) == 1
    assert bar_of(sales, lead)["activeRecord"]["id"] == made.pop()
