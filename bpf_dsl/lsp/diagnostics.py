"""The checker's diagnostics as the editor shows them: the code, the range, the message and the hint.

The hint goes on a line of its own under the message (LSP has no field for it) and, unchanged,
into the diagnostic's ``data``, where the quick fixes read it back.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.lsp.positions import Lines

SOURCE = "bpf"


def to_lsp(d: Diagnostic, lines: Lines) -> lsp.Diagnostic:
    """One diagnostic for the editor."""
    message = d.message if not d.hint else f"{d.message}\nhint: {d.hint}"
    severity = lsp.DiagnosticSeverity.Error if d.is_error else lsp.DiagnosticSeverity.Warning
    return lsp.Diagnostic(range=lines.range(d.span), message=message, severity=severity, code=d.code, source=SOURCE,
                          data={"hint": d.hint, "message": d.message})


def hint_of(d: lsp.Diagnostic) -> str | None:
    """The hint of a diagnostic this server published (read back from its data or its message)."""
    if isinstance(d.data, dict) and isinstance(d.data.get("hint"), str):
        return str(d.data["hint"])
    _, _, hint = d.message.partition("\nhint: ")
    return hint or None


def message_of(d: lsp.Diagnostic) -> str:
    """The message of a diagnostic this server published, without its hint."""
    if isinstance(d.data, dict) and isinstance(d.data.get("message"), str):
        return str(d.data["message"])
    return d.message.partition("\nhint: ")[0]
