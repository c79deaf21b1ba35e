"""The grammar as text: finds ``bpf.lark`` (inside the installed wheel, or in the source tree's
``grammar/``) and reads what other tools derive from it, without lark: its keywords, and its
rules, enough to say which keywords start a rule or stand in it (the highlighter sorts its
keywords by them)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def grammar_path() -> Path:
    """The grammar file this installation uses.

    A wheel carries it as ``bpf_dsl/grammar/bpf.lark`` (pyproject's force-include);
    a source checkout or an editable install reads the top-level ``grammar/``.
    """
    for candidate in (_PACKAGE_DIR / "grammar" / "bpf.lark", _PACKAGE_DIR.parent / "grammar" / "bpf.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("bpf.lark is missing from this installation; reinstall bpf")


@lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar's text, read once."""
    return grammar_path().read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """Every keyword of the grammar (its quoted words)."""
    return frozenset(re.findall(r'"([a-z]+)"', grammar_text()))


# The grammar's rules, read as text: enough for tools that sort its keywords by where they
# stand (the highlighter), without lark. A definition is `name: alternative | ...` at the start
# of a line, continued on lines that start with `|`; a rule's name is lower-case, a terminal's
# upper-case.
_DEFINITION = re.compile(r"[?!]?([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)")
_ITEM = re.compile(r'->\s*\w+|"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/|[A-Za-z_][A-Za-z0-9_]*|\S')


def _definitions() -> dict[str, list[str]]:
    """Each definition's body, one string per line it spans, without comments."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for raw in grammar_text().splitlines():
        line = re.sub(r"(^|\s)//.*$", "", raw).rstrip()
        if not line.strip():
            continue  # a blank line or a comment: a rule may go on after it
        m = _DEFINITION.fullmatch(line)
        if m is not None and not raw[:1].isspace():
            current = m.group(1)
            found[current] = [m.group(2)]
        elif current is not None and raw[:1].isspace() and line.lstrip().startswith("|"):
            found[current].append(line)
        else:
            current = None  # `%ignore`, `%import`...
    return found


@lru_cache(maxsize=1)
def rules() -> dict[str, tuple[tuple[str, ...], ...]]:
    """The grammar's rules: each alternative as its items, its alias left out.

    Items are as written: ``"on"`` (quoted), ``NAME``, ``stage_item``, ``[``, ``*``...
    """
    out: dict[str, tuple[tuple[str, ...], ...]] = {}
    for name, lines in _definitions().items():
        if not name.lstrip("_")[:1].islower():
            continue
        alternatives: list[tuple[str, ...]] = []
        items: list[str] = []
        for item in [*_ITEM.findall(" ".join(lines)), "|"]:
            if item == "|":
                if items:
                    alternatives.append(tuple(items))
                items = []
            elif not item.startswith("->"):
                items.append(item)
        out[name] = tuple(alternatives)
    return out


@lru_cache(maxsize=1)
def terminal_words() -> dict[str, str]:
    """Terminals that are one keyword (``NOT: "not"``), by name."""
    out: dict[str, str] = {}
    for name, lines in _definitions().items():
        m = re.fullmatch(r'\s*"([a-z]+)"\s*', " ".join(lines))
        if name.isupper() and m is not None:
            out[name] = m.group(1)
    return out


def keyword_of(item: str) -> str | None:
    """The keyword an item of a rule (from :func:`rules`) stands for, if it is one: ``"on"``, ``NOT``."""
    if item.startswith('"') and item[1:-1].isalpha() and item[1:-1].islower():
        return item[1:-1]
    return terminal_words().get(item)


def leading_keywords(*names: str, follow: bool = True) -> tuple[str, ...]:
    """The keywords that can start the rules ``names``: the first item of each alternative,
    followed into the rule it names (``_decl`` starts with import, role, entity, extend...)
    unless ``follow`` is false."""
    table = rules()
    found: set[str] = set()
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in table:
            continue
        seen.add(name)
        for alternative in table[name]:
            word = keyword_of(alternative[0])
            if word is not None:
                found.add(word)
            elif follow:
                todo.append(alternative[0])
    return tuple(sorted(found))


def words_in(*names: str) -> tuple[str, ...]:
    """Every keyword written in the rules ``names`` (not in the rules they name)."""
    table = rules()
    return tuple(sorted({w for name in names for alt in table.get(name, ()) for item in alt
                         if (w := keyword_of(item)) is not None}))


def lone_keywords(name: str) -> tuple[str, ...]:
    """The keywords that are a whole alternative of the rule ``name`` (``true``, ``false``, ``null`` of ``atom``)."""
    lone = {keyword_of(alt[0]) for alt in rules().get(name, ()) if len(alt) == 1}
    return tuple(sorted(w for w in lone if w is not None))
