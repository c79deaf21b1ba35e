"""Checking sources: parse, check and compile paths or a text into one report; the opt-in check cache.

::

    report = check_paths(["sales.bpf"])                 # every diagnostic; report.render() shows them
    program = load(["sales.bpf"])                       # checked and compiled, or SourceError
    report = check_paths(paths, cache=CheckCache.default())   # what `bpf check` does

Library calls never write anything: only a caller that passes a :class:`CheckCache`
(the command line does) reads and writes cache entries. A hit returns the same
report as a miss: the same diagnostics and sources, and a :attr:`CheckReport.program`
that is compiled when first asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bpf_dsl._util import VERSION, gc_paused
from bpf_dsl.checker import check_modules
from bpf_dsl.definition import Program, compile_program
from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.errors import SourceError
from bpf_dsl.grammar import grammar_text
from bpf_dsl.loader import LoadResult, expand_paths, load_files, load_text
from bpf_dsl.plugins import PluginFailure, Registry, default_registry

# Codes that only say "this name is unknown": after a file that can't be read or parsed,
# they are noise (the missing file may declare the names).
_NOISE_AFTER_LOAD_ERRORS = frozenset({"BPF021", "BPF022", "BPF025", "BPF029", "BPF043", "BPF044"})


@dataclass
class CheckReport:
    """The outcome of checking some files: every diagnostic, and the texts to show them with.

    ``program`` is the compiled program when there are no errors (None otherwise);
    ``cached`` says whether the diagnostics came from a :class:`CheckCache` (the report
    is the same either way).
    """

    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    _program: Program | None = field(default=None, repr=False)
    cached: bool = field(default=False, compare=False)
    _compile: Callable[[], Program | None] | None = field(default=None, repr=False, compare=False)

    @property
    def program(self) -> Program | None:
        """The compiled program, or None when the sources have errors (compiled on first use after a cache hit)."""
        if self._compile is not None:
            self._program, self._compile = self._compile(), None
        return self._program

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(d.is_error for d in self.diagnostics)

    def render(self) -> str:
        """Every diagnostic with its source line, caret and hint."""
        return "\n".join(d.render(self.sources.get(d.span.file)) for d in self.diagnostics)


def _finish(loaded: LoadResult, registry: Registry) -> tuple[list[Diagnostic], Program | None]:
    checked = check_modules(loaded.modules, registry)
    if loaded.diagnostics:
        # Files that don't parse or can't be found: report them, and still check the rest
        # so that one run shows every problem it can.
        extra = [d for d in checked.diagnostics if d.code not in _NOISE_AFTER_LOAD_ERRORS]
        return sorted(loaded.diagnostics + extra, key=lambda d: (d.span.file, d.span.line, d.span.column)), None
    if not checked.ok:
        return checked.diagnostics, None
    program = compile_program(checked, registry)
    sources = tuple((m.path, loaded.sources[m.path]) for m in loaded.modules)
    return checked.diagnostics, dataclasses.replace(program, sources=sources)


def _check_files(paths: list[str], registry: Registry) -> tuple[LoadResult, list[Diagnostic], Program | None]:
    with gc_paused():
        loaded = load_files(paths, registry)
        diagnostics, program = _finish(loaded, registry)
    return loaded, diagnostics, program


def check_paths(paths: list[str], registry: Registry | None = None, *, cache: CheckCache | None = None) -> CheckReport:
    """Parse, check and compile ``paths`` (folders: every .bpf inside) as one program.

    ``cache``: where to look for (and keep) the result of an earlier check of the same,
    unchanged files; None (the default) reads and writes nothing.
    """
    registry = registry or default_registry()
    if cache is not None:
        hit = cache.lookup(paths, registry)
        if hit is not None:
            diagnostics, sources = hit
            ok = not any(d.is_error for d in diagnostics)
            compile_later = (lambda: _check_files(paths, registry)[2]) if ok else (lambda: None)
            return CheckReport(diagnostics, sources, cached=True, _compile=compile_later)
    loaded, diagnostics, program = _check_files(paths, registry)
    if cache is not None:
        cache.store(paths, registry, loaded.files, loaded.sources, diagnostics)
    return CheckReport(diagnostics, loaded.sources, program)


def check_text(text: str, path: str = "<string>", registry: Registry | None = None) -> CheckReport:
    """Check one text held in memory (its imports are read relative to ``path``)."""
    registry = registry or default_registry()
    with gc_paused():
        loaded = load_text(text, path, registry)
        diagnostics, program = _finish(loaded, registry)
    return CheckReport(diagnostics, loaded.sources, program)


def _program(report: CheckReport) -> Program:
    if report.program is None:
        errors = [d for d in report.diagnostics if d.is_error]
        raise SourceError(errors or report.diagnostics)
    return report.program


def load(paths: list[str], registry: Registry | None = None) -> Program:
    """Load ``paths`` into a compiled :class:`Program`; raises :class:`SourceError` listing every error."""
    return _program(check_paths(paths, registry))


def load_source(text: str, path: str = "<string>", registry: Registry | None = None) -> Program:
    """Like :func:`load`, for a text held in memory."""
    return _program(check_text(text, path, registry))


def check_packs(registry: Registry) -> list[PluginFailure]:
    """Check every pack's .bpf modules; drop the packs whose modules have errors, and say why.

    Each module is checked on its own (as ``import NAME`` would load it). A pack with
    an error is removed from ``registry`` (its modules, actions, functions, templates
    and samples) and added to ``registry.failures``; the returned list holds the packs
    this check failed. Run once per registry (later calls return the same answer):
    ``bpf plugins`` and the server call it before using the packs.
    """
    if registry.checked is not None:
        return list(registry.checked)
    found: list[PluginFailure] = []
    for pack in list(registry.packs):
        problems: list[str] = []
        importer = f"<{pack.name} pack>"
        for module in pack.modules:
            try:
                report = check_text(f"import {module}\n", importer, registry)
            except Exception as exc:  # a checker crash on a pack's file is still that pack's failure
                problems.append(f"the module {module} can't be checked: {type(exc).__name__}: {exc}")
                continue
            errors = [d for d in report.diagnostics if d.is_error]
            if errors:
                more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
                problems.append(f"the module {module} doesn't check: "
                                + "; ".join(_reason(d, importer) for d in errors[:3]) + more)
        if problems:
            found.append(PluginFailure(pack.name, "; ".join(problems)))
    for failure in found:
        registry.drop(failure.name)
        registry.failures.append(failure)
    registry.checked = found
    return list(found)


def _reason(d: Diagnostic, importer: str) -> str:
    """``FILE:LINE:COL: BPFnnn: message``; without the place when it is the check's own ``import`` line."""
    if d.span.file == importer:
        return f"{d.code}: {d.message}"
    return f"{d.span.file}:{d.span.line}:{d.span.column}: {d.code}: {d.message}"


