"""bpf_dsl: the .bpf language and engine. The facade: it re-exports, and holds no logic.

::

    from bpf_dsl import check_paths, load
    report = check_paths(["sales.bpf"])      # every diagnostic, rendered with report.render()
    program = load(["sales.bpf"])            # checked and compiled, or SourceError

The pipeline, one package or module a step (docs/architecture.md)::

    grammar → parser → nodes → loader → checker → definition/expr → engine → service → storage

Each name is imported when first asked for (PEP 562), so that ``import bpf_dsl`` (and
``bpf --help``, which imports it as its package) costs nothing of the pipeline:
``_EXPORTS`` says which module holds each, and the imports under ``TYPE_CHECKING``
are the same names for type checkers and editors.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpf_dsl._util import __version__
    from bpf_dsl.check import CheckCache, CheckReport, check_packs, check_paths, check_text, load, load_source
    from bpf_dsl.checker import CheckResult
    from bpf_dsl.definition import ProcessDefinition, Program
    from bpf_dsl.diagnostics import Diagnostic
    from bpf_dsl.errors import BpfError, BpfSyntaxError, ImportResolutionError, PluginError, SourceError, UsageError
    from bpf_dsl.loader import expand_paths
    from bpf_dsl.nodes import Module
    from bpf_dsl.parser import parse
    from bpf_dsl.plugins import Registry, default_registry

_EXPORTS = {
    "__version__": "bpf_dsl._util",
    "CheckCache": "bpf_dsl.check", "CheckReport": "bpf_dsl.check", "check_packs": "bpf_dsl.check",
    "check_paths": "bpf_dsl.check", "check_text": "bpf_dsl.check", "load": "bpf_dsl.check",
    "load_source": "bpf_dsl.check",
    "CheckResult": "bpf_dsl.checker",
    "ProcessDefinition": "bpf_dsl.definition", "Program": "bpf_dsl.definition",
    "Diagnostic": "bpf_dsl.diagnostics",
    "BpfError": "bpf_dsl.errors", "BpfSyntaxError": "bpf_dsl.errors", "ImportResolutionError": "bpf_dsl.errors",
    "PluginError": "bpf_dsl.errors", "SourceError": "bpf_dsl.errors", "UsageError": "bpf_dsl.errors",
    "expand_paths": "bpf_dsl.loader",
    "Module": "bpf_dsl.nodes",
    "parse": "bpf_dsl.parser",
    "Registry": "bpf_dsl.plugins", "default_registry": "bpf_dsl.plugins",
}


def __getattr__(name: str) -> object:
    """Import ``name``'s module on first use, and keep the name here (later reads don't come back)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bpf_dsl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BpfError", "BpfSyntaxError", "CheckCache", "CheckReport", "CheckResult", "Diagnostic", "ImportResolutionError",
    "Module", "PluginError", "ProcessDefinition", "Program", "Registry", "SourceError", "UsageError",
    "__version__", "check_packs", "check_paths", "check_text", "default_registry", "expand_paths", "load",
    "load_source", "parse",
]
