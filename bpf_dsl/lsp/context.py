"""Where the cursor stands, read from the text as it is now (half typed, not parsing): the blocks open
around it, the statement it is in, the word being typed.

Only the top-level declaration around the cursor is read (declarations stand alone at the top
level, so that is enough, and a 10,000-line file costs no more than a short one). Its tokens are the
grammar's own (:func:`bpf_dsl.parser.lexer.tokens_before`); the blocks are tracked the way
the syntax-error explainer tracks them: a keyword opens a header, whose ``{`` opens a block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bpf_dsl.parser.lexer import tokens_before
from bpf_dsl.parser.prefix import accepted_after

_DECLARATION_LINE = re.compile(r"^(import|role|entity|extend|process|rule)\b", re.MULTILINE)
_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\.?$|[A-Za-z_][A-Za-z0-9_]*$")

# Inside a block of the first kind, a keyword opens the header of the second (its `{` comes later).
_OPENERS = {
    "top": {"entity": "entity", "extend": "entity", "process": "process", "rule": "rule", "import": "import",
            "role": "role"},
    "process": {"stage": "stage", "if": "branch", "else": "branch", "on": "hook"},
    "branch": {"stage": "stage", "if": "branch", "else": "branch"},
    "stage": {"create": "create", "on": "hook"},
    "rule": {"if": "rule-if", "else": "rule-if"},
    "rule-if": {"if": "rule-if", "else": "rule-if"},
}
_BLOCK_STATEMENTS = ("role", "import")  # top-level declarations without a block


@dataclass
class Frame:
    """An open block (or the header being written, whose ``{`` is still to come)."""

    kind: str  # top, entity, process, stage, branch, hook, create, rule, rule-if, import, role
    words: list[str] = field(default_factory=list)  # the header's tokens as written
    last_entity: str | None = None  # in a flow block: the entity of the stage last closed in it

    def after(self, keyword: str) -> str | None:
        """The name written right after ``keyword`` in the header, if any."""
        for i, word in enumerate(self.words[:-1]):
            if word == keyword:
                return self.words[i + 1]
        return None

    @property
    def name(self) -> str | None:
        """The declared name (the word after the header's first keyword)."""
        skip = 2 if self.words[:2] == ["extend", "entity"] else 1
        return self.words[skip] if len(self.words) > skip else None


@dataclass
class Cursor:
    """What the completion and other features need to know about the cursor's place."""

    word: str  # the (dotted) word typed so far before the cursor, possibly empty
    frames: list[Frame]  # open blocks, outermost first (frames[0] is the top level)
    header: Frame | None  # a header being written (`stage s on `), whose `{` hasn't come yet
    statement: list[str]  # the tokens of the current statement before the word
    brackets: list[tuple[str, list[str]]]  # open ( and [ of the statement: (kind, the tokens before it)
    accepted: frozenset[str] | None  # what the grammar takes at the word's start (None: can't tell)

    @property
    def block(self) -> Frame:
        """The innermost open block."""
        return self.frames[-1]

    def enclosing(self, *kinds: str) -> Frame | None:
        """The innermost open block of one of ``kinds``."""
        return next((f for f in reversed(self.frames) if f.kind in kinds), None)

    @property
    def previous(self) -> str:
        """The token just before the word ('' at the start of a statement)."""
        return self.statement[-1] if self.statement else ""


def declaration_start(text: str, offset: int) -> int:
    """Where the top-level declaration around ``offset`` starts (a line starting with a declaration keyword)."""
    start = 0
    for m in _DECLARATION_LINE.finditer(text, 0, offset):
        start = m.start()
    return start


def cursor_at(text: str, offset: int) -> Cursor:
    """The cursor's place in ``text`` at index ``offset``."""
    line_start = text.rfind("\n", 0, offset) + 1
    m = _WORD_BEFORE.search(text[line_start:offset])
    word = m.group(0) if m else ""
    word_start = offset - len(word)
    start = declaration_start(text, word_start)
    window = text[start:word_start]
    tokens = [str(t) for t in tokens_before(window, len(window))]
    frames = [Frame("top")]
    header: Frame | None = None
    statement: list[str] = []
    for tok in tokens:
        block = frames[-1]
        if tok == "{" and header is not None:
            frames.append(header)
            header = None
            statement = []
        elif tok == "{":
            frames.append(Frame("block"))
            statement = []
        elif tok == "}":
            closed = frames.pop() if len(frames) > 1 else frames[0]
            if closed.kind == "stage":
                frames[-1].last_entity = closed.after("on") or ""  # "": the process's own entity
            elif closed.kind == "branch" and closed.last_entity is not None:
                frames[-1].last_entity = closed.last_entity
            header = None
            statement = []
        elif header is not None:
            header.words.append(tok)
            statement.append(tok)
            if header.kind in _BLOCK_STATEMENTS and len(header.words) > 2:
                header = None  # `role r "R"` and `import x` end without a block
        elif tok in _OPENERS.get(block.kind, {}) and _starts_statement(block, statement, tok):
            header = Frame(_OPENERS[block.kind][tok], [tok])
            statement = [tok]
        else:
            if _starts_statement(block, statement, tok):
                statement = []
            statement.append(tok)
    brackets: list[tuple[str, list[str]]] = []
    for i, tok in enumerate(statement):
        if tok in ("(", "["):
            brackets.append((tok, statement[:i]))
        elif tok in (")", "]") and brackets:
            brackets.pop()
    accepted = accepted_after(text[start:word_start])
    return Cursor(word, frames, header, statement, brackets, accepted)


# Words that start a statement of a block: what tells a new statement from the end of the last one.
_STATEMENT_WORDS = {
    "top": frozenset({"import", "role", "entity", "extend", "process", "rule"}),
    "entity": frozenset({"allow"}),
    "process": frozenset({"order", "roles", "description", "stage", "if", "else", "finish", "on"}),
    "branch": frozenset({"stage", "if", "else", "finish"}),
    "stage": frozenset({"step", "action", "create", "on", "roles", "gate", "sla"}),
    "hook": frozenset({"set", "call"}),
    "rule": frozenset({"if", "else", "set", "default", "error", "recommend", "require", "optional", "lock", "unlock",
                       "hide", "show"}),
    "rule-if": frozenset({"if", "else", "set", "default", "error", "recommend", "require", "optional", "lock",
                          "unlock", "hide", "show"}),
}
_CONTINUES = frozenset({"=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", "[", ",", ":", "and", "or", "not",
                        "in", "contains", "starts", "ends", "with", "is", "call", "to", "on", "via", "category"})


def _starts_statement(block: Frame, statement: list[str], tok: str) -> bool:
    """Whether ``tok`` begins a new statement of ``block`` (a keyword of its statements, not inside an expression)."""
    if tok not in _STATEMENT_WORDS.get(block.kind, frozenset()):
        return False
    if not statement:
        return True
    depth = statement.count("(") + statement.count("[") - statement.count(")") - statement.count("]")
    return depth <= 0 and statement[-1] not in _CONTINUES
