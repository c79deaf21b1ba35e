"""The outline of a file (document symbols, from its last good parse) and its folding ranges (from its
braces and comments as they are now: folding works on a file that doesn't parse)."""

from __future__ import annotations

from lsprotocol import types as lsp

from bpf_dsl import nodes as n
from bpf_dsl.exprtext import expr_text
from bpf_dsl.lsp.positions import Lines

S = lsp.SymbolKind


def _block(name: str, detail: str | None, kind: lsp.SymbolKind, start: n.Span, end: n.Span, lines: Lines,
           children: list[lsp.DocumentSymbol] | None = None) -> lsp.DocumentSymbol:
    selection = lines.range(start)
    last = end if end != n.NO_SPAN else start
    whole = lsp.Range(lsp.Position(selection.start.line, 0), lines.range(last).end)
    return lsp.DocumentSymbol(name=name, detail=detail, kind=kind, range=whole, selection_range=selection,
                              children=children or None)


def _flow(items: tuple[n.FlowItem, ...], primary: str, lines: Lines) -> list[lsp.DocumentSymbol]:
    out: list[lsp.DocumentSymbol] = []
    for item in items:
        if isinstance(item, n.Stage):
            entity = item.entity or primary
            detail = " ".join(x for x in (item.category and f"category {item.category}", f"on {entity}") if x)
            steps = [_block(st.field, "step", S.Field, st.span, st.span, lines) if isinstance(st, n.DataStep)
                     else _block(st.label, f"action {st.call.dotted}", S.Method, st.span, st.span, lines)
                     for st in item.steps]
            out.append(_block(item.name, detail, S.Event, item.span, item.end, lines, steps))
        elif isinstance(item, n.Branch):
            for arm in item.arms:
                name = "else" if arm.condition is None else f"if {expr_text(arm.condition)}"
                if arm is not item.arms[0] and arm.condition is not None:
                    name = "else " + name
                out.append(_block(name[:80], None, S.Namespace, arm.span, arm.end, lines,
                                  _flow(arm.body, primary, lines)))
        else:
            out.append(_block("finish" + (f" {item.outcome}" if item.outcome else ""), None, S.Key, item.span,
                              item.span, lines))
    return out


def document_symbols(module: n.Module, lines: Lines) -> list[lsp.DocumentSymbol]:
    """Roles, entities with their fields, processes with their stages (branches nested), rules."""
    out: list[lsp.DocumentSymbol] = []
    for d in module.declarations:
        if isinstance(d, n.Role):
            out.append(_block(d.name, d.label, S.Constant, d.span, d.span, lines))
        elif isinstance(d, n.Entity):
            fields = [_block(f.name, str(f.type.name), S.Field, f.span, f.span, lines) for f in d.fields]
            out.append(_block(d.name, "extend entity" if d.extend else d.label, S.Class, d.span, d.end, lines, fields))
        elif isinstance(d, n.Process):
            out.append(_block(d.name, f"on {d.entity}", S.Function, d.span, d.end, lines,
                              _flow(d.flow, d.entity, lines)))
        elif isinstance(d, n.Rule):
            out.append(_block(d.name, f"on {d.entity}", S.Interface, d.span, d.end, lines))
        else:
            out.append(_block(f"import {d.target}", None, S.Module, d.span, d.span, lines))
    return out


def folding_ranges(text: str) -> list[lsp.FoldingRange]:
    """A range per block between braces spanning lines, and per run of two or more comment lines."""
    out: list[lsp.FoldingRange] = []
    stack: list[int] = []
    line = 0
    comment_start: int | None = None
    comment_last = -1
    i = 0
    size = len(text)
    while i < size:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == '"':
            j = i + 1
            while j < size and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            i = j + 1 if j < size and text[j] == '"' else j  # past the closing quote (a line break is read next)
            continue
        elif ch == "#":
            if comment_start is None or comment_last != line - 1:
                if comment_start is not None and comment_last > comment_start:
                    out.append(lsp.FoldingRange(comment_start, comment_last, kind=lsp.FoldingRangeKind.Comment))
                comment_start = line
            comment_last = line
            j = text.find("\n", i)
            i = size if j < 0 else j
            continue
        elif ch == "{":
            stack.append(line)
        elif ch == "}" and stack:
            start = stack.pop()
            if line > start:
                out.append(lsp.FoldingRange(start, line - 1 if line - 1 > start else line))
        i += 1
    if comment_start is not None and comment_last > comment_start:
        out.append(lsp.FoldingRange(comment_start, comment_last, kind=lsp.FoldingRangeKind.Comment))
    return sorted(out, key=lambda r: (r.start_line, r.end_line))
