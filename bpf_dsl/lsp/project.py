"""The files an editor works on, checked the way ``bpf check FILE`` checks them, and only again when they change.

Every .bpf file of the workspace (and every file open in the editor) is the root of a *unit*: the
file with everything its imports reach, checked together as ``bpf check FILE`` would. A file's
diagnostics are those of every unit it belongs to (a duplicate entity in two imported files shows
only in the unit of the file that imports both).

What makes a change cheap (bench/lsp.py measures it):

- a file is parsed again only when its text changes (an open document's text, else the file's
  modification time and size on disk);
- a unit is checked again only when one of the files it read is parsed again (or an import it
  missed appears): its *key* is the identity of each parsed file it read.

Paths are absolute and normalised; they are also the names the diagnostics' spans carry, so a
diagnostic finds its file without a table. Imports follow the rules of :mod:`bpf_dsl.loader`
(relative files, installed packs by module name, cycles, depth), read through the caches here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bpf_dsl.check import _NOISE_AFTER_LOAD_ERRORS  # the same quieting as `bpf check`, not a copy of it
from bpf_dsl.checker import CheckResult, check_modules
from bpf_dsl.diagnostics import Diagnostic, sort_key
from bpf_dsl.errors import SourceError
from bpf_dsl.loader import MAX_IMPORT_DEPTH, not_utf8
from bpf_dsl.nodes import Import, Module, Span
from bpf_dsl.parser import parse
from bpf_dsl.plugins import Registry

#: Folders never searched for .bpf files: tools' caches, environments, dependencies.
SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox",
                             ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", "site-packages"})


def normal(path: str) -> str:
    """The one name of a file: absolute, normalised (not resolved: the editor's path is the file's name)."""
    return os.path.normpath(os.path.abspath(path))


@dataclass(frozen=True, eq=False)
class Parsed:
    """One file as read and parsed: its module, or the diagnostics of why there is none."""

    path: str
    text: str | None
    module: Module | None
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, eq=False)
class Unit:
    """A root file and what its imports reach, checked together."""

    root: str
    files: tuple[str, ...]  # every file read, imports first, the root last
    modules: tuple[Module, ...]
    diagnostics: tuple[Diagnostic, ...]
    check: CheckResult | None
    key: tuple[object, ...]
    imports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file -> files it imports


def _read(path: str) -> Parsed:
    """A file from disk, parsed (its diagnostics if it can't be read, decoded or parsed)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Parsed(path, None, None, (Diagnostic("BPF007", f"can't read `{path}`: {exc.strerror or exc}",
                                                    Span(path, 1, 1, 1, 1)),))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Parsed(path, None, None, (not_utf8(path, data, exc),))
    return parse_text(path, text)


def parse_text(path: str, text: str) -> Parsed:
    """``text`` parsed as the file ``path``."""
    try:
        return Parsed(path, text, parse(text, path))
    except SourceError as err:
        return Parsed(path, text, None, tuple(err.diagnostics))


class Sources:
    """Texts of files: the editor's open documents first, else the disk; each parsed once per text.

    Not thread-safe: one analysis at a time uses it (the server runs them one after another).
    """

    def __init__(self) -> None:
        self.overlays: dict[str, str] = {}
        self._parsed: dict[str, Parsed] = {}
        self._stamps: dict[str, tuple[int, int]] = {}

    def set_overlays(self, overlays: Mapping[str, str]) -> None:
        """The open documents' texts (a document closed falls back to its file)."""
        self.overlays = dict(overlays)

    def get(self, path: str) -> Parsed | None:
        """``path`` parsed, or None when no document is open there and no file exists."""
        text = self.overlays.get(path)
        cached = self._parsed.get(path)
        if text is not None:
            self._stamps.pop(path, None)  # closed again, the document's file is read afresh
            if cached is not None and cached.text == text:
                return cached
            found = parse_text(path, text)
        else:
            try:
                st = os.stat(path)
            except OSError:
                self._parsed.pop(path, None)
                self._stamps.pop(path, None)
                return None
            stamp = (st.st_mtime_ns, st.st_size)
            if cached is not None and self._stamps.get(path) == stamp:
                return cached
            found = _read(path)
            self._stamps[path] = stamp
        if cached is not None and cached.text is not None and cached.text == found.text:
            return cached  # the same text again (saved, reopened): keep the same module, keep the units built on it
        self._parsed[path] = found
        return found

    def forget(self, path: str) -> None:
        """Read ``path`` again next time (the editor says it changed on disk)."""
        self._parsed.pop(path, None)
        self._stamps.pop(path, None)

    def cached(self, path: str) -> Parsed | None:
        """The last parse of ``path``, without looking at the disk."""
        return self._parsed.get(path)


