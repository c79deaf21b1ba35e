"""``bpf lsp``: the language server, over stdio (pygls). The only module that speaks the protocol's transport;
each feature is a thin handler over a module of its own.

Analysis runs in one worker thread, one at a time: a change waits :data:`DEBOUNCE` seconds for
the next keystroke, then the open documents' texts go to :meth:`Workspace.analyse`, whose
snapshot the requests then read. Requests that answer with positions in other files (go to
definition, references, rename) first wait for the analysis of the latest text; completion
doesn't wait (it reads the text as it is now, and the model of the last analysis).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from bpf_dsl._util import VERSION
from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.lsp import completion, diagnostics, fixes, hover, navigation, outline, tokens
from bpf_dsl.lsp.context import cursor_at
from bpf_dsl.lsp.index import FileIndex
from bpf_dsl.lsp.positions import UTF16, Lines
from bpf_dsl.lsp.project import normal
from bpf_dsl.lsp.workspace import Snapshot, Workspace

#: Seconds a change waits for the next one before the files are checked again (``BPF_LSP_DEBOUNCE``).
DEBOUNCE = float(os.environ.get("BPF_LSP_DEBOUNCE", "0.15"))

log = logging.getLogger(__name__)


class BpfLanguageServer(LanguageServer):
    """The server's state: the workspace model, its last snapshot, and the analysis being scheduled."""

    def __init__(self) -> None:
        super().__init__("bpf", VERSION, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.model: Workspace | None = None
        self.snapshot = Snapshot()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bpf-analysis")
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Future[None] | None = None
        self.dirty = False
        self.published: dict[str, tuple[object, ...]] = {}
        self.published_versions: dict[str, int | None] = {}

    # -- files and texts -------------------------------------------------------------------------
    @property
    def encoding(self) -> str:
        encoding = getattr(self.workspace, "position_encoding", None) if self._workspace_ready() else None
        return str(encoding or UTF16)

    def _workspace_ready(self) -> bool:
        try:
            return self.protocol.workspace is not None
        except Exception:  # pygls raises before initialize
            return False

    def open_texts(self) -> dict[str, str]:
        """The open .bpf documents, by path."""
        out: dict[str, str] = {}
        for uri, doc in self.workspace.text_documents.items():
            path = path_of(uri)
            if path is not None and path.endswith(".bpf"):
                out[path] = doc.source
        return out

    def version_of(self, path: str) -> int | None:
        doc = self.workspace.text_documents.get(uri_of(path))
        return None if doc is None else doc.version

    def lines(self, path: str) -> Lines:
        """The lines of ``path`` as the client has them (open document, else as analysed, else on disk)."""
        doc = self.workspace.text_documents.get(uri_of(path))
        if doc is not None:
            return Lines(doc.source, self.encoding)
        text = self.snapshot.text(path)
        if text is None:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
        return Lines(text, self.encoding)

    def editable(self, path: str) -> bool:
        """Whether a rename may change ``path``: a file of the workspace, or an open document."""
        roots = self.model.roots if self.model is not None else []
        return uri_of(path) in self.workspace.text_documents or any(
            path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    # -- analysis ----------------------------------------------------------------------------------
    def schedule(self, delay: float = DEBOUNCE) -> None:
        """Check again ``delay`` seconds from now, unless another change comes first."""
        self.dirty = True
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(delay, self.kick)

    def kick(self) -> None:
        """Start analysing, unless an analysis runs (it goes round again while changes are waiting)."""
        self.timer = None
        if self.task is None and self.dirty:
            self.task = asyncio.ensure_future(self.analyse())

    async def analyse(self) -> None:
        """Analyse the open texts in the worker thread, install each snapshot and publish, while changes wait."""
        loop = asyncio.get_running_loop()
        try:
            while self.dirty and self.model is not None:
                self.dirty = False
                texts = self.open_texts()
                versions = {path: self.version_of(path) for path in texts}
                try:
                    snapshot = await loop.run_in_executor(self.worker, self.model.analyse, texts)
                except Exception as exc:  # a bug must not stop the server: say it, and serve the last snapshot
                    log.exception("analysis failed")
                    self.window_log_message(lsp.LogMessageParams(lsp.MessageType.Error,
                                                                 f"bpf: the analysis failed: {exc!r}"))
                    continue
                self.snapshot = snapshot
                self.publish(snapshot, versions)
        finally:
            self.task = None

    async def fresh(self) -> Snapshot:
        """The snapshot of the latest texts: what a pending change is waiting for is done now."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.dirty and self.task is None:
            self.task = asyncio.ensure_future(self.analyse())
        while self.task is not None:
            await asyncio.shield(self.task)
        return self.snapshot

    def publish(self, snapshot: Snapshot, versions: dict[str, int | None]) -> None:
        """Send the diagnostics that changed (and those of every document edited since the last time)."""
        files = snapshot.published() | set(self.published)
        for path in sorted(files):
            found: list[Diagnostic] = list(snapshot.diagnostics.get(path, ()))
            mark = tuple((d.code, d.span, d.message, d.hint) for d in found)
            version = versions.get(path)
            if self.published.get(path) == mark and self.published_versions.get(path) == version:
                continue
            lines = self.lines(path)
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri_of(path), [diagnostics.to_lsp(d, lines) for d in found], version=version))
            if found or path in snapshot.published():
                self.published[path] = mark
                self.published_versions[path] = version
            else:
                self.published.pop(path, None)
                self.published_versions.pop(path, None)


def uri_of(path: str) -> str:
    """A file's URI."""
    return str(from_fs_path(path))


def path_of(uri: str) -> str | None:
    """A URI's file path (None for a URI that is no file)."""
    path = to_fs_path(uri)
    return normal(path) if path else None


def _where(server: BpfLanguageServer, doc: lsp.TextDocumentIdentifier,
           position: lsp.Position) -> tuple[str, int, int] | None:
    """The path and the 1-based line and column of a request's position."""
    path = path_of(doc.uri)
    if path is None:
        return None
    line, column = server.lines(path).span_at(path, position)
    return path, line, column


def build_server() -> BpfLanguageServer:
    """The server, every feature registered."""
    server = BpfLanguageServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: BpfLanguageServer, params: lsp.InitializeParams) -> None:
        roots = [to_fs_path(f.uri) for f in params.workspace_folders or ()]
        if not roots and params.root_uri:
            roots = [to_fs_path(params.root_uri)]
        ls.model = Workspace([r for r in roots if r])

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: BpfLanguageServer, params: lsp.InitializedParams) -> None:
        ls.dirty = True
        await ls.fresh()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: BpfLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule(0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: BpfLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule()

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: BpfLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.schedule(0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: BpfLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.schedule(0)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(ls: BpfLanguageServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        paths = [p for p in (path_of(c.uri) for c in params.changes) if p is not None]
        model = ls.model
        if model is not None:
            await asyncio.get_running_loop().run_in_executor(ls.worker, model.changed_on_disk, paths)
        ls.schedule(0)

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=[".", " ", "(", "[", ":", ","]))
    def complete(ls: BpfLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        path = path_of(params.text_document.uri)
        doc = ls.workspace.get_text_document(params.text_document.uri)
        if path is None:
            return lsp.CompletionList(is_incomplete=False, items=[])
        lines = Lines(doc.source, ls.encoding)
        cursor = cursor_at(doc.source, lines.offset(params.position))
        snippets = bool(_capability(ls, lambda c: c.text_document.completion.completion_item.snippet_support))  # type: ignore[union-attr]
        model = ls.model
        registry = model.registry if model is not None else None
        items = [] if registry is None else completion.complete(cursor, ls.snapshot.index(path), registry, snippets)
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def on_hover(ls: BpfLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        snapshot = await ls.fresh()
        where = _where(ls, params.text_document, params.position)
        if where is None or ls.model is None:
            return None
        path, line, column = where
        index = snapshot.index(path)
        if index is None:
            return None
        found = index.at(line, column)
        text: str | None = None
        span = None
        if found is not None:
            text, span = hover.symbol_text(index, found.symbol), found.span
        else:
            info = index.info_at(line, column)
            if info is not None:
                text, span = hover.info_text(info, ls.model.registry), info.span
        if text is None or span is None:
            return None
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text), ls.lines(path).range(span))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def on_definition(ls: BpfLanguageServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        snapshot = await ls.fresh()
        where = _where(ls, params.text_document, params.position)
        if where is None or ls.model is None:
            return []
        return navigation.definition(snapshot, ls.model.registry, *where, ls.lines, uri_of)

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    async def on_references(ls: BpfLanguageServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        snapshot = await ls.fresh()
        where = _where(ls, params.text_document, params.position)
        if where is None:
            return []
        return navigation.references(snapshot, *where, params.context.include_declaration, ls.lines, uri_of)

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    async def on_prepare_rename(ls: BpfLanguageServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
        snapshot = await ls.fresh()
        where = _where(ls, params.text_document, params.position)
        if where is None:
            return None
        found = navigation.prepare_rename(snapshot, *where, ls.lines, ls.editable)
        if isinstance(found, str):
            raise _RenameRefused(found)
        return found

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    async def on_rename(ls: BpfLanguageServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        snapshot = await ls.fresh()
        where = _where(ls, params.text_document, params.position)
        if where is None:
            return None
        found = navigation.rename(snapshot, *where, params.new_name, ls.lines, uri_of, ls.editable)
        if isinstance(found, str):
            raise _RenameRefused(found)
        return found

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def on_symbols(ls: BpfLanguageServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        snapshot = await ls.fresh()
        path = path_of(params.text_document.uri)
        index = snapshot.index(path) if path is not None else None
        if path is None or index is None:
            return []
        # The index is of the last text that parsed: its spans are measured on that text.
        return outline.document_symbols(index.module, Lines(_text_of(snapshot, path, index), ls.encoding))

    @server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
    def on_folding(ls: BpfLanguageServer, params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        return outline.folding_ranges(doc.source)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def on_format(ls: BpfLanguageServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
        from bpf_dsl.errors import SourceError
        from bpf_dsl.tools.formatter import format_text

        doc = ls.workspace.get_text_document(params.text_document.uri)
        path = path_of(params.text_document.uri) or "<document>"
        try:
            formatted = format_text(doc.source, path)
        except SourceError:
            return []  # a file that doesn't parse is left as it is; its diagnostics say why
        if formatted == doc.source:
            return []
        lines = Lines(doc.source, ls.encoding)
        return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), lines.end()), formatted)]

    @server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, tokens.LEGEND)
    async def on_tokens(ls: BpfLanguageServer, params: lsp.SemanticTokensParams) -> lsp.SemanticTokens:
        snapshot = await ls.fresh()
        path = path_of(params.text_document.uri)
        index = snapshot.index(path) if path is not None else None
        parsed = snapshot.parsed.get(path) if path is not None else None
        if path is None or index is None or parsed is None or parsed.module is not index.module:
            return lsp.SemanticTokens(data=[])  # no tokens for a text that doesn't parse: they would be misplaced
        return tokens.semantic_tokens(index, Lines(_text_of(snapshot, path, index), ls.encoding))

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def on_code_action(ls: BpfLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        path = path_of(params.text_document.uri)
        if path is None:
            return []
        lines = ls.lines(path)
        out: list[lsp.CodeAction] = []
        for d in params.context.diagnostics:
            out += fixes.fixes_for(d, params.text_document.uri, lines)
        return out

    return server


def _text_of(snapshot: Snapshot, path: str, index: FileIndex) -> str:
    """The text ``index`` was built from: the file's text as analysed when it parsed, else its last good text."""
    parsed = snapshot.parsed.get(path)
    if parsed is not None and parsed.module is index.module and parsed.text is not None:
        return parsed.text
    return index.text


class _RenameRefused(Exception):
    """A rename the server declines; pygls sends its message to the client as the request's error."""


def _capability(ls: BpfLanguageServer, read: Callable[[lsp.ClientCapabilities], Any]) -> Any:
    try:
        return read(ls.client_capabilities)
    except AttributeError:
        return None


def serve() -> int:
    """Run the server on stdin and stdout until the client says exit."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol's stream
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    build_server().start_io(sys.stdin.buffer, out)
    return 0
