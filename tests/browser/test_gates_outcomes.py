"""Round two on the page: a stage's unmet gates beside Next Stage, a refusal that says them, and the outcome of
a finished instance (docs/examples/next/onboarding.bpf, served with ann as HR)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from tests.paths import EXAMPLES

from .conftest import Server, token_for
from .test_conflicts import create
from .test_walk import active_stage_is, flyout

GATE = "Start the background check first."


def test_gates_beside_next_stage_and_the_outcome(page: Page, serve: Callable[[str, list[str]], Server],
                                                 sign_in: Callable[..., None]) -> None:
    own = serve((EXAMPLES / "next" / "onboarding.bpf").read_text(), ["hr"])
    hire = create(own, "new_hire", {"full_name": "Grace Hopper", "start_date": "2026-04-01",
                                    "contract_signed": True})
    sign_in(page, f"/records/{hire['id']}", on=own)
    active_stage_is(page, "Paperwork")

    # The gate that fails now is said beside Next Stage, and describes the button.
    gates = page.locator("#bar-gates")
    expect(gates).to_contain_text("Before moving on:")
    expect(gates).to_contain_text(GATE)
    next_stage = page.get_by_role("button", name="Next Stage")
    expect(next_stage).to_have_attribute("aria-describedby", "bar-gates")

    # Pressing it anyway: the refusal says the gate (once: the note steps aside while the alert says it).
    next_stage.click()
    expect(page.locator("#flyout-error")).to_contain_text(GATE)
    expect(gates).to_have_count(0)

    # Meeting the gate in the flyout clears both.
    flyout(page).get_by_label("Background Check").select_option("failed")
    expect(page.locator("#bar-saving")).to_have_text("Saved")
    expect(page.locator("#flyout-error")).to_be_empty()
    expect(gates).to_have_count(0)
    expect(next_stage).not_to_have_attribute("aria-describedby", "bar-gates")

    # The failed check leads to Withdraw Offer; finishing there ends the path `withdrawn`.
    next_stage.click()
    active_stage_is(page, "Withdraw Offer")
    page.get_by_role("button", name="Finish", exact=True).click()
    expect(page.locator(".bar-sub")).to_contain_text("Finished")
    expect(page.locator("#bar-outcome")).to_have_text("Outcome: Offer Withdrawn")


def test_a_stage_not_yours_to_leave_says_whose_it_is(page: Page, serve: Callable[[str, list[str]], Server],
                                                     sign_in: Callable[..., None]) -> None:
    own = serve((EXAMPLES / "next" / "onboarding.bpf").read_text(), ["hr"])
    hire = create(own, "new_hire", {"full_name": "Alan Turing", "start_date": "2026-04-01",
                                    "contract_signed": True, "background_check": "passed"})
    it_desk = token_for(own, "ivan", ["it_desk"])
    sign_in(page, f"/records/{hire['id']}", on=it_desk)
    active_stage_is(page, "Paperwork")
    page.get_by_role("button", name="Next Stage").click()
    expect(page.locator("#flyout-error")).to_have_text(
        "Not allowed: only HR may move the instance out of the stage Paperwork.")
    active_stage_is(page, "Paperwork")
