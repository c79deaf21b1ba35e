"""The process bar against Dynamics 365's (issue 16): the process timer and the definition version on the bar,
a flyout that opens and closes on its stage (and Escape) and can be pinned, seven long-named stages that share
the width (and scroll on a phone), the active stage's sla, and the audit's low defects (time in stage after
Reactivate, action steps shown as run, alternatives not offered twice, the roles refusal in words, required
steps of upcoming stages, a pending move that says so)."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from bpf_server.authn import CACHE_SECONDS
from playwright.sync_api import Page, Route, expect

from .conftest import Server, token_for
from .test_conflicts import create
from .test_walk import active_stage_is, chevron, flyout

# Seven stages with long names, as a real claims process has them; `sla` on the first two, an optional pair of
# alternative action steps and a required one on the first, required steps ahead.
STAGES = [
    ("intake", "Initial intake and verification of the policyholder"),
    ("assess", "Damage assessment by an independent expert"),
    ("review", "Coverage review against the policy conditions"),
    ("negotiate", "Negotiation of the settlement with the claimant"),
    ("approve", "Management approval of the settlement amount"),
    ("pay", "Payment of the settlement and the closing letters"),
    ("archive", "Archiving of the complete claim documentation"),
]

CLAIMS = """
role clerk "Clerk"
role auditor "Auditor"

entity claim "Claim" {
    title "Title": text required
    notes "Notes": text
    amount "Amount": money
    approved "Approved": bool
    allow clerk to create, read, update, delete
}

