"""The one exception tree of bpf_dsl.

::

    BpfError                      every error this package raises on purpose
    ├── SourceError               a .bpf text can't be used; carries Diagnostics
    │   └── BpfSyntaxError        the text does not parse (one diagnostic, with a caret)
    ├── ImportResolutionError     an ``import`` names a file or pack that isn't there
    ├── PluginError               an installed pack failed to load
    └── UsageError                a command was called wrongly (CLI exit 2)

Everything a user can cause is one of these; anything else is a bug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diagnostics import Diagnostic


class BpfError(Exception):
    """Base of every error raised on purpose by bpf_dsl."""


class SourceError(BpfError):
    """A .bpf source can't be used; ``diagnostics`` says where and why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0].headline() if diagnostics else "invalid source"
        more = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__(first + more)


class BpfSyntaxError(SourceError):
    """The text does not parse."""


class ImportResolutionError(BpfError):
    """An import can't be resolved."""


class PluginError(BpfError):
    """An installed plugin pack could not be loaded."""


class UsageError(BpfError):
    """A command-line invocation is wrong."""
