"""bpf_dsl: the .bpf language and engine. The facade: it re-exports, and holds no logic.

::

    from bpf_dsl import check_paths, load
    report = check_paths(["sales.bpf"])      # every diagnostic, rendered with report.render()
    program = load(["sales.bpf"])            # checked and compiled, or SourceError

The pipeline, one package or module a step (docs/architecture.md)::

    grammar → parser → nodes → loader → checker → definition/expr → engine → service → storage
"""

from bpf_dsl._util import VERSION as __version__
from bpf_dsl.check import CheckCache, CheckReport, check_packs, check_paths, check_text, load, load_source
from bpf_dsl.checker import CheckResult
from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.errors import BpfError, BpfSyntaxError, ImportResolutionError, PluginError, SourceError, UsageError
from bpf_dsl.loader import expand_paths
from bpf_dsl.nodes import Module
from bpf_dsl.parser import parse
from bpf_dsl.plugins import Registry, default_registry

__all__ = [
    "BpfError", "BpfSyntaxError", "CheckCache", "CheckReport", "CheckResult", "Diagnostic", "ImportResolutionError",
    "Module", "PluginError", "ProcessDefinition", "Program", "Registry", "SourceError", "UsageError",
    "__version__", "check_packs", "check_paths", "check_text", "default_registry", "expand_paths", "load",
    "load_source", "parse",
]