process claim_handling "Claim Handling and Settlement" on claim {
    roles clerk

    stage intake "Initial intake and verification of the policyholder" category qualify {
        step notes
        action "Send acknowledgement" call bpf.notify(role: "clerk", message: "Acknowledged")
        action "Send rejection" call bpf.notify(role: "clerk", message: "Rejected")
        action "Open the file" call bpf.notify(role: "clerk", message: "Opened") required
        sla 3d
    }
    stage assess "Damage assessment by an independent expert" category research {
        step amount "Assessed Amount" required
        sla 1s
    }
    stage review "Coverage review against the policy conditions" { step approved required }
    stage negotiate "Negotiation of the settlement with the claimant" { step notes }
    stage approve "Management approval of the settlement amount" { step approved }
    stage pay "Payment of the settlement and the closing letters" { step notes }
    stage archive "Archiving of the complete claim documentation" { step notes }
}
"""

INSTANCE = "query($id: ID!) { record(id: $id) { activeInstance { id process { version } } } }"
ACTION = """mutation($i: ID!, $s: String!) { runActionStep(instanceId: $i, step: $s) { __typename
  ... on TransitionError { message } } }"""
NEXT = """mutation($i: ID!) { moveNext(instanceId: $i) { __typename ... on TransitionError { message } } }"""
ABANDON = """mutation($i: ID!) { abandonProcess(instanceId: $i) { __typename ... on TransitionError { message } } }"""
REACTIVATE = """mutation($i: ID!) { reactivateProcess(instanceId: $i) { __typename
  ... on ProcessInstance { activeStageStartedOn } ... on TransitionError { message } } }"""
UPDATE = """mutation($id: ID!, $v: JSON!) { updateRecord(id: $id, values: $v) { __typename
  ... on ValidationError { message } } }"""

# The page's one duration format ("1 d"); the older one wrote a day as "24 h".
ONE_DAY = re.compile(r"^(1 d|24 h)( 0 min)?$")


@pytest.fixture(scope="module")
def claims(serve: Callable[[str, list[str]], Server]) -> Server:
    """CLAIMS served, ann a clerk."""
    return serve(CLAIMS, ["clerk"])


def new_claim(claims: Server, title: str) -> dict[str, str]:
    """A claim with its instance (started by createRecord): {id, instance, version (the definition's)}."""
    made = create(claims, "claim", {"title": title})
    inst = claims.gql(INSTANCE, {"id": made["id"]})["record"]["activeInstance"]
    return {"id": made["id"], "instance": inst["id"], "version": inst["process"]["version"]}


def ok(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert result[field]["__typename"] != "TransitionError", result
    return result[field]  # type: ignore[no-any-return]


def move_on(claims: Server, instance_id: str) -> None:
    """Run the first stage's required action step and move on, as another client would."""
    ok(claims.gql(ACTION, {"i": instance_id, "s": "open_the_file"}), "runActionStep")
    ok(claims.gql(NEXT, {"i": instance_id}), "moveNext")


def test_seven_long_stages_share_the_width_and_scroll_on_a_phone(page: Page, claims: Server,
                                                                  sign_in: Callable[..., None]) -> None:
    claim = new_claim(claims, "Burst pipe in the kitchen")
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, f"/records/{claim['id']}", on=claims)
    active_stage_is(page, STAGES[0][1])

    # Every chevron lies within the window's width; each has its whole label as tooltip and in its name.
    for _, label in STAGES:
        expect(chevron(page, label)).to_have_attribute("title", label)
    # Measured at once (a live update may draw the bar again between two reads).
    boxes = page.locator("ol.chevrons .chev-button").evaluate_all(
        "buttons => buttons.map(b => { const r = b.getBoundingClientRect(); return [b.title, r.left, r.right]; })")
    assert [title for title, _, _ in boxes] == [label for _, label in STAGES]
    for title, left, right in boxes:
        assert 0 <= left < right <= 1366, (title, left, right)
    expect(page.locator("#bar-position")).to_have_text("Stage 1 of 7")
    expect(page.locator(".chev-scroll-next")).to_be_hidden()  # all fit: nothing to scroll

    # On a phone they can't all fit: the rail scrolls, and its buttons say where the others are.
    page.set_viewport_size({"width": 390, "height": 800})
    later = page.get_by_role("button", name="Show later stages")
    expect(later).to_be_visible()
    expect(page.get_by_role("button", name="Show earlier stages")).to_be_hidden()  # at the start
    later.click()
    page.wait_for_function("() => document.querySelector('.chevron-scroll').scrollLeft > 0")
    expect(page.get_by_role("button", name="Show earlier stages")).to_be_visible()
    # Where the user scrolled to stays when the bar is drawn again (a live update, a tick of its data).
    scrolled = page.evaluate("() => document.querySelector('.chevron-scroll').scrollLeft")
    page.emulate_media(reduced_motion="reduce")  # and a user who asks for no motion gets the jump at once
    page.get_by_role("button", name="Show later stages").click()
    page.wait_for_function(f"() => document.querySelector('.chevron-scroll').scrollLeft > {scrolled}")


TWELVE = "role agent\nentity job { title: text }\nprocess hiring \"Hiring\" on job {\n    roles agent\n" + "".join(
    f'    stage s{i} "{name}" {{ step title }}\n' for i, name in enumerate(
        ["Screen", "Interview", "Offer", "Checks", "Contract", "Onboard", "Equipment", "Accounts", "Training",
         "Buddy", "Review", "Twelve"])) + "}\n"


def test_twelve_stages_on_a_laptop_keep_their_words_and_scroll(page: Page, serve: Callable[[str, list[str]], Server],
                                                               sign_in: Callable[..., None]) -> None:
    """More stages than fit: each keeps room for a word of its name and its state ("completed", "upcoming")
    whole, and the rail scrolls, instead of every chevron shrinking until words break mid-word."""
    own = serve(TWELVE, ["agent"])
    made = own.gql('mutation { createRecord(entity: "job", values: {title: "Cook"}) { ... on Record { id } } }')
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, f"/records/{made['createRecord']['id']}", on=own)
    active_stage_is(page, "Screen")
    expect(page.get_by_role("button", name="Show later stages")).to_be_visible()
    cut = page.locator("ol.chevrons .chev-state").evaluate_all(
        "states => states.filter(s => s.scrollWidth > s.clientWidth).map(s => s.textContent)")
    assert cut == []
    names = page.locator("ol.chevrons .chev-name").evaluate_all(
        "names => names.filter(n => n.scrollWidth > n.clientWidth).map(n => n.textContent)")
    assert names == []


LONG_WORD = "Supercalifragilisticexpialidocious_Verification_Stage"
LONG = ("role agent\nentity job { title: text }\nprocess hiring on job {\n    roles agent\n"
        f'    stage first "{LONG_WORD}" {{ step title }}\n    stage second {{ step title }}\n}}\n')


def test_a_name_without_spaces_never_widens_the_page(page: Page, serve: Callable[[str, list[str]], Server],
                                                     sign_in: Callable[..., None]) -> None:
    own = serve(LONG, ["agent"])
    made = own.gql(f'mutation {{ createRecord(entity: "job", values: {{title: "{LONG_WORD}"}}) '
                   "{ ... on Record { id } } }")
    sign_in(page, f"/records/{made['createRecord']['id']}", on=own)
    expect(page.locator(".history")).to_contain_text(LONG_WORD)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= width, (width, wide)


def test_flyout_opens_closes_on_its_stage_and_pins(page: Page, claims: Server, sign_in: Callable[..., None]) -> None:
    claim = new_claim(claims, "Hail damage on the roof")
    sign_in(page, f"/records/{claim['id']}", on=claims)
    active = chevron(page, STAGES[0][1])
    upcoming = chevron(page, STAGES[2][1])
    active_stage_is(page, STAGES[0][1])  # pinned by default: open on the active stage

    # The active stage's chevron closes its flyout, and opens it again.
    active.click()
    expect(flyout(page)).to_have_count(0)
    expect(active).to_have_attribute("aria-expanded", "false")
    active.click()
    expect(flyout(page)).to_be_visible()
    expect(active).to_have_attribute("aria-expanded", "true")

    # Another stage shows its own; clicking it again, or Escape, closes it (focus back on the chevron).
    upcoming.click()
    expect(flyout(page).get_by_role("heading", level=3)).to_contain_text(STAGES[2][1])
    upcoming.click()
    expect(flyout(page)).to_have_count(0)
    upcoming.click()
    expect(flyout(page)).to_be_visible()
    page.keyboard.press("Escape")
    expect(flyout(page)).to_have_count(0)
    expect(upcoming).to_be_focused()

    # Unpinned, the flyout is closed on load and closes after a move; the choice outlives the page.
    active.click()
    pin = flyout(page).get_by_role("button", name="Keep open")
    expect(pin).to_have_attribute("aria-pressed", "true")
    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(active).to_be_visible()
    expect(flyout(page)).to_have_count(0)
    active.click()
    flyout(page).get_by_role("button", name="Open the file").click()
    expect(flyout(page).locator('.action-step[data-field="open_the_file"]')).to_contain_text("done")
    flyout(page).get_by_role("button", name="Next Stage").click()
    expect(chevron(page, STAGES[1][1])).to_have_attribute("aria-current", "step")
    expect(flyout(page)).to_have_count(0)

    # Pinned again, it stays open across a move and a reload.
    chevron(page, STAGES[1][1]).click()
    flyout(page).get_by_role("button", name="Keep open").click()
    expect(flyout(page).get_by_role("button", name="Keep open")).to_have_attribute("aria-pressed", "true")
    flyout(page).get_by_role("button", name="Previous Stage").click()
    active_stage_is(page, STAGES[0][1])
    page.reload()
    active_stage_is(page, STAGES[0][1])


def test_timer_version_and_sla_on_the_bar(page: Page, claims: Server, sign_in: Callable[..., None]) -> None:
    claim = new_claim(claims, "Flooded basement")
    sign_in(page, f"/records/{claim['id']}", on=claims)
    active_stage_is(page, STAGES[0][1])

    # D365's "Active for …", and the definition's version (its hash, cut short; whole in the tooltip).
    expect(page.locator(".bar-sub")).to_contain_text("Active for")
    expect(page.locator("#bar-timer")).to_have_text(re.compile(r"^\d+ (s|min)"))
    version = claim["version"]
    expect(page.locator("#bar-version")).to_contain_text(version[:8])
    expect(page.locator("#bar-version")).to_have_attribute("title", f"Definition version {version}")

    # `sla 3d`: the active stage says the time left, on its chevron (and in its name) and in the flyout.
    left = re.compile(r"^(2 d 23 h|3 d) left$")
    expect(page.locator(".chev.is-active .chev-sla")).to_have_text(left)
    expect(chevron(page, STAGES[0][1])).to_have_attribute("aria-label", re.compile(r"(2 d 23 h|3 d) left"))
    expect(page.locator("#flyout-sla")).to_contain_text("left")

    # `sla 1s` on the next stage: soon overdue, and the bar says by how long.
    move_on(claims, claim["instance"])
    page.reload()
    active_stage_is(page, STAGES[1][1])
    expect(page.locator(".chev.is-active .chev-sla")).to_contain_text("Overdue by", timeout=15_000)
    expect(page.locator("#flyout-sla")).to_contain_text("Overdue by")
    # Its accessible name counts with what it shows (it was frozen at the drawing: "overdue by 0 s").
    active = chevron(page, STAGES[1][1])
    expect(active).to_have_attribute("aria-label", re.compile(r"overdue by"))
    first = active.get_attribute("aria-label")
    expect(active).not_to_have_attribute("aria-label", first or "", timeout=5_000)


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def test_time_in_stage_after_reactivate_leaves_out_the_stopped_stretch(page: Page, claims: Server,
                                                                        sign_in: Callable[..., None]) -> None:
    claim = new_claim(claims, "Stolen bicycle")
    instance = claim["instance"]
    ok(claims.gql(ABANDON, {"i": instance}), "abandonProcess")
    # As if it was entered three days ago and abandoned two days ago (the stretch to leave out).
    now = dt.datetime.now(dt.UTC)
    path = claims.db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE instances SET stage_started_at = ?, created_at = ?, completed_at = ? WHERE id = ?",
                   (_stamp(now - dt.timedelta(days=3)), _stamp(now - dt.timedelta(days=3)),
                    _stamp(now - dt.timedelta(days=2)), instance))
        db.execute("UPDATE stage_visits SET entered_at = ?, exited_at = ? WHERE instance_id = ?",
                   (_stamp(now - dt.timedelta(days=3)), _stamp(now - dt.timedelta(days=2)), instance))
    back = ok(claims.gql(REACTIVATE, {"i": instance}), "reactivateProcess")
    started = dt.datetime.fromisoformat(back["activeStageStartedOn"].replace("Z", "+00:00"))
    assert abs((started - (now - dt.timedelta(days=1))).total_seconds()) < 600, started

    sign_in(page, f"/records/{claim['id']}", on=claims)
    active_stage_is(page, STAGES[0][1])
    expect(page.locator("#flyout-time")).to_have_text(ONE_DAY)
    expect(page.locator("#bar-timer")).to_have_text(ONE_DAY)


