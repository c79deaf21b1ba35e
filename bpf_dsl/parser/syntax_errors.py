"""Syntax errors explained in words, by example (lark's ``match_examples``).

The catalogue pairs a sentence with broken snippets that end in the same parser
state; an error in a user's file that lands in that state gets that sentence.
What the catalogue doesn't know is said from the set of tokens lark expected.

Different constructs can leave the parser expecting the same tokens after the
same kind of token (`process p {` and `rule r {` both lack `on`), so a place is
also told by the construct that is open there (:func:`_context`): the message
names the rule, the extended entity, the call's arguments, not another
construct that happens to share the parser's expectations.
"""

from __future__ import annotations

import difflib
import re

import lark
from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.grammar import keywords
from bpf_dsl.nodes import Span
from bpf_dsl.parser.lexer import kind, plain_parser, tokens_before

_VALUE = "a value: a field name, a number, a string, `true`, `false`, `null` or `(`"

# sentence -> (hint, snippets). Snippets are whole small files ending in the error.
CATALOGUE: dict[str, tuple[str, list[str]]] = {
    "expected a field type such as `text`, `money` or `lookup(entity)`": (
        "the types are text, integer, decimal, money, bool, date, datetime, email, phone, url, "
        "choice(...), choices(...) and lookup(ENTITY)",
        ['entity a { x: 12 }', 'entity a { x: "t" }', 'entity a { x: }', 'entity a { x "X": }',
         'entity a { x: ( }', 'entity a { x: - }'],
    ),
    "expected `:` and a type after the field's name": (
        'write a field as `name "Label": type`',
        ['entity a { x text }', 'entity a { x "X" text }', 'entity a { x }', 'entity a { x "X" }',
         'extend entity a { x text }'],
    ),
    "expected a field declaration (`name: type`) or `}`": (
        'fields look like `budget "Budget": money min 0`',
        ['entity a { : text }', 'entity a { "X": text }', 'entity a { 12 }', 'entity a { x: text , }'],
    ),
    "expected `{` to open the entity's fields": (
        'write `entity NAME "Label" { fields }`',
        ['entity a x', 'entity a "A" x', 'entity a "A" }', 'entity { }'],
    ),
    "expected `on ENTITY` after the process's name": (
        'write `process NAME "Label" on ENTITY { ... }`',
        ['process p { }', 'process p "P" { }', 'process p x { }'],
    ),
    "expected `on ENTITY` after the rule's name": (
        'write `rule NAME "Label" on ENTITY { ... }`',
        ['rule r { }', 'rule r "R" { }', 'rule r x { }'],
    ),
    "expected `{` after the name of the entity to extend": (
        "write `extend entity NAME { fields }`; `extend entity` takes no label, the entity's label is given "
        "where it is declared",
        ['extend entity a "A" { }', 'extend entity a x { }'],
    ),
    "expected `:` after the argument's name": (
        'action arguments are named: `bpf.notify(role: "sales", message: "Hi")`',
        ['process p on a { on start { call bpf.notify(role "x") } }',
         'process p on a { stage s { action "A" call bpf.notify(role 1) } }',
         'process p on a { on start { call bpf.notify(role) } }'],
    ),
    "expected options written `NAME \"Label\"`, separated by commas": (
        'write `choice(open "Open", won "Won")`',
        ['entity a { x: choice(,) }', 'entity a { x: choice(a b) }', 'entity a { x: choice(a, 1) }',
         'entity a { x: choice(1) }', 'entity a { x: choice("A") }'],
    ),
    "expected a stage, `if`, `finish`, a hook (`on start`, `on finish`...) or a setting (`order`, `roles`, "
    "`description`)": (
        "steps live inside a stage: `stage NAME { step FIELD }`",
        ['process p on a { x }', 'process p on a { step x }', 'process p on a { set x = 1 }',
         'process p on a { "x" }', 'process p on a { stage s { } x }'],
    ),
    "expected `step`, `action`, `create`, `on enter` or `on exit` inside a stage": (
        "stages don't nest: close this stage with `}` before the next one",
        ['process p on a { stage s { x } }', 'process p on a { stage s { stage t { } } }',
         'process p on a { stage s { set x = 1 } }', 'process p on a { stage s { if x { } } }',
         'process p on a { stage s { "x" } }'],
    ),
    "expected a stage, `if` or `finish` inside this branch": (
        "hooks and settings belong to the process, outside the `if`",
        ['process p on a { if x { step y } }', 'process p on a { if x { on start { } } }',
         'process p on a { if x { } else { step y } }', 'process p on a { if x { order 1 } }'],
    ),
    "expected a condition after `if`": (
        "for example `if budget_amount >= 1000 { ... }`",
        ['process p on a { if { } }', 'rule r on a { if { } }', 'process p on a { if x { } else if { } }'],
    ),
    "expected `{` after the condition": (
        "the arm's body goes in braces: `if CONDITION { ... }`",
        ['rule r on a { if x hide y }', 'process p on a { if x stage s { } }', 'rule r on a { if x = 1 hide y }',
         'rule r on a { if x = 1 else }'],
    ),
    "expected " + _VALUE: (
        "an empty value is written `null`; to test for one use `is empty`",
        ['rule r on a { if x = { } }', 'rule r on a { set x = }', 'rule r on a { if x > { } }',
         'rule r on a { set x = * }', 'rule r on a { if x and { } }',
         'rule r on a { if not { } }', 'process p on a { stage s on b via c { create { x = } } }'],
    ),
    "comparisons don't chain": (
        "write `a < b and b < c`",
        ['rule r on a { if a < b < c { } }', 'rule r on a { if a = b = c { } }', 'rule r on a { if a = b != c { } }'],
    ),
    "expected a rule action: set, default, error, recommend, require, optional, lock, unlock, hide or show": (
        "for example `require manager_approved` or `error discount \"Too high\"`",
        ['rule r on a { x }', 'rule r on a { hidden x }', 'rule r on a { if x { y } }', 'rule r on a { stage s { } }',
         'rule r on a { "x" }'],
    ),
    "expected a declaration: import, role, entity, extend entity, process or rule": (
        "every declaration starts at the top level with one of these words",
        ['x', 'entity a { } x', 'stage s { }', '"x"', '}', 'step x', 'field x: text'],
    ),
    "expected a hook action: `set FIELD = EXPR` or `call NS.ACTION(...)`": (
        "for example `set status = qualified` or `call bpf.notify(role: \"r\", message: \"m\")`",
        ['process p on a { on start { x } }', 'process p on a { stage s { on enter { hide x } } }',
         'process p on a { on start { "x" } }'],
    ),
    "expected `.` and an action name: actions are called as `NS.ACTION(...)`": (
        "built-in actions live in the `bpf` namespace, e.g. `bpf.notify(...)`",
        ['process p on a { on start { call notify() } }', 'process p on a { stage s { action "A" call x() } }'],
    ),
    "expected a named argument `NAME: value`": (
        'action arguments are named: `bpf.notify(role: "sales", message: "Hi")`',
        ['process p on a { on start { call bpf.notify("x") } }', 'process p on a { on start { call bpf.notify(1) } }'],
    ),
    "expected a list in square brackets after `in`, such as `in [a, b]`": (
        "`in` tests membership in a written list of values",
        ['rule r on a { if x in a { } }', 'rule r on a { if x not in a { } }', 'rule r on a { if x in { } }'],
    ),
    "expected `with` after `starts` or `ends`": (
        "write `x starts with \"A\"`",
        ['rule r on a { if x starts "a" { } }', 'rule r on a { if x ends "a" { } }'],
    ),
    "expected `empty` or `not empty` after `is`": (
        "write `x is empty` or `x is not empty`",
        ['rule r on a { if x is null { } }', 'rule r on a { if x is 1 { } }', 'rule r on a { if x is not null { } }'],
    ),
    "expected `=` and a value": (
        "assignments look like `set FIELD = EXPR`",
        ['rule r on a { set x 1 }', 'rule r on a { default x 1 }', 'process p on a { on start { set x 1 } }',
         'process p on a { stage s on b via c { create { x 1 } } }'],
    ),
    "expected a string in double quotes": (
        'strings are written "like this"',
        ['rule r on a { error x y }', 'rule r on a { recommend x y }', 'process p on a { description x }',
         'process p on a { stage s { action x } }', 'import 12'],
    ),
    "expected `call NS.ACTION(...)` after the action step's label": (
        'write `action "Label" call NS.ACTION(arg: value)`',
        ['process p on a { stage s { action "A" } }', 'process p on a { stage s { action "A" x.y() } }'],
    ),
    "expected a number": (
        "for example `order 1`, `min 0` or `max 100`",
        ['process p on a { order x }', 'entity a { x: integer min x }', 'entity a { x: integer max "1" }',
         'process p on a { order }'],
    ),
    "expected a literal default value: a string, a number, `true`, `false`, `null`, an option's name or "
    "date(\"YYYY-MM-DD\")": (
        "rules can compute defaults: `rule r on E { default FIELD = EXPR }`",
        ['entity a { x: text default }', 'entity a { x: integer default (1) }', 'entity a { x: text default [1] }',
         'entity a { x: date default today() }', 'entity a { x: date default now() }'],
    ),
    "expected the outcome's name after `finish`": (
        'an outcome is named, then labelled: `finish won "Won"`',
        ['process p on a { finish "W" }', 'process p on a { if x { finish "W" } }',
         'process p on a { if x { } else { finish "W" } }'],
    ),
    "expected a category name after `category`": (
        "the categories are qualify, develop, propose, close, identify, research, resolve and approval",
        ['process p on a { stage s category { } }', 'process p on a { stage s category "x" { } }'],
    ),
    "expected a role name": (
        "write `roles sales, sales_manager` with roles declared by `role NAME`",
        ['process p on a { roles }', 'process p on a { roles a, }', 'role "x"'],
    ),
}