class _Loader:
    """The import walk of :mod:`bpf_dsl.loader`, through :class:`Sources`, recording what it read."""

    def __init__(self, sources: Sources, registry: Registry) -> None:
        self.sources = sources
        self.registry = registry
        self.files: list[str] = []
        self.modules: list[Module] = []
        self.diagnostics: list[Diagnostic] = []
        self.key: list[object] = []
        self.imports: dict[str, list[str]] = {}
        self.done: set[str] = set()
        self.stack: list[str] = []

    def load(self, path: str, at: Span | None, depth: int = 0) -> None:
        if path in self.stack:
            cycle = " → ".join([*self.stack[self.stack.index(path):], path])
            assert at is not None
            self.diagnostics.append(Diagnostic("BPF012", f"import cycle: {cycle}", at,
                                               "move what both files need into a third file they both import"))
            return
        if path in self.done:
            return
        if depth > MAX_IMPORT_DEPTH:
            assert at is not None
            self.diagnostics.append(Diagnostic("BPF012", "imports nest too deeply", at, None))
            return
        self.done.add(path)
        parsed = self.sources.get(path)
        self.key.append((path, id(parsed)))
        if parsed is None:
            self.diagnostics.append(Diagnostic(
                "BPF010" if at is not None else "BPF007", f"can't read `{path}`: No such file or directory",
                at or Span(path, 1, 1, 1, 1), "paths in `import \"...\"` are relative to the importing file"
                if at is not None else None))
            return
        self.files.append(path)
        if parsed.module is None:
            self.diagnostics.extend(parsed.diagnostics)
            return
        self.stack.append(path)
        targets = self.imports.setdefault(path, [])
        for decl in parsed.module.declarations:
            if isinstance(decl, Import):
                target = self.follow(path, decl, depth)
                if target is not None:
                    targets.append(target)
        self.stack.pop()
        self.files.remove(path)
        self.files.append(path)  # after what it imports: imports come first, as the loader orders them
        self.modules.append(parsed.module)

    def follow(self, path: str, imp: Import, depth: int) -> str | None:
        if imp.is_file:
            target = normal(os.path.join(os.path.dirname(path), imp.target))
            if not os.path.isfile(target) and target not in self.sources.overlays:
                self.key.append(("missing", target))
                self.diagnostics.append(Diagnostic(
                    "BPF010", f"imported file `{imp.target}` does not exist (looked for `{target}`)", imp.span,
                    "paths in `import \"...\"` are relative to the importing file"))
                return None
            self.load(target, imp.span, depth + 1)
            return target
        spec = self.registry.modules.get(imp.target)
        if spec is None:
            known = ", ".join(sorted(self.registry.modules)) or "none"
            self.diagnostics.append(Diagnostic(
                "BPF011", f"no installed plugin pack supplies the module `{imp.target}`", imp.span,
                f"installed modules: {known}; install a pack with pip, or import a file with import \"path.bpf\""))
            return None
        target = normal(str(spec.path))
        self.load(target, imp.span, depth + 1)
        return target


def check_unit(root: str, sources: Sources, registry: Registry, previous: Unit | None = None) -> Unit:
    """The unit rooted at ``root``: ``previous`` again when nothing it read has changed, else checked afresh."""
    loader = _Loader(sources, registry)
    loader.load(root, None)
    key = tuple(loader.key)
    if previous is not None and previous.key == key:
        return previous
    check: CheckResult | None = None
    diagnostics = list(loader.diagnostics)
    if loader.modules:
        check = check_modules(loader.modules, registry)
        found = check.diagnostics
        if loader.diagnostics:
            # As `bpf check`: after a file that can't be read or parsed, "unknown name" is noise.
            found = [d for d in found if d.code not in _NOISE_AFTER_LOAD_ERRORS]
        diagnostics += found
    diagnostics.sort(key=sort_key)
    return Unit(root, tuple(loader.files), tuple(loader.modules), tuple(diagnostics), check, key,
                {k: tuple(v) for k, v in loader.imports.items()})


def bpf_files(roots: Iterable[str]) -> list[str]:
    """Every .bpf file below ``roots``, skipping tools' folders, sorted."""
    found: set[str] = set()
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith("."))
            found.update(normal(os.path.join(folder, f)) for f in files if f.endswith(".bpf"))
    return sorted(found)


def merge_diagnostics(units: Iterable[Unit], keep: Callable[[str], bool]) -> dict[str, list[Diagnostic]]:
    """Each kept file's diagnostics, from every unit that read it, each once."""
    out: dict[str, list[Diagnostic]] = {}
    seen: set[tuple[str, str, int, int, str]] = set()
    for unit in units:
        for d in unit.diagnostics:
            if not keep(d.span.file):
                continue
            mark = (d.code, d.span.file, d.span.line, d.span.column, d.message)
            if mark in seen:
                continue
            seen.add(mark)
            out.setdefault(d.span.file, []).append(d)
    for found in out.values():
        found.sort(key=sort_key)
    return out
