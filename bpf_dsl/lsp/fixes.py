"""Quick fixes: each diagnostic whose hint says what was meant becomes an edit that writes it.

- "did you mean `X`?" (an unknown field, entity, role, option, category, action, keyword...): the
  name under the diagnostic becomes `X`; in a dotted name, the part that was misspelt;
- the syntax messages that say what to write instead: `elif` → `else if`, `//` → `#`, a bare
  date → `date("...")`, `$1,000` → `1000`, a keyword glued to a name (`elseif`) → two words;
- "declare it with `role X`" (an unknown role): a `role X` line at the top of the file.
"""

from __future__ import annotations

import difflib
import re

from lsprotocol import types as lsp

from bpf_dsl.lsp.diagnostics import hint_of, message_of
from bpf_dsl.lsp.positions import Lines

_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
_WRITE = re.compile(r"write `([^`]+)`")
_DECLARE_ROLE = re.compile(r"declare it with `role ([A-Za-z_][A-Za-z0-9_]*)`")


def _text(lines: Lines, r: lsp.Range) -> str:
    if r.start.line != r.end.line:
        return ""
    line = lines.line(r.start.line)
    start = lines.column(r.start)
    return line[start:lines.column(r.end)]


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _replacement(written: str, line: str, first: int, meant: str) -> tuple[int, int, str]:
    """What ``meant`` replaces in the text under a diagnostic (``written``, at ``first`` of ``line``): a whole
    dotted name the diagnostic points into, the inside of a string, the misspelt part of a dotted name, or
    all of it. (start, end, replacement), in characters from ``first``."""
    if "." in meant and "." not in written:
        m = _DOTTED.match(line, first)
        if m is not None:
            return 0, m.end() - first, meant
    if len(written) >= 2 and written[0] == written[-1] == '"':
        return 1, len(written) - 1, meant
    if "." in written and "." not in meant:
        parts = written.split(".")
        best = max(range(len(parts)), key=lambda i: difflib.SequenceMatcher(None, parts[i], meant).ratio())
        start = sum(len(p) + 1 for p in parts[:best])
        return start, start + len(parts[best]), meant
    return 0, len(written), meant


def _edit(uri: str, lines: Lines, r: lsp.Range, start: int, end: int, new: str) -> lsp.WorkspaceEdit:
    first = lines.column(r.start) + 1
    a = lines.position(r.start.line + 1, first + start)
    b = lines.position(r.start.line + 1, first + end)
    return lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(lsp.Range(a, b), new)]})


def _action(title: str, d: lsp.Diagnostic, edit: lsp.WorkspaceEdit, preferred: bool = True) -> lsp.CodeAction:
    return lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[d], edit=edit,
                          is_preferred=preferred)


def fixes_for(d: lsp.Diagnostic, uri: str, lines: Lines) -> list[lsp.CodeAction]:
    """The quick fixes of one diagnostic this server published."""
    if d.source != "bpf":
        return []
    hint = hint_of(d) or ""
    message = message_of(d)
    written = _text(lines, d.range)
    out: list[lsp.CodeAction] = []
    meant = _DID_YOU_MEAN.search(hint)
    if meant is not None and written:
        start, end, new = _replacement(written, lines.line(d.range.start.line), lines.column(d.range.start),
                                       meant.group(1))
        line = lines.line(d.range.start.line)
        first = lines.column(d.range.start)
        old = line[first + start:first + end]
        if old != new:
            out.append(_action(f"Change `{old}` to `{new}`", d, _edit(uri, lines, d.range, start, end, new)))
    elif message.endswith("is written `else if`") and written:
        out.append(_action("Write `else if`", d, _edit(uri, lines, d.range, 0, len(written), "else if")))
    elif "is not a comment: comments start with `#`" in message and written:
        out.append(_action("Write the comment with `#`", d, _edit(uri, lines, d.range, 0, len(written), "#")))
    elif "is not a value: a date" in message or "is not a value: a datetime" in message:
        kind = "datetime" if "a datetime" in message else "date"
        out.append(_action(f"Write `{kind}(\"{written}\")`", d,
                           _edit(uri, lines, d.range, 0, len(written), f'{kind}("{written}")')))
    elif "is not a number: numbers are written without" in message:
        plain = _WRITE.search(hint)
        if plain is not None:
            number = plain.group(1).split()[-1]
            out.append(_action(f"Write `{number}`", d, _edit(uri, lines, d.range, 0, len(written), number)))
    role = _DECLARE_ROLE.search(hint)
    if role is not None:
        top = lsp.Position(0, 0)
        out.append(_action(f"Declare `role {role.group(1)}`", d, lsp.WorkspaceEdit(
            changes={uri: [lsp.TextEdit(lsp.Range(top, top), f"role {role.group(1)}\n")]}), preferred=not out))
    return out
