"""Diagrams of a process flow, for ``bpf graph``: Mermaid, Graphviz DOT and SVG.

Every format is a printer of the one neutral graph of :mod:`.diagram`, so they
can't disagree on what the flow means.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Literal

from bpf_dsl import nodes as n
from bpf_dsl.model import EntitySpec
from bpf_dsl.tools import svg_layout
from bpf_dsl.tools.diagram import END_ID, FORMATS, START_ID, Edge, Graph, Node, NodeKind, build_graph

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

# How long Graphviz may take before the builtin renderer is used instead.
_DOT_TIMEOUT = 20.0


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


def to_mermaid(process: n.Process, entities: Mapping[str, EntitySpec] | None = None) -> str:
    """The process as a Mermaid flowchart (top to bottom), with a title in the front matter (labels for ids
    with ``entities``: see :func:`build_graph`)."""
    graph = build_graph(process, entities)
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


def to_dot(process: n.Process, entities: Mapping[str, EntitySpec] | None = None) -> str:
    """The process as a Graphviz ``digraph``, ranked top to bottom (labels for ids with ``entities``: see
    :func:`build_graph`; their conditions, longer in words, are wrapped as the builtin renderer wraps them)."""
    graph = build_graph(process, entities)
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
        edge_label = edge.label
        if edge_label is not None and entities is not None:
            edge_label = "\n".join(svg_layout.wrap(edge_label, svg_layout.LABEL_WRAP, svg_layout.LABEL_SIZE))
        attrs = {} if edge_label is None else {"label": edge_label}
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


def to_svg(process: n.Process, *, renderer: Literal["auto", "builtin"] = "auto",
           entities: Mapping[str, EntitySpec] | None = None) -> str:
    """The process as an SVG document.

    With ``renderer="auto"`` the DOT text goes through Graphviz (``dot -Tsvg``)
    when it is installed; if it isn't, or fails or times out, the builtin
    pure-Python renderer draws it. ``"builtin"`` skips Graphviz. See
    :func:`renderer_used` for which one drew the last picture. With ``entities``
    the text is in labels (see :func:`build_graph`).
    """
    global _last_renderer
    if renderer not in ("auto", "builtin"):
        raise ValueError(f"unknown SVG renderer {renderer!r}: expected 'auto' or 'builtin'")
    dot_program = shutil.which("dot") if renderer == "auto" else None
    if dot_program:
        svg = _graphviz_svg(to_dot(process, entities), dot_program)
        if svg is not None:
            _last_renderer = "graphviz"
            return svg
    _last_renderer = "builtin"
    return svg_layout.render_svg(build_graph(process, entities))


def render(process: n.Process, fmt: str, entities: Mapping[str, EntitySpec] | None = None) -> str:
    """The diagram of a process in ``fmt``: one of ``mermaid``, ``dot`` or ``svg``; in labels, not ids, given the
    program's ``entities`` (what the web page shows), else in the .bpf text (``bpf graph``)."""
    if fmt == "mermaid":
        return to_mermaid(process, entities)
    if fmt == "dot":
        return to_dot(process, entities)
    if fmt == "svg":
        return to_svg(process, entities=entities)
    raise ValueError(f"unknown diagram format {fmt!r}: expected one of {', '.join(FORMATS)}")