# Sentences that fit only where their construct is open: they are chosen by the context, and
# never as the one sentence the expected tokens alone would suggest.
_BY_CONTEXT_ONLY = frozenset({
    "expected `on ENTITY` after the rule's name",
    "expected `{` after the name of the entity to extend",
    "expected `:` after the argument's name",
    "expected options written `NAME \"Label\"`, separated by commas",
})

_ELSE_ALONE = ("`else` must follow the `}` of an `if` arm",
               "`else` continues an `if` chain: `if CONDITION { ... } else { ... }`; a stage, a step or a rule "
               "action has no `else`")

_WORDS = {
    "NAME": "a name",
    "STRING": "a string in double quotes",
    "NUMBER": "a number",
    "RBRACE": "`}`",
    "$END": "the end of the file",
}


def _describe(term: str, parser: lark.Lark) -> str:
    if term in _WORDS:
        return _WORDS[term]
    try:
        pattern = parser.get_terminal(term).pattern
    except KeyError:
        return term.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return term.lower()


def _expected_words(expected: set[str], parser: lark.Lark) -> str:
    words = sorted({_describe(t, parser) for t in expected if t not in ("COMMENT", "WS")})
    if not words:
        return "something else"
    # Every word, however many: a list cut off with "or ..." hides what the author may write.
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def _found(err: UnexpectedInput, text: str) -> str:
    if isinstance(err, UnexpectedCharacters):
        return f"`{err.char}`"
    if isinstance(err, UnexpectedToken):
        if err.token.type == "$END":
            return "the end of the file"
        return f"`{str(err.token)[:40]}`"
    return "the end of the file"


