"""Diagrams of a process flow, for ``bpf graph``: Mermaid, Graphviz DOT and SVG.

A process is first turned into a small neutral graph (:class:`Graph`): a start
node, one node per stage, one decision per ``if`` chain and one end node,
joined by edges whose labels are the branch conditions. Every output format is
a printer of that one graph, so they can't disagree on what the flow means.

The flow semantics follow the language reference: stages run in text order; an
``if`` chain is a decision whose arms merge at the first item after the chain
unless they end with ``finish``; a chain without ``else`` falls through to the
next item (an edge labelled ``otherwise``); an empty arm goes straight to the
merge point; ``finish`` and the end of the process lead to the end node.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

from . import nodes as n
from . import svg_layout
from .exprtext import expr_text

__all__ = [
    "END_ID",
    "FORMATS",
    "START_ID",
    "Edge",
    "Graph",
    "Node",
    "NodeKind",
    "build_graph",
    "render",
    "renderer_used",
    "to_dot",
    "to_mermaid",
    "to_svg",
]

NodeKind = Literal["start", "stage", "decision", "end"]

#: The ids of the two terminal nodes. Stage ids are ``stage_NAME`` and decision
#: ids ``decision_N``, so no stage name can collide with these (nor with
#: Mermaid's reserved word ``end``).
START_ID = "start"
END_ID = "finish"

#: The formats :func:`render` knows, in the order the CLI lists them.
FORMATS = ("mermaid", "dot", "svg")

ELSE_LABEL = "else"
OTHERWISE_LABEL = "otherwise"

# How long Graphviz may take before the builtin renderer is used instead.
_DOT_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class Node:
    """A node of a process diagram: the start, a stage, a decision or the end."""

    id: str
    kind: NodeKind
    title: str
    category: str | None = None
    entity: str | None = None

    @property
    def detail(self) -> str | None:
        """The second line of a stage: ``[category] · entity``, or None when there is neither."""
        parts = []
        if self.category:
            parts.append(f"[{self.category}]")
        if self.entity:
            parts.append(self.entity)
        return " · ".join(parts) or None

    @property
    def lines(self) -> tuple[str, ...]:
        """The text shown in the node, one entry per line."""
        lines = self.title.splitlines() if self.title else []
        detail = self.detail
        if detail:
            lines.append(detail)
        return tuple(lines)


@dataclass(frozen=True, slots=True)
class Edge:
    """A transition from one node to another; ``label`` is a condition, ``else``, ``otherwise`` or None."""

    source: str
    target: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Graph:
    """The neutral diagram of one process: nodes in text order (start first, end last) and edges."""

    name: str
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError if there is none)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def edges_from(self, node_id: str) -> tuple[Edge, ...]:
        """The edges leaving a node, in the order of the arms that made them."""
        return tuple(e for e in self.edges if e.source == node_id)

    def edges_to(self, node_id: str) -> tuple[Edge, ...]:
        """The edges entering a node."""
        return tuple(e for e in self.edges if e.target == node_id)


# An edge still waiting for its target: (source id, label, rank). The target is
# whatever item comes next in the flow, which isn't known yet when an arm ends.
# The rank is when the edge was started: edges are listed in that order, so a
# decision's edges follow its arms as written even when an empty arm is only
# connected later, at the merge point.
_Pending = list[tuple[str, str | None, int]]


class _Builder:
    """Walks a process's flow once, turning it into nodes and edges."""

    def __init__(self, process: n.Process) -> None:
        self.process = process
        self.nodes: list[Node] = [Node(START_ID, "start", "Start")]
        self.ids = {START_ID, END_ID}
        self.decisions = 0
        self.ranked: list[tuple[int, Edge]] = []
        self.started = 0

    def pending(self, source: str, label: str | None = None) -> _Pending:
        self.started += 1
        return [(source, label, self.started)]

    def build(self) -> Graph:
        pending = self.block(self.process.flow, self.pending(START_ID))
        self.nodes.append(Node(END_ID, "end", "Finish"))
        self.connect(pending, END_ID)
        title = self.process.label or n.derive_label(self.process.name)
        edges = tuple(edge for _, edge in sorted(self.ranked, key=lambda pair: pair[0]))
        return Graph(self.process.name, title, tuple(self.nodes), edges)

    def connect(self, pending: _Pending, target: str) -> None:
        for source, label, rank in pending:
            self.ranked.append((rank, Edge(source, target, label)))

    def unique(self, base: str) -> str:
        # Stage names are unique in a checked process, but a diagram of a file
        # with errors should still draw every stage as its own box.
        node_id, k = base, 2
        while node_id in self.ids:
            node_id, k = f"{base}_{k}", k + 1
        self.ids.add(node_id)
        return node_id

    def block(self, items: tuple[n.FlowItem, ...], pending: _Pending) -> _Pending:
        """Add a block's items; returns the edges that leave its end (empty if it finishes)."""
        for item in items:
            if isinstance(item, n.Stage):
                node = Node(
                    self.unique(f"stage_{item.name}"),
                    "stage",
                    item.label or n.derive_label(item.name),
                    item.category,
                    item.entity or self.process.entity,
                )
                self.nodes.append(node)
                self.connect(pending, node.id)
                pending = self.pending(node.id)
            elif isinstance(item, n.Finish):
                self.connect(pending, END_ID)
                pending = []
            else:
                pending = self.branch(item, pending)
        return pending

    def branch(self, branch: n.Branch, pending: _Pending) -> _Pending:
        self.decisions += 1
        node = Node(self.unique(f"decision_{self.decisions}"), "decision", "")
        self.nodes.append(node)
        self.connect(pending, node.id)
        merged: _Pending = []
        for arm in branch.arms:
            label = ELSE_LABEL if arm.condition is None else expr_text(arm.condition)
            # An empty arm returns its own entry edge, so it reaches the merge point directly.
            merged.extend(self.block(arm.body, self.pending(node.id, label)))
        if not branch.has_else:
            merged.extend(self.pending(node.id, OTHERWISE_LABEL))
        return merged


