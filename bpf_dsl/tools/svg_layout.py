"""A pure-Python SVG renderer for process diagrams, used when Graphviz isn't installed.

The layout is layered and top to bottom, after Sugiyama's method, kept small
because the graphs it draws are small, acyclic and structured:

1. Layers. A node's layer is its longest path from the start, where a labelled
   edge counts twice: its label gets a layer of its own between the two ends,
   so labels take room like nodes do and never sit on a box.
2. Dummies. An edge that spans several layers gets a point in each layer it
   crosses (the label is one of them), so it runs around the boxes in between
   rather than through them.
3. Order. Within a layer, items are first ordered by a depth-first walk from
   the start that takes a decision's arms in text order, which puts the arms
   of a branch side by side, left to right as written; then barycentre sweeps
   keep any reordering that removes crossings.
4. Positions. Sweeps pull each item towards the median x of its neighbours
   above or below. Each layer is solved exactly as a least-squares problem
   under "keep the order, don't overlap" (pool adjacent violators).
5. Drawing: rounded boxes for stages, diamonds for decisions, circles for the
   start and the end, polylines with arrowheads, labels on their edge.
"""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from bpf_dsl.tools.diagram import Graph, Node

__all__ = ["render_svg", "text_width", "wrap"]

FONT = "Helvetica, Arial, sans-serif"
HEADING_SIZE = 15
TITLE_SIZE = 13
DETAIL_SIZE = 11
LABEL_SIZE = 11
LINE_HEIGHT = 1.3  # times the font size
PAD_X, PAD_Y = 14, 9  # inside a stage box
MIN_STAGE_WIDTH = 110
TERMINAL_RADIUS = 24
DIAMOND = 34
LAYER_GAP = 24  # between layers
NODE_GAP = 28  # between boxes side by side
DUMMY_GAP = 16  # between an edge's route and anything beside it
MARGIN = 20
TITLE_WRAP = 240  # px before a stage title wraps
LABEL_WRAP = 220  # px before an edge label wraps

# (fill, stroke) per stage category; the D365 set, anything else is grey.
CATEGORY_COLOURS = {
    "qualify": ("#e8f0fe", "#3b6fd4"),
    "develop": ("#e6f4ea", "#2f8a4c"),
    "propose": ("#f3e8fd", "#8a4fd0"),
    "close": ("#fef3e2", "#c86f0a"),
    "identify": ("#e3f4f7", "#1f8ca0"),
    "research": ("#edf0f5", "#5a6b85"),
    "resolve": ("#e6f4ea", "#2f8a4c"),
    "approval": ("#fdecea", "#c2453a"),
}
DEFAULT_COLOURS = ("#f1f3f6", "#6b7687")
EDGE_COLOUR = "#555555"


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An estimate of the rendered width of ``text`` in a Helvetica-like font, in px.

    There is no font to measure with here, so each character counts by its
    class (narrow, wide, capital, CJK...); the estimate errs on the wide side
    so text stays inside its box.
    """
    units = 0.0
    for ch in text:
        if ch == " ":
            units += 0.28
        elif ch in "iIjl.,:;|!'`()[]{}":
            units += 0.3
        elif ch in "frt-/":
            units += 0.38
        elif ch in "mwMW@%":
            units += 0.86
        elif ch.isupper():
            units += 0.68
        elif ch.isdigit():
            units += 0.56
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            units += 1.0
        else:
            units += 0.56
    # The 1.1 covers fonts wider than Helvetica (DejaVu Sans, where there is no Helvetica or Arial).
    return units * size * 1.1 * (1.08 if bold else 1.0)


def wrap(text: str, max_width: float, size: float, bold: bool = False) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``max_width`` (a longer word keeps its own line)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and text_width(candidate, size, bold) > max_width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return lines


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    size: float
    bold: bool = False
    colour: str = "#1b2a3a"


@dataclass(eq=False)
class _Item:
    """Something that takes room in a layer: a node, an edge's label, or a point of a long edge."""

    key: str
    kind: str  # start, stage, decision, end, label, dummy
    width: float
    height: float
    lines: list[_Line] = field(default_factory=list)
    node: Node | None = None
    layer: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def real(self) -> bool:
        return self.kind not in ("label", "dummy")


def _text_block(lines: list[_Line]) -> tuple[float, float]:
    width = max((text_width(line.text, line.size, line.bold) for line in lines), default=0.0)
    return width, sum(line.size * LINE_HEIGHT for line in lines)


