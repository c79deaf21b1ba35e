"""bpf_dsl: the .bpf language and engine. The facade: parse, check, compile, load.

::

    from bpf_dsl import check_paths, load
    report = check_paths(["sales.bpf"])      # every diagnostic, rendered with report.render()
    program = load(["sales.bpf"])            # checked and compiled, or SourceError
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .checker import CheckResult, check_modules
from .definition import ProcessDefinition, Program, compile_program
from .diagnostics import Diagnostic
from .errors import BpfError, BpfSyntaxError, ImportResolutionError, PluginError, SourceError, UsageError
from .gcpause import gc_paused
from .loader import LoadResult, expand_paths, load_files, load_text
from .nodes import Module
from .parser import parse
from .plugins import Registry, default_registry

__version__ = "0.1.0"


@dataclass
class CheckReport:
    """The outcome of checking some files: every diagnostic, and the texts to show them with."""

    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    program: Program | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(d.is_error for d in self.diagnostics)

    def render(self) -> str:
        """Every diagnostic with its source line, caret and hint."""
        return "\n".join(d.render(self.sources.get(d.span.file)) for d in self.diagnostics)


def _finish(loaded: LoadResult, registry: Registry) -> tuple[list[Diagnostic], Program | None]:
    if loaded.diagnostics:
        # Files that don't parse or can't be found: report them, and still check the rest
        # so that one run shows every problem it can.
        checked = check_modules(loaded.modules, registry)
        noise = {"BPF021", "BPF022", "BPF025", "BPF029", "BPF043", "BPF044"}  # names the missing file may declare
        extra = [d for d in checked.diagnostics if d.code not in noise]
        return sorted(loaded.diagnostics + extra, key=lambda d: (d.span.file, d.span.line, d.span.column)), None
    checked = check_modules(loaded.modules, registry)
    if not checked.ok:
        return checked.diagnostics, None
    program = compile_program(checked, registry)
    sources = tuple((m.path, loaded.sources[m.path]) for m in loaded.modules)
    return checked.diagnostics, dataclasses.replace(program, sources=sources)


def check_paths(paths: list[str], registry: Registry | None = None, *, use_cache: bool = True) -> CheckReport:
    """Parse, check and compile ``paths`` (folders: every .bpf inside) as one program."""
    from . import check_cache

    registry = registry or default_registry()
    if use_cache:
        hit = check_cache.lookup(paths, registry)
        if hit is not None:
            return CheckReport(hit[0], hit[1], None, cached=True)
    with gc_paused():
        loaded = load_files(paths, registry)
        diagnostics, program = _finish(loaded, registry)
    if use_cache:
        check_cache.store(paths, registry, loaded.files, loaded.sources, diagnostics)
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
    return _program(check_paths(paths, registry, use_cache=False))


def load_source(text: str, path: str = "<string>", registry: Registry | None = None) -> Program:
    """Like :func:`load`, for a text held in memory."""
    return _program(check_text(text, path, registry))


__all__ = [
    "BpfError", "BpfSyntaxError", "CheckReport", "CheckResult", "Diagnostic", "ImportResolutionError", "Module",
    "PluginError", "ProcessDefinition", "Program", "Registry", "SourceError", "UsageError", "check_paths",
    "check_text", "default_registry", "expand_paths", "load", "load_source", "parse",
]