def _end_position(text: str) -> tuple[int, int]:
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return line, column


def explain(err: UnexpectedInput, text: str, path: str, parser: lark.Lark) -> Diagnostic:
    """Turn lark's error into a diagnostic with a position, a sentence and a hint."""
    at_end = isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END")
    line, column = (err.line, err.column) if getattr(err, "line", -1) not in (-1, None) else _end_position(text)
    if at_end:
        line, column = _end_position(text)
    width = 1
    if isinstance(err, UnexpectedToken) and not at_end:
        width = max(1, len(str(err.token)))
    span = Span(path, max(1, line), max(1, column), max(1, line), max(1, column) + width)

    habit = _habit(err, text, path)
    if habit is not None:
        return habit
    if at_end and "RBRACE" in (getattr(err, "expected", None) or ()):
        unclosed = _unclosed(text, path)
        if unclosed is not None:
            return unclosed
    if isinstance(err, UnexpectedCharacters) and _typo(err, text) is None:
        if err.char == '"':
            return Diagnostic("BPF001", "a string is not closed before the end of the line", span,
                              'close it with `"`; strings can\'t span lines, write \\n for a line break')
        message = f"unexpected character `{err.char}`"
        expected = set(err.allowed or ())
        hint = f"expected {_expected_words(expected, parser)}" if expected else None
        return Diagnostic("BPF001", message, span, hint)

    typo = _typo(err, text)
    if typo is not None:
        return Diagnostic("BPF001", typo[0], span, typo[1])
    if isinstance(err, UnexpectedToken) and err.token == "else" and _place(err, text)[1] == "}":
        # After a `}`, `else` is expected only when that `}` closed an `if` arm: here it didn't.
        return Diagnostic("BPF001", f"unexpected `else`: {_ELSE_ALONE[0]}", span, _ELSE_ALONE[1])
    label = _match(err, parser, text)
    if at_end:
        sentence = label or f"expected {_expected_words(set(getattr(err, 'expected', ()) or ()), parser)}"
        return Diagnostic("BPF002", f"the file ends too early: {sentence}", span,
                          "a block or an expression is not closed; check that every `{` has its `}`")
    misspelt = _keyword_typo(err, text) if isinstance(err, UnexpectedToken) else None
    did_you_mean = None if misspelt is None else f"did you mean `{misspelt}`?"
    if label is not None:
        hint = CATALOGUE[label][0]
        return Diagnostic("BPF001", f"unexpected {_found(err, text)}: {label}", span, did_you_mean or hint)
    expected = set(getattr(err, "expected", ()) or ())
    return Diagnostic("BPF001", f"unexpected {_found(err, text)}: expected {_expected_words(expected, parser)}", span,
                      did_you_mean)


