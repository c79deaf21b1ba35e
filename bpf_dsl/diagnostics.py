"""Diagnostics: what the checker and the parser say about a source, and how it is shown.

A diagnostic renders as ``FILE:LINE:COL: error BPFnnn: message``, then the source
line, a caret under the column and, where one helps, a hint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bpf_dsl.nodes import Span


@dataclass(frozen=True, slots=True)
class Code:
    """A diagnostic code: its severity and what it means."""

    code: str
    severity: str
    title: str


_TABLE = [
    # Reading and parsing
    Code("BPF001", "error", "syntax error: the text does not fit the grammar here"),
    Code("BPF002", "error", "the file ends too early (an unclosed block or expression)"),
    Code("BPF003", "error", "unknown escape in a string"),
    Code("BPF004", "error", "the file is larger than the limit"),
    Code("BPF005", "error", "an expression or block nests too deeply"),
    Code("BPF006", "error", "an invalid date or datetime literal"),
    Code("BPF007", "error", "the file can't be read or is not UTF-8"),
    # Imports
    Code("BPF010", "error", "an imported file does not exist"),
    Code("BPF011", "error", "an imported plugin pack or module is not installed"),
    Code("BPF012", "error", "an import cycle"),
    # Names
    Code("BPF020", "error", "a duplicate declaration (role, entity, process or rule)"),
    Code("BPF021", "error", "an unknown entity"),
    Code("BPF022", "error", "an unknown field"),
    Code("BPF023", "error", "a duplicate field in an entity"),
    Code("BPF024", "error", "an unknown role"),
    Code("BPF025", "error", "`extend entity` of an entity declared nowhere"),
    Code("BPF026", "error", "a field named like a built-in column (id, created_at, updated_at, version, owner, "
                            "created_by), or a rule or hook that sets or changes one"),
    Code("BPF027", "error", "a duplicate stage name in a process"),
    Code("BPF028", "error", "a duplicate option in a choice"),
    Code("BPF029", "error", "a name in an expression that is neither a field nor an option"),
    # Types
    Code("BPF030", "error", "an unknown field type"),
    Code("BPF031", "error", "wrong arguments to a field type (choice without options, lookup without entity...)"),
    Code("BPF032", "error", "a default value that doesn't fit its field"),
    Code("BPF033", "error", "`min`/`max` on a type that takes none, or min above max"),
    Code("BPF034", "error", "values of types that can't be compared or combined"),
    Code("BPF035", "error", "a choice compared with an option it doesn't have"),
    Code("BPF036", "error", "a condition that is not yes/no, or arithmetic on a non-number"),
    Code("BPF037", "error", "an assigned value that doesn't fit its field"),
    Code("BPF038", "error", "a field modifier given twice"),
    Code("BPF039", "error", "an unknown function, or a function called with wrong arguments"),
    # Process flow
    Code("BPF040", "error", "`finish` that is not the last item of its block"),
    Code("BPF041", "error", "an unreachable stage"),
    Code("BPF042", "error", "a `via` field that isn't a lookup to an entity bound in the instance"),
    Code("BPF043", "error", "a stage on an entity with no bound record on some path"),
    Code("BPF044", "error", "a step whose field isn't on the stage's entity"),
    Code("BPF045", "error", "the same step twice in a stage"),
    Code("BPF046", "error", "a `create` block on a stage not entered through `via`"),
    Code("BPF047", "error", "a `create` value that doesn't fit its field, or a second `create` block"),
    Code("BPF048", "error", "an unknown stage category"),
    Code("BPF049", "error", "a hook event that doesn't exist here"),
    Code("BPF050", "error", "a process without stages"),
    Code("BPF051", "error", "the first stage on an entity other than the process's"),
    Code("BPF052", "error", "a process setting given twice, or an invalid setting value"),
    Code("BPF053", "error", "`set` on a field of an entity not bound in the instance"),
    Code("BPF054", "error", "the same hook event twice in one stage or process"),
    # Actions and functions
    Code("BPF060", "error", "an unknown plugin action"),
    Code("BPF061", "error", "an unknown, missing or repeated action argument"),
    Code("BPF062", "error", "an action argument of the wrong type"),
    Code("BPF063", "error", "an action step whose name is taken by another step of the stage"),
    # Round two: who may do what, gates, SLAs
    Code("BPF070", "error", "an `sla` that isn't a duration (`3d`, `4h`, `30m`, `1w`, `1d12h`)"),
    Code("BPF071", "error", "a stage's `roles` given twice"),
    Code("BPF072", "error", "a stage's `sla` given twice"),
    Code("BPF073", "error", "an `allow` verb other than create, read, update, delete, assign"),
    Code("BPF074", "error", "a stage's `roles` naming a role outside its process's `roles`"),
    Code("BPF075", "error", "`on overdue` on a stage without `sla`"),
    # Warnings
    Code("BPF090", "warning", "more than 30 stages in a process (D365's limit)"),
    Code("BPF091", "warning", "more than 30 steps in a stage (D365's limit)"),
    Code("BPF092", "warning", "more than 5 entities in a process (D365's limit)"),
    Code("BPF093", "warning", "more than 10 processes on an entity (D365's limit)"),
    Code("BPF094", "warning", "a condition reads a field that no earlier step asks for"),
    Code("BPF095", "warning", "a comparison with null is always false"),
    Code("BPF096", "warning", "a required step on a field that a rule always hides"),
    Code("BPF097", "warning", "an `if` arm that earlier arms cover, so it is never taken"),
    Code("BPF098", "warning", "a condition whose comparisons contradict each other (`x < 5 and x > 7`)"),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}


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
