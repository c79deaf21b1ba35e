"""The record page (issue 16): field edits reach the other open tabs (recordChanged) without taking a draft,
every process that reached a record stays switchable with its history shown, a server stopped mid-use says so,
keeps what was typed and recovers by itself, Next Stage into another entity's stage opens that record's page
(and Previous back), the header follows the signed-in token, plain words for a conflict and for history a role
may not see, and the notifications bell."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Browser, Page, expect

from tests.server.helpers import free_port, wait_healthy

from .conftest import Server, _bpf, _packs_env, token_for
from .test_audit import lead_at_develop
from .test_conflicts import create
from .test_walk import active_stage_is, flyout

NEXT = """mutation($i: ID!, $v: Int) { moveNext(instanceId: $i, expectedVersion: $v) { __typename
  ... on ProcessInstance { version } ... on TransitionError { code message } } }"""


def details(page: Page) -> Any:
    return page.locator("#details-form")


def second_tab(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture()
def other(browser: Browser) -> Iterator[Page]:
    """A second browser tab of its own (another session: it signs in too)."""
    yield from second_tab(browser)


# ------------------------------------------------------------------------------------------- live field edits
def test_field_edits_reach_another_tab_without_taking_its_draft(page: Page, other: Page, sales: Server,
                                                               sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Two tabs"})
    for tab in (page, other):
        sign_in(tab, f"/records/{lead['id']}", on=sales)
        expect(tab.get_by_role("heading", level=1, name="Two tabs")).to_be_visible()
        expect(tab.locator(".live")).to_have_attribute("data-state", "live")

    # The second tab is typing a job title (not saved yet) when the first saves the company name.
    typing = details(other).get_by_label("Job Title")
    typing.fill("Buyer")
    details(page).get_by_label("Company Name").fill("Contoso")
    details(page).get_by_role("button", name="Save", exact=True).click()
    expect(details(page).locator(".saved")).to_have_text("Saved.")

    # It shows at once, without a reload; the draft, and the focus in it, stay.
    expect(details(other).get_by_label("Company Name")).to_have_value("Contoso")
    expect(typing).to_have_value("Buyer")
    expect(typing).to_be_focused()
    expect(other.locator("#announcer")).to_contain_text("ann changed this lead")
    # The tab that saved doesn't hear its own change as someone else's.
    expect(page.locator("#announcer")).not_to_contain_text("changed this lead")

    # Someone changes the very field being typed: the typed value stays, and the field says whose is there.
    details(page).get_by_label("Job Title").fill("Chief Buyer")
    details(page).get_by_role("button", name="Save", exact=True).click()
    expect(other.locator("#details-form [data-field='job_title']")).to_contain_text(
        "Someone else changed this to “Chief Buyer”")
    expect(typing).to_have_value("Buyer")


# ------------------------------------------------------------------------------- switching among processes
def test_the_leads_process_stays_switchable_on_its_opportunity(page: Page, sales: Server,
                                                               sign_in: Callable[..., None]) -> None:
    made = lead_at_develop(sales, "Switch both ways")
    sign_in(page, f"/records/{made['opportunity']}", on=sales)
    title = page.locator("#bar-title")
    expect(title).to_contain_text("Lead to Opportunity Sales Process")

    def switch_to(label: str, name: str) -> None:
        page.get_by_role("button", name="Switch Process", exact=True).click()
        select = page.locator("#switch-select")
        expect(select).to_contain_text(f"{label} (")
        select.select_option(name)
        page.locator("#switch-panel").get_by_role("button", name="Switch", exact=True).click()
        expect(title).to_contain_text(label)

    switch_to("Opportunity Sales Process", "opportunity_sales")
    # Both processes' histories show.
    history = page.locator("section.history")
    for process in ("Opportunity Sales Process", "Lead to Opportunity Sales Process"):
        expect(history.get_by_role("heading", level=3, name=process, exact=True)).to_be_visible()
    # And the lead's process is one of the choices still: back to it.
    page.get_by_role("button", name="Switch Process", exact=True).click()
    expect(page.locator("#switch-panel")).not_to_contain_text("No other process of yours")
    page.get_by_role("button", name="Cancel", exact=True).click()
    switch_to("Lead to Opportunity Sales Process", "lead_to_opportunity")
    active_stage_is(page, "Develop")


# ------------------------------------------------------------------------------------ cross-entity moves
def test_next_stage_into_the_opportunity_opens_its_page_and_previous_comes_back(
        page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Across entities", "budget_amount": 30000})
    instance = lead["activeInstance"]["id"]
    ran = sales.gql('mutation($i: ID!) { runActionStep(instanceId: $i, step: "qualify_lead") { __typename } }',
                    {"i": instance})
    assert ran["runActionStep"]["__typename"] == "ProcessInstance", ran
    sign_in(page, f"/records/{lead['id']}", on=sales)
    active_stage_is(page, "Qualify")
    page.get_by_role("button", name="Next Stage", exact=True).click()
    # The opportunity's page, with the bar carried on and Next Stage still under the keyboard.
    expect(page).to_have_url(re.compile(r"/records/(?!" + re.escape(lead["id"]) + ")"))
    expect(page.locator(".eyebrow")).to_have_text("Opportunity")
    active_stage_is(page, "Develop")
    expect(page.locator("#bar-title")).to_contain_text("Lead to Opportunity Sales Process")
    expect(page.get_by_role("button", name="Next Stage", exact=True)).to_be_focused()
    expect(details(page).get_by_label("Customer Need")).to_be_visible()  # the form under it is the opportunity's
    opportunity_url = page.url

    page.get_by_role("button", name="Previous Stage", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"/records/{lead['id']}") + "$"))
    expect(page.locator(".eyebrow")).to_have_text("Lead")
    active_stage_is(page, "Qualify")
    # Back in the browser's history: the opportunity's page again.
    page.go_back()
    expect(page).to_have_url(opportunity_url)
    expect(page.locator(".eyebrow")).to_have_text("Opportunity")


# ------------------------------------------------------------------------------------------- small words
def test_header_follows_the_token_signed_in_with(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    sign_in(page, "/", on=sales)
    roles = page.locator(".who-roles")
    expect(roles).to_contain_text("sales_manager")
    page.get_by_role("button", name="Sign out").click()
    bob = token_for(sales, "bob", ["salesperson"])
    sign_in(page, "/", on=bob)
    expect(page.locator(".who-name")).to_have_text("bob")
    expect(roles).to_have_text("salesperson")


def test_history_a_role_may_not_see_is_not_called_empty(page: Page, sales: Server,
                                                         sign_in: Callable[..., None]) -> None:
    lead = create(sales, "lead", {"topic": "Marketer's view"})
    mia = token_for(sales, "mia", ["marketer"])
    sign_in(page, f"/records/{lead['id']}", on=mia)
    history = page.locator("section.history")
    expect(history).to_contain_text("Process history isn't shown to your roles")
    expect(history).not_to_contain_text("No process history yet")


# ------------------------------------------------------------------------------------- notifications bell
NOTIFY = """
role agent "Agent"

