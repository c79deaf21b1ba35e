"""Syntax highlighting of .bpf files with Pygments (the optional ``highlight`` extra).

``pip install bpf[highlight]`` registers :class:`BpfLexer` under the
``pygments.lexers`` entry point, so ``pygmentize -l bpf file.bpf`` and any tool
built on Pygments (Sphinx, MkDocs, GitLab...) colour .bpf text.

The language reserves keywords only where the parser could expect them, so the
lexer follows the structure of a file with a small state machine instead of
colouring every ``order`` or ``status`` as a keyword: an entity body expects
field declarations, a stage body expects steps, and an expression alternates
between operands and operators. A word is a keyword only where the grammar
could take it as one; anywhere else it is a name. The lexer never raises and
never loses text: the tokens always join back to the input.

States only ever *pop* without consuming text (never push), so no input can
make the lexer loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups, default, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from bpf_dsl.grammar import keyword_of, leading_keywords, lone_keywords, rules, words_in
from bpf_dsl.model import ALL_KINDS, OPTION_KINDS, SIMPLE_KINDS, TEMPORAL_KINDS
from bpf_dsl.plugins.builtins import bpf_functions

__all__ = ["BpfLexer"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"  # a keyword is a whole word
_WS = r"[ \t\r\n\f]+"

# ---- what the lexer colours, derived: the grammar's keywords sorted by where they stand,
# the field kinds of the model, the built-in functions. Nothing here is a hand-kept list.

DECLARATIONS = leading_keywords("_decl")
"""Words that start a top-level declaration (``import``, ``entity``, ``extend``...)."""

HEADER_WORDS = tuple(sorted(set(words_in("process_decl", "rule_decl")) - set(DECLARATIONS)))
"""Words inside a process's or a rule's header (``on ENTITY``)."""

TYPES = tuple(sorted(SIMPLE_KINDS))
"""The simple field types (``choice``, ``choices`` and ``lookup`` take arguments)."""

OPTION_TYPES = tuple(sorted(OPTION_KINDS))
"""Field types whose arguments are options."""

REFERENCE_TYPES = tuple(sorted(ALL_KINDS - SIMPLE_KINDS - OPTION_KINDS))
"""Field types whose argument is an entity (``lookup``)."""

MODIFIERS = leading_keywords("field_mod")
"""Words that may follow a field's type."""

RESTRICTED_WORDS = tuple(sorted(set(words_in("field_mod")) - set(MODIFIERS)))
"""Words inside a field modifier (``to`` of ``restricted to``)."""

ENTITY_WORDS = words_in("allow_decl")
"""Words of an entity's ``allow`` lines (``allow``, ``to``, ``own``)."""

CONSTANTS = lone_keywords("atom")
"""The literal words of expressions (``true``, ``false``, ``null``)."""

DEFAULT_CONSTANTS = lone_keywords("literal_value")
"""The literal words a ``default`` takes."""

PROCESS_WORDS = leading_keywords("process_item", "else_if_arm", "else_arm")
"""Words that start an item of a process's body (settings, stages, branches, hooks, ``finish``)."""

STAGE_HEADER = words_in("stage_category", "stage_entity")
"""Words of a stage's header (``category``, ``on``, ``via``)."""

STAGE_WORDS = tuple(sorted({*leading_keywords("stage_item"), *words_in("data_step", "action_step")}))
"""Words of a stage's body: its items and the words inside steps."""

HOOK_ACTIONS = leading_keywords("hook_action")
"""The actions of a hook."""

RULE_WORDS = leading_keywords("rule_item", "rule_else_if_arm", "rule_else_arm")
"""Words that start an item of a rule's body: its actions and ``if``/``else``."""

RULE_ACTIONS = leading_keywords("rule_action")
"""The actions of a business rule."""

MODIFIERS_OF_STEPS = tuple(sorted(set(words_in("data_step")) - set(leading_keywords("data_step"))))
"""Words that may follow a step (``required``)."""

PREFIX_OPERATORS = leading_keywords("not_expr", follow=False)
"""Operator words written before their operand (``not``)."""


