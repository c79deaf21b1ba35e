"""What a record page costs the network (docs/web.md, "Assets and round trips"): its files arrive gzipped
and are not fetched again on a reload; its first render takes at most two GraphQL requests with nothing
kept (the metadata, then the record with its bar, form and lookups' records) and one with the metadata
kept; the metadata is read once per tab, and again only when the token, the roles or the program change.

"First render" is counted by the page itself: the view marks `bpf:drawn` (Performance API) when its first
content is on screen, and `bpf:route` when it starts; the requests counted are the browser's resource
entries for /graphql that started before the mark (the live catch-up read after subscribing comes later).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, Request, Route, expect

from .conftest import Server, token_for

CREATE = """mutation($e: String!, $v: JSON!) { createRecord(entity: $e, values: $v) {
  __typename ... on Record { id } } }"""

FIRST_RENDER = """(fromRoute) => {
  const mark = (name) => performance.getEntriesByName(name, 'mark').pop();
  const drawn = mark('bpf:drawn');
  const from = fromRoute ? mark('bpf:route').startTime : 0;
  return performance.getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname === '/graphql' && e.startTime >= from && e.startTime <= drawn.startTime)
    .length;
}"""


def create(server: Server, entity: str, values: dict[str, Any]) -> str:
    made = server.gql(CREATE, {"e": entity, "v": values})["createRecord"]
    assert made["__typename"] == "Record", made
    return str(made["id"])


class Operations:
    """The names of the GraphQL operations the page sends (`query Meta`, `query RecordPage`, ...)."""

    def __init__(self, page: Page) -> None:
        self.names: list[str] = []
        page.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/graphql"):
            query = json.loads(request.post_data or "{}").get("query", "")
            found = re.match(r"\s*(?:query|mutation)\s+(\w+)", query)
            self.names.append(found.group(1) if found else "?")

    def since(self, start: int) -> list[str]:
        return self.names[start:]


def live(page: Page, title: str) -> None:
    """The record page is drawn and live (its catch-up read after subscribing is done)."""
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    expect(page.locator(".live")).to_have_attribute("data-state", "live")


def first_render(page: Page, *, from_route: bool = False) -> int:
    """The GraphQL requests started before the view's first content was on screen."""
    return int(page.evaluate(FIRST_RENDER, from_route))


def test_a_record_page_in_at_most_two_requests_and_metadata_read_once(page: Page, server: Server,
                                                                     sign_in: Callable[..., None]) -> None:
    account = create(server, "account", {"name": "Requests Northwind"})
    lead = create(server, "lead", {"topic": "Requests lead", "existing_account": account})
    create(server, "lead", {"topic": "Requests other lead", "existing_account": account})
    ops = Operations(page)

    # Nothing kept: signing in on a deep link reads the metadata, then the page (record, bar, form, lookups).
    sign_in(page, f"/records/{lead}")
    live(page, "Requests lead")
    assert first_render(page) <= 2
    assert ops.names[:2] == ["Meta", "RecordPage"], ops.names
    # The lookup shows its record's title, read in the same request: no request per lookup.
    expect(page.locator("#field-rec-existing_account")).to_have_value("Requests Northwind")
    assert "Titles" not in ops.names and "T" not in ops.names, ops.names

    # A reload: the metadata is kept for the tab, so one request draws the page.
    seen = len(ops.names)
    page.reload()
    live(page, "Requests lead")
    assert first_render(page) == 1
    assert ops.since(seen)[0] == "RecordPage" and "Meta" not in ops.since(seen), ops.since(seen)

    # Another record, reached inside the page: one request, and no metadata read again.
    seen = len(ops.names)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Lead").click()
    page.get_by_role("link", name="Requests other lead").click()
    live(page, "Requests other lead")
    assert first_render(page, from_route=True) == 1
    assert "Meta" not in ops.since(seen), ops.since(seen)
    expect(page.locator("#field-rec-existing_account")).to_have_value("Requests Northwind")


