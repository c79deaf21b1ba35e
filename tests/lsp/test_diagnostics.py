"""Diagnostics over a real `bpf lsp`: on open, after each change (debounced), across imports, with the
checker's codes, ranges and hints; edits that break a file and edits that mend it."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp

from tests.lsp.conftest import FLOWS, MODEL, Session, position

pytestmark = pytest.mark.asyncio


async def test_the_workspace_is_checked_when_the_server_starts(session: Session) -> None:
    # Nothing is open: every file of the workspace (and what its imports reach) gets its diagnostics.
    for name in ("model.bpf", "flows.bpf", "deals.bpf"):
        assert await session.diagnostics_are(name, []) == []


async def test_a_broken_file_shows_the_checkers_code_range_and_hint(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    broken = FLOWS.replace("step note required", "step note_text required")
    session.change("flows.bpf", broken)
    [d] = await session.diagnostics_are("flows.bpf", ["BPF044"])
    assert d.severity == lsp.DiagnosticSeverity.Error and d.source == "bpf"
    start = position(broken, "note_text")
    assert d.range == lsp.Range(start, lsp.Position(start.line, start.character + len("note_text")))
    assert "is not a field of `ticket`" in d.message
    assert "hint: did you mean `note`?" in d.message


async def test_an_edit_that_breaks_then_mends_a_file(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    # Typed as an editor sends it: a range replaced (incremental sync).
    at = position(FLOWS, "step urgency", len("step "))
    session.edit("flows.bpf", at, lsp.Position(at.line, at.character + 1), "")  # `urgency` → `rgency`
    # The step is unknown, and the condition after it now reads a field no step asks for.
    await session.diagnostics_are("flows.bpf", ["BPF044", "BPF094"])
    session.edit("flows.bpf", at, at, "u")
    await session.diagnostics_are("flows.bpf", [])


async def test_a_syntax_error_while_typing_and_its_repair(session: Session) -> None:
    session.open("flows.bpf")
    half = FLOWS.replace("    stage fix", "    stgae fix")
    session.change("flows.bpf", half)
    [d] = await session.diagnostics_are("flows.bpf", ["BPF001"])
    assert "did you mean `stage`?" in d.message
    assert d.range.start == position(half, "stgae fix")
    unclosed = FLOWS[: FLOWS.index("rule notes_for_urgent")] + "rule notes_for_urgent on ticket {\n    hide note\n"
    session.change("flows.bpf", unclosed)
    [d] = await session.diagnostics_are("flows.bpf", ["BPF002"])
    assert d.range.start == position(unclosed, "{\n    hide note")  # the `{` left open, not the end of the file
    session.change("flows.bpf", FLOWS)
    await session.diagnostics_are("flows.bpf", [])


async def test_a_change_to_an_imported_file_reaches_the_files_that_import_it(session: Session) -> None:
    session.open("model.bpf")
    await session.diagnostics_are("flows.bpf", [])
    session.change("model.bpf", MODEL.replace('    note "Note": text max 500\n', ""))
    # flows.bpf was not touched: its unit reads model.bpf, so it is checked again.
    found = await session.diagnostics_are("flows.bpf", ["BPF044", "BPF029", "BPF022"])
    assert all("note" in d.message for d in found)
    await session.diagnostics_are("model.bpf", [])
    session.change("model.bpf", MODEL)
    await session.diagnostics_are("flows.bpf", [])


async def test_a_duplicate_across_two_imported_files_shows_where_both_are_read(session: Session) -> None:
    (session.root / "other.bpf").write_text('entity company "Another" {\n    name: text\n}\n', encoding="utf-8")
    session.open("both.bpf", 'import "model.bpf"\nimport "other.bpf"\n')
    [d] = await session.diagnostics_are("other.bpf", ["BPF020"])
    assert "declared twice" in d.message
    await session.diagnostics_are("model.bpf", [])


async def test_a_missing_import_then_the_file_appears(session: Session) -> None:
    session.open("extra.bpf", 'import "later.bpf"\n')
    [d] = await session.diagnostics_are("extra.bpf", ["BPF010"])
    assert d.range.start == lsp.Position(0, 7)
    session.open("later.bpf", "role later\n")
    await session.diagnostics_are("extra.bpf", [])


async def test_the_installed_pack_is_read_but_gets_no_diagnostics(session: Session) -> None:
    session.open("deals.bpf")
    await session.diagnostics_are("deals.bpf", [])
    session.change("deals.bpf", DEALS_TYPO)
    [d] = await session.diagnostics_are("deals.bpf", ["BPF035"])
    assert "did you mean `north`?" in d.message
    assert not [uri for uri in session.client.diagnostics if "bpf_sales" in uri and session.client.diagnostics[uri]]


DEALS_TYPO = """\
import sales

extend entity opportunity {
    region: choice(north "North", south "South")
}

rule regions on opportunity {
    if region = nort {
        recommend region "The north is busy"
    }
}
"""