def _operator_phrases() -> dict[tuple[str, ...], bool]:
    """The operator words between (or after) operands, as phrases (``is not empty``, ``starts with``),
    each with whether an operand follows it."""
    phrases: dict[tuple[str, ...], bool] = {}
    table = rules()
    for name in ("or_expr", "and_expr", "comparison"):
        for alternative in table.get(name, ()):
            found = tuple(w for item in alternative if (w := keyword_of(item)) is not None)
            if found:
                phrases[found] = keyword_of(alternative[-1]) is None
    return phrases


OPERATOR_PHRASES = _operator_phrases()
"""Operator phrases of expressions, each with whether an operand follows it."""

OPERATOR_WORDS = tuple(sorted({w for phrase in OPERATOR_PHRASES for w in (*phrase, *PREFIX_OPERATORS)}))
"""Every operator word."""

BUILTIN_FUNCTIONS = tuple(sorted({f.name for f in bpf_functions() if f.namespace == ""} | TEMPORAL_KINDS))
"""Functions every expression knows (the built-ins; ``date``/``datetime`` write literals)."""

KEYWORDS = frozenset({*DECLARATIONS, *HEADER_WORDS, *MODIFIERS, *RESTRICTED_WORDS, *ENTITY_WORDS, *CONSTANTS,
                      *DEFAULT_CONSTANTS, *PROCESS_WORDS,
                      *STAGE_HEADER, *STAGE_WORDS, *HOOK_ACTIONS, *RULE_WORDS, *OPERATOR_WORDS})
"""Every word the lexer may colour as a keyword; the grammar's keywords, no more, no fewer."""


def _kw(*names: str) -> Any:
    """A regex matching any of ``names`` as a whole word."""
    return words(names, suffix=_END)


def _keywords(names: Iterable[str], token: Any, states: Mapping[str, Any] | None = None) -> list[Any]:
    """Rules colouring ``names`` as ``token``, each entering the state ``states`` gives it (if any).

    Words share one rule per state, and a word the grammar gained since ``states`` was written
    is still coloured, entering no state.
    """
    by_state: dict[Any, list[str]] = {}
    for name in names:
        by_state.setdefault((states or {}).get(name), []).append(name)
    return [(_kw(*group), token) if state is None else (_kw(*group), token, state)
            for state, group in by_state.items()]


def _rule_action_states() -> dict[str, str]:
    """Where each rule action goes next, read from its rule: ``= EXPR``, a message, or a field."""
    states: dict[str, str] = {}
    for alternative in rules().get("rule_action", ()):
        word = keyword_of(alternative[0])
        if word is None:
            continue
        if "EQ" in alternative:
            states[word] = "target"
        elif "STRING" in alternative:
            states[word] = "message-field"
        elif "NAME" in alternative:
            states[word] = "field-ref"
    return states


def _operators_after() -> list[Any]:
    """The operator words of ``expr-after``: the longest phrases first, then back to an operand when one follows."""
    out: list[Any] = []
    for phrase, operand in sorted(OPERATOR_PHRASES.items(), key=lambda p: -len(p[0])):
        pattern = r"(\s+)".join(f"({w})" for w in phrase) + _END
        groups = [Operator.Word]
        for _ in phrase[1:]:
            groups += [Whitespace, Operator.Word]
        rule: tuple[Any, ...] = (pattern, bygroups(*groups) if len(phrase) > 1 else Operator.Word)
        out.append((*rule, ("#pop", "expr")) if operand else rule)
    return out


_SPACE: list[Any] = [
    (_WS, Whitespace),
    (r"#[^\n]*", Comment.Single),
]

_STRING_START: list[Any] = [
    (r'"', String.Double, "string"),
]

_NUMBER: list[Any] = [
    (r"[0-9]+\.[0-9]+", Number.Float),
    (r"[0-9]+", Number.Integer),
]

# Whatever a state doesn't expect is still given a sensible token, so a file
# being typed (with a half-written line) stays readable.
_FALLBACK: list[Any] = [
    *_STRING_START,
    *_NUMBER,
    (_kw(*CONSTANTS), Keyword.Constant),
    (_NAME, Name),
    (r"!=|<=|>=|[=<>+\-*/]", Operator),
    (r"[(){}\[\],.:]", Punctuation),
]


