"""The features of one document over a real `bpf lsp`: outline, folding, formatting (`bpf fmt`),
semantic tokens, and the quick fix of every "did you mean" hint."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp

from bpf_dsl.tools.formatter import format_text
from tests.lsp.conftest import FLOWS, MODEL, Session, position

pytestmark = pytest.mark.asyncio


def _doc(session: Session, name: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(session.uri(name))


async def test_the_outline_nests_stages_in_branches(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    found = await session.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        _doc(session, "flows.bpf")))
    assert found is not None
    symbols = [s for s in found if isinstance(s, lsp.DocumentSymbol)]
    assert [(s.name, s.kind) for s in symbols] == [("import model.bpf", lsp.SymbolKind.Module),
                                                   ("ticket_flow", lsp.SymbolKind.Function),
                                                   ("notes_for_urgent", lsp.SymbolKind.Interface)]
    flow = symbols[1]
    assert [c.name for c in flow.children or ()] == ["triage", "if urgency = high", "fix"]
    branch = (flow.children or ())[1]
    assert [c.name for c in branch.children or ()] == ["escalate"]
    assert flow.range.start.line == position(FLOWS, "process ticket_flow").line
    assert flow.range.end.line == position(FLOWS, "}\n\nrule").line
    assert (flow.children or ())[0].detail == "category identify on ticket"


async def test_folding_follows_the_braces_even_while_the_file_is_broken(session: Session) -> None:
    broken = FLOWS.replace("    stage fix", "    stgae fix")
    session.open("flows.bpf", broken)
    await session.diagnostics_are("flows.bpf", ["BPF001"])
    found = await session.client.text_document_folding_range_async(lsp.FoldingRangeParams(_doc(session, "flows.bpf")))
    assert found is not None
    starts = {r.start_line for r in found}
    for marker in ("process ticket_flow", "    stage triage", "    if urgency", "    stgae fix", "rule notes"):
        assert position(broken, marker).line in starts, marker


async def test_formatting_is_bpf_fmt(session: Session) -> None:
    messy = "role  agent\nentity   company {name:text required\n  tier : choice( gold ,silver)}\n"
    session.open("messy.bpf", messy)
    edits = await session.client.text_document_formatting_async(lsp.DocumentFormattingParams(
        _doc(session, "messy.bpf"), lsp.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert edits is not None and len(edits) == 1
    assert edits[0].range.start == lsp.Position(0, 0)
    assert edits[0].new_text == format_text(messy, "messy.bpf")
    # A formatted file gets no edit; a file that doesn't parse is left as it is.
    session.change("messy.bpf", format_text(messy, "messy.bpf"))
    again = await session.client.text_document_formatting_async(lsp.DocumentFormattingParams(
        _doc(session, "messy.bpf"), lsp.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert not again
    session.change("messy.bpf", "entity {")
    broken = await session.client.text_document_formatting_async(lsp.DocumentFormattingParams(
        _doc(session, "messy.bpf"), lsp.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert not broken


def _decode(data: list[int], legend: lsp.SemanticTokensLegend) -> list[tuple[int, int, int, str, set[str]]]:
    out = []
    line = start = 0
    for i in range(0, len(data), 5):
        dl, ds, length, kind, mods = data[i:i + 5]
        line += dl
        start = start + ds if dl == 0 else ds
        out.append((line, start, length, legend.token_types[kind],
                    {m for b, m in enumerate(legend.token_modifiers) if mods & (1 << b)}))
    return out


async def test_semantic_tokens_tell_fields_from_options(session: Session) -> None:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    found = await session.client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(
        _doc(session, "flows.bpf")))
    assert found is not None
    caps = session.client.bpf_initialized.capabilities  # type: ignore[attr-defined]
    assert caps is not None and caps.semantic_tokens_provider is not None
    legend = caps.semantic_tokens_provider.legend
    tokens = {(line, col): (length, kind, mods) for line, col, length, kind, mods in _decode(list(found.data), legend)}
    field = position(FLOWS, "urgency = high")
    option = position(FLOWS, "high {")
    stage = position(FLOWS, "escalate")
    entity = position(FLOWS, "ticket {")
    assert tokens[(field.line, field.character)][:2] == (7, "property")
    assert tokens[(option.line, option.character)][:2] == (4, "enumMember")
    assert tokens[(stage.line, stage.character)] == (8, "method", {"declaration"})
    assert tokens[(entity.line, entity.character)][:2] == (6, "class")


async def test_every_did_you_mean_hint_is_a_quick_fix(session: Session) -> None:
    typos = (FLOWS.replace("step note required", "step noet required")
             .replace('category approval', 'category aproval')
             .replace("roles agent, manager", "roles agent, manger")
             .replace("bpf.notify(role", "bpf.notfy(role")
             .replace("if urgency = high {", "if urgency = hihg {")
             .replace("    stage fix", "    stage fix_it"))
    session.open("flows.bpf", typos)
    # In text order: the role, the option, the category, the step's field, the action.
    found = await session.diagnostics_are("flows.bpf", ["BPF024", "BPF035", "BPF048", "BPF044", "BPF060"])
    fixed = typos
    for d in found:
        actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            _doc(session, "flows.bpf"), d.range, lsp.CodeActionContext([d])))
        assert actions, d.message
        [action] = [a for a in actions if isinstance(a, lsp.CodeAction) and a.is_preferred]
        assert action.kind == lsp.CodeActionKind.QuickFix
        assert action.edit is not None and action.edit.changes is not None
        [edit] = action.edit.changes[session.uri("flows.bpf")]
        fixed = _apply(fixed, edit)
    assert fixed == FLOWS.replace("    stage fix", "    stage fix_it")


async def test_quick_fixes_of_syntax_hints(session: Session) -> None:
    cases = [
        (MODEL.replace("fixed: bool", "fixed: bool requried"), "requried", "fixed: bool required"),
        (MODEL.replace("default silver", "default silver\n    // the tier"), "comment", "\n    # the tier"),
        (MODEL.replace("    fixed: bool", "    fixed: bool\n    opened: date default 2026-01-01"), "a date",
         'opened: date default date("2026-01-01")'),
        (MODEL.replace("text max 500", "text max 5,000"), "thousands", "text max 5000"),
    ]
    session.open("model.bpf")
    for broken, says, expected in cases:
        session.change("model.bpf", broken)
        await session.until(lambda says=says: session.codes("model.bpf") == ["BPF001"] and says in
                            session.client.diagnostics[session.uri("model.bpf")][0].message, says)
        [d] = session.client.diagnostics[session.uri("model.bpf")]
        actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            _doc(session, "model.bpf"), d.range, lsp.CodeActionContext([d])))
        assert actions, d.message
        action = actions[0]
        assert isinstance(action, lsp.CodeAction) and action.edit is not None and action.edit.changes is not None
        [edit] = action.edit.changes[session.uri("model.bpf")]
        assert expected in _apply(broken, edit), (d.message, edit)


def _apply(text: str, edit: lsp.TextEdit) -> str:
    lines = text.split("\n")
    r = edit.range
    assert r.start.line == r.end.line
    line = lines[r.start.line]
    lines[r.start.line] = line[:r.start.character] + edit.new_text + line[r.end.character:]
    return "\n".join(lines)
