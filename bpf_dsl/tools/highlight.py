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

__all__ = ["BpfLexer"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"  # a keyword is a whole word
_WS = r"[ \t\r\n\f]+"

TYPES = ("text", "integer", "decimal", "money", "bool", "date", "datetime", "email", "phone", "url")
"""The simple field types (``choice``, ``choices`` and ``lookup`` take arguments)."""

MODIFIERS = ("required", "unique", "default", "min", "max")
"""Words that may follow a field's type."""

RULE_ACTIONS = ("set", "default", "error", "recommend", "require", "optional", "lock", "unlock", "hide", "show")
"""The actions of a business rule."""

BUILTIN_FUNCTIONS = ("today", "now", "days_between", "len", "lower", "upper", "coalesce", "date", "datetime")
"""Functions every expression knows (``date``/``datetime`` also write literals)."""


def _kw(*names: str) -> Any:
    """A regex matching any of ``names`` as a whole word."""
    return words(names, suffix=_END)


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
    (_kw("true", "false", "null"), Keyword.Constant),
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
            (_kw("import"), Keyword.Namespace, "import"),
            (_kw("role"), Keyword.Declaration, "role-head"),
            (_kw("extend"), Keyword.Declaration),
            (_kw("entity"), Keyword.Declaration, "entity-head"),
            (_kw("process"), Keyword.Declaration, "process-head"),
            (_kw("rule"), Keyword.Declaration, "rule-head"),
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
            (_NAME, Name.Attribute, "field-head"),
            *_FALLBACK,
        ],
        "field-head": [
            *_SPACE,
            *_STRING_START,
            (r":", Punctuation, ("#pop", "field-type")),
            default("#pop"),
        ],
        "field-type": [
            *_SPACE,
            (r"(choices?)(\s*)(\()", bygroups(Keyword.Type, Whitespace, Punctuation),
             ("#pop", "field-mods", "options")),
            (r"(lookup)(\s*)(\()", bygroups(Keyword.Type, Whitespace, Punctuation), ("#pop", "field-mods", "lookup")),
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
            (_kw("default"), Keyword.Pseudo, "default-value"),
            (_kw("required", "unique", "min", "max"), Keyword.Pseudo),
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
            (_kw("true", "false", "null"), Keyword.Constant, "#pop"),
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
            (_kw("on"), Keyword, "entity-ref"),
            (r"\{", Punctuation, ("#pop", "process-body")),
            default("#pop"),
        ],
        "process-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            (_kw("order", "description"), Keyword),
            (_kw("roles"), Keyword, "roles"),
            (_kw("stage"), Keyword, "stage-head"),
            (_kw("if"), Keyword, ("process-arm", "expr")),
            (_kw("else"), Keyword, "process-arm"),
            (_kw("finish"), Keyword),
            (_kw("on"), Keyword, "hook-head"),
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
            (_kw("category"), Keyword, "category"),
            (_kw("on"), Keyword, "entity-ref"),
            (_kw("via"), Keyword, "field-ref"),
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
            (_kw("create"), Keyword, "create-open"),
            (_kw("step"), Keyword, "step"),
            (_kw("action"), Keyword),
            (_kw("call"), Keyword, "call-target"),
            (_kw("required"), Keyword.Pseudo),
            (_kw("on"), Keyword, "hook-head"),
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
            (_kw("required"), Keyword.Pseudo, "#pop"),
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
            (_kw("set"), Keyword, "target"),
            (_kw("call"), Keyword, "call-target"),
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
            (_kw("on"), Keyword, "entity-ref"),
            (r"\{", Punctuation, ("#pop", "rule-body")),
            default("#pop"),
        ],
        "rule-body": [
            *_SPACE,
            (r"\}", Punctuation, "#pop"),
            (_kw("if"), Keyword, ("rule-arm", "expr")),
            (_kw("else"), Keyword, "rule-arm"),
            (_kw("set", "default"), Keyword, "target"),
            (_kw("error", "recommend"), Keyword, "message-field"),
            (_kw("require", "optional", "lock", "unlock", "hide", "show"), Keyword, "field-ref"),
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
            (_kw("not"), Operator.Word),
            (r"-", Operator),
            (r'"', String.Double, ("#pop", "expr-after", "string")),
            (r"[0-9]+\.[0-9]+", Number.Float, ("#pop", "expr-after")),
            (r"[0-9]+", Number.Integer, ("#pop", "expr-after")),
            (_kw("true", "false", "null"), Keyword.Constant, ("#pop", "expr-after")),
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
            (r"(is)(\s+)(not)(\s+)(empty)" + _END,
             bygroups(Operator.Word, Whitespace, Operator.Word, Whitespace, Operator.Word)),
            (r"(is)(\s+)(empty)" + _END, bygroups(Operator.Word, Whitespace, Operator.Word)),
            (r"(starts|ends)(\s+)(with)" + _END, bygroups(Operator.Word, Whitespace, Operator.Word), ("#pop", "expr")),
            (r"(not)(\s+)(in)" + _END, bygroups(Operator.Word, Whitespace, Operator.Word), ("#pop", "expr")),
            (_kw("and", "or", "in", "contains"), Operator.Word, ("#pop", "expr")),
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