def _error_pos(err: UnexpectedInput, text: str) -> int:
    if isinstance(err, UnexpectedToken) and err.token.type != "$END" and err.token.start_pos is not None:
        return int(err.token.start_pos)
    return len(text)


def _place(err: UnexpectedInput, text: str) -> tuple[frozenset[str], str, str]:
    """Where the error stands: the tokens lark expected, the kind of the token before the
    error (a keyword or punctuation as itself, else NAME, STRING or NUMBER; ``^`` at the
    start) and the construct open there (:func:`_context`)."""
    tokens = tokens_before(text, _error_pos(err, text))
    expected = frozenset(getattr(err, "expected", ()) or ())
    return expected, kind(tokens[-1]) if tokens else "^", _context(tokens)


_DECLARATIONS = frozenset({"import", "role", "entity", "extend", "process", "rule"})
# Inside a block of the first kind, a word opens the header of the second (its `{` comes later).
_OPENERS = {
    "process": {"stage": "stage", "if": "branch", "else": "branch", "on": "hook"},
    "branch": {"stage": "stage", "if": "branch", "else": "branch"},
    "stage": {"create": "create", "on": "hook"},
    "rule": {"if": "rule-if", "else": "rule-if"},
    "rule-if": {"if": "rule-if", "else": "rule-if"},
}
_BRACKETS = {")": ("call-args", "type-args", "paren"), "]": ("list",)}


