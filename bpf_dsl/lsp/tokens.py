"""Semantic tokens: what each name is, from the index (an entity, a field, an option, a role...), so
that an editor colours `status` as a field in one place and an option in another, which no
TextMate grammar can tell. Keywords, strings, numbers and comments are the TextMate grammar's."""

from __future__ import annotations

from lsprotocol import types as lsp

from bpf_dsl import nodes as n
from bpf_dsl.lsp.index import ENTITY, FIELD, OPTION, PROCESS, ROLE, RULE, STAGE, FileIndex
from bpf_dsl.lsp.positions import Lines

TOKEN_TYPES = ["class", "property", "enumMember", "type", "function", "method", "parameter", "event", "namespace",
               "macro"]
TOKEN_MODIFIERS = ["declaration", "readonly", "defaultLibrary"]
LEGEND = lsp.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS)

_BY_SYMBOL = {ENTITY: "class", FIELD: "property", OPTION: "enumMember", ROLE: "macro", PROCESS: "function",
              STAGE: "method", RULE: "function"}
_BY_INFO = {"action": "function", "function": "function", "category": "enumMember", "column": "property",
            "argument": "parameter", "event": "event"}


def _bits(*names: str) -> int:
    return sum(1 << TOKEN_MODIFIERS.index(name) for name in names)


def semantic_tokens(index: FileIndex, lines: Lines) -> lsp.SemanticTokens:
    """The tokens of the file ``index`` was built from, encoded relative to each other (LSP's format)."""
    found: list[tuple[int, int, int, str, int]] = []  # line, column, length (1-based columns), type, modifiers
    for o in index.occurrences:
        found.append((o.span.line, o.span.column, o.span.end_column - o.span.column, _BY_SYMBOL[o.symbol.kind],
                      _bits("declaration") if o.declaration else 0))
    for info in index.infos:
        if info.kind == "event":
            continue  # its span is the keyword `on`, the TextMate grammar's to colour
        modifiers = 0
        if info.kind == "column":
            modifiers = _bits("readonly", "defaultLibrary")
        elif info.kind in ("action", "function") and (info.name.startswith("bpf.") or "." not in info.name):
            modifiers = _bits("defaultLibrary")
        length = info.span.end_column - info.span.column
        found.append((info.span.line, info.span.column, length, _BY_INFO[info.kind], modifiers))
    for d in index.module.declarations:
        if isinstance(d, n.Entity):
            for f in d.fields:
                found.append((f.type.span.line, f.type.span.column, len(f.type.name), "type", _bits("defaultLibrary")))
    found.sort()
    data: list[int] = []
    last_line, last_start, last_end = 0, 0, (0, 0)
    for line, column, length, kind, modifiers in found:
        if length <= 0 or (line, column) < last_end:
            continue  # overlapping tokens are not allowed: the first one wins
        start = lines.position(line, column)
        end = lines.position(line, column + length)
        if end.character <= start.character:
            continue
        delta_line = start.line - last_line
        delta_start = start.character - last_start if delta_line == 0 else start.character
        data += [delta_line, delta_start, end.character - start.character, TOKEN_TYPES.index(kind), modifiers]
        last_line, last_start, last_end = start.line, start.character, (line, column + length)
    return lsp.SemanticTokens(data=data)
