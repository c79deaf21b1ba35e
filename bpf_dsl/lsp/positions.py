"""Where things are: the checker's spans (1-based lines, columns in characters) against LSP positions
(0-based lines, columns in the code units the client and server agreed on: UTF-16 unless told).

A line of plain ASCII counts the same in every encoding, so a line is only measured when it
holds a character outside ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types as lsp

from bpf_dsl.nodes import Span

UTF16 = "utf-16"
UTF8 = "utf-8"
UTF32 = "utf-32"


def _units(text: str, encoding: str) -> int:
    """How many code units ``text`` takes in ``encoding``."""
    if text.isascii() or encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Lines:
    """A text cut into lines once, to convert positions in both directions."""

    text: str
    encoding: str = UTF16

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lines", self.text.split("\n"))

    @property
    def lines(self) -> list[str]:
        """The lines, without their line breaks."""
        return self._lines  # type: ignore[attr-defined, no-any-return]

    def line(self, index: int) -> str:
        """Line ``index`` (0-based), empty past the end."""
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def position(self, line: int, column: int) -> lsp.Position:
        """The LSP position of a 1-based line and character column."""
        text = self.line(line - 1)
        return lsp.Position(max(0, line - 1), _units(text[:max(0, column - 1)], self.encoding))

    def range(self, span: Span) -> lsp.Range:
        """The LSP range of a span (an empty or backwards end becomes the start plus one character)."""
        start = self.position(span.line, span.column)
        end_line, end_column = span.end_line or span.line, span.end_column or span.column
        if (end_line, end_column) <= (span.line, span.column):
            end_line, end_column = span.line, span.column + 1
        return lsp.Range(start, self.position(end_line, end_column))

    def column(self, position: lsp.Position) -> int:
        """The 0-based character index of an LSP position in its line."""
        text = self.line(position.line)
        if text.isascii() or self.encoding == UTF32:
            return min(position.character, len(text))
        units = 0
        for i, ch in enumerate(text):
            if units >= position.character:
                return i
            units += _units(ch, self.encoding)
        return len(text)

    def offset(self, position: lsp.Position) -> int:
        """The index in the text of an LSP position."""
        lines = self.lines
        line = min(position.line, len(lines) - 1)
        start = sum(len(lines[i]) + 1 for i in range(line))
        return start + self.column(lsp.Position(line, position.character))

    def span_at(self, path: str, position: lsp.Position) -> tuple[int, int]:
        """The 1-based line and column of an LSP position (the checker's way of counting)."""
        del path
        return position.line + 1, self.column(position) + 1

    def end(self) -> lsp.Position:
        """The position after the last character."""
        return lsp.Position(len(self.lines) - 1, _units(self.lines[-1], self.encoding))


def contains(span: Span, line: int, column: int) -> bool:
    """Whether the 1-based ``line``/``column`` falls on ``span`` (its end included: a cursor after a name is on it)."""
    end_line, end_column = span.end_line or span.line, span.end_column or span.column + 1
    if (line, column) < (span.line, span.column):
        return False
    return (line, column) <= (end_line, end_column)
