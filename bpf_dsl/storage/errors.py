"""The door where the drivers' errors become bpf's, the way httpx maps transport errors.

Each backend's :class:`~bpf_dsl.storage.backend.Backend` names its driver's exception
classes and a translator into the :class:`~bpf_dsl.errors.StorageError` branch
(``ConflictError`` for a unique key taken, ``IntegrityError`` for another constraint,
``TransientError`` for busy/deadlock/serialization, ``UnavailableError`` for a database
that can't be reached or used). The storage translates at its door: every statement
(``SqlTx.q``), every transaction's begin, commit and rollback (``write()``/``read()``),
every connection it opens. The driver's exception stays as ``__cause__``; nothing above
storage catches a driver's exception or looks at an exception's class name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bpf_dsl.errors import StorageError
from bpf_dsl.storage.backend import Backend
from bpf_dsl.storage.base import Storage


@contextmanager
def translated(backend: Backend) -> Iterator[None]:
    """Run the block with ``backend``'s driver errors raised as StorageErrors (the driver's as ``__cause__``)."""
    try:
        yield
    except backend.driver_errors as err:
        raise backend.translate(err) from err


@contextmanager
def explained(storage: Storage) -> Iterator[None]:
    """A StorageError the driver caused, said in one line for a person (its class and cause kept).

    For the commands that open a database: "can't use sqlite:///x.db: the folder is not
    writable" says more than the driver's "attempt to write a readonly database".
    """
    try:
        yield
    except StorageError as err:
        cause = err.__cause__
        if not isinstance(cause, storage.backend.driver_errors):
            raise
        raise type(err)(storage.backend.explain(storage.url, cause)) from cause


def first_line(err: BaseException) -> str:
    """The first line of what a driver said (its class name if it said nothing)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