def test_action_steps_show_what_ran_and_required_steps_ahead(page: Page, claims: Server,
                                                             sign_in: Callable[..., None]) -> None:
    claim = new_claim(claims, "Broken window")
    sign_in(page, f"/records/{claim['id']}", on=claims)
    active_stage_is(page, STAGES[0][1])
    steps = flyout(page)

    # An upcoming stage marks its required steps.
    chevron(page, STAGES[1][1]).click()
    expect(steps.locator("dt", has_text="Assessed Amount")).to_contain_text("*")
    expect(steps.locator("dt", has_text="Assessed Amount")).to_contain_text("(required)")
    expect(steps).to_contain_text("required steps are marked *")
    chevron(page, STAGES[0][1]).click()
    active_stage_is(page, STAGES[0][1])

    # One of two optional action steps ran: it is done, and the other is no longer offered.
    steps.get_by_role("button", name="Send acknowledgement").click()
    expect(steps.locator('.action-step[data-field="send_acknowledgement"]')).to_contain_text("done")
    expect(steps.get_by_role("button", name="Send acknowledgement")).to_have_count(0)
    expect(steps.get_by_role("button", name="Send rejection")).to_have_count(0)
    expect(steps.locator('.action-step[data-field="send_rejection"]')).to_contain_text("Not offered")

    # The required one: once run and the stage left, the completed stage lists it as done, not "Not run".
    steps.get_by_role("button", name="Open the file").click()
    expect(steps.locator('.action-step[data-field="open_the_file"]')).to_contain_text("done")
    steps.get_by_role("button", name="Next Stage").click()
    active_stage_is(page, STAGES[1][1])
    chevron(page, STAGES[0][1]).click()
    done = steps.locator('.action-step[data-field="open_the_file"]')
    expect(done).to_contain_text("done")
    expect(done).not_to_contain_text("Not run")


