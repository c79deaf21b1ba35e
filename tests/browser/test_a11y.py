"""Accessibility: every interactive control has an accessible name (read from Chromium's own
accessibility tree), the landmarks are there, and the whole sales walk works with the keyboard
alone (Tab, Shift+Tab, Enter, Space, arrow keys; not one mouse click)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

from playwright.sync_api import Page, expect

from .conftest import Server
from .test_walk import active_stage_is, chevron

INTERACTIVE = {"button", "link", "textbox", "searchbox", "combobox", "checkbox", "switch", "radio", "slider",
               "spinbutton", "listbox", "menuitem", "tab", "option", "DisclosureTriangle"}

# The accessible name of the focused element, close enough to the spec's computation for
# finding controls by name while tabbing (the exact names are checked through the AX tree).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return '';
  const visible = (node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll('[aria-hidden="true"]').forEach((hidden) => hidden.remove());
    return copy.textContent;
  };
  const byId = (id) => document.getElementById(id);
  const text = (ids) => ids.split(/\\s+/).map((id) => (byId(id) ? visible(byId(id)) : '')).join(' ');
  const name = el.getAttribute('aria-label')
    || (el.getAttribute('aria-labelledby') && text(el.getAttribute('aria-labelledby')))
    || (el.labels && el.labels.length ? [...el.labels].map(visible).join(' ') : '')
    || visible(el) || '';
  return name.replace(/\\s+/g, ' ').trim();
}"""