def _context(tokens: list[Token]) -> str:
    """The construct open after ``tokens``: a block (``rule``, ``stage``...), a header before its ``{``
    (``rule header``), or brackets (``call-args``, ``type-args``, ``paren``, ``list``).

    A rough scan of the tokens before the error (the grammar's own: :func:`.lexer.tokens_before`),
    enough to tell constructs apart where the parser's expectations are the same; it never
    fails, whatever the text.
    """
    stack: list[str] = []
    pending: str | None = None  # the construct whose `{` comes next
    recent: list[str] = []  # the last tokens, to recognise `call NS.NAME(`
    for token in tokens:
        tok = str(token)
        top = stack[-1] if stack else None
        if tok == "{":
            stack.append(pending or "block")
            pending = None
        elif tok == "}":
            if stack:
                stack.pop()
            pending = None
        elif tok == "(":
            if len(recent) == 4 and recent[0] == "call" and recent[2] == ".":  # call NS . NAME (
                stack.append("call-args")
            elif top in ("entity", "extend"):
                stack.append("type-args")
            else:
                stack.append("paren")
        elif tok == "[":
            stack.append("list")
        elif tok in _BRACKETS:
            if top in _BRACKETS[tok]:
                stack.pop()
        elif top is None and tok in _DECLARATIONS:
            # `extend entity`: the `entity` after `extend` doesn't start another declaration.
            if not (tok == "entity" and pending == "extend" and recent and recent[-1] == "extend"):
                pending = tok
        elif pending is None and top in _OPENERS and tok in _OPENERS[top]:
            pending = _OPENERS[top][tok]
        recent = [*recent[-3:], tok]
    if stack and stack[-1] in ("call-args", "type-args", "paren", "list"):
        return stack[-1]
    if pending is not None:
        return f"{pending} header"
    return stack[-1] if stack else "top"


_Index = tuple[
    dict[tuple[frozenset[str], str, str], str],  # (expected, previous token, context) -> sentence
    dict[tuple[frozenset[str], str], str],  # (expected, previous token) -> sentence
    dict[frozenset[str], set[str]],  # expected -> sentences
]
_index: dict[int, _Index] = {}


def _catalogue_index(parser: lark.Lark) -> _Index:
    # Built once per parser: each snippet's error context -> its sentence. lark's own
    # match_examples compares whole parser stacks, so a label or an earlier declaration
    # in the user's file would defeat it; the expected tokens plus the token before
    # the error identify the place in the grammar whatever came earlier, and the open
    # construct tells apart places where those are the same.
    cached = _index.get(id(parser))
    if cached is not None:
        return cached
    exact: dict[tuple[frozenset[str], str, str], str] = {}
    loose: dict[tuple[frozenset[str], str], str] = {}
    by_expected: dict[frozenset[str], set[str]] = {}
    # A plain parser over the same grammar: the user's parser is mid-parse (its builder and
    # lexer callbacks hold the user's text), and the parse states don't depend on callbacks.
    plain = plain_parser()
    for label, (_hint, snippets) in CATALOGUE.items():
        for snippet in snippets:
            try:
                plain.parse(snippet)
            except UnexpectedInput as err:
                expected, previous, context = _place(err, snippet)
                exact.setdefault((expected, previous, context), label)
                if label not in _BY_CONTEXT_ONLY:
                    loose.setdefault((expected, previous), label)
                    by_expected.setdefault(expected, set()).add(label)
            except Exception:
                continue
    _index[id(parser)] = (exact, loose, by_expected)
    return _index[id(parser)]


def _match(err: UnexpectedInput, parser: lark.Lark, text: str) -> str | None:
    exact, loose, by_expected = _catalogue_index(parser)
    expected, previous, context = _place(err, text)
    label = exact.get((expected, previous, context))
    if label is not None:
        return label
    # Not a place the catalogue shows in this construct: the expected tokens and the token
    # before still name the place; the expected tokens alone, only when they fit one sentence.
    label = loose.get((expected, previous))
    if label is not None:
        return label
    labels = by_expected.get(expected, set())
    return next(iter(labels)) if len(labels) == 1 else None


