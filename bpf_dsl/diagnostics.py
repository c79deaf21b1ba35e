"""Diagnostics: what the checker and the parser say about a source, and how it is shown.

A diagnostic renders as ``FILE:LINE:COL: error BPFnnn: message``, then the source
line, a caret under the column and, where one helps, a hint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .codes import CODES
from .nodes import Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a source file."""

    code: str
    message: str
    span: Span
    hint: str | None = None

    @property
    def severity(self) -> str:
        """``error`` or ``warning``, fixed by the code's entry in the table."""
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        """Whether this diagnostic makes ``bpf check`` fail."""
        return self.severity == "error"

    def headline(self) -> str:
        """The first line: ``FILE:LINE:COL: error BPFnnn: message``."""
        s = self.span
        return f"{s.file}:{s.line}:{s.column}: {self.severity} {self.code}: {self.message}"

    def render(self, source_text: str | None) -> str:
        """The headline, the source line with a caret, and the hint."""
        lines = [self.headline()]
        if source_text is not None:
            line = _line_of(source_text, self.span.line)
            if line is not None:
                shown = line.expandtabs(1)[:200]
                lines.append(f"    {shown}")
                width = 1
                if self.span.end_line == self.span.line and self.span.end_column > self.span.column:
                    width = self.span.end_column - self.span.column
                col = min(self.span.column, len(shown) + 1)
                lines.append("    " + " " * (col - 1) + "^" * max(1, min(width, len(shown) - col + 2)))
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        """The diagnostic as a JSON-ready dict (``bpf check --format json``)."""
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line or self.span.line,
            "end_column": self.span.end_column or self.span.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Diagnostic:
        """Rebuild a diagnostic from :meth:`as_json` (the check cache uses it)."""
        span = Span(
            str(data["file"]),
            int(str(data["line"])),
            int(str(data["column"])),
            int(str(data["end_line"])),
            int(str(data["end_column"])),
        )
        hint = data.get("hint")
        return cls(str(data["code"]), str(data["message"]), span, None if hint is None else str(hint))


class LineTable:
    """Where each line of a text starts, found once: then any line is a slice.

    Rendering scans a source once per file, not once per diagnostic, so a file with
    tens of thousands of errors is shown in linear time.
    """

    __slots__ = ("starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find, append = text.find, starts.append
        i = find("\n")
        while i >= 0:
            append(i + 1)
            i = find("\n", i + 1)
        self.starts = starts

    def line(self, number: int) -> str | None:
        """Line ``number`` (1-based), without its line break; None past the end."""
        if number < 1 or number > len(self.starts):
            return None
        start = self.starts[number - 1]
        end = self.starts[number] - 1 if number < len(self.starts) else len(self.text)
        return self.text[start:end]


# The tables of the texts rendered last. Callers render a file's diagnostics one by one
# (sorted by file), passing the same text object each time, so two entries keyed by identity
# suffice; few, because each keeps its text (up to the 8 MiB limit) alive.
_TABLES: dict[int, LineTable] = {}
_MAX_TABLES = 2
_TABLES_LOCK = threading.Lock()


def line_table(text: str) -> LineTable:
    """The :class:`LineTable` of ``text``, reused while the same text object is rendered."""
    with _TABLES_LOCK:
        table = _TABLES.get(id(text))
        if table is not None and table.text is text:
            return table
    table = LineTable(text)
    with _TABLES_LOCK:
        while len(_TABLES) >= _MAX_TABLES:
            del _TABLES[next(iter(_TABLES))]
        _TABLES[id(text)] = table
    return table


def _line_of(text: str, number: int) -> str | None:
    """Line ``number`` (1-based) of ``text``."""
    return line_table(text).line(number)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    """Order diagnostics by file, position and code."""
    return (d.span.file, d.span.line, d.span.column, d.code)