class BpfLexer(RegexLexer):  # type: ignore[misc]
    """A Pygments lexer for the .bpf business process language."""

    name = "bpf"
    aliases: ClassVar[list[str]] = ["bpf"]
    filenames: ClassVar[list[str]] = ["*.bpf"]
    mimetypes: ClassVar[list[str]] = ["text/x-bpf"]

    tokens: ClassVar[dict[str, list[Any]]] = {
        # ---- top level ------------------------------------------------------------
        "root": [
            *_SPACE,
            *_keywords([w for w in DECLARATIONS if w == "import"], Keyword.Namespace, {"import": "import"}),
            *_keywords([w for w in DECLARATIONS if w != "import"], Keyword.Declaration, {
                "role": "role-head", "entity": "entity-head", "process": "process-head", "rule": "rule-head"}),
            *_FALLBACK,
        ],
        "import": [
            *_SPACE,
            (r'"', String.Double, ("#pop", "string")),
            (_NAME + r"(?:\." + _NAME + r")*", Name.Namespace, "#pop"),
            default("#pop"),
        ],
        "role-head": [
            *_SPACE,
            (_NAME, Name.Class, "#pop"),
            default("#pop"),
        ],
        # ---- entities -------------------------------------------------------------
        "entity-head": [
            *_SPACE,
            (_NAME, Name.Class, ("#pop", "entity-open")),
            default("#pop"),
        ],
        "entity-open": [
            *_SPACE,
            *_STRING_START,
            (r"\{", Punctuation, ("#pop", "entity-body")),
            default("#pop"),
        ],
        "entity-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            (_kw("allow"), Keyword, "allow-roles"),
            (_NAME, Name.Attribute, "field-head"),
            *_FALLBACK,
        ],
        # `allow ROLE, ... to VERB, ... [own]`: a name followed by a comma is not the list's last.
        "allow-roles": [
            *_SPACE,
            (_NAME + r"(?=\s*,)", Name.Class),
            (r",", Punctuation),
            (_kw("to"), Keyword, ("#pop", "allow-verbs")),
            (_NAME, Name.Class),
            default("#pop"),
        ],
        "allow-verbs": [
            *_SPACE,
            (_NAME + r"(?=\s*,|\s+own\b)", Name.Builtin),
            (r",", Punctuation),
            (_kw("own"), Keyword, "#pop"),
            (_NAME, Name.Builtin, "#pop"),
            default("#pop"),
        ],
        "restricted-roles": [
            *_SPACE,
            (_kw(*RESTRICTED_WORDS), Keyword.Pseudo),
            (_NAME + r"(?=\s*,)", Name.Class),
            (r",", Punctuation),
            (_NAME, Name.Class, "#pop"),
            default("#pop"),
        ],
        "field-head": [
            *_SPACE,
            *_STRING_START,
            (r":", Punctuation, ("#pop", "field-type")),
            default("#pop"),
        ],
        "field-type": [
            *_SPACE,
            (r"(" + "|".join(sorted(OPTION_TYPES, key=len, reverse=True)) + r")(\s*)(\()",
             bygroups(Keyword.Type, Whitespace, Punctuation), ("#pop", "field-mods", "options")),
            (r"(" + "|".join(REFERENCE_TYPES) + r")(\s*)(\()", bygroups(Keyword.Type, Whitespace, Punctuation),
             ("#pop", "field-mods", "lookup")),
            (_kw(*TYPES), Keyword.Type, ("#pop", "field-mods")),
            (_NAME, Name, ("#pop", "field-mods")),  # an unknown type: the checker says so
            default("#pop"),
        ],
        "options": [
            *_SPACE,
            *_STRING_START,
            (r",", Punctuation),
            (r"\)", Punctuation, "#pop"),
            (_NAME, Name.Constant),
            default("#pop"),
        ],
        "lookup": [
            *_SPACE,
            (r"\)", Punctuation, "#pop"),
            (_NAME, Name.Class),
            default("#pop"),
        ],
        "field-mods": [
            *_SPACE,
            *_keywords(MODIFIERS, Keyword.Pseudo, {"default": "default-value", "restricted": "restricted-roles"}),
            (r"-", Operator),
            *_NUMBER,
            default("#pop"),
        ],
        "default-value": [
            *_SPACE,
            (r'"', String.Double, ("#pop", "string")),
            (r"-", Operator),
            (r"[0-9]+\.[0-9]+", Number.Float, "#pop"),
            (r"[0-9]+", Number.Integer, "#pop"),
            (_kw(*DEFAULT_CONSTANTS), Keyword.Constant, "#pop"),
            (r"(" + _NAME + r")(\s*)(\()", bygroups(Name.Builtin, Whitespace, Punctuation),
             ("#pop", "typed-literal")),
            (_NAME, Name.Constant, "#pop"),
            default("#pop"),
        ],
        "typed-literal": [
            *_SPACE,
            *_STRING_START,
            (r"\)", Punctuation, "#pop"),
            default("#pop"),
        ],
        # ---- processes ------------------------------------------------------------
        "process-head": [
            *_SPACE,
            (_NAME, Name.Function, ("#pop", "process-open")),
            default("#pop"),
        ],
        "process-open": [
            *_SPACE,
            *_STRING_START,
            *_keywords(HEADER_WORDS, Keyword, {"on": "entity-ref"}),
            (r"\{", Punctuation, ("#pop", "process-body")),
            default("#pop"),
        ],
        "process-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            *_keywords(PROCESS_WORDS, Keyword, {
                "roles": "roles", "stage": "stage-head", "if": ("process-arm", "expr"), "else": "process-arm",
                "on": "hook-head"}),
            (r"-", Operator),
            *_FALLBACK,
        ],
        "process-arm": [
            *_SPACE,
            (r"\{", Punctuation, ("#pop", "process-body")),
            default("#pop"),
        ],
        "roles": [
            *_SPACE,
            (_NAME, Name.Class, ("#pop", "roles-more")),
            default("#pop"),
        ],
        "roles-more": [
            *_SPACE,
            (r",", Punctuation, ("#pop", "roles")),
            default("#pop"),
        ],
        "stage-head": [
            *_SPACE,
            (_NAME, Name.Function, ("#pop", "stage-open")),
            default("#pop"),
        ],
        "stage-open": [
            *_SPACE,
            *_STRING_START,
            *_keywords(STAGE_HEADER, Keyword, {"category": "category", "on": "entity-ref", "via": "field-ref"}),
            (r"\{", Punctuation, ("#pop", "stage-body")),
            default("#pop"),
        ],
        "category": [
            *_SPACE,
            (_NAME, Name.Constant, "#pop"),
            default("#pop"),
        ],
        "entity-ref": [
            *_SPACE,
            (_NAME, Name.Class, "#pop"),
            default("#pop"),
        ],
        "field-ref": [
            *_SPACE,
            (_NAME, Name.Attribute, "#pop"),
            default("#pop"),
        ],
        "stage-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            *_keywords(MODIFIERS_OF_STEPS, Keyword.Pseudo),
            *_keywords([w for w in STAGE_WORDS if w not in MODIFIERS_OF_STEPS], Keyword, {
                "create": "create-open", "step": "step", "call": "call-target", "on": "hook-head"}),
            *_FALLBACK,
        ],
        "create-open": [
            *_SPACE,
            (r"\{", Punctuation, ("#pop", "create-body")),
            default("#pop"),
        ],
        "create-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            (_NAME, Name.Attribute, "assign"),
            *_FALLBACK,
        ],
        "step": [
            *_SPACE,
            (_NAME, Name.Attribute, ("#pop", "step-rest")),
            default("#pop"),
        ],
        "step-rest": [
            *_SPACE,
            *_STRING_START,
            (_kw(*MODIFIERS_OF_STEPS), Keyword.Pseudo, "#pop"),
            default("#pop"),
        ],
        "hook-head": [
            *_SPACE,
            (_NAME, Keyword.Pseudo, ("#pop", "hook-open")),
            default("#pop"),
        ],
        "hook-open": [
            *_SPACE,
            (r"\{", Punctuation, ("#pop", "hook-body")),
            default("#pop"),
        ],
        "hook-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            *_keywords(HOOK_ACTIONS, Keyword, {"set": "target", "call": "call-target"}),
            *_FALLBACK,
        ],
        "call-target": [
            *_SPACE,
            (r"(" + _NAME + r")(\s*)(\.)(\s*)(" + _NAME + r")",
             bygroups(Name.Namespace, Whitespace, Punctuation, Whitespace, Name.Function)),
            (r"\(", Punctuation, ("#pop", "call-args")),
            default("#pop"),
        ],
        "call-args": [
            *_SPACE,
            (r"\)", Punctuation, "#pop"),
            (r",", Punctuation),
            (r"(" + _NAME + r")(\s*)(:)", bygroups(Name.Attribute, Whitespace, Punctuation), "expr"),
            default("#pop"),
        ],
        # ---- business rules -------------------------------------------------------
        "rule-head": [
            *_SPACE,
            (_NAME, Name.Function, ("#pop", "rule-open")),
            default("#pop"),
        ],
        "rule-open": [
            *_SPACE,
            *_STRING_START,
            *_keywords(HEADER_WORDS, Keyword, {"on": "entity-ref"}),
            (r"\{", Punctuation, ("#pop", "rule-body")),
            default("#pop"),
        ],
        "rule-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            *_keywords(RULE_WORDS, Keyword, {
                "if": ("rule-arm", "expr"), "else": "rule-arm",
                **_rule_action_states()}),
            *_FALLBACK,
        ],
        "rule-arm": [
            *_SPACE,
            (r"\{", Punctuation, ("#pop", "rule-body")),
            default("#pop"),
        ],
        "message-field": [
            *_SPACE,
            (_NAME, Name.Attribute, "#pop"),
            default("#pop"),
        ],
        # ---- assignments and expressions ------------------------------------------
        "target": [  # FIELD or ENTITY.FIELD, then `= EXPR`
            *_SPACE,
            (r"(" + _NAME + r")(\s*)(\.)", bygroups(Name.Class, Whitespace, Punctuation)),
            (_NAME, Name.Attribute, ("#pop", "assign")),
            default("#pop"),
        ],
        "assign": [
            *_SPACE,
            (r"=", Operator, ("#pop", "expr")),
            default("#pop"),
        ],
        "expr": [  # an operand is expected
            *_SPACE,
            (_kw(*PREFIX_OPERATORS), Operator.Word),
            (r"-", Operator),
            (r'"', String.Double, ("#pop", "expr-after", "string")),
            (r"[0-9]+\.[0-9]+", Number.Float, ("#pop", "expr-after")),
            (r"[0-9]+", Number.Integer, ("#pop", "expr-after")),
            (_kw(*CONSTANTS), Keyword.Constant, ("#pop", "expr-after")),
            (r"\(", Punctuation, ("#pop", "expr-after", "paren", "expr")),
            (r"\[", Punctuation, ("#pop", "expr-after", "list", "expr")),
            (r"(" + _NAME + r")(\s*)(\.)(\s*)(" + _NAME + r")(\s*)(\()",
             bygroups(Name.Namespace, Whitespace, Punctuation, Whitespace, Name.Function, Whitespace, Punctuation),
             ("#pop", "expr-after", "paren", "expr")),
            (r"(" + "|".join(BUILTIN_FUNCTIONS) + r")(\s*)(\()", bygroups(Name.Builtin, Whitespace, Punctuation),
             ("#pop", "expr-after", "paren", "expr")),
            (r"(" + _NAME + r")(\s*)(\()", bygroups(Name.Function, Whitespace, Punctuation),
             ("#pop", "expr-after", "paren", "expr")),
            (_NAME, Name, ("#pop", "expr-after")),
            default("#pop"),
        ],
        "expr-after": [  # an operator, or the end of the expression
            *_SPACE,
            (r"(\.)(\s*)(" + _NAME + r")", bygroups(Punctuation, Whitespace, Name.Attribute)),
            (r"!=|<=|>=|[=<>+\-*/]", Operator, ("#pop", "expr")),
            *_operators_after(),
            default("#pop"),
        ],
        "paren": [  # inside ( ): grouping or a call's arguments
            *_SPACE,
            (r"\)", Punctuation, "#pop"),
            (r",", Punctuation, "expr"),
            default("#pop"),
        ],
        "list": [
            *_SPACE,
            (r"\]", Punctuation, "#pop"),
            (r",", Punctuation, "expr"),
            default("#pop"),
        ],
        # ---- strings ----------------------------------------------------------------
        "string": [
            (r'[^"\\\n]+', String.Double),
            (r'\\["\\nt]', String.Escape),
            (r"\\.?", Error),  # the parser refuses other escapes (BPF003)
            (r'"', String.Double, "#pop"),
            (r"\n", Whitespace, "#pop"),  # not closed before the end of the line: the parser says so
        ],
    }
