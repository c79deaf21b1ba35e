"""Completion over a real `bpf lsp`: keywords that fit the place, fields of the stage's entity, options in
conditions, roles, categories, entities after `on`, lookup fields after `via`, the installed packs'
actions and functions with their parameters, on text that is half typed (and doesn't parse)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from tests.lsp.conftest import FLOWS, Session, position

pytestmark = pytest.mark.asyncio


async def _complete(session: Session, name: str, text: str, marker: str, typed: str) -> dict[str, lsp.CompletionItem]:
    """Type ``typed`` right after ``marker`` in ``text`` and ask for completion at its end."""
    at = text.index(marker) + len(marker)
    new = text[:at] + typed + text[at:]
    session.change(name, new)
    result = await session.client.text_document_completion_async(lsp.CompletionParams(
        lsp.TextDocumentIdentifier(session.uri(name)), position(new, marker + typed, len(marker + typed))))
    assert isinstance(result, lsp.CompletionList)
    return {item.label: item for item in result.items}


@pytest_asyncio.fixture
async def flows(session: Session) -> Session:
    session.open("flows.bpf")
    await session.diagnostics_are("flows.bpf", [])
    return session


async def test_keywords_that_fit_inside_a_stage(flows: Session) -> None:
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n", "        ")
    assert {"step", "action", "create", "on", "roles", "gate", "sla"} <= set(items)
    assert not {"stage", "entity", "process", "order", "set"} & set(items)
    assert items["step"].kind == lsp.CompletionItemKind.Keyword


async def test_keywords_that_fit_in_a_process_and_after_a_type(flows: Session) -> None:
    items = await _complete(flows, "flows.bpf", FLOWS, "    roles agent, manager\n", "    ")
    assert {"stage", "if", "finish", "on", "order", "description"} <= set(items)
    assert "step" not in items
    model = flows.text("model.bpf")
    flows.open("model.bpf")
    items = await _complete(flows, "model.bpf", model, "    fixed: bool\n", "    score: integer ")
    assert {"required", "unique", "default", "min", "max", "restricted"} <= set(items)


async def test_fields_of_the_stages_entity_after_step(flows: Session) -> None:
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n", "        step ")
    assert {"title", "company", "urgency", "note", "fixed"} == set(items)
    assert items["note"].kind == lsp.CompletionItemKind.Field
    assert items["urgency"].detail == "choice(low, high)"


async def test_options_first_in_a_condition(flows: Session) -> None:
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n    }\n", "    if urgency = ")
    labels = list(items)
    assert labels[:2] == ["low", "high"]
    assert items["high"].kind == lsp.CompletionItemKind.EnumMember
    assert {"title", "note"} <= set(items)  # fields may be compared too
    items = await _complete(flows, "flows.bpf", FLOWS, "    if urgency = high", " and company.tier in [gold, ")
    assert {"gold", "silver"} <= set(items)


async def test_roles_categories_entities_and_lookups(flows: Session) -> None:
    assert {"agent", "manager", "admin"} <= set(await _complete(flows, "flows.bpf", FLOWS, "roles agent", ", "))
    items = await _complete(flows, "flows.bpf", FLOWS, "    stage fix", ' "Fix" category ')
    assert {"qualify", "develop", "approval", "resolve"} <= set(items)  # D365's, and the packs' added ones
    items = await _complete(flows, "flows.bpf", FLOWS, "process ticket_flow", ' "Ticket Flow" on ')
    assert {"ticket", "company"} <= set(items)
    assert items["ticket"].kind == lsp.CompletionItemKind.Class
    items = await _complete(flows, "flows.bpf", FLOWS, "    stage fix", ' "Fix" on ticket via ')
    assert set(items) == {"company"}  # the lookup fields of the stage's entity, nothing else


async def test_actions_and_functions_with_their_parameters(flows: Session) -> None:
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n",
                            "        on enter {\n            call ")
    assert {"bpf.notify", "bpf.webhook"} <= set(items)
    assert any(label.startswith("sales.") for label in items)  # the installed pack's actions
    notify = items["bpf.notify"]
    assert notify.detail == "bpf.notify(role: text, message: text)"
    assert notify.insert_text == "bpf.notify(role: ${1}, message: ${2})"
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n",
                            "        on enter {\n            call bpf.notify(")
    assert list(items)[:2] == ["role", "message"]
    assert items["role"].insert_text == "role: "
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n", "        gate ")
    assert items["days_between"].detail == "days_between(a: temporal, b: temporal) -> integer"
    assert {"title", "fixed", "created_at"} <= set(items)


async def test_members_after_a_dot(flows: Session) -> None:
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n", "        gate company.")
    assert {"name", "tier"} <= set(items)  # through the lookup, the company's fields
    items = await _complete(flows, "flows.bpf", FLOWS, "        step fixed required\n",
                            "        on exit {\n            call sales.")
    assert items and all("." not in label for label in items)
