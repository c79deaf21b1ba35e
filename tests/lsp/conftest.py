"""A real `bpf lsp` process per test, driven over stdio by pytest-lsp's client, on a small workspace:
a model, a flow that imports it, and a file that imports the installed sales pack.

No test measures time: waits are for what the server says (a publish that satisfies a
condition), bounded only so that a hang fails instead of blocking the run.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

WAIT = 60.0  # seconds before a wait gives up: a bound against hangs, never a measurement

MODEL = """\
role agent "Agent"
role manager "Manager"

entity company "Company" {
    name: text required
    tier: choice(gold "Gold", silver "Silver") default silver
}

entity ticket "Ticket" {
    title: text required
    company: lookup(company)
    urgency: choice(low "Low", high "High") default low
    note "Note": text max 500
    fixed: bool
}
"""

FLOWS = """\
import "model.bpf"

process ticket_flow "Ticket Flow" on ticket {
    roles agent, manager
    stage triage "Triage" category identify {
        step title required
        step urgency
    }
    if urgency = high {
        stage escalate "Escalate" category approval {
            step note required
            action "Tell the manager" call bpf.notify(role: "manager", message: "Urgent: " + title)
        }
    }
    stage fix "Fix" category resolve {
        step fixed required
    }
}

rule notes_for_urgent on ticket {
    if urgency = high and note is empty {
        recommend note "Say why it is urgent"
    }
}
"""

DEALS = """\
import sales

extend entity opportunity {
    region: choice(north "North", south "South")
}

rule regions on opportunity {
    if region = north {
        recommend region "The north is busy"
    }
}
"""

FILES = {"model.bpf": MODEL, "flows.bpf": FLOWS, "deals.bpf": DEALS}


@dataclass
class Session:
    """The client, the workspace folder, and what the tests do with them."""

    client: LanguageClient
    root: Path
    versions: dict[str, int] = field(default_factory=dict)

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def text(self, name: str) -> str:
        return (self.root / name).read_text(encoding="utf-8")

    def open(self, name: str, text: str | None = None) -> str:
        uri = self.uri(name)
        self.versions[name] = 1
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri, "bpf", 1, self.text(name) if text is None else text)))
        return uri

    def change(self, name: str, text: str) -> None:
        """Replace the whole document."""
        self.versions[name] = self.versions.get(name, 1) + 1
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=self.versions[name], uri=self.uri(name)),
            [lsp.TextDocumentContentChangeWholeDocument(text)]))

    def edit(self, name: str, start: lsp.Position, end: lsp.Position, new: str) -> None:
        """Change a range of the document (incremental sync, as editors send it)."""
        self.versions[name] = self.versions.get(name, 1) + 1
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=self.versions[name], uri=self.uri(name)),
            [lsp.TextDocumentContentChangePartial(range=lsp.Range(start, end), text=new)]))

    def codes(self, name: str) -> list[str]:
        return [str(d.code) for d in self.client.diagnostics.get(self.uri(name), [])]

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until ``condition`` holds (it is read again after every message from the server)."""
        async def poll() -> None:
            while not condition():
                await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(poll(), WAIT)
        except TimeoutError:
            raise AssertionError(f"the server never got to: {what}; diagnostics: {self.client.diagnostics}") from None

    async def diagnostics_are(self, name: str, codes: list[str]) -> list[lsp.Diagnostic]:
        await self.until(lambda: self.uri(name) in self.client.diagnostics and self.codes(name) == codes,
                         f"{name} with diagnostics {codes}")
        return list(self.client.diagnostics[self.uri(name)])


def position(text: str, marker: str, offset: int = 0) -> lsp.Position:
    """The position ``offset`` characters into the first occurrence of ``marker`` in ``text``."""
    at = text.index(marker) + offset
    line = text.count("\n", 0, at)
    return lsp.Position(line, at - (text.rfind("\n", 0, at) + 1))


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The workspace folder, written afresh for each test."""
    return _workspace(tmp_path)


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "bpf_dsl.cli", "lsp"],
    server_env={**os.environ, "BPF_LSP_DEBOUNCE": "0.05"},
))
async def client(lsp_client: LanguageClient, root: Path) -> AsyncIterator[None]:
    result = await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=root.as_uri(), workspace_folders=[lsp.WorkspaceFolder(root.as_uri(), "project")]))
    lsp_client.bpf_initialized = result  # type: ignore[attr-defined]  # the server's answer, for the tests
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def session(client: LanguageClient, root: Path) -> Session:
    """The client and its workspace."""
    return Session(client, root)