def build_graph(process: n.Process) -> Graph:
    """The neutral diagram of a process's flow."""
    return _Builder(process).build()


# ---------------------------------------------------------------------------
# Mermaid
# ---------------------------------------------------------------------------

_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _mermaid_text(text: str) -> str:
    # Mermaid labels are HTML: '<' could open a tag and '"' would end the
    # string, so both go through Mermaid's own entity codes ('#' first, since
    # it starts every code).
    text = _CONTROL.sub(" ", text)
    escaped = "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in text)
    return escaped.replace("\r\n", "\n").replace("\n", "<br/>")


def _mermaid_lines(node: Node) -> str:
    return "<br/>".join(_mermaid_text(line) for line in node.lines)


def _stage_colours(node: Node) -> tuple[str, str]:
    """(fill, stroke) of a stage: the same per-category colours in every format."""
    return svg_layout.CATEGORY_COLOURS.get(node.category or "", svg_layout.DEFAULT_COLOURS)


def _mermaid_class(node: Node) -> str:
    if node.kind == "stage":
        return f"cat_{node.category}" if node.category in svg_layout.CATEGORY_COLOURS else "stage"
    return "decision" if node.kind == "decision" else "terminal"


def to_mermaid(process: n.Process) -> str:
    """The process as a Mermaid flowchart (top to bottom), with a title in the front matter."""
    graph = build_graph(process)
    title = _CONTROL.sub(" ", graph.title).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    out = ["---", f'title: "{title}"', "---", "flowchart TD"]
    for node in graph.nodes:
        text = _mermaid_lines(node)
        if node.kind == "start":
            out.append(f'    {node.id}(("{text}"))')
        elif node.kind == "end":
            out.append(f'    {node.id}((("{text}")))')
        elif node.kind == "decision":
            # An empty string would be a syntax error; the conditions are on the edges.
            out.append(f'    {node.id}{{"{text or " "}"}}')
        else:
            out.append(f'    {node.id}["{text}"]')
    for edge in graph.edges:
        if edge.label is None:
            out.append(f"    {edge.source} --> {edge.target}")
        else:
            out.append(f'    {edge.source} -->|"{_mermaid_text(edge.label)}"| {edge.target}')
    groups: dict[str, list[Node]] = {}
    for node in graph.nodes:
        groups.setdefault(_mermaid_class(node), []).append(node)
    for name, members in groups.items():
        if name == "terminal":
            style = "fill:#e8f5e9,stroke:#2e7d32,color:#1b3a1f"
        elif name == "decision":
            style = "fill:#fff7e0,stroke:#c9a227"
        else:
            fill, stroke = _stage_colours(members[0])
            style = f"fill:{fill},stroke:{stroke},color:#1b2a3a"
        out.append(f"    classDef {name} {style}")
        out.append(f"    class {','.join(x.id for x in members)} {name}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Graphviz DOT
# ---------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    """A double-quoted DOT string; in labels ``\\n`` is a line break and ``\\\\`` a backslash."""
    text = _CONTROL.sub(" ", text).replace("\r\n", "\n")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{key}={_dot_string(value)}" for key, value in attrs.items())


def to_dot(process: n.Process) -> str:
    """The process as a Graphviz ``digraph``, ranked top to bottom."""
    graph = build_graph(process)
    font = "Helvetica,Arial,sans-serif"
    out = [
        f"digraph {_dot_string(graph.name)} {{",
        f"    graph [{_dot_attrs({'label': graph.title, 'labelloc': 't', 'fontname': font, 'fontsize': '16'})},"
        ' rankdir="TB", ordering="out", nodesep="0.35", ranksep="0.45"];',
        f"    node [{_dot_attrs({'fontname': font, 'fontsize': '11'})}];",
        f"    edge [{_dot_attrs({'fontname': font, 'fontsize': '10', 'color': '#555555'})}];",
    ]
    for node in graph.nodes:
        label = "\n".join(node.lines)
        if node.kind == "start":
            attrs = {"shape": "circle", "style": "filled", "fillcolor": "#e8f5e9", "color": "#2e7d32"}
        elif node.kind == "end":
            attrs = {"shape": "doublecircle", "style": "filled", "fillcolor": "#e8f5e9", "color": "#2e7d32"}
        elif node.kind == "decision":
            attrs = {"shape": "diamond", "style": "filled", "fillcolor": "#fff7e0", "color": "#c9a227",
                     "width": "0.45", "height": "0.45", "fixedsize": "true"}
        else:
            fill, stroke = _stage_colours(node)
            attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill, "color": stroke}
        out.append(f"    {_dot_string(node.id)} [{_dot_attrs({'label': label, **attrs})}];")
    for edge in graph.edges:
        attrs = {} if edge.label is None else {"label": edge.label}
        suffix = f" [{_dot_attrs(attrs)}]" if attrs else ""
        out.append(f"    {_dot_string(edge.source)} -> {_dot_string(edge.target)}{suffix};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------

_last_renderer: str | None = None


def renderer_used() -> str:
    """``"graphviz"`` or ``"builtin"``: the renderer of the last :func:`to_svg` call.

    Before any call it says which one :func:`to_svg` would try, that is
    ``"graphviz"`` when the ``dot`` program is on PATH.
    """
    if _last_renderer is not None:
        return _last_renderer
    return "graphviz" if shutil.which("dot") else "builtin"


def _graphviz_svg(dot_source: str, dot_program: str) -> str | None:
    """The SVG that Graphviz makes of ``dot_source``, or None if it failed in any way."""
    try:
        result = subprocess.run(
            [dot_program, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=_DOT_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            return None
        svg = result.stdout.decode("utf-8")
        # A broken install can exit 0 with junk: only well-formed SVG counts.
        root = ET.fromstring(svg)
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError, ET.ParseError):
        return None
    return svg if root.tag.endswith("svg") else None


def to_svg(process: n.Process, *, renderer: Literal["auto", "builtin"] = "auto") -> str:
    """The process as an SVG document.

    With ``renderer="auto"`` the DOT text goes through Graphviz (``dot -Tsvg``)
    when it is installed; if it isn't, or fails or times out, the builtin
    pure-Python renderer draws it. ``"builtin"`` skips Graphviz. See
    :func:`renderer_used` for which one drew the last picture.
    """
    global _last_renderer
    if renderer not in ("auto", "builtin"):
        raise ValueError(f"unknown SVG renderer {renderer!r}: expected 'auto' or 'builtin'")
    dot_program = shutil.which("dot") if renderer == "auto" else None
    if dot_program:
        svg = _graphviz_svg(to_dot(process), dot_program)
        if svg is not None:
            _last_renderer = "graphviz"
            return svg
    _last_renderer = "builtin"
    return svg_layout.render_svg(build_graph(process))


def render(process: n.Process, fmt: str) -> str:
    """The diagram of a process in ``fmt``: one of ``mermaid``, ``dot`` or ``svg``."""
    if fmt == "mermaid":
        return to_mermaid(process)
    if fmt == "dot":
        return to_dot(process)
    if fmt == "svg":
        return to_svg(process)
    raise ValueError(f"unknown diagram format {fmt!r}: expected one of {', '.join(FORMATS)}")