def test_close_as_lost_not_offered_after_close_as_won(page: Page, sales: Server, sign_in: Callable[..., None]) -> None:
    account = create(sales, "account", {"name": "Fabrikam"})
    opp = create(sales, "opportunity", {"name": "Fabrikam renewal", "account": account["id"],
                                        "customer_need": "Renewal", "proposal_developed": True,
                                        "decision_date": "2026-06-30", "estimated_revenue": "25000.00"})
    instance = opp["activeInstance"]["id"]
    for _ in range(3):  # Qualify → Develop → Propose → Close
        ok(sales.gql(NEXT, {"i": instance}), "moveNext")
    sign_in(page, f"/records/{opp['id']}", on=sales)
    active_stage_is(page, "Close")
    steps = flyout(page)
    steps.get_by_role("button", name="Close as won").click()
    expect(steps.locator('.action-step[data-field="close_as_won"]')).to_contain_text("done")
    expect(steps.get_by_role("button", name="Close as lost")).to_have_count(0)
    expect(steps.get_by_role("button", name="Close as won")).to_have_count(0)


def test_a_pending_move_says_moving(page: Page, claims: Server, sign_in: Callable[..., None]) -> None:
    claim = new_claim(claims, "Cracked windscreen")
    ok(claims.gql(ACTION, {"i": claim["instance"], "s": "open_the_file"}), "runActionStep")
    sign_in(page, f"/records/{claim['id']}", on=claims)
    active_stage_is(page, STAGES[0][1])
    held: list[Route] = []

    def hold_moves(route: Route) -> None:
        if "moveNext" in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    page.route("**/graphql", hold_moves)
    flyout(page).get_by_role("button", name="Next Stage").click()
    expect(page.get_by_role("button", name="Moving…")).to_be_visible()
    expect(page.locator("section.bpf")).to_have_attribute("aria-busy", "true")
    assert held, "the move never reached the network"
    held[0].continue_()
    active_stage_is(page, STAGES[1][1])
    expect(page.locator("section.bpf")).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Moving…")).to_have_count(0)


def test_roles_refusal_said_once_by_the_process_label(page: Page, claims: Server,
                                                      sign_in: Callable[..., None]) -> None:
    rita = token_for(claims, "rita", ["clerk"])
    made = create(rita, "claim", {"title": "Dented bumper"})
    sign_in(page, f"/records/{made['id']}", on=rita)
    active_stage_is(page, STAGES[0][1])
    token_for(claims, "rita", ["auditor"])  # her roles change while the page is open
    # The server remembers a verified token (and its roles) for CACHE_SECONDS: the next request after
    # that reads her new roles.
    page.wait_for_timeout(CACHE_SECONDS * 1000 + 500)
    flyout(page).get_by_role("button", name="Open the file").click()
    error = page.locator("#flyout-error")
    expect(error).to_have_text("Your roles don't allow Claim Handling and Settlement.")
    expect(page.get_by_text("roles don't allow")).to_have_count(1)  # said once, by the label, not the raw id
    expect(page.get_by_text("claim_handling")).to_have_count(0)
