"""A process flow as a small neutral graph (:class:`Graph`), the one thing every diagram format prints.

A start node, one node per stage, one decision per ``if`` chain and one end node,
joined by edges whose labels are the branch conditions. The flow semantics follow
the language reference: stages run in text order; an ``if`` chain is a decision
whose arms merge at the first item after the chain unless they end with
``finish``; a chain without ``else`` falls through to the next item (an edge
labelled ``otherwise``); an empty arm goes straight to the merge point;
``finish`` and the end of the process lead to the end node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bpf_dsl import nodes as n
from bpf_dsl.exprtext import expr_text
from bpf_dsl.model import EntitySpec
from bpf_dsl.tools.wording import Wording, category_words

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

@dataclass(frozen=True, slots=True)
class Node:
    """A node of a process diagram: the start, a stage, a decision or the end."""

    id: str
    kind: NodeKind
    title: str
    category: str | None = None
    entity: str | None = None
    #: The second line in people's words ("Qualify · Lead"), when the graph was built with labels.
    detail_words: str | None = None

    @property
    def detail(self) -> str | None:
        """The second line of a stage: ``[category] · entity`` (or :attr:`detail_words`), or None when there is
        neither."""
        if self.detail_words is not None:
            return self.detail_words
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

    def __init__(self, process: n.Process, wording: Wording | None = None) -> None:
        self.process = process
        self.wording = wording
        # The entity whose record a chain's conditions read: the stage before it (LANGUAGE.md).
        self.scope = process.entity
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
                entity = item.entity or self.process.entity
                node = Node(
                    self.unique(f"stage_{item.name}"),
                    "stage",
                    item.label or n.derive_label(item.name),
                    item.category,
                    entity,
                    self.detail_words(item.category, entity),
                )
                self.scope = entity
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
        scope = self.scope
        for arm in branch.arms:
            self.scope = scope  # every arm's condition reads the record before the chain
            label = ELSE_LABEL if arm.condition is None else self.condition(arm.condition)
            # An empty arm returns its own entry edge, so it reaches the merge point directly.
            merged.extend(self.block(arm.body, self.pending(node.id, label)))
        if not branch.has_else:
            merged.extend(self.pending(node.id, OTHERWISE_LABEL))
        self.scope = scope  # stages inside the arms don't count for the next chain at this level
        return merged


    def detail_words(self, category: str | None, entity: str) -> str | None:
        """A stage's second line in labels ("Qualify · Lead"), or None when the graph keeps ids."""
        if self.wording is None:
            return None
        return " · ".join([*([category_words(category)] if category else []), self.wording.entity_label(entity)])

    def condition(self, condition: n.Expr) -> str:
        """A branch condition: .bpf text, or words with labels."""
        if self.wording is None:
            return expr_text(condition)
        return self.wording.condition(condition, self.scope)


def build_graph(process: n.Process, entities: Mapping[str, EntitySpec] | None = None) -> Graph:
    """The neutral diagram of a process's flow.

    Without ``entities`` the text is the .bpf source's (``[qualify] · lead``, ``budget_amount >= 1000000``),
    for developers; with the program's entities it is what a person reads: labels of categories, entities,
    fields and options (``Qualify · Lead``, ``Budget Amount is at least 1,000,000``).
    """
    return _Builder(process, Wording(entities) if entities is not None else None).build()


# ---------------------------------------------------------------------------
# Mermaid
# ---------------------------------------------------------------------------