def test_the_files_arrive_gzipped_and_are_kept(page: Page, server: Server) -> None:
    answers: list[tuple[str, dict[str, str]]] = []
    page.on("response", lambda r: answers.append((r.url, r.headers)) if "/static/" in r.url else None)
    page.goto(server.url + "/")
    page.get_by_label("Token", exact=True).wait_for()
    files = [(url, headers) for url, headers in answers if url.endswith((".js", ".css"))]
    assert len(files) >= 10, [url for url, _ in answers]
    for url, headers in files:
        assert headers.get("content-encoding") == "gzip", url
        assert "immutable" in headers.get("cache-control", ""), url
    sizes = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/static/') && /\\.(js|css)$/.test(e.name))
        .map((e) => [e.name, e.encodedBodySize, e.decodedBodySize])""")
    assert sizes and all(0 < encoded < decoded for _, encoded, decoded in sizes), sizes

    # A reload asks again for the page itself (a 304 while unchanged), never for its files.
    page.reload()
    page.get_by_label("Token", exact=True).wait_for()
    fetched = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/static/') && e.transferSize > 0).map((e) => e.name)""")
    assert fetched == [], fetched


def test_the_metadata_is_read_again_for_another_token(page: Page, server: Server,
                                                      sign_in: Callable[..., None]) -> None:
    lead = create(server, "lead", {"topic": "Requests token change"})
    ops = Operations(page)
    sign_in(page, f"/records/{lead}")
    live(page, "Requests token change")
    expect(page.locator(".who-name")).to_have_text("ann")

    page.get_by_role("button", name="Sign out").click()
    bob = token_for(server, "bob", ["salesperson"])
    seen = len(ops.names)
    page.get_by_label("Token", exact=True).fill(bob.token)
    page.get_by_role("button", name="Sign in").click()
    live(page, "Requests token change")
    assert ops.since(seen)[0] == "Meta", ops.since(seen)
    expect(page.locator(".who-name")).to_have_text("bob")
    expect(page.locator(".who-roles")).to_have_text("salesperson")


def test_kept_metadata_of_other_roles_or_another_program_is_read_again(page: Page, server: Server,
                                                                       sign_in: Callable[..., None]) -> None:
    lead = create(server, "lead", {"topic": "Requests stale metadata"})
    ops = Operations(page)
    sign_in(page, f"/records/{lead}")
    live(page, "Requests stale metadata")

    # Kept under other roles (the user's roles changed since): the page's own answer says who I am now.
    page.evaluate("""() => {
      const kept = JSON.parse(sessionStorage.getItem('bpf.meta'));
      kept.data.me.roles = ['somebody_else'];
      sessionStorage.setItem('bpf.meta', JSON.stringify(kept));
    }""")
    seen = len(ops.names)
    page.reload()
    live(page, "Requests stale metadata")
    expect(page.locator(".who-roles")).to_have_text("agent, sales_manager, salesperson")
    assert ops.since(seen)[:2] == ["RecordPage", "Meta"], ops.since(seen)

    # Kept under another program (the server was restarted on new .bpf files): not used at all.
    page.evaluate("""() => {
      const kept = JSON.parse(sessionStorage.getItem('bpf.meta'));
      kept.program = 'an-older-program';
      sessionStorage.setItem('bpf.meta', JSON.stringify(kept));
    }""")
    seen = len(ops.names)
    page.reload()
    live(page, "Requests stale metadata")
    assert ops.since(seen)[0] == "Meta", ops.since(seen)

    # The server's program changes while the tab is open: its answers say so, and the metadata is read again.
    def newer_program(route: Route) -> None:
        fetched = route.fetch()
        route.fulfill(response=fetched, headers={**fetched.headers, "bpf-program": "a-newer-program"})

    page.route("**/graphql", newer_program)
    seen = len(ops.names)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    expect(page.get_by_role("heading", level=1, name="Records")).to_be_visible()
    expect(page.get_by_role("link", name="Requests stale metadata")).to_be_visible()
    page.wait_for_function("() => JSON.parse(sessionStorage.getItem('bpf.meta')).program === 'a-newer-program'")
    assert "Meta" in ops.since(seen), ops.since(seen)
    page.unroute("**/graphql")
