"""axe-core (vendored from npm in tests/browser/vendor/) on the page's four kinds of screen: the sign-in
page, the records list, a record page with its stage flyout open, and a process page. None may have a
serious or critical violation.

axe is run with ``page.evaluate(source)`` (the DevTools protocol's Runtime.evaluate), not with
``page.add_script_tag``: the page's Content-Security-Policy (``script-src 'self'``) refuses an inline
``<script>`` and a script from anywhere else, and the alternative, a context with ``bypass_csp=True``,
would scan a page running without the policy it ships with. Runtime.evaluate is not subject to the
policy, so the page is scanned exactly as a user gets it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from .conftest import Server

AXE = Path(__file__).with_name("vendor") / "axe.min.js"

# The WCAG 2.x A and AA rules and axe's best practices; serious and critical ones fail the test.
RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary})),
  }));
}"""

CREATE = """mutation($values: JSON!) { createRecord(entity: "lead", values: $values) {
  __typename ... on Record { id } ... on ValidationError { message } } }"""


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """The page's axe violations of these impacts (axe is loaded into the page first, once)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(RUN)
    return [v for v in found if v["impact"] in impacts]


def report(where: str, violations: list[dict[str, Any]]) -> str:
    """The violations, one rule a paragraph with each element and what to fix, for the failure message."""
    lines = [f"axe found {len(violations)} serious or critical violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            summary = " ".join(str(node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


def assert_clean(page: Page, where: str) -> None:
    """No serious or critical axe violation on the page as it is now."""
    violations = axe_violations(page)
    assert not violations, report(where, violations)


def test_axe_finds_what_it_should(page: Page, server: Server) -> None:
    """The scan is real: on a page with a nameless button and grey-on-white text it reports both."""
    page.goto(server.url)
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    page.evaluate("""() => {
      const b = document.createElement('button'); document.querySelector('main').append(b);
      const p = document.createElement('p'); p.textContent = 'faint';
      p.style.color = '#cccccc'; p.style.background = '#ffffff'; document.querySelector('main').append(p);
    }""")
    ids = {v["id"] for v in axe_violations(page)}
    assert {"button-name", "color-contrast"} <= ids, ids


def test_sign_in_page(page: Page, server: Server) -> None:
    page.goto(server.url)
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    assert_clean(page, "the sign-in page")


def test_records_list(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    server.gql(CREATE, {"values": {"topic": "Axe on the list", "company": "Contoso"}})
    sign_in(page)
    page.get_by_label("Entity").select_option("lead")
    expect(page.locator("table.records tbody tr").first).to_be_visible()
    assert_clean(page, "the records list")


def test_record_page_with_flyout(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    made = server.gql(CREATE, {"values": {"topic": "Axe on the record", "company": "Contoso"}})["createRecord"]
    assert made["__typename"] == "Record", made
    sign_in(page, f"/records/{made['id']}")
    expect(page.get_by_role("heading", level=1, name="Axe on the record")).to_be_visible()
    flyout = page.get_by_role("region", name=re.compile("^Qualify"))
    expect(flyout).to_be_visible()
    expect(page.locator(".live")).to_have_attribute("data-state", "live")
    assert_clean(page, "a record page (active stage's flyout open)")
    # An upcoming stage's flyout too (read-only steps, another look).
    page.locator("ol.chevrons").get_by_role("button", name=re.compile(r"^Develop: stage")).click()
    expect(page.get_by_role("region", name=re.compile("^Develop"))).to_be_visible()
    assert_clean(page, "a record page (an upcoming stage's flyout open)")


def test_process_page(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    server.gql(CREATE, {"values": {"topic": "Axe on the funnel"}})
    sign_in(page, "/processes/lead_to_opportunity")
    expect(page.get_by_role("heading", level=1, name="Lead to Opportunity Sales Process")).to_be_visible()
    expect(page.locator(".diagram svg")).to_be_visible()
    expect(page.locator("table.funnel tbody tr").first).to_be_visible()
    assert_clean(page, "a process page")
