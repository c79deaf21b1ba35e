"""Diagrams of the program's processes, drawn from the checked AST the program keeps (never parsed again)."""

from __future__ import annotations

import threading

from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.tools import graph

FORMATS = graph.FORMATS


class Diagrams:
    """Each diagram is drawn once per (process, format, definition version) and kept."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._drawn: dict[tuple[str, str, str], str | None] = {}
        self._lock = threading.Lock()

    def draw(self, defn: ProcessDefinition, fmt: str) -> str | None:
        """The diagram of ``defn`` in ``fmt`` (one of :data:`FORMATS`); None when the program has no AST of that
        version."""
        key = (defn.name, fmt, defn.version)
        with self._lock:
            if key in self._drawn:
                return self._drawn[key]
        current = self.program.processes.get(defn.name)
        node = self.program.process_nodes.get(defn.name) if current is not None and current.version == defn.version \
            else None  # the program keeps the AST of its own versions only
        # Drawn outside the lock: an SVG may take Graphviz a while, and two first requests at once only draw twice.
        # In labels, not ids: the diagram is read by the people who work the process (issue 16).
        found = graph.render(node, fmt, self.program.entities) if node is not None else None
        with self._lock:
            self._drawn[key] = found
        return found
