"""The formatter (``bpf fmt``): layout rules, and the properties every valid file must keep.

For every valid file ``x``: formatting is idempotent, keeps the AST
(``parse(format_text(x)) == parse(x)``; equality ignores spans), and keeps
every comment exactly once and in order. A random re-layout of the whitespace
between tokens formats to exactly the same text.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpf_dsl.errors import BpfSyntaxError
from bpf_dsl.nodes import Module
from bpf_dsl.parser import parse
from bpf_dsl.tools.formatter import format_module, format_text
from tests.paths import EXAMPLES

HERE = Path(__file__).resolve().parents[1] / "checker"
VALID = HERE / "valid"
# The shared spec folder sits beside the repository.

SPEC_FILES = sorted(EXAMPLES.glob("*.bpf"))
VALID_FILES = sorted(VALID.rglob("*.bpf"))
ALL_FILES = SPEC_FILES + VALID_FILES


def _id(path: Path) -> str:
    return path.name if path.parent == EXAMPLES else str(path.relative_to(VALID))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _comments(module: Module) -> list[str]:
    # The formatter drops trailing whitespace from comments, nothing else.
    return [c.text.rstrip() for c in module.comments]


def _fmt(text: str) -> str:
    return format_text(text, "test.bpf")


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------


def test_corpus_is_there() -> None:
    assert {p.name for p in SPEC_FILES} >= {"opportunity.bpf", "case.bpf"}, EXAMPLES
    assert len([p for p in VALID_FILES if p.parent == VALID]) >= 6


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_idempotent(path: Path) -> None:
    once = _fmt(_read(path))
    assert _fmt(once) == once


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_same_ast(path: Path) -> None:
    text = _read(path)
    assert parse(_fmt(text)) == parse(text)


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_comments_kept_once_in_order(path: Path) -> None:
    text = _read(path)
    before = _comments(parse(text))
    after = _comments(parse(_fmt(text)))
    assert len(after) == len(before)
    assert after == before


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_canonical_shape(path: Path) -> None:
    out = _fmt(_read(path))
    assert out.endswith("\n") and not out.endswith("\n\n")
    assert "\t" not in out
    for line in out.split("\n"):
        assert line == line.rstrip()
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0
    assert "\n\n\n" not in out


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_spans_alone_agree_on_canonical_text(path: Path) -> None:
    # Without the source text, the spans must be enough for a file already formatted.
    out = _fmt(_read(path))
    assert format_module(parse(out, "test.bpf")) == out


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_spans_alone_are_safe(path: Path) -> None:
    # Without the source text, layouts may differ on odd input, but nothing is lost.
    text = _read(path)
    out = format_module(parse(text, "test.bpf"))
    assert parse(out) == parse(text)
    assert _comments(parse(out)) == _comments(parse(text))
    assert _fmt(out) == out


CANONICAL = ["flow.bpf", "rules.bpf", "expressions.bpf", "fields.bpf", "imports.bpf", "common/accounts.bpf"]


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical_files_are_fixed_points(name: str) -> None:
    text = _read(VALID / name)
    assert _fmt(text) == text


# ---------------------------------------------------------------------------
# Layout rules, one by one
# ---------------------------------------------------------------------------


def test_messy_layout() -> None:
    src = (
        'role   a\nrole b "B"   role c\nentity  e   "E"\n{\n\tx:text required unique\n'
        '    k :choice( p   "P",q,  r "R", ) default p\n  n:integer min - 3   max 3 default -  1\n}\n'
        'process p on e { order 2 roles a,b description "D"\n'
        '  stage s "S" category identify { step x step k "Kind" required }\n'
        '  if n>=1 and(k in[p,q,]or x="y"){stage t{on enter{call bpf.notify(role:"a",message:"m" + x,)}}finish}\n'
        '  else{stage u{step n}}\n  on finish{set x="z"}\n}\n'
    )
    assert _fmt(src) == (
        'role a\nrole b "B"\nrole c\n\n'
        'entity e "E" {\n    x: text required unique\n    k: choice(p "P", q, r "R") default p\n'
        '    n: integer min -3 max 3 default -1\n}\n\n'
        'process p on e {\n    order 2\n    roles a, b\n    description "D"\n'
        '    stage s "S" category identify {\n        step x\n        step k "Kind" required\n    }\n'
        '    if n >= 1 and (k in [p, q] or x = "y") {\n        stage t {\n            on enter {\n'
        '                call bpf.notify(role: "a", message: "m" + x)\n            }\n        }\n'
        '        finish\n    } else {\n        stage u {\n            step n\n        }\n    }\n'
        '    on finish {\n        set x = "z"\n    }\n}\n'
    )


def test_derived_labels_are_not_printed() -> None:
    src = 'entity budget_line { budget_amount: money }\nrole sales_manager\n'
    assert _fmt(src) == 'entity budget_line {\n    budget_amount: money\n}\n\nrole sales_manager\n'


def test_empty_labels_are_kept() -> None:
    assert _fmt('role a ""') == 'role a ""\n'


def test_imports_of_files_and_packs() -> None:
    src = 'import sales.leads\nimport   "common/a b.bpf"\nimport crm\nrole x'
    assert _fmt(src) == 'import sales.leads\nimport "common/a b.bpf"\nimport crm\n\nrole x\n'


def test_one_blank_line_between_declarations() -> None:
    src = 'entity a {\n}\n\n\n\nentity b {\n}\nrule r on a {\n}\n'
    assert _fmt(src) == 'entity a {\n}\n\nentity b {\n}\n\nrule r on a {\n}\n'


def test_roles_and_imports_may_stay_grouped() -> None:
    src = 'role a\nrole b\n\n\nrole c\nentity e {\n}\n'
    assert _fmt(src) == 'role a\nrole b\n\nrole c\n\nentity e {\n}\n'


def test_blank_lines_in_blocks_collapse_and_never_touch_braces() -> None:
    src = 'entity e {\n\n\n    a: text\n\n\n\n    b: text\n\n}\n'
    assert _fmt(src) == 'entity e {\n    a: text\n\n    b: text\n}\n'


def test_else_if_and_else_share_the_closing_brace_line() -> None:
    src = 'rule r on e {\n  if a = 1 { hide a }\n  else if a = 2 {\n show a }\n  else\n  { lock a }\n}'
    assert _fmt(src) == (
        'rule r on e {\n    if a = 1 {\n        hide a\n    } else if a = 2 {\n        show a\n'
        '    } else {\n        lock a\n    }\n}\n'
    )


def test_every_rule_action() -> None:
    src = ('rule r on e { set a = 1 default b = "x" error "e" error a "e" recommend "r" recommend a "r" '
           'require a optional a lock a unlock a hide a show a }')
    body = ['set a = 1', 'default b = "x"', 'error "e"', 'error a "e"', 'recommend "r"', 'recommend a "r"',
            'require a', 'optional a', 'lock a', 'unlock a', 'hide a', 'show a']
    assert _fmt(src) == "rule r on e {\n" + "".join(f"    {b}\n" for b in body) + "}\n"


def test_expression_spacing() -> None:
    src = ('rule r on e { if not(a<=1)and b not in[x,y]or c starts  with "s" or d ends with"e" or f contains g '
           'or h is  not  empty or i is empty or j!=-2 { set k = -(l*2)/3- -m+lower(n.o) } }')
    assert _fmt(src) == (
        'rule r on e {\n'
        '    if not (a <= 1) and b not in [x, y] or c starts with "s" or d ends with "e" or f contains g '
        'or h is not empty or i is empty or j != -2 {\n'
        '        set k = -(l * 2) / 3 - -m + lower(n.o)\n    }\n}\n'
    )


def test_literals() -> None:
    src = ('entity e { a: date default date( "2026-01-31" ) b: datetime default datetime("2026-01-31T09:00:00Z") '
           'c: decimal default 12.50 d: text default "q\\"\\\\\\n\\t" e: bool default false }')
    assert _fmt(src) == (
        'entity e {\n    a: date default date("2026-01-31")\n    b: datetime default datetime("2026-01-31T09:00:00Z")\n'
        '    c: decimal default 12.50\n    d: text default "q\\"\\\\\\n\\t"\n    e: bool default false\n}\n'
    )


def test_empty_blocks() -> None:
    src = 'entity e {}\nprocess p on e { stage s {} if x = 1 {} else {} }'
    assert _fmt(src) == (
        'entity e {\n}\n\nprocess p on e {\n    stage s {\n    }\n    if x = 1 {\n    } else {\n    }\n}\n'
    )


def test_empty_and_comment_only_files() -> None:
    assert _fmt("") == ""
    assert _fmt("  \n\n") == ""
    assert _fmt("\n\n# a   \n\n\n# b\n\n") == "# a\n\n# b\n"


def test_crlf_and_tabs() -> None:
    src = "# head\r\nrole a\r\n\r\n\r\nentity e {\r\n\tx: text  # tail\r\n}\r\n"
    assert _fmt(src) == "# head\nrole a\n\nentity e {\n    x: text  # tail\n}\n"


def _deepest(make: Callable[[int], str]) -> str:
    """The most deeply nested text of ``make(depth)`` that the parser still accepts."""
    depth = 1
    while True:
        try:
            parse(make(depth + 1))
        except BpfSyntaxError:
            return make(depth)
        depth += 1


def test_deepest_expression() -> None:
    text = _deepest(lambda d: "rule r on e { if " + "(" * d + "a" + ")" * d + " = 1 { hide a } }")
    out = _fmt(text)
    assert parse(out) == parse(text)
    assert _fmt(out) == out


def test_deepest_blocks() -> None:
    def make(depth: int) -> str:
        body = "stage s { step a } # deep"
        for _ in range(depth):
            body = f"if a = 1 {{ {body}\n }} else {{ stage t {{ step a }} }}"
        return f"process p on e {{ {body} }}"

    text = _deepest(make)
    out = _fmt(text)
    assert parse(out) == parse(text)
    assert _fmt(out) == out
    assert format_module(parse(out)) == out
    assert out.count("# deep") == 1


# ---------------------------------------------------------------------------
# Comments, one placement at a time
# ---------------------------------------------------------------------------


def test_trailing_comments_get_two_spaces() -> None:
    src = 'role a # one\nentity e {   # two\n  x: text     # three\n}# four\n'
    assert _fmt(src) == 'role a  # one\n\nentity e {  # two\n    x: text  # three\n}  # four\n'


def test_comment_before_closing_brace_is_indented_as_the_items() -> None:
    src = 'entity e {\n  x: text\n# last\n}\n'
    assert _fmt(src) == 'entity e {\n    x: text\n    # last\n}\n'


def test_comment_in_an_empty_block() -> None:
    assert _fmt('entity e {\n# nothing yet\n}') == 'entity e {\n    # nothing yet\n}\n'
    assert _fmt('entity e { # nothing yet\n}') == 'entity e {  # nothing yet\n}\n'


def test_comments_between_arms_go_inside_the_arm_before() -> None:
    src = 'rule r on e {\n if a = 1 {\n  hide a\n } # after\n # between\n else {\n  show a\n }\n}\n'
    assert _fmt(src) == (
        'rule r on e {\n    if a = 1 {\n        hide a\n        # after\n        # between\n'
        '    } else {\n        show a\n    }\n}\n'
    )


def test_comment_inside_an_item_goes_before_it() -> None:
    src = 'entity e {\n  x: choice(\n    a "A", # first\n    # second\n    b\n  ) # after\n}\n'
    assert _fmt(src) == 'entity e {\n    # first\n    # second\n    x: choice(a "A", b)  # after\n}\n'


def test_comment_inside_a_header_goes_before_it() -> None:
    src = 'process # why\n p on e {\n stage s # here\n { step x }\n}\n'
    assert _fmt(src) == '# why\nprocess p on e {\n    # here\n    stage s {\n        step x\n    }\n}\n'


def test_comments_keep_their_blank_lines() -> None:
    src = '# head\n\n\n# more\nrole a\n\n# about b\n\nrole b\n# tail\n\n\n# end\n\n'
    assert _fmt(src) == '# head\n\n# more\nrole a\n\n# about b\n\nrole b\n# tail\n\n# end\n'


def test_comment_before_a_declaration_gets_the_blank_line_before_it() -> None:
    src = 'entity a {\n}\n# about b\nentity b {\n}\n'
    assert _fmt(src) == 'entity a {\n}\n\n# about b\nentity b {\n}\n'


# ---------------------------------------------------------------------------
# Random re-layouts
# ---------------------------------------------------------------------------


def _whitespace_sites(text: str) -> list[tuple[int, int, bool]]:
    """Where whitespace may be re-laid, outside strings and comments: ``(start, end, between_tokens)``.

    ``between_tokens`` marks a single space between two tokens on a line (not one
    before a comment); the others are the indentation runs at line starts.
    """
    sites: list[tuple[int, int, bool]] = []
    i, in_string, in_comment = 0, False, False
    while i < len(text):
        ch = text[i]
        if in_comment:
            in_comment = ch != "\n"
        elif in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch == " " and 0 < i < len(text) - 1 and text[i - 1] not in " \t\n" and text[i + 1] not in " \t\n#":
            sites.append((i, i + 1, True))
        elif ch == "\n":
            j = i + 1
            while j < len(text) and text[j] in " \t":
                j += 1
            if j > i + 1:
                sites.append((i + 1, j, False))
            i = j
            continue
        i += 1
    return sites


def _relayout(text: str, rnd: random.Random) -> str:
    """Re-lay ``text``: single spaces between tokens become random runs of spaces, tabs and newlines.

    Indentation changes too. The author's blank lines between items and the
    lines comments sit on are left alone, so the formatted result must not
    change at all.
    """
    out: list[str] = []
    done = 0
    for start, end, between in _whitespace_sites(text):
        out.append(text[done:start])
        if between:
            keep = rnd.random() < 0.5
            out.append(" " if keep else "".join(rnd.choice(" \n\t") for _ in range(rnd.randint(1, 4))))
        else:
            out.append(rnd.choice(["", " ", "\t", "  \t  ", text[start:end]]))
        done = end
    out.append(text[done:])
    return "".join(out)


# Each example parses and formats a whole file a few times; 25 per file keeps the run near a minute.
_RELAYOUT = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("path", SPEC_FILES, ids=_id)
@pytest.mark.slow
@_RELAYOUT
@given(rnd=st.randoms(use_true_random=False))
def test_relayout_of_spec_examples_formats_the_same(path: Path, rnd: random.Random) -> None:
    text = _read(path)
    relaid = _relayout(text, rnd)
    assert parse(relaid) == parse(text)
    assert _fmt(relaid) == _fmt(text)


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
@pytest.mark.slow
@_RELAYOUT
@given(rnd=st.randoms(use_true_random=False))
def test_relayout_of_formatted_files_formats_the_same(path: Path, rnd: random.Random) -> None:
    canonical = _fmt(_read(path))
    relaid = _relayout(canonical, rnd)
    assert _comments(parse(relaid)) == _comments(parse(canonical))
    assert _fmt(relaid) == canonical


@pytest.mark.parametrize("path", VALID_FILES, ids=_id)
@pytest.mark.slow
@_RELAYOUT
@given(rnd=st.randoms(use_true_random=False))
def test_relayout_of_any_file_keeps_the_properties(path: Path, rnd: random.Random) -> None:
    text = _relayout(_read(path), rnd)
    out = _fmt(text)
    assert _fmt(out) == out
    assert parse(out) == parse(text)
    assert _comments(parse(out)) == _comments(parse(text))


def _sprinkle_comments(text: str, rnd: random.Random) -> str:
    """Put comments in random places between tokens: at the end of a line, or on lines of their own."""
    out: list[str] = []
    done = 0
    count = 0
    for start, end, between in _whitespace_sites(text):
        if rnd.random() < 0.15:
            count += 1
            gap = rnd.choice(["", "\n", "\n\n"])
            if between:  # a trailing comment replaces the space
                out.append(text[done:start] + f" # c{count}\n{gap}")
                done = end
            else:  # an own-line comment before the indentation
                out.append(text[done:start] + f"# c{count}\n{gap}")
                done = start
    out.append(text[done:])
    return "".join(out)


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
@pytest.mark.slow
@_RELAYOUT
@given(rnd=st.randoms(use_true_random=False))
def test_comments_anywhere_are_kept_and_stable(path: Path, rnd: random.Random) -> None:
    text = _sprinkle_comments(_read(path), rnd)
    out = _fmt(text)
    assert _comments(parse(out)) == _comments(parse(text))
    assert parse(out) == parse(text)
    assert _fmt(out) == out
    assert format_module(parse(out)) == out
