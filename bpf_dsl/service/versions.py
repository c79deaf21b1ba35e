"""Definition versions: every version an instance may still run on, rebuilt from stored sources.

A changed .bpf file gives a process a new version (a hash of its meaning). The
sources of each version are stored when a server first runs it, so an instance
keeps the version it started on until ``bpf instances upgrade`` moves it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading

from bpf_dsl.checker import check_modules
from bpf_dsl.definition import ProcessDefinition, Program, compile_program
from bpf_dsl.parser import parse
from bpf_dsl.plugins import Registry
from bpf_dsl.storage import Storage, Tx

PROGRAM = "*"


def build(source: list[list[str]], registry: Registry) -> Program | None:
    """Compile stored sources again; None if they no longer check (a pack was removed)."""
    try:
        modules = [parse(text, path) for path, text in source]
        checked = check_modules(modules, registry)
    except Exception:
        return None
    if not checked.ok:
        return None
    program = compile_program(checked, registry)
    return dataclasses.replace(program, sources=tuple((path, text) for path, text in source))


def latest_program(tx: Tx, registry: Registry) -> Program | None:
    """The program a server last ran on this database."""
    source = tx.latest_definition_source(PROGRAM)
    return None if source is None else build(source, registry)


def stored_program(storage: Storage, registry: Registry) -> Program | None:
    """The program a server last ran on the database of ``storage`` (None: none stored, or it no longer checks)."""
    with storage.read() as tx:
        return latest_program(tx, registry)


class Versions:
    """The current program's processes, and older versions compiled on demand."""

    def __init__(self, program: Program, registry: Registry) -> None:
        self.program = program
        self.registry = registry
        self._cache: dict[tuple[str, str], ProcessDefinition | None] = {
            (p.name, p.version): p for p in program.processes.values()}
        self._lock = threading.Lock()

    def record_current(self, tx: Tx, now: dt.datetime) -> None:
        """Store the sources of every current version (once per version), and of the whole program.

        The whole program is kept under the process name ``*``: commands that take no
        .bpf paths (``bpf instances upgrade``, ``bpf import``) load the newest one.
        """
        source = [[path, text] for path, text in self.program.sources]
        if not source:
            return
        for p in self.program.processes.values():
            tx.save_definition(p.name, p.version, source, now)
        digest = hashlib.sha256(json.dumps(source).encode()).hexdigest()[:16]
        tx.save_definition(PROGRAM, digest, source, now)

    def cached(self, process: str, version: str) -> tuple[bool, ProcessDefinition | None]:
        """Whether the definition of ``process`` at ``version`` is known without a query, and it if so."""
        with self._lock:
            if (process, version) in self._cache:
                return True, self._cache[(process, version)]
        return False, None

    def get(self, tx: Tx, process: str, version: str) -> ProcessDefinition | None:
        """The definition of ``process`` at ``version``; None if it can't be rebuilt."""
        key = (process, version)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        source = tx.definition_source(process, version)
        found: ProcessDefinition | None = None
        if source is not None:
            program = build(source, self.registry)  # None: an old version that no longer builds can't run
            found = program.processes.get(process) if program is not None else None
        with self._lock:
            self._cache[key] = found
        return found
