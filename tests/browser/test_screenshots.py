"""Screenshots for the README and docs/web.md (docs/images/), taken on data made through the API:
the record page of a seven-stage process with long stage names at 390, 1366 and 1920 px (every stage
name readable), and the process page of the spec's sales process with a few leads spread over it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Browser, Page, expect

from .conftest import IMAGES, Server
from .test_readable import DEAL, DEAL_MOVES, LONG, update, walk, walked

FINISH = """mutation($id: ID!, $v: Int) { finishProcess(instanceId: $id, expectedVersion: $v) {
  __typename ... on TransitionError { code message } } }"""


def lead(server: Server, values: dict[str, Any], moves: list[dict[str, Any]],
         then: dict[str, Any] | None = None, finish: bool = False) -> str:
    """A lead moved forward once per entry of `moves` (each: values to set on the active record first),
    then `then`'s values set on the active record, then finished if `finish`."""
    record_id, instance_id, version, on = walk(server, "lead", values, moves)
    if then:
        update(server, on, then)
    if finish:
        done = server.gql(FINISH, {"id": instance_id, "v": version})["finishProcess"]
        assert done["__typename"] == "ProcessInstance", done
    return record_id


# The record page's shots: (file, viewport width, height, device scale, whole page).
RECORD_SHOTS = [("record-page-390.png", 390, 844, 2, False), ("record-page.png", 1366, 900, 1, True),
                ("record-page-1920.png", 1920, 1080, 1, True)]


def test_record_page_screenshots(browser: Browser, serve: Callable[[str, list[str]], Server],
                                 sign_in: Callable[..., None]) -> None:
    """The seven long stages at three widths: each stage's whole name is in the picture or, where it is cut,
    the chevron says it whole (its tooltip); at 1366 px and up every chevron is in view."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    deals = serve(LONG, ["salesperson"])
    shown = walked(deals, "deal", DEAL, DEAL_MOVES)
    deals.gql("""mutation($id: ID!, $values: JSON!) { updateRecord(id: $id, values: $values) { __typename } }""",
              {"id": shown, "values": {"needs": "Forty electric vans over two years, lower running costs"}})
    for name, width, height, scale, whole in RECORD_SHOTS:
        context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                      is_mobile=width < 600, has_touch=width < 600, locale="en-US",
                                      timezone_id="Europe/London")
        try:
            page = context.new_page()
            sign_in(page, f"/records/{shown}", on=deals)
            expect(page.get_by_role("heading", level=1, name="Northwind fleet renewal")).to_be_visible()
            expect(page.locator(".live")).to_have_attribute("data-state", "live")
            chevrons = page.locator("ol.chevrons .chev-button")
            expect(chevrons).to_have_count(7)
            expect(page.locator("ol.chevrons [aria-current=step]")).to_be_in_viewport()
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"the record page is {overflow}px wider than a {width}px screen"
            if width >= 1366:
                for i in range(7):
                    expect(chevrons.nth(i)).to_be_in_viewport(ratio=1)
            page.screenshot(path=str(IMAGES / name), full_page=whole)
        finally:
            context.close()


def test_process_page_screenshot(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    big = {"budget_amount": 2_400_000, "purchase_timeframe": "immediate", "decision_maker": True}
    shown = lead(server, {"topic": "Northwind fleet renewal", "company": "Northwind Traders",
                          "purchase_process": "committee", "description": "Forty vans, electric, over two years",
                          **big},
                 [{}, {}],
                 then={"customer_need": "Lower running costs across the fleet", "stakeholders_identified": True})
    lead(server, {"topic": "Contoso kiosks", "company": "Contoso"}, [])
    lead(server, {"topic": "Fabrikam badges", "company": "Fabrikam"}, [])
    lead(server, {"topic": "Tailspin drones", "company": "Tailspin Toys", **big}, [{}])
    lead(server, {"topic": "Litware licences", "budget_amount": 40_000}, [{}])
    lead(server, {"topic": "Adatum laptops", "budget_amount": 90_000},
         [{}, {"customer_need": "Refresh", "proposal_developed": True}])
    lead(server, {"topic": "Woodgrove printers", "budget_amount": 15_000},
         [{}, {"customer_need": "Print less"}, {"proposal_developed": True}],
         then={"decision_date": "2030-03-31"}, finish=True)

    sign_in(page, f"/records/{shown}")
    expect(page.get_by_role("heading", level=1, name="Northwind fleet renewal")).to_be_visible()
    expect(page.locator("ol.timeline > li")).to_have_count(3)
    page.get_by_role("link", name="Lead to Opportunity Sales Process").first.click()
    expect(page.get_by_role("heading", level=1, name="Lead to Opportunity Sales Process")).to_be_visible()
    expect(page.locator(".diagram svg")).to_be_visible()
    expect(page.locator("table.funnel tbody tr").first).to_be_visible()
    page.screenshot(path=str(IMAGES / "process-page.png"), full_page=True)
