"""The one exception tree of bpf.

::

    BpfError                      every error bpf raises on purpose; anything else is a bug
    ├── SourceError               a .bpf text can't be used; carries Diagnostics
    │   └── BpfSyntaxError        the text does not parse (one diagnostic, with a caret)
    ├── ImportResolutionError     an ``import`` names a file or pack that isn't there
    ├── PluginError               an installed pack failed to load
    │   └── SampleError           a pack's sample records can't be created as it says
    ├── ActionFailed              a plugin action refuses: the move fails with CANCELLED
    ├── UsageError                a command was called wrongly (CLI exit 2)
    ├── ImportFileError           a file given to ``bpf import`` can't be used at all
    ├── WriteError                a file can't be written (a full disk, a read-only folder)
    │   └── OutputError           the standard output can't be written
    ├── ListenError               the server can't listen where it was asked to
    └── StorageError              the database can't do what was asked
        ├── IntegrityError        a constraint refused the write
        │   └── ConflictError     a unique key is taken already (another row has that id)
        ├── TransientError        try again: the database was busy, or chose this
        │                         transaction as a deadlock or serialization victim
        └── UnavailableError      the database can't be reached or used (down, lost
                                  connection, a file that is not a database)

The storage package translates the drivers' errors (sqlite3, psycopg) into the
StorageError branch at its door (``bpf_dsl.storage.errors``), the way httpx maps
transport errors: nothing above storage catches a driver's exception or looks at
an exception's class name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpf_dsl.diagnostics import Diagnostic


class BpfError(Exception):
    """Base of every error raised on purpose by bpf."""


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


class SampleError(PluginError):
    """A sample record that could not be created or moved as its pack says (``strict`` mode)."""


class ActionFailed(BpfError):
    """Raised by a plugin action to refuse: the move fails with CANCELLED and this message."""


class UsageError(BpfError):
    """A command-line invocation is wrong."""


class ImportFileError(BpfError):
    """The file to import can't be used at all (nothing of it is imported)."""


class WriteError(BpfError):
    """A file can't be written (a full disk, a read-only folder)."""


class OutputError(WriteError):
    """The standard output can't be written."""


class ListenError(BpfError):
    """The server can't listen where it was asked to (a busy port, an unknown host)."""


class StorageError(BpfError):
    """The database failed in a way the caller can report."""


class IntegrityError(StorageError):
    """A constraint of the schema refused the write (a foreign key, a check, a missing value)."""


class ConflictError(IntegrityError):
    """A unique key is taken already: another row has that id (or that unique value)."""


class TransientError(StorageError):
    """The database asks for the transaction to be tried again (busy, deadlock, serialization)."""


class UnavailableError(StorageError):
    """The database can't be reached or used: it is down, the connection was lost, the file is not a database."""