entity ticket "Ticket" {
    title: text required
}

process triage "Triage" on ticket {
    roles agent
    stage look "Look" {
        step title
        action "Ping the desk" call bpf.notify(role: "agent", message: "Someone looked at a ticket")
    }
    stage wait "Wait" {
        sla 1s
        on overdue {
            call bpf.notify(role: "agent", message: "A ticket waited too long")
        }
    }
}
"""


def test_the_bell_counts_and_lists_notifications_live(page: Page, serve: Callable[[str, list[str]], Server],
                                                      sign_in: Callable[..., None]) -> None:
    desk = serve(NOTIFY, ["agent"])
    ticket = create(desk, "ticket", {"title": "Printer jam"})
    instance = ticket["activeInstance"]
    sign_in(page, "/", on=desk)
    bell = page.locator("#bell")
    expect(bell).to_have_attribute("aria-label", "Notifications")
    # An action's notification, made elsewhere: the count shows without a reload.
    ran = desk.gql('mutation($i: ID!) { runActionStep(instanceId: $i, step: "ping_the_desk") { __typename } }',
                   {"i": instance["id"]})
    assert ran["runActionStep"]["__typename"] == "ProcessInstance", ran
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 new")
    expect(bell.locator(".bell-count")).to_have_text("1")
    # An overdue stage's notification (the server's jobs runner), live too.
    moved = desk.gql(NEXT, {"i": instance["id"], "v": None})["moveNext"]
    assert moved["__typename"] == "ProcessInstance", moved
    expect(bell).to_have_attribute("aria-label", "Notifications, 2 new", timeout=20_000)
    # The list, newest first; opening it marks them seen; each links to its record.
    bell.click()
    items = page.locator(".bell-list li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("A ticket waited too long")
    expect(items.nth(1)).to_contain_text("Someone looked at a ticket")
    expect(bell).to_have_attribute("aria-label", "Notifications")
    items.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(re.escape(f"/records/{ticket['id']}") + "$"))
    expect(page.get_by_role("heading", level=1, name="Printer jam")).to_be_visible()


# --------------------------------------------------------------------------------- a server stopped mid-use
class Restartable:
    """`bpf serve` of the sales pack on a fixed port, stopped and started again on the same database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "flows.bpf").write_text("import sales\n")
        self.db = f"sqlite:///{folder / 'bpf.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **_packs_env(folder)}
        made = subprocess.run([*_bpf(), "token", "create", "--user", "ann", "--role", "salesperson",
                               "--role", "sales_manager", "--db", self.db],
                              capture_output=True, text=True, timeout=120, env=self.env)
        assert made.returncode == 0, made.stderr
        self.server = Server(self.url, made.stdout.strip().splitlines()[-1].strip(), self.db)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "serve.log").open("a")
        self.proc = subprocess.Popen([*_bpf(), "serve", str(self.folder / "flows.bpf"), "--db", self.db, "--host",
                                      "127.0.0.1", "--port", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.folder)
        log.close()
        try:
            wait_healthy(self.url, self.proc, timeout=60)
        except RuntimeError as exc:
            raise AssertionError((self.folder / "serve.log").read_text()) from exc

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture()
def restartable(tmp_path: Path) -> Iterator[Restartable]:
    running = Restartable(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _a_step_edited_while_stopped(page: Page, restartable: Restartable, sign_in: Callable[..., None],
                                 topic: str) -> tuple[Server, dict[str, Any]]:
    """A lead open on its page, live; then the server stops: an edit can't be saved ("Not saved"), and Next
    Stage says why nothing happened. The server and the lead."""
    sales = restartable.server
    lead = create(sales, "lead", {"topic": topic})
    sign_in(page, f"/records/{lead['id']}", on=sales)
    active_stage_is(page, "Qualify")
    expect(page.locator(".live")).to_have_attribute("data-state", "live")
    restartable.stop()
    budget = flyout(page).get_by_label("Estimated Budget")
    budget.fill("7000")
    budget.dispatch_event("change")
    expect(page.locator("#bar-saving")).to_have_text("Not saved")
    page.get_by_role("button", name="Next Stage", exact=True).click()
    expect(page.locator("#flyout-error")).to_contain_text("The server could not be reached; nothing changed")
    return sales, lead


def test_a_step_not_saved_is_sent_when_the_server_is_back(page: Page, restartable: Restartable,
                                                         sign_in: Callable[..., None]) -> None:
    """Staying on the record while the server is away and back: the words saying it could not be reached go,
    and the step that could not be saved is saved (it stayed "Not saved" with the alert up)."""
    sales, lead = _a_step_edited_while_stopped(page, restartable, sign_in, "Server blinks")
    restartable.start()
    expect(page.locator("#bar-saving")).to_have_text("Saved", timeout=20_000)
    expect(page.get_by_text("could not be reached")).to_have_count(0)
    values = sales.gql("query($id: ID!) { record(id: $id) { values } }", {"id": lead["id"]})["record"]["values"]
    assert values["budget_amount"] == 7000


def test_a_server_stopped_mid_use(page: Page, restartable: Restartable, sign_in: Callable[..., None]) -> None:
    sales, lead = _a_step_edited_while_stopped(page, restartable, sign_in, "Server stops")
    active_stage_is(page, "Qualify")
    details(page).get_by_label("Job Title").fill("Head of Fleet")

    # To the records (the server still away): the list says so, then comes back by itself once it is up.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    expect(page.get_by_role("alert").filter(has_text="could not be reached")).to_be_visible()
    restartable.start()
    expect(page.get_by_role("link", name="Server stops")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("could not be reached")).to_have_count(0)

    # Back to the lead: what was typed is still there, not saved yet, and saves now.
    page.get_by_role("link", name="Server stops").click()
    active_stage_is(page, "Qualify")
    expect(flyout(page).get_by_label("Estimated Budget")).to_have_value("7000")
    expect(details(page).get_by_label("Job Title")).to_have_value("Head of Fleet")
    details(page).get_by_role("button", name="Save", exact=True).click()
    expect(details(page).locator(".saved")).to_have_text("Saved.")
    values = sales.gql("query($id: ID!) { record(id: $id) { values } }", {"id": lead["id"]})["record"]["values"]
    assert values["job_title"] == "Head of Fleet"
