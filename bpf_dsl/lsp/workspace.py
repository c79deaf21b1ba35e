"""The workspace as the editor shows it: its files, their units, diagnostics and indexes, as immutable snapshots.

The server hands :meth:`Workspace.analyse` the open documents' texts; it answers with a
:class:`Snapshot` that requests read without locks while the next analysis runs (one analysis at
a time, in the server's worker thread). A file that doesn't parse keeps the index of its last
good text, so completion and hover go on working while a line is half typed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.lsp.index import FileIndex, Occurrence, Symbol, build_index, declared_symbols
from bpf_dsl.lsp.project import Parsed, Sources, Unit, bpf_files, check_unit, merge_diagnostics, normal
from bpf_dsl.plugins import Registry, default_registry


@dataclass(frozen=True)
class Snapshot:
    """One analysis of the workspace."""

    units: Mapping[str, Unit] = field(default_factory=dict)
    diagnostics: Mapping[str, list[Diagnostic]] = field(default_factory=dict)
    parsed: Mapping[str, Parsed] = field(default_factory=dict)
    indexes: Mapping[str, FileIndex] = field(default_factory=dict)
    #: Files whose text was read from the editor: their diagnostics are always published.
    open_files: frozenset[str] = frozenset()
    #: The installed packs' module files: read, indexed, never given diagnostics unless open.
    pack_files: frozenset[str] = frozenset()
    #: The roots (workspace files and open documents) whose unit was checked again by this analysis.
    rechecked: frozenset[str] = frozenset()

    def text(self, path: str) -> str | None:
        """The text of ``path`` as analysed (None for a file never read)."""
        parsed = self.parsed.get(path)
        return None if parsed is None else parsed.text

    def index(self, path: str) -> FileIndex | None:
        """The index of ``path``: its latest good parse's."""
        return self.indexes.get(path)

    def unit_of(self, path: str) -> Unit | None:
        """The unit rooted at ``path``, else one that reads it."""
        unit = self.units.get(path)
        if unit is not None:
            return unit
        return next((u for u in self.units.values() if path in u.files), None)

    def published(self) -> set[str]:
        """The files diagnostics are published for: every file a unit read, packs' only when open."""
        files = {f for u in self.units.values() for f in u.files} | set(self.diagnostics)
        return {f for f in files if f not in self.pack_files or f in self.open_files}

    def references(self, symbol: Symbol) -> list[Occurrence]:
        """Every occurrence of ``symbol`` in the workspace's indexed files, in file then text order."""
        found: list[Occurrence] = []
        for path in sorted(self.indexes):
            found += self.indexes[path].of(symbol)
        return found


class Workspace:
    """Files, caches and the last analysis; :meth:`analyse` makes the next one."""

    def __init__(self, roots: Iterable[str] = (), registry: Registry | None = None) -> None:
        self.registry = registry or default_registry()
        self.roots = [normal(r) for r in roots]
        self.sources = Sources()
        self.files: list[str] | None = None  # found by the first analysis (in the server's worker, not at start-up)
        self.units: dict[str, Unit] = {}
        self._indexes: dict[str, tuple[tuple[int, int], FileIndex]] = {}
        self.pack_files = frozenset(normal(str(m.path)) for m in self.registry.modules.values())

    def rescan(self) -> None:
        """Look for .bpf files below the roots again (files were created or deleted)."""
        self.files = bpf_files(self.roots)

    def changed_on_disk(self, paths: Iterable[str]) -> None:
        """Files the editor says changed on disk: read them again, and look for new or deleted files."""
        for path in paths:
            self.sources.forget(normal(path))
        self.rescan()

    def analyse(self, overlays: Mapping[str, str]) -> Snapshot:
        """Check what changed since the last analysis, with ``overlays`` the open documents' texts."""
        self.sources.set_overlays(overlays)
        if self.files is None:
            self.rescan()
        roots = dict.fromkeys([*(self.files or ()), *overlays])
        units: dict[str, Unit] = {}
        rechecked: set[str] = set()
        for root in roots:
            unit = check_unit(root, self.sources, self.registry, self.units.get(root))
            if unit is not self.units.get(root):
                rechecked.add(root)
            units[root] = unit
        self.units = units
        parsed: dict[str, Parsed] = {}
        for unit in units.values():
            for path in unit.files:
                found = self.sources.cached(path)
                if found is not None:
                    parsed[path] = found
        for root in roots:
            found = self.sources.cached(root)
            if found is not None:
                parsed.setdefault(root, found)
        indexes = self._index_all(units, parsed)
        diagnostics = merge_diagnostics(units.values(), lambda f: f not in self.pack_files or f in overlays)
        return Snapshot(units, diagnostics, parsed, indexes, frozenset(overlays), self.pack_files,
                        frozenset(rechecked))

    def _index_all(self, units: Mapping[str, Unit], parsed: Mapping[str, Parsed]) -> dict[str, FileIndex]:
        """An index per parsed file, from its own unit when it is a root (else the first unit that reads it);
        rebuilt only when the file or that unit changed."""
        owner: dict[str, Unit] = {}
        for unit in units.values():
            for path in unit.files:
                if path == unit.root or path not in owner:
                    owner[path] = unit
        out: dict[str, FileIndex] = {}
        kept: dict[str, tuple[tuple[int, int], FileIndex]] = {}
        symbols: dict[int, dict[tuple[str, str, str], Symbol]] = {}
        for path, unit in owner.items():
            found = parsed.get(path)
            if found is None or found.module is None or unit.check is None:
                continue
            stamp = (id(found.module), id(unit.check))
            old = self._indexes.get(path)
            if old is not None and old[0] == stamp:
                index = old[1]
            else:
                table = symbols.get(id(unit))
                if table is None:
                    table = symbols[id(unit)] = declared_symbols(unit.modules)
                index = build_index(path, found.module, unit.check, table, found.text or "")
            kept[path] = (stamp, index)
            out[path] = index
        for path, old in self._indexes.items():
            if path not in out and (path in parsed or os.path.exists(path)):
                out[path] = old[1]  # it doesn't parse now: its last good index goes on serving
                kept[path] = old
        self._indexes = kept
        return out