def _node_item(node: Node) -> _Item:
    if node.kind in ("start", "end"):
        lines = [_Line(node.title, DETAIL_SIZE, True)]
        radius = max(TERMINAL_RADIUS, _text_block(lines)[0] / 2 + 8)
        return _Item(node.id, node.kind, 2 * radius, 2 * radius, lines, node)
    if node.kind == "decision":
        return _Item(node.id, "decision", DIAMOND, DIAMOND, [], node)
    lines = [_Line(t, TITLE_SIZE, True) for t in wrap(node.title, TITLE_WRAP, TITLE_SIZE, True)]
    if node.detail:
        lines.append(_Line(node.detail, DETAIL_SIZE, False, "#4b5563"))
    width, height = _text_block(lines)
    return _Item(node.id, "stage", max(MIN_STAGE_WIDTH, width + 2 * PAD_X), height + 2 * PAD_Y, lines, node)


def _label_item(key: str, text: str) -> _Item:
    lines = [_Line(t, LABEL_SIZE, False, "#333333") for t in wrap(text, LABEL_WRAP, LABEL_SIZE)]
    width, height = _text_block(lines)
    return _Item(key, "label", width + 8, height + 4, lines)


def _pool_adjacent_violators(targets: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``targets`` in weighted least squares."""
    blocks: list[tuple[float, float, int]] = []  # (value, weight, count)
    for target, weight in zip(targets, weights, strict=True):
        blocks.append((target, weight, 1))
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append(((v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2))
    return [value for value, _, count in blocks for _ in range(count)]


class _Layout:
    """Places the items of one graph; see the module's docstring for the method."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.items: dict[str, _Item] = {node.id: _node_item(node) for node in graph.nodes}
        self.succ: dict[str, list[str]] = {key: [] for key in self.items}
        self.pred: dict[str, list[str]] = {key: [] for key in self.items}
        # Each edge as the chain of items it runs through, and a label placed
        # on the line itself when the edge had no layer to spare for it.
        self.chains: list[tuple[list[str], str | None]] = []
        self.layers: list[list[str]] = []
        self.bands: list[tuple[float, float]] = []  # per layer: top and bottom y
        self.height = 0.0
        self._assign_layers()
        self._split_edges()
        self._order()
        self._place_x()
        self._place_y()

    # -- 1. layers ------------------------------------------------------
    def _assign_layers(self) -> None:
        # (target, length) per source. A node nothing leads to (an unreachable
        # stage, which the checker reports) hangs below the node before it in
        # text order rather than floating up beside the start.
        out: dict[str, list[tuple[str, int]]] = {key: [] for key in self.items}
        for edge in self.graph.edges:
            out[edge.source].append((edge.target, 2 if edge.label is not None else 1))
        order = [node.id for node in self.graph.nodes]
        for before, key in itertools.pairwise(order):
            if not self.graph.edges_to(key):
                out[before].append((key, 1))
        indegree = {key: 0 for key in self.items}
        for targets in out.values():
            for target, _ in targets:
                indegree[target] += 1
        ready = [key for key in order if indegree[key] == 0]
        done: set[str] = set()
        while len(done) < len(order):
            if not ready:
                # Only a cycle gets here, and flows have none; break it in text order.
                ready = [next(key for key in order if key not in done)]
            key = ready.pop(0)
            if key in done:
                continue
            done.add(key)
            for target, length in out[key]:
                if target not in done:
                    self.items[target].layer = max(self.items[target].layer, self.items[key].layer + length)
                    indegree[target] -= 1
                    if indegree[target] == 0:
                        ready.append(target)

    # -- 2. dummies -----------------------------------------------------
    def _split_edges(self) -> None:
        for index, edge in enumerate(self.graph.edges):
            source, target = self.items[edge.source], self.items[edge.target]
            chain = [edge.source]
            inline_label = edge.label
            for layer in range(source.layer + 1, target.layer):
                key = f"#{index}.{layer}"
                if inline_label is not None:
                    item = _label_item(key, inline_label)
                    inline_label = None
                else:
                    item = _Item(key, "dummy", 0.0, 0.0)
                item.layer = layer
                self.items[key] = item
                self.succ[key], self.pred[key] = [], []
                chain.append(key)
            chain.append(edge.target)
            for a, b in itertools.pairwise(chain):
                self.succ[a].append(b)
                self.pred[b].append(a)
            self.chains.append((chain, inline_label))
        self.layers = [[] for _ in range(max(item.layer for item in self.items.values()) + 1)]

    # -- 3. order -------------------------------------------------------
    def _order(self) -> None:
        # Depth-first preorder, successors in the order their edges were made
        # (arms as written), so a branch's arms come out side by side.
        rank: dict[str, int] = {}
        roots = [node.id for node in self.graph.nodes if not self.pred[node.id]]
        for root in roots + list(self.items):
            stack = [root]
            while stack:
                key = stack.pop()
                if key in rank:
                    continue
                rank[key] = len(rank)
                stack.extend(reversed([s for s in self.succ[key] if s not in rank]))
        for key in sorted(self.items, key=rank.__getitem__):
            self.layers[self.items[key].layer].append(key)
        best, best_crossings = [list(layer) for layer in self.layers], self._crossings()
        for sweep in range(8):
            downward = sweep % 2 == 0
            indices = range(1, len(self.layers)) if downward else range(len(self.layers) - 2, -1, -1)
            for i in indices:
                position = {key: p for p, key in enumerate(self.layers[i - 1 if downward else i + 1])}
                neighbours = self.pred if downward else self.succ

                def barycentre(pair: tuple[int, str], position: dict[str, int] = position,
                               neighbours: dict[str, list[str]] = neighbours) -> float:
                    near = [position[k] for k in neighbours[pair[1]] if k in position]
                    return sum(near) / len(near) if near else float(pair[0])

                # sorted() is stable: ties keep the depth-first order.
                self.layers[i] = [key for _, key in sorted(enumerate(self.layers[i]), key=barycentre)]
            crossings = self._crossings()
            if crossings < best_crossings:
                best, best_crossings = [list(layer) for layer in self.layers], crossings
        self.layers = best

    def _crossings(self) -> int:
        total = 0
        for upper, lower in zip(self.layers, self.layers[1:], strict=False):
            position = {key: p for p, key in enumerate(lower)}
            pairs = [(u, position[s]) for u, key in enumerate(upper) for s in self.succ[key] if s in position]
            total += sum(1 for a in pairs for b in pairs if a[0] < b[0] and a[1] > b[1])
        return total

    # -- 4. x positions -------------------------------------------------
    def _gap(self, a: _Item, b: _Item) -> float:
        # Two labels side by side need a node's gap, or they read as one sentence.
        near = DUMMY_GAP if "dummy" in (a.kind, b.kind) else NODE_GAP
        return (a.width + b.width) / 2 + near

    def _solve_layer(self, keys: list[str], desired: dict[str, float | None]) -> None:
        items = [self.items[key] for key in keys]
        offsets = [0.0]
        for a, b in itertools.pairwise(items):
            offsets.append(offsets[-1] + self._gap(a, b))
        targets, weights = [], []
        for item, offset in zip(items, offsets, strict=True):
            want = desired[item.key]
            targets.append((item.x if want is None else want) - offset)
            # Long edges should run straight; a node with nothing to follow barely pulls.
            weights.append(0.05 if want is None else (1.0 if item.real else 4.0))
        for item, value, offset in zip(items, _pool_adjacent_violators(targets, weights), offsets, strict=True):
            item.x = value + offset

    def _sweep(self, layer_indices: range, neighbour_maps: list[dict[str, list[str]]]) -> None:
        for i in layer_indices:
            desired: dict[str, float | None] = {}
            for key in self.layers[i]:
                xs = [self.items[k].x for m in neighbour_maps for k in m[key]]
                desired[key] = statistics.median(xs) if xs else None
            self._solve_layer(self.layers[i], desired)

    def _place_x(self) -> None:
        for layer in self.layers:
            x = 0.0
            for p, key in enumerate(layer):
                if p:
                    x += self._gap(self.items[layer[p - 1]], self.items[key])
                self.items[key].x = x
            for key in layer:
                self.items[key].x -= x / 2
        down, up = range(1, len(self.layers)), range(len(self.layers) - 2, -1, -1)
        for _ in range(10):
            self._sweep(down, [self.pred])
            self._sweep(up, [self.succ])
        for _ in range(2):
            self._sweep(range(len(self.layers)), [self.pred, self.succ])
        self._straighten()

    def _straighten(self) -> None:
        """Line up the points of each long edge on as few x positions as the boxes beside it allow.

        The sweeps leave long edges slightly wavy, since every point is pulled
        by its two neighbours; straight runs with a jog only where something is
        in the way read much better.
        """
        where = {key: (i, p) for i, layer in enumerate(self.layers) for p, key in enumerate(layer)}
        for chain, _ in self.chains:
            run = [self.items[key] for key in chain[1:-1]]
            start = 0
            while start < len(run):
                # Grow the segment while the free room of its points still overlaps.
                low, high = self._room(run[start], *where[run[start].key])
                end = start + 1
                while end < len(run):
                    a, b = self._room(run[end], *where[run[end].key])
                    if max(low, a) > min(high, b):
                        break
                    low, high, end = max(low, a), min(high, b), end + 1
                segment = run[start:end]
                # Straight out of the source or into the target if there is room, else near where the points were.
                if start == 0 and low <= self.items[chain[0]].x <= high:
                    x = self.items[chain[0]].x
                elif end == len(run) and low <= self.items[chain[-1]].x <= high:
                    x = self.items[chain[-1]].x
                else:
                    x = min(max(statistics.median(item.x for item in segment), low), high)
                for item in segment:
                    item.x = x
                start = end

    def _room(self, item: _Item, layer_index: int, p: int) -> tuple[float, float]:
        """The interval of x where ``item`` can stand without crowding its neighbours in the layer."""
        layer = self.layers[layer_index]
        low, high = -float("inf"), float("inf")
        if p > 0:
            left = self.items[layer[p - 1]]
            low = left.x + self._gap(left, item)
        if p + 1 < len(layer):
            right = self.items[layer[p + 1]]
            high = right.x - self._gap(item, right)
        return low, high

    # -- y positions ----------------------------------------------------
    def _place_y(self) -> None:
        y = 0.0
        for layer in self.layers:
            height = max((self.items[key].height for key in layer), default=0.0)
            self.bands.append((y, y + height))
            for key in layer:
                self.items[key].y = y + height / 2
            y += height + LAYER_GAP
        self.height = y - LAYER_GAP

    def entry_offsets(self) -> list[float]:
        """Per edge, how far right of the centre it enters its target.

        Edges into a stage box are spread along its top, ordered by where they
        come from, so they don't all meet in one point; a circle or a diamond
        has one natural point to enter by, its top.
        """
        offsets = [0.0] * len(self.chains)
        incoming: dict[str, list[int]] = {}
        for index, (chain, _) in enumerate(self.chains):
            incoming.setdefault(chain[-1], []).append(index)
        for key, indices in incoming.items():
            target = self.items[key]
            if target.kind != "stage" or len(indices) < 2:
                continue
            indices.sort(key=lambda i: self.items[self.chains[i][0][-2]].x)
            span = min(target.width * 0.5, 18.0 * (len(indices) - 1))
            for rank, index in enumerate(indices):
                offsets[index] = -span / 2 + span * rank / (len(indices) - 1)
        return offsets

    def route(self, chain: list[str], entry_offset: float = 0.0) -> list[tuple[float, float]]:
        """The polyline of an edge: out of its source's bottom, down its layers, into its target's top."""
        source, target = self.items[chain[0]], self.items[chain[-1]]
        points = [(source.x, source.y + source.height / 2)]
        for key in chain[1:-1]:
            item = self.items[key]
            top, bottom = self.bands[item.layer]
            points += [(item.x, top), (item.x, bottom)]
        points.append((target.x + entry_offset, target.y - target.height / 2))
        return [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------

_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text safe in XML content and in double-quoted attributes."""
    return escape(_INVALID_XML.sub("\ufffd", text), {'"': "&quot;"})


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_lines(lines: list[_Line], cx: float, top: float) -> list[str]:
    out = []
    y = top
    for line in lines:
        step = line.size * LINE_HEIGHT
        # Baseline a third of the font size below the middle of the line box: no
        # dominant-baseline, which some renderers ignore.
        baseline = y + step / 2 + line.size * 0.35
        weight = ' font-weight="bold"' if line.bold else ""
        out.append(
            f'<text x="{_num(cx)}" y="{_num(baseline)}" font-size="{_num(line.size)}"{weight}'
            f' fill="{line.colour}" text-anchor="middle">{_xml(line.text)}</text>'
        )
        y += step
    return out


def _draw_node(item: _Item) -> list[str]:
    x, y, w, h = item.x, item.y, item.width, item.height
    assert item.node is not None
    head = f'<g class="node {item.kind}" data-node="{_xml(item.node.id)}">'
    if item.kind in ("start", "end"):
        r = w / 2
        centre = f'cx="{_num(x)}" cy="{_num(y)}"'
        shapes = [f'<circle {centre} r="{_num(r)}" fill="#e8f5e9" stroke="#2e7d32" stroke-width="1.5"/>']
        if item.kind == "end":
            shapes.append(f'<circle {centre} r="{_num(r - 4)}" fill="none" stroke="#2e7d32"/>')
        text_h = sum(line.size * LINE_HEIGHT for line in item.lines)
        return [head, *shapes, *_text_lines(item.lines, x, y - text_h / 2), "</g>"]
    if item.kind == "decision":
        corners = [(x, y - h / 2), (x + w / 2, y), (x, y + h / 2), (x - w / 2, y)]
        points = " ".join(f"{_num(px)},{_num(py)}" for px, py in corners)
        return [head, f'<polygon points="{points}" fill="#fff7e0" stroke="#c9a227" stroke-width="1.5"/>', "</g>"]
    fill, stroke = CATEGORY_COLOURS.get(item.node.category or "", DEFAULT_COLOURS)
    rect = (
        f'<rect x="{_num(x - w / 2)}" y="{_num(y - h / 2)}" width="{_num(w)}" height="{_num(h)}" rx="8" ry="8"'
        f' fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
    )
    return [head, rect, *_text_lines(item.lines, x, y - h / 2 + PAD_Y), "</g>"]


def _draw_label(lines: list[_Line], cx: float, cy: float, width: float, height: float) -> list[str]:
    return [
        f'<rect x="{_num(cx - width / 2)}" y="{_num(cy - height / 2)}" width="{_num(width)}" height="{_num(height)}"'
        ' rx="3" fill="#ffffff" fill-opacity="0.92"/>',
        *_text_lines(lines, cx, cy - height / 2 + 2),
    ]


def render_svg(graph: Graph) -> str:
    """A standalone SVG document of ``graph``, laid out top to bottom."""
    layout = _Layout(graph)
    items = layout.items.values()
    left = min(item.x - item.width / 2 for item in items)
    right = max(item.x + item.width / 2 for item in items)
    heading = _Line(graph.title, HEADING_SIZE, True)
    heading_width = text_width(heading.text, heading.size, True)
    width = max(right - left, heading_width) + 2 * MARGIN
    heading_h = HEADING_SIZE * LINE_HEIGHT + 12
    height = layout.height + heading_h + 2 * MARGIN
    # Centre the drawing under the heading, then put the whole layout on the canvas.
    dx = MARGIN - left + (width - 2 * MARGIN - (right - left)) / 2
    dy = MARGIN + heading_h
    for item in items:
        item.x += dx
        item.y += dy
    layout.bands = [(top + dy, bottom + dy) for top, bottom in layout.bands]

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}"'
        f' viewBox="0 0 {_num(width)} {_num(height)}" font-family="{FONT}" role="img">',
        f"<title>{_xml(graph.title)}</title>",
        "<defs>",
        '<marker id="bpf-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9"'
        f' markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker>',
        "</defs>",
        f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>',
        *_text_lines([heading], width / 2, MARGIN),
        '<g class="edges">',
    ]
    labels: list[str] = []
    offsets = layout.entry_offsets()
    for (chain, inline_label), edge, offset in zip(layout.chains, graph.edges, offsets, strict=True):
        points = layout.route(chain, offset)
        path = " ".join(f"{'M' if i == 0 else 'L'}{_num(px)},{_num(py)}" for i, (px, py) in enumerate(points))
        title = f"<title>{_xml(edge.label)}</title>" if edge.label else ""
        out.append(
            f'<path d="{path}" fill="none" stroke="{EDGE_COLOUR}" stroke-width="1.4" marker-end="url(#bpf-arrow)"'
            f' data-from="{_xml(edge.source)}" data-to="{_xml(edge.target)}">{title}</path>'
        )
        for key in chain:
            item = layout.items[key]
            if item.kind == "label":
                labels += _draw_label(item.lines, item.x, item.y, item.width, item.height)
        if inline_label is not None:
            # No layer was free for this label (only a malformed graph does that): put it mid-edge.
            (ax, ay), (bx, by) = points[len(points) // 2 - 1], points[len(points) // 2]
            label = _label_item("", inline_label)
            labels += _draw_label(label.lines, (ax + bx) / 2, (ay + by) / 2, label.width, label.height)
    out += ["</g>", '<g class="edge-labels">', *labels, "</g>", '<g class="nodes">']
    for node in graph.nodes:
        out += _draw_node(layout.items[node.id])
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"
