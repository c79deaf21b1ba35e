"""What the spec's examples don't reach, on a small flow of this test's own: picking the record of a
cross-entity stage (CROSS_ENTITY_TARGET_REQUIRED), Switch Process between two processes, a version
conflict in words with a Reload, and an action step's button."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, WebSocketRoute, expect

from .conftest import Server
from .test_walk import active_stage_is, chevron

FLOWS = """
role agent "Agent"

entity ticket "Ticket" {
    title: text required
    urgent: bool
    notes: text
}

entity task "Task" {
    name: text required
    ticket: lookup(ticket)
    done: bool
}

process ticket_flow "Ticket Flow" on ticket {
    order 1
    roles agent

    stage triage "Triage" category qualify {
        step urgent
        step notes
        action "Page the on-call" call bpf.notify(role: "agent", message: "Urgent ticket")
    }

    stage work "Work" category develop on task via ticket {
        step done required
    }
}

process escalation "Escalation" on ticket {
    order 2
    roles agent

    stage assess "Assess" category research {
        step urgent required
    }

    stage resolve "Resolve" category resolve {
        step title
    }
}

rule urgent_tickets on ticket {
    if urgent = true {
        hide notes
        lock title
        recommend title "Start the title with URGENT"
    }
}
"""

CREATE = """mutation($e: String!, $v: JSON!) { createRecord(entity: $e, values: $v) {
  ... on Record { id activeInstance { id version } } } }"""


def test_cross_entity_pick_switch_and_action(page: Page, serve: Callable[[str, list[str]], Server],
                                            sign_in: Callable[..., None]) -> None:
    own = serve(FLOWS, ["agent"])
    ticket = own.gql(CREATE, {"e": "ticket", "v": {"title": "Broken login"}})["createRecord"]
    own.gql(CREATE, {"e": "task", "v": {"name": "Reset the SSO keys", "ticket": ticket["id"]}})
    own.gql(CREATE, {"e": "task", "v": {"name": "Reset the SSO cache"}})  # not this ticket's: not offered
    sign_in(page, f"/records/{ticket['id']}", on=own)
    expect(page.get_by_role("heading", level=1, name="Broken login")).to_be_visible()
    active_stage_is(page, "Triage")

    # The rules on the page: hidden steps go, locked fields are read-only, recommendations show.
    flyout = page.locator("#flyout")
    expect(flyout.get_by_label("Notes")).to_be_visible()
    flyout.get_by_role("switch", name="Urgent").check()
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    expect(flyout.get_by_label("Notes")).to_have_count(0)
    details = page.locator("section.details")
    expect(details.get_by_label("Title")).to_have_attribute("readonly", "")
    expect(details.locator('[data-field="title"]')).to_contain_text("Start the title with URGENT")
    expect(details.get_by_label("Notes")).to_have_count(0)

    # An action step is a button; once run it shows done.
    page.get_by_role("button", name="Page the on-call").click()
    expect(page.locator("#flyout .action-step")).to_contain_text("done")

    # Work is on a task reached through a lookup, with no `create`: the page asks which task.
    page.get_by_role("button", name="Next Stage", exact=True).click()
    expect(page.locator("#flyout-error")).to_contain_text("Pick the one to continue with")
    picker = page.get_by_role("combobox", name="Task")
    page.get_by_role("button", name="Move to Work").click()  # nothing picked yet: said, and the picker focused
    expect(page.locator("#bar-target-error")).to_have_text("Pick a Task first.")
    expect(picker).to_be_focused()
    picker.fill("sso")
    expect(page.get_by_role("option")).to_have_count(1)
    page.get_by_role("option", name="Reset the SSO keys").click()
    page.get_by_role("button", name="Move to Work").click()
    expect(page.locator("#flyout-error")).to_be_empty()
    active_stage_is(page, "Work")
    # The task's page opened, the bar carried on (as D365); back on the ticket's, its flyout names the task.
    expect(page.get_by_role("heading", level=1, name="Reset the SSO keys")).to_be_visible()
    page.go_back()
    active_stage_is(page, "Work")
    expect(page.locator("#flyout")).to_contain_text("Task “Reset the SSO keys”")

    # Switch Process: Escalation starts; Ticket Flow keeps its stage for when we come back.
    page.get_by_role("button", name="Switch Process", exact=True).click()
    page.get_by_label("Process", exact=True).select_option("escalation")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page.get_by_role("heading", level=2, name="Escalation")).to_be_visible()
    active_stage_is(page, "Assess")
    page.get_by_role("button", name="Switch Process", exact=True).click()
    expect(page.get_by_label("Process", exact=True)).to_contain_text("Ticket Flow (Active, Work)")
    page.get_by_label("Process", exact=True).select_option("ticket_flow")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page.get_by_role("heading", level=2, name="Ticket Flow")).to_be_visible()
    active_stage_is(page, "Work")


def test_switch_process_starts_one_on_a_record_without_any(page: Page, serve: Callable[[str, list[str]], Server],
                                                          sign_in: Callable[..., None]) -> None:
    """A record made with "No process" gets one from Switch Process (the page threw on the missing bar)."""
    own = serve(FLOWS, ["agent"])
    made = own.gql('mutation { createRecord(entity: "ticket", values: {title: "Bare"}, noProcess: true) '
                   "{ ... on Record { id } } }")["createRecord"]
    thrown: list[str] = []
    page.on("pageerror", lambda error: thrown.append(str(error)))
    sign_in(page, f"/records/{made['id']}", on=own)
    expect(page.get_by_text("Use “Switch Process” to start one")).to_be_visible()
    page.get_by_role("button", name="Switch Process", exact=True).click()
    page.get_by_label("Process", exact=True).select_option("escalation")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page.get_by_role("heading", level=2, name="Escalation")).to_be_visible()
    active_stage_is(page, "Assess")
    assert thrown == []


def test_version_conflict_in_words(page: Page, serve: Callable[[str, list[str]], Server],
                                   sign_in: Callable[..., None]) -> None:
    own = serve(FLOWS, ["agent"])
    ticket = own.gql(CREATE, {"e": "ticket", "v": {"title": "Printer on fire"}})["createRecord"]
    instance = ticket["activeInstance"]
    # No live updates here (the socket goes nowhere), so the page can't learn of the change below.
    page.route_web_socket(re.compile(r".*/graphql$"), lambda ws: _silent(ws))
    sign_in(page, f"/records/{ticket['id']}", on=own)
    active_stage_is(page, "Triage")

    # Meanwhile someone else abandons and reactivates it: the page's version is stale.
    own.gql("mutation($i: ID!, $v: Int) { abandonProcess(instanceId: $i, expectedVersion: $v) { __typename } }",
            {"i": instance["id"], "v": instance["version"]})
    own.gql("mutation($i: ID!) { reactivateProcess(instanceId: $i) { __typename } }", {"i": instance["id"]})
    page.get_by_role("button", name="Abandon", exact=True).click()
    page.get_by_role("button", name="Yes, abandon").click()
    error = page.locator("#tools-error")
    expect(error).to_contain_text("Someone else changed this process since you loaded it; review their change.")
    assert not re.search(r"version \d", error.inner_text()), error.inner_text()  # in words, no version numbers
    error.get_by_role("button", name="Reload").click()
    expect(error).to_be_empty()
    page.get_by_role("button", name="Abandon", exact=True).click()
    page.get_by_role("button", name="Yes, abandon").click()
    expect(page.locator(".bar-sub")).to_contain_text("Abandoned")
    expect(chevron(page, "Triage")).to_have_attribute("aria-label", re.compile("abandoned here"))


def _silent(ws: WebSocketRoute) -> None:
    """A WebSocket that accepts the page's messages and never answers."""
    ws.on_message(lambda message: None)
