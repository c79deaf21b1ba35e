"""Hover, go to definition, find references and rename over a real `bpf lsp`, across imports and into the
installed sales pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from bpf_dsl.plugins import default_registry
from tests.lsp.conftest import DEALS, FLOWS, MODEL, Session, position

pytestmark = pytest.mark.asyncio


def _doc(session: Session, name: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(session.uri(name))


async def _hover(session: Session, name: str, text: str, marker: str, offset: int = 1) -> str:
    found = await session.client.text_document_hover_async(lsp.HoverParams(_doc(session, name),
                                                                           position(text, marker, offset)))
    assert found is not None, marker
    assert isinstance(found.contents, lsp.MarkupContent)
    return found.contents.value


async def test_hover_says_what_a_name_is(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    field = await _hover(session, "flows.bpf", FLOWS, "step urgency", len("step u"))
    assert 'urgency "Urgency": choice(low, high) default low' in field
    assert "A field of `ticket`" in field and '`high` "High"' in field
    note = await _hover(session, "flows.bpf", FLOWS, "step note", len("step n"))
    assert 'note "Note": text max 500' in note
    stage = await _hover(session, "flows.bpf", FLOWS, "stage escalate", len("stage e"))
    assert 'stage escalate "Escalate" category approval on ticket' in stage
    assert "on `ticket`, category `approval`" in stage and "`note`" in stage
    action = await _hover(session, "flows.bpf", FLOWS, "bpf.notify", 5)
    assert "bpf.notify(role: text, message: text)" in action
    assert "notification" in action  # the action's description
    option = await _hover(session, "flows.bpf", FLOWS, "urgency = high", len("urgency = h"))
    assert 'high "High"' in option and "An option of `ticket.urgency`" in option
    category = await _hover(session, "flows.bpf", FLOWS, "category resolve", len("category r"))
    assert "D365" in category


async def test_go_to_a_definition_in_an_imported_file(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    found = await session.client.text_document_definition_async(lsp.DefinitionParams(
        _doc(session, "flows.bpf"), position(FLOWS, "step note", len("step no"))))
    assert isinstance(found, list)
    [where] = found
    assert where.uri == session.uri("model.bpf")
    start = position(MODEL, 'note "Note"')
    assert where.range == lsp.Range(start, lsp.Position(start.line, start.character + 4))
    found = await session.client.text_document_definition_async(lsp.DefinitionParams(
        _doc(session, "flows.bpf"), position(FLOWS, "on ticket", len("on t"))))
    assert isinstance(found, list) and found[0].uri == session.uri("model.bpf")
    assert found[0].range.start == position(MODEL, "ticket")


async def test_go_to_a_definition_in_the_installed_pack(session: Session) -> None:
    session.open("deals.bpf")
    await session.diagnostics_are("deals.bpf", [])
    found = await session.client.text_document_definition_async(lsp.DefinitionParams(
        _doc(session, "deals.bpf"), position(DEALS, "extend entity opportunity", len("extend entity o"))))
    assert isinstance(found, list) and len(found) == 1
    pack_file = Path(lsp_path(found[0].uri))
    # Wherever the pack declares it (it may import it from a module of its own), the line there declares it.
    assert pack_file.suffix == ".bpf" and pack_file.resolve() != (session.root / "deals.bpf").resolve()
    line = pack_file.read_text(encoding="utf-8").splitlines()[found[0].range.start.line]
    assert line.startswith("entity opportunity")
    assert str(default_registry().modules["sales"].path.parent) in str(pack_file.parent) or "bpf_" in str(pack_file)


def lsp_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


async def test_references_across_files(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    found = await session.client.text_document_references_async(_references(
        session, "flows.bpf", position(FLOWS, "step urgency", len("step u")), True))
    assert found is not None
    places = sorted((lsp_path(r.uri).rsplit("/", 1)[1], r.range.start.line) for r in found)
    lines = FLOWS.splitlines()
    used = sorted(("flows.bpf", i) for i, line in enumerate(lines) if "urgency" in line)
    assert places == sorted([("model.bpf", MODEL.splitlines().index(
        '    urgency: choice(low "Low", high "High") default low')), *used])
    without = await session.client.text_document_references_async(_references(
        session, "flows.bpf", position(FLOWS, "step urgency", len("step u")), False))
    assert without is not None and len(without) == len(found) - 1


async def test_references_of_a_role_include_a_notify_argument(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    found = await session.client.text_document_references_async(_references(
        session, "flows.bpf", position(FLOWS, "roles agent, manager", len("roles agent, m")), True))
    assert found is not None
    starts = {(lsp_path(r.uri).rsplit("/", 1)[1], r.range.start.line, r.range.start.character) for r in found}
    assert ("flows.bpf", *_pos(position(FLOWS, 'role: "manager"', len('role: "')))) in starts
    assert ("model.bpf", *_pos(position(MODEL, "manager"))) in starts


def _references(session: Session, name: str, at: lsp.Position, declaration: bool) -> lsp.ReferenceParams:
    return lsp.ReferenceParams(context=lsp.ReferenceContext(include_declaration=declaration),
                               text_document=_doc(session, name), position=at)


def _pos(p: lsp.Position) -> tuple[int, int]:
    return p.line, p.character


async def test_rename_across_files(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    at = position(FLOWS, "step urgency", len("step u"))
    ready = await session.client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
        _doc(session, "flows.bpf"), at))
    assert ready is not None
    edit = await session.client.text_document_rename_async(lsp.RenameParams(_doc(session, "flows.bpf"), at,
                                                                             "priority"))
    assert edit is not None and edit.changes is not None
    assert set(edit.changes) == {session.uri("model.bpf"), session.uri("flows.bpf")}
    renamed = {name: _apply(text, edit.changes[session.uri(name)]) for name, text in
               (("model.bpf", MODEL), ("flows.bpf", FLOWS))}
    assert "urgency" not in renamed["flows.bpf"] and "urgency" not in renamed["model.bpf"]
    assert "step priority" in renamed["flows.bpf"] and "if priority = high" in renamed["flows.bpf"]
    # The renamed files still check clean together.
    from bpf_dsl.check import check_text

    (session.root / "model.bpf").write_text(renamed["model.bpf"], encoding="utf-8")
    assert check_text(renamed["flows.bpf"], str(session.root / "flows.bpf")).diagnostics == []


async def test_rename_is_refused_for_a_packs_entity_and_a_bad_name(session: Session) -> None:
    session.open("deals.bpf")
    session.open("flows.bpf")
    await session.diagnostics_are("deals.bpf", [])
    with pytest.raises(JsonRpcException, match="installed pack"):
        await session.client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
            _doc(session, "deals.bpf"), position(DEALS, "entity opportunity", len("entity o"))))
    with pytest.raises(JsonRpcException, match="is not a name"):
        await session.client.text_document_rename_async(lsp.RenameParams(
            _doc(session, "flows.bpf"), position(FLOWS, "step urgency", len("step u")), "2fast"))


def _apply(text: str, edits: list[lsp.TextEdit] | tuple[lsp.TextEdit, ...]) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        assert e.range.start.line == e.range.end.line
        line = lines[e.range.start.line]
        lines[e.range.start.line] = line[:e.range.start.character] + e.new_text + line[e.range.end.character:]
    return "\n".join(lines)