def _typo(err: UnexpectedInput, text: str) -> tuple[str, str] | None:
    """Habits from other languages, named: ``&&``, ``||``, ``==``, ``<>``, single quotes."""
    if isinstance(err, UnexpectedCharacters):
        return {
            "&": ("`&` is not an operator here", "write `and`"),
            "|": ("`|` is not an operator here", "write `or`"),
            "'": ("strings use double quotes", 'write "text"'),
            "!": ("`!` is not an operator here", "write `not`, or `!=` for not equal"),
        }.get(err.char)
    if isinstance(err, UnexpectedToken) and err.token.start_pos:
        before = text[:err.token.start_pos].rstrip()
        if err.token == "=" and before.endswith("="):
            return "`==` is written `=`", "comparisons use a single `=`"
        if err.token == ">" and before.endswith("<"):
            return "`<>` is written `!=`", "write `a != b`"
    return None


# -- habits from other languages and typos, each with what to write instead ------------------------

_DATE_LIKE = re.compile(r"(\d{4}-\d{1,2}-\d{1,2})(T[0-9:.]+(?:Z|[+-]\d\d:\d\d)?)?")
_FORMATTED_NUMBER = re.compile(r"[$€£]?\s*([0-9][0-9,]*(?:\.[0-9]+)?)")
_CURRENCY = frozenset("$€£")
_NUMBER_AFTER = frozenset({"min", "max", "default", "order"})
_ELSE_IF_SPELLINGS = frozenset({"elif", "elsif", "elseif"})


def _span_at(path: str, text: str, start: int, end: int) -> Span:
    """The span of ``text[start:end]`` (on one line), 1-based."""
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(path, line, column, line, column + max(1, end - start))


def _habit(err: UnexpectedInput, text: str, path: str) -> Diagnostic | None:
    """A habit of another language or a misspelt keyword, said with what to write here instead.

    Checked before the catalogue: ``//`` inside a stage is a comment written the C way, not a
    nested stage; a date or an amount written as in a spreadsheet is one value, not arithmetic.
    """
    pos = _error_pos(err, text)
    if isinstance(err, UnexpectedCharacters):
        pos = int(err.pos_in_stream or 0)
        if text[pos:pos + 1] in _CURRENCY:
            before = tokens_before(text, pos)
            return _formatted_number(text, path, pos, "a currency sign", str(before[-1]) if before else "")
        return None
    if not isinstance(err, UnexpectedToken) or err.token.type == "$END":
        return None
    tok = str(err.token)
    if tok == "/" and (text[pos + 1:pos + 2] in ("/", "*") or text[pos - 1:pos] == "/"):
        start = pos - 1 if text[pos - 1:pos] == "/" else pos
        return Diagnostic("BPF001", f"`{text[start:start + 2]}` is not a comment: comments start with `#`",
                          _span_at(path, text, start, start + 2),
                          "write `# ...`: a comment runs from `#` to the end of the line")
    tokens = tokens_before(text, pos)
    previous = str(tokens[-1]) if tokens else ""
    if tok in _ELSE_IF_SPELLINGS and previous == "}":
        return Diagnostic("BPF001", f"`{tok}` is written `else if`", _span_at(path, text, pos, pos + len(tok)),
                          "write `} else if CONDITION { ... }`")
    if len(tokens) >= 2 and tokens[-1].type == "NUMBER" and str(tokens[-2]) in _NUMBER_AFTER:
        start = int(tokens[-1].start_pos or 0)
        date = _DATE_LIKE.match(text, start)
        if tok == "-" and date is not None:
            kind = "datetime" if date.group(2) else "date"
            return Diagnostic("BPF001", f"`{date.group(0)}` is not a value: a {kind} is written {kind}(\"...\")",
                              _span_at(path, text, start, date.end()),
                              f"write `{tokens[-2]} {kind}(\"{date.group(0)}\")`")
        if tok == ",":
            return _formatted_number(text, path, start, "a thousands separator", str(tokens[-2]))
    opened = _declaration_inside_block(text, [*tokens, err.token]) or _declaration_inside_block(text, tokens)
    if opened is not None:
        word, brace = opened
        start = int(word.start_pos or 0)
        line = text.count("\n", 0, brace) + 1
        return Diagnostic("BPF001", f"`{word}` begins a declaration, but the block opened on line {line} is not "
                                    "closed", _span_at(path, text, start, start + len(word)),
                          f"close that block with `}}` before `{word}`")
    if tokens and tokens[-1].type == "NAME" and _keyword_typo(err, text) is None:
        # `x: text requried`: the misspelt modifier was read as the name of the next field.
        word = tokens[-1]
        keyword = _correction(text, int(word.start_pos or 0), str(word), pos)
        if keyword is not None:
            start = int(word.start_pos or 0)
            return Diagnostic("BPF001", f"unknown word `{word}`", _span_at(path, text, start, start + len(word)),
                              f"did you mean `{keyword}`?")
    return None