def unnamed_controls(page: Page) -> list[str]:
    """Interactive nodes of Chromium's accessibility tree that have no accessible name."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes: list[dict[str, Any]] = cdp.send("Accessibility.getFullAXTree")["nodes"]
        bad = []
        for node in nodes:
            role = (node.get("role") or {}).get("value")
            if node.get("ignored") or role not in INTERACTIVE:
                continue
            name = str((node.get("name") or {}).get("value") or "").strip()
            if name:
                continue
            described = cdp.send("DOM.describeNode", {"backendNodeId": node["backendDOMNodeId"]})["node"]
            attributes = described.get("attributes", [])
            bad.append(f"{role}: <{described['nodeName'].lower()} {' '.join(attributes)}>")
        return bad
    finally:
        cdp.detach()


def tab_to(page: Page, name: str, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the focused control's name starts with `name`."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        current = page.evaluate(FOCUSED)
        if current.startswith(name):
            return
        seen.append(current)
    raise AssertionError(f"never reached {name!r} with the keyboard; went through {seen}")


def focused_name(page: Page) -> str:
    return str(page.evaluate(FOCUSED))


def saved(page: Page) -> None:
    expect(page.locator("#bar-saving")).to_have_text("Saved")


def test_every_control_has_a_name(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    page.goto(server.url)
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    assert unnamed_controls(page) == []

    sign_in(page)
    expect(page.get_by_role("banner")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("search", name="Filter records")).to_be_visible()
    expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    assert unnamed_controls(page) == []

    page.get_by_role("button", name="New Lead").click()
    dialog = page.get_by_role("dialog", name="New Lead")
    expect(dialog).to_be_visible()
    assert unnamed_controls(page) == []
    dialog.get_by_role("button", name="Create Lead").click()
    expect(dialog.locator('[data-field="topic"] .field-error')).to_contain_text("required")
    expect(dialog.get_by_label("Topic")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Topic").fill("Named controls")
    dialog.get_by_label("Budget Amount").fill("2000000")
    dialog.get_by_label("Purchase Timeframe").select_option("immediate")
    dialog.get_by_role("button", name="Create Lead").click()
    expect(page.get_by_role("heading", level=1, name="Named controls")).to_be_visible()

    # The record page: the bar (with aria-current on the active stage), the flyout, the form.
    active_stage_is(page, "Qualify")
    expect(page.get_by_role("region", name=re.compile("^Qualify"))).to_be_visible()
    assert unnamed_controls(page) == []
    page.get_by_role("button", name="Switch Process", exact=True).click()
    expect(page.get_by_label("Process", exact=True)).to_be_visible()
    assert unnamed_controls(page) == []
    page.get_by_role("button", name="Cancel").click()

    # A lookup picker's popup: a listbox of named options.
    picker = page.locator("#flyout").get_by_role("combobox", name="Existing Account?")
    picker.focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("listbox")).to_be_visible()
    assert unnamed_controls(page) == []
    page.keyboard.press("Escape")

    # A completed stage, read-only with Set Active.
    page.get_by_role("button", name="Next Stage", exact=True).click()
    active_stage_is(page, "Confirm Interest")
    chevron(page, "Qualify").click()
    expect(page.get_by_role("button", name="Set Active", exact=True)).to_be_visible()
    assert unnamed_controls(page) == []

    page.goto(f"{server.url}/processes/lead_to_opportunity")
    expect(page.get_by_role("heading", level=1, name="Lead to Opportunity Sales Process")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^Diagram of"))).to_be_visible()
    assert unnamed_controls(page) == []


def test_keyboard_only_walk(page: Page, server: Server) -> None:
    keys = page.keyboard
    page.goto(server.url)
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    keys.type(server.token)
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Records")).to_be_focused()

    # The entity picker by type-ahead, then New Lead; Enter in the form creates it.
    tab_to(page, "Entity")
    keys.type("Lead")
    tab_to(page, "New Lead", back=True)
    keys.press("Enter")
    expect(page.get_by_role("dialog", name="New Lead")).to_be_visible()
    expect(page.get_by_role("dialog").get_by_label("Topic")).to_be_focused()
    keys.type("Keyboard deal")
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Keyboard deal")).to_be_focused()
    active_stage_is(page, "Qualify")

    # Qualify's steps: a select by type-ahead, a switch with Space.
    tab_to(page, "Purchase Timeframe")
    keys.type("Immediate")
    saved(page)
    tab_to(page, "Identify Decision Maker")
    keys.press("Space")
    saved(page)
    expect(page.get_by_role("switch", name="Identify Decision Maker")).to_be_checked()

    # The gate, in words; then the missing step.
    tab_to(page, "Next Stage")
    keys.press("Enter")
    expect(page.locator("#flyout-error")).to_contain_text("Estimated Budget")
    tab_to(page, "Estimated Budget", back=True)
    keys.type("1500000")
    keys.press("Tab")
    saved(page)
    expect(chevron(page, "Confirm Interest")).to_be_visible()
    tab_to(page, "Next Stage")
    keys.press("Enter")
    active_stage_is(page, "Confirm Interest")
    expect(page.get_by_role("button", name="Next Stage", exact=True)).to_be_focused()
    keys.press("Enter")
    active_stage_is(page, "Develop")

    # Develop, on the opportunity.
    tab_to(page, "Customer Need", back=True)
    keys.type("Cheaper vans")
    keys.press("Tab")
    saved(page)

    # Arrow keys along the chevrons to a completed stage; Enter opens it; Set Active goes back.
    tab_to(page, "Develop: stage", back=True)
    keys.press("ArrowLeft")
    keys.press("ArrowLeft")
    assert focused_name(page).startswith("Qualify: stage")
    keys.press("Enter")
    expect(page.locator("#flyout-title")).to_contain_text("Completed")
    tab_to(page, "Set Active")
    keys.press("Enter")
    active_stage_is(page, "Qualify")

    # Forward again (the branch re-evaluated), back with Previous Stage, forward again.
    tab_to(page, "Next Stage")
    keys.press("Enter")
    active_stage_is(page, "Confirm Interest")
    keys.press("Enter")
    active_stage_is(page, "Develop")
    tab_to(page, "Previous Stage", back=True)
    keys.press("Enter")
    active_stage_is(page, "Confirm Interest")
    tab_to(page, "Next Stage")
    keys.press("Enter")
    active_stage_is(page, "Develop")
    keys.press("Enter")
    active_stage_is(page, "Propose")

    tab_to(page, "Develop Proposal", back=True)
    keys.press("Space")
    saved(page)
    tab_to(page, "Next Stage")
    keys.press("Enter")
    active_stage_is(page, "Close")

    # A date by keyboard (month, day, year in an en-US browser; tabbing forward lands on the
    # month), then Finish.
    tab_to(page, "Close: stage", back=True)
    tab_to(page, "Confirm Decision Date")
    keys.type("06282030")
    keys.press("Tab")
    saved(page)
    tab_to(page, "Finish")
    keys.press("Enter")
    expect(page.locator(".bar-sub")).to_contain_text("Finished")

    # Another lead: abandon, then reactivate.
    tab_to(page, "Records", back=True)
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Records")).to_be_focused()
    tab_to(page, "New Lead")
    keys.press("Enter")
    keys.type("Keyboard spare")
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Keyboard spare")).to_be_focused()
    tab_to(page, "Abandon")
    keys.press("Enter")
    # Abandon asks first, with the focus on No: Shift+Tab to "Yes, abandon".
    expect(page.get_by_role("button", name="No", exact=True)).to_be_focused()
    keys.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, abandon")).to_be_focused()
    keys.press("Enter")
    expect(page.locator(".bar-sub")).to_contain_text("Abandoned")
    tab_to(page, "Reactivate", back=True)
    keys.press("Enter")
    expect(page.locator(".bar-sub")).to_contain_text("Active")


# The contrast of what the focus ring and an input's border are drawn in against what is behind them
# (WCAG 2.2 1.4.11 and 2.4.13's 3:1), from the computed styles of the focused element.
CONTRAST = """([el, what]) => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const opaque = (text) => { const c = rgb(text); return c.length === 3 || (c.length === 4 && c[3] === 1); };
  const behind = (node) => {  // the first opaque background at or above `node`
    for (let n = node; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      if (opaque(bg)) return rgb(bg);
    }
    return [255, 255, 255];
  };
  const style = getComputedStyle(el);
  if (what === 'outline') {
    if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2) {
      return { error: `no outline: ${style.outline}` };
    }
    return { ratio: ratio(rgb(style.outlineColor), behind(el.parentElement)), ring: style.outlineColor };
  }
  if (what === 'inset') {  // a ring drawn inside the element (the chevrons, clipped to their shape)
    const ring = /(rgba?\\([^)]*\\))[^,]*inset/.exec(style.boxShadow);
    if (!ring) return { error: `no inset ring: ${style.boxShadow}` };
    return { ratio: ratio(rgb(ring[1]), behind(el)), ring: ring[1] };
  }
  const border = rgb(style.borderTopColor);
  const least = Math.min(ratio(border, behind(el)), ratio(border, behind(el.parentElement)));
  return { ratio: least, ring: style.borderTopColor };
}"""


def contrast(page: Page, what: str) -> float:
    """The contrast of the focused element's focus ring (`outline`, `inset`) or border (`border`) with what is
    behind it."""
    found = page.evaluate(f"() => ({CONTRAST})([document.activeElement, {what!r}])")
    assert "error" not in found, found
    return float(found["ratio"])


def test_focus_rings_and_input_borders_contrast(page: Page, server: Server, sign_in: Callable[..., None]) -> None:
    sign_in(page)
    page.get_by_role("button", name="New Lead").click()
    dialog = page.get_by_role("dialog", name="New Lead")
    dialog.get_by_label("Topic").fill("Contrast check")
    dialog.get_by_role("button", name="Create Lead").click()
    expect(page.get_by_role("heading", level=1, name="Contrast check")).to_be_visible()
    active_stage_is(page, "Qualify")

    # An input on white: its border, and the focus ring around it.
    tab_to(page, "Estimated Budget")
    assert contrast(page, "border") >= 3
    assert contrast(page, "outline") >= 3
    # A button on white.
    tab_to(page, "Next Stage")
    assert contrast(page, "outline") >= 3
    # The header's dark band (a ring the light page's colour would not show on).
    tab_to(page, "Sign out", back=True, limit=120)
    assert contrast(page, "outline") >= 3

    # Chevrons draw their ring inside: on the active (filled) stage and on an upcoming one, opened.
    tab_to(page, "Qualify: stage")
    assert contrast(page, "inset") >= 3
    chevron(page, "Develop").click()
    expect(chevron(page, "Develop")).to_have_attribute("aria-expanded", "true")
    tab_to(page, "Develop: stage", back=True)
    assert contrast(page, "inset") >= 3
