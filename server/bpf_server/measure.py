"""The size of a GraphQL document, measured in one pass that visits each fragment definition once.

What a document may cost the server is decided by its size *after* its fragment
spreads are expanded: ``fragment F1 on Entity { ...F0 ...F0 }``, ``F2`` spreading
``F1`` twice, and so on, is 1.3 KB of text for 2^29 fields. A walk that follows
each spread into its fragment again (strawberry's depth and alias limiters) takes
exponential time on such a text; here each fragment is measured once, the first
time a spread needs it, and every later spread adds the kept figures. Nothing
recurses: nesting and fragment chains are walked with explicit stacks, so no
document, however deep, reaches Python's recursion limit.

Measured per operation (:class:`Size`):

- ``depth``: the level of the deepest field, a root field being level 1, as
  strawberry's ``QueryDepthLimiter`` counted it (the insides of introspection
  fields, ``__schema`` and ``__type``, are not counted: GraphiQL's own
  introspection query nests ``ofType`` nine times);
- ``fields``: field selections once every spread is expanded (introspection's
  included), what the executor may have to resolve per object;
- ``aliases``: aliased fields, likewise expanded;
- ``repeats``: a bound on how many fields of the expanded document share one
  response path (``entities.fields.name``). graphql-core's
  ``OverlappingFieldsCanBeMergedRule`` compares the fields of one response path
  pairwise: its work grows as ``fields × repeats``, and ``{ entities { fields {
  name } fields { name } ... } }`` with a few hundred repeats takes it seconds.
  A fragment spread counts against every name of its selection set, as if it
  held each (it may): never below the truth, and as tight as the truth for
  queries that spread a fragment or two per selection set.

A spread of a fragment being measured (a cycle) or of an unknown fragment adds
nothing: graphql-core's ``NoFragmentCyclesRule`` and ``KnownFragmentNamesRule``
report those.

The measure stops early, marking the unit as over, once ``fields`` passes
``limit``: the figures of a document over the limit only need to say so, and the
work stays bounded by the limit whatever the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass(frozen=True, slots=True)
class Size:
    """What one operation (or fragment) costs once its spreads are expanded (see the module's docstring)."""

    depth: int
    fields: int
    aliases: int
    repeats: int


@dataclass(slots=True)
class _Unit:
    """The running figures of one operation or fragment (``repeats``: the bound of the module's docstring)."""

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    repeats: int = 0

    def size(self) -> Size:
        return Size(self.depth, self.fields, self.aliases, self.repeats)


#: A fragment whose measure is under way (a spread of it then adds nothing: a cycle).
_PENDING = _Unit()

_Entry = tuple[SelectionSetNode, int, bool, "FieldNode | None", "SelectionSetNode | None"]


class Measure:
    """Sizes of the operations of one document; each fragment is measured once, when first spread."""

    def __init__(self, document: DocumentNode, limit: int) -> None:
        self.limit = limit
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments.setdefault(definition.name.value, definition)
        self.operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        self._units: dict[str, _Unit] = {}

    def sizes(self) -> list[tuple[OperationDefinitionNode, Size]]:
        """Each operation with its size (figures past the limit are only known to be past it)."""
        out = []
        for operation in self.operations:
            self._measure_fragments(self._spread_definitions(operation.selection_set))
            out.append((operation, self._measure(operation.selection_set).size()))
        return out

    def _measure_fragments(self, roots: list[FragmentDefinitionNode]) -> None:
        """Measure ``roots`` and the fragments they spread, each once, innermost first.

        A stack rather than recursion: a chain of fragments may be as long as the text allows.
        """
        pending = list(roots)
        while pending:
            current = pending[-1]
            key = current.name.value
            if key in self._units and self._units[key] is not _PENDING:
                pending.pop()
                continue
            if key not in self._units:
                self._units[key] = _PENDING
                missing = [d for d in self._spread_definitions(current.selection_set)
                           if d.name.value not in self._units]
                if missing:
                    pending.extend(missing)
                    continue
            pending.pop()
            self._units[key] = self._measure(current.selection_set)

    def _spread_definitions(self, selection_set: SelectionSetNode) -> list[FragmentDefinitionNode]:
        """The definitions of the fragments spread anywhere in ``selection_set`` (at any depth)."""
        found: list[FragmentDefinitionNode] = []
        stack = [selection_set]
        while stack:
            for selection in stack.pop().selections:
                if isinstance(selection, FragmentSpreadNode):
                    definition = self.fragments.get(selection.name.value)
                    if definition is not None:
                        found.append(definition)
                elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                    stack.append(selection.selection_set)
        return found

    def _measure(self, selection_set: SelectionSetNode) -> _Unit:
        """The figures of one selection set whose fragments are all measured (or under way: a cycle)."""
        unit = _Unit()
        # Pre-order over the nested selection sets, with a stack. Each entry: the set, its level, whether
        # its depth counts, the field that owns it and the set that field is in (None at the top).
        order: list[_Entry] = []
        stack: list[_Entry] = [(selection_set, 0, True, None, None)]
        while stack:
            entry = stack.pop()
            order.append(entry)
            current, level, counted, _owner, _parent = entry
            for selection in _flat(current):
                if isinstance(selection, FieldNode):
                    unit.fields += 1
                    if selection.alias is not None:
                        unit.aliases += 1
                    if counted:
                        unit.depth = max(unit.depth, level + 1)
                    if selection.selection_set is not None:
                        # Introspection's insides are not counted in depth (see the module's docstring).
                        inner = counted and not selection.name.value.startswith("__")
                        stack.append((selection.selection_set, level + 1, inner, selection, current))
                else:  # a fragment spread
                    found = self._units.get(selection.name.value)
                    if found is None or found is _PENDING:
                        continue
                    unit.fields += found.fields
                    unit.aliases += found.aliases
                    if counted and found.depth:
                        unit.depth = max(unit.depth, level + found.depth)
            if unit.fields > self.limit:
                return unit  # over: the figures only need to say so
        # Then the innermost sets first. A set's bound: the largest sum, over the fields of one response
        # name, of each field's own bound (1 for a leaf, else at least 1 and its set's bound), plus the
        # bound of every fragment spread in it (a fragment may hold a field of any name: adding its bound
        # to each name is the safe side, and costs nothing per name).
        owed: dict[int, dict[str, int]] = {}  # a set's id -> its fields' bounds from their own sets
        for current, _level, _counted, owner, parent in reversed(order):
            names = owed.pop(id(current), {})
            spreads = 0
            for selection in _flat(current):
                if isinstance(selection, FieldNode):
                    if selection.selection_set is None:
                        key = (selection.alias or selection.name).value
                        names[key] = names.get(key, 0) + 1
                else:
                    found = self._units.get(selection.name.value)
                    if found is not None and found is not _PENDING:
                        spreads += found.repeats
            bound = max(names.values(), default=0) + spreads
            if owner is None or parent is None:
                unit.repeats = bound
                continue
            key = (owner.alias or owner.name).value
            siblings = owed.setdefault(id(parent), {})
            siblings[key] = siblings.get(key, 0) + max(1, bound)
        return unit


def _flat(selection_set: SelectionSetNode) -> list[FieldNode | FragmentSpreadNode]:
    """The fields and spreads of a selection set, inline fragments opened (they add no level)."""
    out: list[FieldNode | FragmentSpreadNode] = []
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FieldNode | FragmentSpreadNode):
                out.append(selection)
    return out