@dataclass(frozen=True)
class CheckCache:
    """An on-disk cache of check results: re-checking unchanged files costs a hash of each file.

    An entry is keyed by the root paths, the installed plugins and bpf's own version
    and code; it lists every file the check read (imports included) with its content
    hash, and is used only when every one of them still hashes the same.
    """

    folder: Path

    FORMAT = 1

    @classmethod
    def default(cls) -> CheckCache | None:
        """``BPF_CACHE_DIR``, else the user's cache folder (platformdirs); None when ``BPF_NO_CACHE`` is set."""
        if os.environ.get("BPF_NO_CACHE"):
            return None
        base = os.environ.get("BPF_CACHE_DIR")
        if base:
            return cls(Path(base))
        import platformdirs  # only the command line asks for the default folder

        return cls(Path(platformdirs.user_cache_dir("bpf", appauthor=False)))

    def lookup(self, paths: list[str], registry: Registry) -> tuple[list[Diagnostic], dict[str, str]] | None:
        """Cached diagnostics and sources for ``paths`` if no file they read has changed."""
        try:
            entry = json.loads((self.folder / (_key(paths, registry) + ".json")).read_text(encoding="utf-8"))
            if entry.get("format") != self.FORMAT:
                return None
            sources: dict[str, str] = {}
            for display, (real, expected) in entry["files"].items():
                data = Path(real).read_bytes()
                if _digest(data) != expected:
                    return None
                sources[display] = data.decode("utf-8")
            return [Diagnostic.from_json(d) for d in entry["diagnostics"]], sources
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, paths: list[str], registry: Registry, files: dict[str, str], sources: dict[str, str],
              diagnostics: list[Diagnostic]) -> None:
        """Record a result; files that couldn't be read make the result uncacheable."""
        if any(d.code in ("BPF007", "BPF010") for d in diagnostics):
            return
        entry: dict[str, Any] = {
            "format": self.FORMAT,
            "files": {display: [real, _digest(sources[display].encode("utf-8"))] for display, real in files.items()
                      if display in sources},
            "diagnostics": [d.as_json() for d in diagnostics],
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry, out)
            os.replace(tmp, self.folder / (_key(paths, registry) + ".json"))
        except OSError:
            pass  # a cache that can't be written only costs speed


def _fingerprint(registry: Registry) -> str:
    parts = [VERSION, str(CheckCache.FORMAT), hashlib.sha256(grammar_text().encode()).hexdigest(), _code_stamp()]
    parts += [f"{p.name}={p.version}" for p in registry.packs]
    parts += [f"{a.dotted}{a.params!r}" for a in registry.actions.values()]
    parts += [f"{f.dotted}{f.params!r}{f.returns}" for f in registry.functions.values()]
    parts += sorted(registry.categories)
    parts += [f"{m.name}:{m.path}" for m in registry.modules.values()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_stamp: str | None = None


def _code_stamp() -> str:
    """The checker's own code: an edited bpf_dsl (a developer's tree) must not reuse old results."""
    global _stamp
    if _stamp is None:
        package = Path(__file__).resolve().parent
        entries = sorted(f"{p.relative_to(package)}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
                         for p in package.rglob("*.py"))
        _stamp = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return _stamp


def _key(paths: list[str], registry: Registry) -> str:
    # Folders as the files they hold now: a .bpf file added to a checked folder is a new key.
    roots = "\n".join(os.path.abspath(p) for p in expand_paths(paths))
    return hashlib.sha256((roots + "\0" + _fingerprint(registry)).encode()).hexdigest()


def _digest(data: bytes) -> str:
    """The content hash used for files."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()
