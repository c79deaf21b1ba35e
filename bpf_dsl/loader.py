"""Reads .bpf files and follows their imports: files relative to the importer, packs by name.

The result lists every module once, imports before importers (rules run in that
order), with the diagnostics of files that can't be read, parsed or found, and
of import cycles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.errors import SourceError
from bpf_dsl.nodes import Import, Module, Span
from bpf_dsl.parser import parse
from bpf_dsl.plugins import Registry

MAX_IMPORT_DEPTH = 64


def not_utf8(display: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """BPF007 at the line and column (in characters) of the first byte that isn't UTF-8."""
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    column = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
    return Diagnostic("BPF007", f"`{display}` is not UTF-8 (byte {exc.start})",
                      Span(display, line, column, line, column + 1), "save the file as UTF-8")


@dataclass
class LoadResult:
    """Modules in dependency order, the text of every file read, and what went wrong."""

    modules: list[Module] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # display path -> real path, for the cache


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; folders become every .bpf file below them, sorted."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(str(f) for f in Path(p).rglob("*.bpf") if f.is_file())
            out.extend(found)
        else:
            out.append(p)
    return out


class _Loader:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.result = LoadResult()
        self.done: dict[str, Module | None] = {}  # real path -> module (None: failed)
        self.stack: list[str] = []  # real paths being loaded, for cycles
        self.stack_names: list[str] = []

    def read(self, display: str, real: str, at: Span | None) -> str | None:
        try:
            data = Path(real).read_bytes()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            span = at or Span(display, 1, 1, 1, 1)
            code = "BPF010" if at is not None else "BPF007"
            self.result.diagnostics.append(Diagnostic(
                code, f"can't read `{display}`: {reason}", span,
                "paths in `import \"...\"` are relative to the importing file" if at else None))
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.result.diagnostics.append(not_utf8(display, data, exc))
            return None

    def load(self, display: str, real: str, at: Span | None, depth: int = 0) -> None:
        real = os.path.realpath(real)
        if real in self.stack:
            start = self.stack.index(real)
            cycle = " → ".join([*self.stack_names[start:], display])
            assert at is not None
            self.result.diagnostics.append(Diagnostic(
                "BPF012", f"import cycle: {cycle}", at, "move what both files need into a third file they both import"))
            return
        if real in self.done:
            return
        if depth > MAX_IMPORT_DEPTH:
            assert at is not None
            self.result.diagnostics.append(Diagnostic("BPF012", "imports nest too deeply", at, None))
            return
        text = self.read(display, real, at)
        if text is None:
            self.done[real] = None
            return
        self.result.sources[display] = text
        self.result.files[display] = real
        try:
            module = parse(text, display)
        except SourceError as err:
            self.result.diagnostics.extend(err.diagnostics)
            self.done[real] = None
            return
        self.stack.append(real)
        self.stack_names.append(display)
        for decl in module.declarations:
            if isinstance(decl, Import):
                self.follow(module, decl, display, depth)
        self.stack.pop()
        self.stack_names.pop()
        self.done[real] = module
        self.result.modules.append(module)

    def follow(self, module: Module, imp: Import, display: str, depth: int) -> None:
        if imp.is_file:
            target_display = os.path.normpath(os.path.join(os.path.dirname(display), imp.target))
            target_real = os.path.join(os.path.dirname(self.result.files[display]), imp.target)
            if not os.path.isfile(target_real):
                self.result.diagnostics.append(Diagnostic(
                    "BPF010", f"imported file `{imp.target}` does not exist (looked for `{target_display}`)",
                    imp.span, "paths in `import \"...\"` are relative to the importing file"))
                return
            self.load(target_display, target_real, imp.span, depth + 1)
            return
        spec = self.registry.modules.get(imp.target)
        if spec is None:
            known = ", ".join(sorted(self.registry.modules)) or "none"
            self.result.diagnostics.append(Diagnostic(
                "BPF011", f"no installed plugin pack supplies the module `{imp.target}`", imp.span,
                f"installed modules: {known}; install a pack with pip, or import a file with import \"path.bpf\""))
            return
        self.load(f"<{imp.target}>/{spec.path.name}", str(spec.path), imp.span, depth + 1)


def load_files(paths: list[str], registry: Registry) -> LoadResult:
    """Read and parse ``paths`` (folders expanded) and everything they import."""
    loader = _Loader(registry)
    for p in expand_paths(paths):
        loader.load(p, p, None)
    return loader.result


def load_text(text: str, path: str, registry: Registry) -> LoadResult:
    """Like :func:`load_files` for one text held in memory (imports read relative to ``path``)."""
    loader = _Loader(registry)
    real = os.path.realpath(path)
    loader.result.sources[path] = text
    loader.result.files[path] = real
    try:
        module = parse(text, path)
    except SourceError as err:
        loader.result.diagnostics.extend(err.diagnostics)
        return loader.result
    loader.stack.append(real)
    loader.stack_names.append(path)
    for decl in module.declarations:
        if isinstance(decl, Import):
            loader.follow(module, decl, path, 0)
    loader.stack.pop()
    loader.stack_names.pop()
    loader.result.modules.append(module)
    return loader.result
