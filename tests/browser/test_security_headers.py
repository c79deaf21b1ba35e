"""The page works under its Content-Security-Policy: no violation on the records list, a record, a process.

The server sends a policy without ``'unsafe-inline'`` (server/bpf_server/headers.py): an inline
script or a style attribute written into the markup would be refused, and Chromium says so on
the console. The process page's funnel bars set their widths from script, through the CSSOM.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server


def test_the_page_runs_under_its_content_security_policy(page: Page, server: Server,
                                                          sign_in: Callable[..., None]) -> None:
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    made = server.gql('mutation { createRecord(entity: "lead", values: {topic: "Policy check"}) '
                      "{ ... on Record { id } } }")
    response = page.goto(server.url + "/")
    assert response is not None and "script-src 'self';" in response.headers["content-security-policy"]
    sign_in(page, f"/records/{made['createRecord']['id']}")
    expect(page.get_by_role("heading", level=1, name="Policy check")).to_be_visible()
    page.goto(f"{server.url}/processes/lead_to_opportunity")
    expect(page.locator(".diagram svg")).to_be_visible()
    expect(page.locator("table.funnel")).to_contain_text("Qualify")
    widths = page.locator(".funnel-bar span").evaluate_all("spans => spans.map((s) => s.style.width)")
    assert widths and all(w.endswith("%") for w in widths), widths
    assert not refused, refused