def _declaration_inside_block(text: str, tokens: list[Token]) -> tuple[Token, int] | None:
    """The declaration word (``process``, ``entity``...) just read at the start of a line while a block is still
    open, and where that block's ``{`` stands: a block left unclosed before the next declaration, which the parser
    goes on reading as a field or a step of it."""
    if not tokens or str(tokens[-1]) not in _DECLARATIONS:
        return None
    word = tokens[-1]
    start = int(word.start_pos or 0)
    if start != text.rfind("\n", 0, start) + 1:
        return None  # indented: a name inside the block, not a new declaration
    open_braces: list[int] = []
    for tok in tokens[:-1]:
        if str(tok) == "{":
            open_braces.append(int(tok.start_pos or 0))
        elif tok.type == "RBRACE" and open_braces:
            open_braces.pop()
    return (word, open_braces[0]) if open_braces else None


def _formatted_number(text: str, path: str, start: int, what: str, keyword: str) -> Diagnostic:
    """A number written with a currency sign or thousands separators: the plain number to write."""
    m = _FORMATTED_NUMBER.match(text, start)
    written = m.group(0) if m else text[start:start + 1]
    plain = m.group(1).replace(",", "") if m else "1000"
    example = f"{keyword} {plain}" if keyword in _NUMBER_AFTER else plain
    return Diagnostic("BPF001", f"`{written}` is not a number: numbers are written without {what}",
                      _span_at(path, text, start, start + len(written)),
                      f"write `{example}`: plain numbers, without a currency sign or thousands separators")


def _keyword_typo(err: UnexpectedToken, text: str) -> str | None:
    """The keyword the unexpected word was meant to be (`stgae` → `stage`), if one is close and fits."""
    if err.token.type != "NAME":
        return None
    pos = int(err.token.start_pos or 0)
    return _correction(text, pos, str(err.token), pos)


def _correction(text: str, start: int, word: str, error_pos: int) -> str | None:
    """A keyword close to ``word`` (at ``start``) with which the text parses past ``error_pos``.

    Re-parsing proves the guess: `requried` becomes `required` only if the field then reads on.
    """
    close = difflib.get_close_matches(word, sorted(keywords()), n=3, cutoff=0.7)
    if not close:
        return None
    # Only the declaration around the word is parsed again, up to a few lines past the error: an editor
    # explains each keystroke's error, and a 10,000-line file must not be parsed three more times for it.
    first = max((m.start() for m in _DECLARATION_START.finditer(text, 0, start)), default=0)
    last = error_pos
    for _ in range(3):
        found = text.find("\n", last + 1)
        last = len(text) if found < 0 else found
    window = text[first:last]
    at, until = start - first, error_pos - first
    for keyword in close:
        fixed = window[:at] + keyword + window[at + len(word):]
        try:
            plain_parser().parse(fixed)
        except UnexpectedInput as again:
            # Running out of text at the window's end is reading on past the error: that proves the guess.
            if _error_pos(again, fixed) <= until + len(keyword) - len(word):
                continue
        except Exception:  # a parse that fails otherwise proves nothing
            continue
        return keyword
    return None


