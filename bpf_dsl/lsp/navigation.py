"""Go to definition, find references and rename, across the files of the workspace and installed packs.

A name's symbol is where it is declared (:mod:`.index`), so the references of an entity declared in
``model.bpf`` are those in every file whose unit reads ``model.bpf``, and nowhere else. Renaming
changes every occurrence, the declaration included; a symbol declared in an installed pack (or
an option, whose name is a stored value) is not renamed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from lsprotocol import types as lsp

from bpf_dsl.lsp.index import OPTION, Occurrence, Symbol
from bpf_dsl.lsp.positions import Lines
from bpf_dsl.lsp.workspace import Snapshot
from bpf_dsl.nodes import Span
from bpf_dsl.plugins import Registry

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LinesOf = Callable[[str], Lines]  # the lines of a file, in the session's position encoding


def occurrence_at(snapshot: Snapshot, path: str, line: int, column: int) -> Occurrence | None:
    """The occurrence under a 1-based position of ``path``."""
    index = snapshot.index(path)
    return None if index is None else index.at(line, column)


def location(span: Span, lines_of: LinesOf, uri_of: Callable[[str], str]) -> lsp.Location:
    """A span as an LSP location."""
    return lsp.Location(uri_of(span.file), lines_of(span.file).range(span))


def definition(snapshot: Snapshot, registry: Registry, path: str, line: int, column: int,
               lines_of: LinesOf, uri_of: Callable[[str], str]) -> list[lsp.Location]:
    """Where the name under the cursor is declared; for an action or a function, its Python source."""
    found = occurrence_at(snapshot, path, line, column)
    if found is not None:
        return [location(found.symbol.span, lines_of, uri_of)]
    index = snapshot.index(path)
    info = index.info_at(line, column) if index is not None else None
    if info is None or info.kind not in ("action", "function"):
        return []
    spec = registry.actions.get(info.name) if info.kind == "action" else registry.functions.get(info.name)
    impl = getattr(spec, "run", None) if info.kind == "action" else getattr(spec, "impl", None)
    try:
        source = inspect.getsourcefile(impl) if impl is not None else None
        first = inspect.getsourcelines(impl)[1] if impl is not None else 0
    except (OSError, TypeError):
        return []
    if source is None:
        return []
    position = lsp.Position(max(0, first - 1), 0)
    return [lsp.Location(uri_of(source), lsp.Range(position, position))]


def references(snapshot: Snapshot, path: str, line: int, column: int, include_declaration: bool,
               lines_of: LinesOf, uri_of: Callable[[str], str]) -> list[lsp.Location]:
    """Every use of the name under the cursor (and its declaration, if asked)."""
    found = occurrence_at(snapshot, path, line, column)
    if found is None:
        return []
    return [location(o.span, lines_of, uri_of) for o in snapshot.references(found.symbol)
            if include_declaration or not o.declaration]


def why_not_renamed(snapshot: Snapshot, symbol: Symbol, editable: Callable[[str], bool]) -> str | None:
    """Why ``symbol`` can't be renamed (None: it can)."""
    if symbol.kind == OPTION:
        return "an option's name is the value stored in records: rename it with a data migration, not here"
    if symbol.file in snapshot.pack_files or not editable(symbol.file):
        return f"`{symbol.name}` is declared in an installed pack, which this workspace doesn't edit"
    for o in snapshot.references(symbol):
        if o.span.file in snapshot.pack_files or not editable(o.span.file):
            return f"`{symbol.name}` is used in {o.span.file}, outside this workspace"
    return None


def prepare_rename(snapshot: Snapshot, path: str, line: int, column: int, lines_of: LinesOf,
                   editable: Callable[[str], bool]) -> lsp.Range | str:
    """The range to rename under the cursor, or why there is none."""
    found = occurrence_at(snapshot, path, line, column)
    if found is None:
        return "no entity, field, role, process or stage here"
    reason = why_not_renamed(snapshot, found.symbol, editable)
    if reason is not None:
        return reason
    return lines_of(path).range(found.span)


def rename(snapshot: Snapshot, path: str, line: int, column: int, new_name: str, lines_of: LinesOf,
           uri_of: Callable[[str], str], editable: Callable[[str], bool]) -> lsp.WorkspaceEdit | str:
    """Every occurrence of the name under the cursor, renamed; or why it can't be."""
    if not NAME.fullmatch(new_name):
        return f"`{new_name}` is not a name: letters, digits and `_`, not starting with a digit"
    found = occurrence_at(snapshot, path, line, column)
    if found is None:
        return "no entity, field, role, process or stage here"
    reason = why_not_renamed(snapshot, found.symbol, editable)
    if reason is not None:
        return reason
    changes: dict[str, list[lsp.TextEdit]] = {}
    seen: set[Span] = set()
    for o in snapshot.references(found.symbol):
        if o.span in seen:
            continue
        seen.add(o.span)
        changes.setdefault(uri_of(o.span.file), []).append(lsp.TextEdit(lines_of(o.span.file).range(o.span),
                                                                          new_name))
    return lsp.WorkspaceEdit(changes=changes)
