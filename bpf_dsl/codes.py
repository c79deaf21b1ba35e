"""The one table of diagnostic codes. Codes are stable: never renumber, only add.

``docs/language.md`` lists the same table; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    """A diagnostic code: its severity and what it means."""

    code: str
    severity: str
    title: str


_TABLE = [
    # Reading and parsing
    Code("BPF001", "error", "syntax error: the text does not fit the grammar here"),
    Code("BPF002", "error", "the file ends too early (an unclosed block or expression)"),
    Code("BPF003", "error", "unknown escape in a string"),
    Code("BPF004", "error", "the file is larger than the limit"),
    Code("BPF005", "error", "an expression or block nests too deeply"),
    Code("BPF006", "error", "an invalid date or datetime literal"),
    Code("BPF007", "error", "the file can't be read or is not UTF-8"),
    # Imports
    Code("BPF010", "error", "an imported file does not exist"),
    Code("BPF011", "error", "an imported plugin pack or module is not installed"),
    Code("BPF012", "error", "an import cycle"),
    # Names
    Code("BPF020", "error", "a duplicate declaration (role, entity, process or rule)"),
    Code("BPF021", "error", "an unknown entity"),
    Code("BPF022", "error", "an unknown field"),
    Code("BPF023", "error", "a duplicate field in an entity"),
    Code("BPF024", "error", "an unknown role"),
    Code("BPF025", "error", "`extend entity` of an entity declared nowhere"),
    Code("BPF026", "error", "a field named like a built-in column (id, created_at, updated_at, version), "
                            "or a rule or hook that sets or changes one"),
    Code("BPF027", "error", "a duplicate stage name in a process"),
    Code("BPF028", "error", "a duplicate option in a choice"),
    Code("BPF029", "error", "a name in an expression that is neither a field nor an option"),
    # Types
    Code("BPF030", "error", "an unknown field type"),
    Code("BPF031", "error", "wrong arguments to a field type (choice without options, lookup without entity...)"),
    Code("BPF032", "error", "a default value that doesn't fit its field"),
    Code("BPF033", "error", "`min`/`max` on a type that takes none, or min above max"),
    Code("BPF034", "error", "values of types that can't be compared or combined"),
    Code("BPF035", "error", "a choice compared with an option it doesn't have"),
    Code("BPF036", "error", "a condition that is not yes/no, or arithmetic on a non-number"),
    Code("BPF037", "error", "an assigned value that doesn't fit its field"),
    Code("BPF038", "error", "a field modifier given twice"),
    Code("BPF039", "error", "an unknown function, or a function called with wrong arguments"),
    # Process flow
    Code("BPF040", "error", "`finish` that is not the last item of its block"),
    Code("BPF041", "error", "an unreachable stage"),
    Code("BPF042", "error", "a `via` field that isn't a lookup to an entity bound in the instance"),
    Code("BPF043", "error", "a stage on an entity with no bound record on some path"),
    Code("BPF044", "error", "a step whose field isn't on the stage's entity"),
    Code("BPF045", "error", "the same step twice in a stage"),
    Code("BPF046", "error", "a `create` block on a stage not entered through `via`"),
    Code("BPF047", "error", "a `create` value that doesn't fit its field, or a second `create` block"),
    Code("BPF048", "error", "an unknown stage category"),
    Code("BPF049", "error", "a hook event that doesn't exist here"),
    Code("BPF050", "error", "a process without stages"),
    Code("BPF051", "error", "the first stage on an entity other than the process's"),
    Code("BPF052", "error", "a process setting given twice, or an invalid setting value"),
    Code("BPF053", "error", "`set` on a field of an entity not bound in the instance"),
    Code("BPF054", "error", "the same hook event twice in one stage or process"),
    # Actions and functions
    Code("BPF060", "error", "an unknown plugin action"),
    Code("BPF061", "error", "an unknown, missing or repeated action argument"),
    Code("BPF062", "error", "an action argument of the wrong type"),
    Code("BPF063", "error", "an action step whose name is taken by another step of the stage"),
    # Warnings
    Code("BPF090", "warning", "more than 30 stages in a process (D365's limit)"),
    Code("BPF091", "warning", "more than 30 steps in a stage (D365's limit)"),
    Code("BPF092", "warning", "more than 5 entities in a process (D365's limit)"),
    Code("BPF093", "warning", "more than 10 processes on an entity (D365's limit)"),
    Code("BPF094", "warning", "a condition reads a field that no earlier step asks for"),
    Code("BPF095", "warning", "a comparison with null is always false"),
    Code("BPF096", "warning", "a required step on a field that a rule always hides"),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