_DECLARATION_START = re.compile(r"^(?:import|role|entity|extend|process|rule)\b", re.MULTILINE)


# Words before a `{` that name the block it opens, as the message about an unclosed block says it.
_BLOCK_WORDS = {"process": "the process", "stage": "the stage", "entity": "the entity", "rule": "the rule",
                "extend": "the extension of", "create": "the `create` block", "if": "the `if` arm",
                "else": "the `else` arm", "on": "the hook"}


def _unclosed(text: str, path: str) -> Diagnostic | None:
    """The file ends inside a block: point at the `{` left open (BPF002), not at the end of the file.

    Braces are matched as the parser does; where a `}` stands at the indentation of an outer
    block's line but not at its own block's, the inner block is the one whose `}` is missing
    (a stage left open, then the process closed).
    """
    tokens = tokens_before(text, len(text))
    stack: list[tuple[int, int, int]] = []  # (index in tokens, position, indentation of its line)
    left_open: list[int] = []
    depth = 0  # as the parser counts: whatever the indentation says, something is open at the end
    for i, tok in enumerate(tokens):
        if tok.type == "RBRACE" or str(tok) == "{":
            start = int(tok.start_pos or 0)
            line_start = text.rfind("\n", 0, start) + 1
            line = text[line_start:start]
            indent = len(line) - len(line.lstrip())
            if str(tok) == "{":
                depth += 1
                stack.append((i, start, indent))
                continue
            depth -= 1
            if not stack:
                continue
            if line.strip() == "" and stack[-1][2] != indent:
                outer = [k for k, entry in enumerate(stack[:-1]) if entry[2] == indent]
                if outer:
                    left_open.extend(entry[0] for entry in stack[outer[-1] + 1:])
                    del stack[outer[-1] + 1:]
            stack.pop()
    if depth <= 0 or not (left_open or stack):
        return None
    # A block the indentation shows was left open, else the innermost one still open at the end.
    index = left_open[0] if left_open else stack[-1][0]
    start = int(tokens[index].start_pos or 0)
    header: list[Token] = []
    for t in reversed(tokens[:index]):
        if str(t) == "{" or t.type == "RBRACE":
            break
        header.insert(0, t)
    line_number = text.count("\n", 0, start) + 1
    return Diagnostic("BPF002", f"the file ends before the `{{` of {_block_name(header)} is closed",
                      _span_at(path, text, start, start + 1),
                      f"add the `}}` that closes it (the `{{` on line {line_number}); every `{{` needs its `}}`")


_DECLARING = ("process", "stage", "entity", "rule", "extend", "create")


def _block_name(header: list[Token]) -> str:
    """``the process `p```, ``the `if` arm``... from the tokens between the brace before and the `{`."""
    words = [str(t) if t.type != "NAME" else "" for t in header]
    at = max((i for i, w in enumerate(words) if w in _DECLARING), default=None)
    if at is None:
        at = max((i for i, w in enumerate(words) if w in ("if", "else", "on")), default=None)
    if at is None:
        return "this block"
    first = words[at]
    names = [str(t) for t in header[at + 1:] if t.type == "NAME"]
    if first == "extend":
        return f"the extension of `{names[0]}`" if names else "the extension"
    if first in ("process", "stage", "entity", "rule") and names:
        return f"{_BLOCK_WORDS[first]} `{names[0]}`"
    if first == "if" and at > 0 and words[at - 1] == "else":
        return "the `else if` arm"
    if first == "on" and names:
        return f"the `on {names[0]}` hook"
    return _BLOCK_WORDS.get(first, "this block")
