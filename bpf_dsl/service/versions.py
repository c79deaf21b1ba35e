"""Definition versions: every version an instance may still run on, rebuilt from stored sources.

A changed .bpf file gives a process a new version (a hash of its meaning). The
sources of each version are stored when a server first runs it, so an instance
keeps the version it started on until ``bpf instances upgrade`` moves it.
"""

from __future__ import annotations

import datetime as dt
import threading

from ..checker import check_modules
from ..definition import ProcessDefinition, Program, compile_program
from ..parser import parse
from ..plugins import Registry
from ..storage import Tx


class Versions:
    """The current program's processes, and older versions compiled on demand."""

    def __init__(self, program: Program, registry: Registry) -> None:
        self.program = program
        self.registry = registry
        self._cache: dict[tuple[str, str], ProcessDefinition | None] = {
            (p.name, p.version): p for p in program.processes.values()}
        self._lock = threading.Lock()

    def record_current(self, tx: Tx, now: dt.datetime) -> None:
        """Store the sources of every current version (once per version)."""
        source = [[path, text] for path, text in self.program.sources]
        for p in self.program.processes.values():
            tx.save_definition(p.name, p.version, source, now)

    def get(self, tx: Tx, process: str, version: str) -> ProcessDefinition | None:
        """The definition of ``process`` at ``version``; None if it can't be rebuilt."""
        key = (process, version)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        source = tx.definition_source(process, version)
        found: ProcessDefinition | None = None
        if source is not None:
            try:
                modules = [parse(text, path) for path, text in source]
                checked = check_modules(modules, self.registry)
                if checked.ok:
                    found = compile_program(checked, self.registry).processes.get(process)
            except Exception:  # an old version that no longer builds (a pack removed) can't run
                found = None
        with self._lock:
            self._cache[key] = found
        return found
