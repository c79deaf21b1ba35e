"""Syntax errors that say what to write: habits of other languages, typos of keywords, blocks left open.

The broken corpus (tests/checker/broken/) holds one whole file per message; these cases pin the
details: where the caret goes, that the hint is a piece of code to write, and that the list of
what was expected is never cut short.
"""

from __future__ import annotations

import pytest

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.errors import BpfSyntaxError
from bpf_dsl.parser import parse

ENTITY = "entity a { x: integer y: text }\n"


def _error(text: str) -> Diagnostic:
    with pytest.raises(BpfSyntaxError) as info:
        parse(text, "f.bpf")
    return info.value.diagnostics[0]


@pytest.mark.parametrize(("text", "at", "message", "hint"), [
    # a keyword misspelt where it is the unexpected word, and where it was read as a name
    (ENTITY + "process p on a {\n    stgae s { step x }\n}", (3, 5), "unexpected `stgae`", "did you mean `stage`?"),
    ("entity a {\n    x: text requried\n}", (2, 13), "unknown word `requried`", "did you mean `required`?"),
    ("entiy a { x: text }", (1, 1), "unexpected `entiy`", "did you mean `entity`?"),
    (ENTITY + "rule r on a {\n    if x > 1 { hide y } elif x > 0 { show y }\n}", (3, 25), "`elif` is written `else if`",
     "`} else if CONDITION { ... }`"),
    (ENTITY + "rule r on a {\n    if x > 1 { hide y } elsif x > 0 { show y }\n}", (3, 25),
     "`elsif` is written `else if`", "else if"),
    # comments the C way, at the top level, in a stage and after a value
    ("// a comment\n" + ENTITY, (1, 1), "`//` is not a comment: comments start with `#`", "write `# ...`"),
    (ENTITY + "process p on a {\n    stage s {\n        // note\n        step x\n    }\n}", (4, 9),
     "comments start with `#`", "`# ...`"),
    (ENTITY + "rule r on a {\n    set x = 1 // one\n}", (3, 15), "comments start with `#`", "`# ...`"),
    (ENTITY + "/* block */", (2, 1), "`/*` is not a comment", "`# ...`"),
    # values written as in a spreadsheet
    ("entity a { d: date default 2026-01-01 }", (1, 28), "a date is written date(\"...\")",
     'write `default date("2026-01-01")`'),
    ("entity a { d: datetime default 2026-01-01T09:00:00Z }", (1, 32), "a datetime is written",
     'write `default datetime("2026-01-01T09:00:00Z")`'),
    ("entity a { m: money min $1,000 }", (1, 25), "without a currency sign", "write `min 1000`"),
    ("entity a { m: money max 1,000,000 }", (1, 25), "without a thousands separator", "write `max 1000000`"),
    ("entity a { m: money default €25.50 }", (1, 29), "without a currency sign", "write `default 25.50`"),
])
def test_a_syntax_error_says_what_to_write(text: str, at: tuple[int, int], message: str, hint: str) -> None:
    d = _error(text)
    assert d.code == "BPF001", d.render(text)
    assert (d.span.line, d.span.column) == at, d.render(text)
    assert message in d.message, d.render(text)
    assert d.hint is not None and hint in d.hint, d.render(text)


def test_stages_dont_nest_is_not_said_of_a_comment() -> None:
    d = _error(ENTITY + "process p on a { stage s { // x\n step x } }")
    assert "nest" not in (d.hint or "") and "nest" not in d.message


def test_a_typo_is_named_only_when_the_keyword_makes_the_text_read_on() -> None:
    # `stat` is close to `start`, but `start` doesn't fit after a type: no guess is offered.
    d = _error("entity a {\n    x: text stat\n}")
    assert "did you mean" not in (d.hint or ""), d.render("")


@pytest.mark.parametrize(("text", "at", "block"), [
    ("entity a {\n  x: text\n", (1, 10), "the entity `a`"),
    (ENTITY + "process p on a {\n    stage s { step x }\n", (2, 16), "the process `p`"),
    (ENTITY + "rule r on a {\n    if x > 1 {\n        hide y\n}\n", (3, 14), "the `if` arm"),
    (ENTITY + "rule r on a {\n    if x > 1 {\n        hide y\n    } else {\n        show y\n}\n", (5, 12),
     "the `else` arm"),
    (ENTITY + "process p on a {\n    stage s {\n        step x\n        on exit {\n            set x = 1\n    }\n}\n",
     (5, 17), "the `on exit` hook"),
])
def test_a_file_that_ends_inside_a_block_points_at_the_brace_left_open(text: str, at: tuple[int, int],
                                                                      block: str) -> None:
    d = _error(text)
    assert d.code == "BPF002", d.render(text)
    assert (d.span.line, d.span.column) == at, d.render(text)
    assert f"the `{{` of {block} is closed" in d.message, d.render(text)
    assert d.hint is not None and "`}`" in d.hint


def test_a_file_that_ends_inside_an_expression_still_says_what_was_expected() -> None:
    d = _error(ENTITY + "rule r on a { if x >")
    assert d.code == "BPF002" and "expected" in d.message and "a number" in d.message, d.message


def test_the_list_of_expected_words_is_never_cut_short() -> None:
    # After an `if` arm of a rule, thirteen words may come: every one is named.
    d = _error(ENTITY + "rule r on a { if x > 1 { hide y } 12 }")
    assert "..." not in d.message, d.message
    for word in ("`else`", "`set`", "`default`", "`error`", "`recommend`", "`require`", "`optional`", "`lock`",
                 "`unlock`", "`hide`", "`show`", "`if`", "`}`"):
        assert word in d.message, (word, d.message)
