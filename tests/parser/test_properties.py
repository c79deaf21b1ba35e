"""Property tests: whatever text it is given, checking never crashes, hangs, or points outside the file.

Every input goes through ``bpf_dsl.check_text``. The only exceptions allowed
are ``BpfError`` subclasses (and ``check_text`` should normally return a report
instead of raising); every diagnostic must point into the text it was given:
the same file, ``1 <= line <= lines + 1`` (one past the end for "the file ends
too early") and ``column >= 1``; rendering the report must work too.

Inputs: random text (unicode, control characters, surrogates), soups of the
grammar's own tokens, and mutations of the spec's two examples (tokens
deleted, duplicated or swapped; a field renamed at one place only). Then
explicit pathological inputs: 10,000-deep nesting of every kind and 50 MB
files, which must give a clear BPF005 or BPF004, never a RecursionError.

Hypothesis runs derandomized and without an example database, so a run in CI
is the same as a run here. To hunt for bugs, run more and fresh examples:
``BPF_FUZZ_SCALE=20 BPF_FUZZ_RANDOM=1 pytest tests/test_properties.py``.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpf_dsl
from bpf_dsl.diagnostics import CODES
from bpf_dsl.errors import BpfError
from bpf_dsl.grammar import grammar_text
from tests.paths import EXAMPLES

FUZZ_PATH = "fuzz.bpf"

# BPF_FUZZ_SCALE=20 runs twenty times more examples; BPF_FUZZ_RANDOM=1 draws new ones each run (bug hunting).
SCALE = float(os.environ.get("BPF_FUZZ_SCALE", "1"))
SETTINGS = {
    "deadline": None,
    "derandomize": not os.environ.get("BPF_FUZZ_RANDOM"),
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def _lines(text: str) -> int:
    """Lines as the parser counts them: ``\\n`` ends a line, nothing else does."""
    return text.count("\n") + 1


def check_in_bounds(text: str, path: str = FUZZ_PATH) -> bpf_dsl.CheckReport | None:
    """Check ``text``: only a BpfError may escape, and every diagnostic points into the text."""
    try:
        report = bpf_dsl.check_text(text, path)
    except BpfError:
        return None
    last = _lines(text) + 1
    for d in report.diagnostics:
        where = f"{d.headline()} (the text has {_lines(text)} lines)"
        assert d.span.file == path, where
        assert 1 <= d.span.line <= last, where
        assert d.span.column >= 1, where
        assert d.code in CODES, where
    report.render()
    return report


# -- (1) random text ------------------------------------------------------------------------

_SPECIAL = [*'{}()[]":=<>!.,-+*/\\#_ \n\t\r', "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029",
            "\ufeff", "é", "ß", "İ", "😀", "\U0010ffff", "\ud800", "\udfff"]

random_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=200),  # surrogates too
    st.text(alphabet=st.sampled_from([*_SPECIAL, *"abcxyz019"]), max_size=300),
)


@settings(max_examples=int(300 * SCALE), **SETTINGS)
@given(random_text)
def test_random_text_never_crashes(text: str) -> None:
    check_in_bounds(text)


@settings(max_examples=int(150 * SCALE), **SETTINGS)
@given(st.sampled_from(["entity a {", "process p on a {", "rule r on a { if ", "role r ", ""]), random_text)
def test_random_text_after_a_valid_opening(head: str, text: str) -> None:
    check_in_bounds(head + text)


# -- (2) token soup -------------------------------------------------------------------------

def _grammar_literals() -> list[str]:
    """Every keyword and punctuation mark quoted in the grammar."""
    found = set(re.findall(r'"((?:[^"\\]|\\.)+)"', grammar_text()))
    return sorted(t for t in found if "\\" not in t)


KEYWORDS = _grammar_literals()
NAMES = ["a", "b", "x", "y", "lead", "status", "order", "finish", "text", "money", "bool", "date", "datetime",
         "choice", "choices", "lookup", "integer", "decimal", "email", "phone", "url", "bpf", "notify", "role",
         "message", "today", "now", "len", "lower", "coalesce", "days_between", "qualify", "enter", "exit",
         "start", "abandon", "reactivate", "_", "x_1", "high", "open", "admin", "id", "version", "Ünicode"]
NUMBERS = ["0", "1", "12", "-3", "12.5", "1000000", "99999999999999999999999", "0.0000001", "007"]
STRINGS = ['""', '"x"', '"Label"', '"2026-01-31"', '"2026-01-31T09:00:00Z"', '"a\\nb"', '"q\\"q"', '"\\\\"',
           '"\\x"', '"é 😀"', '"supervisor"', '"2026-13-45"', '"2026-01-31T09:00:00"']
OTHER = ["# comment\n", "\n", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", ")", "{", "}", "[", "]",
         ",", ":", ".", "date(", "datetime("]
SOUP = KEYWORDS + NAMES + NUMBERS + STRINGS + OTHER

HEADS = [
    "",
    "entity a { x: bool y: text n: money c: choice(high, low) l: lookup(a) }\n",
    "entity a { x: bool y: text n: money c: choice(high, low) l: lookup(a) }\nprocess p on a {\n"
    "stage s { step x step y step n step c }\n",
    "entity a { x: bool y: text n: money c: choice(high, low) l: lookup(a) }\nrule r on a {\n",
]


@settings(max_examples=int(300 * SCALE), **SETTINGS)
@given(st.sampled_from(HEADS), st.lists(st.sampled_from(SOUP), max_size=60), st.sampled_from([" ", "\n", "  "]))
def test_token_soup_never_crashes(head: str, tokens: list[str], sep: str) -> None:
    check_in_bounds(head + sep.join(tokens))


# -- (3) mutations of the spec's examples ---------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|!=|<=|>=|\S')


def _examples() -> dict[str, str]:
    files = sorted(EXAMPLES.glob("*.bpf"))
    assert files, f"no examples in {EXAMPLES}"
    return {f.name: f.read_text(encoding="utf-8") for f in files}


EXAMPLE_TEXTS = _examples()
EXAMPLE_TOKENS = {name: [(m.start(), m.end()) for m in _TOKEN.finditer(text)] for name, text in EXAMPLE_TEXTS.items()}


def test_examples_check_clean() -> None:
    """The starting points of the mutations are valid."""
    for name, text in EXAMPLE_TEXTS.items():
        report = check_in_bounds(text, name)
        assert report is not None and report.diagnostics == [], report and report.render()


@st.composite
def mutated_example(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(EXAMPLE_TEXTS)))
    text = EXAMPLE_TEXTS[name]
    spans = EXAMPLE_TOKENS[name]
    pieces = [text[s:e] for s, e in spans]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(pieces) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "swap_near", "replace"]))
        if op == "delete":
            pieces[i] = ""
        elif op == "duplicate":
            pieces[i] = pieces[i] + " " + pieces[i]
        elif op == "swap":
            j = draw(st.integers(0, len(pieces) - 1))
            pieces[i], pieces[j] = pieces[j], pieces[i]
        elif op == "swap_near":
            j = min(len(pieces) - 1, i + 1)
            pieces[i], pieces[j] = pieces[j], pieces[i]
        else:
            pieces[i] = draw(st.sampled_from(SOUP))
    out: list[str] = []
    pos = 0
    for (s, e), piece in zip(spans, pieces, strict=True):
        out.append(text[pos:s])
        out.append(piece)
        pos = e
    out.append(text[pos:])
    return name, "".join(out)


@settings(max_examples=int(300 * SCALE), **SETTINGS)
@given(mutated_example())
def test_mutated_examples_never_crash(case: tuple[str, str]) -> None:
    name, text = case
    check_in_bounds(text, name)


def _renamable(text: str) -> list[tuple[int, int]]:
    """Names (outside strings and comments) that occur more than once: renaming one breaks a reference."""
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*', lambda m: " " * len(m.group()), text)
    found = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", code)]
    counts: dict[str, int] = {}
    for s, e in found:
        counts[code[s:e]] = counts.get(code[s:e], 0) + 1
    return [(s, e) for s, e in found if counts[code[s:e]] > 1]


EXAMPLE_NAMES = {name: _renamable(text) for name, text in EXAMPLE_TEXTS.items()}


@settings(max_examples=int(200 * SCALE), **SETTINGS)
@given(st.sampled_from(sorted(EXAMPLE_TEXTS)), st.data())
def test_renaming_one_occurrence_never_crashes(name: str, data: st.DataObject) -> None:
    text = EXAMPLE_TEXTS[name]
    spans = EXAMPLE_NAMES[name]
    s, e = data.draw(st.sampled_from(spans))
    new = data.draw(st.sampled_from(["renamed", text[s:e] + "_x", "status", "lead", "case", "x", "amount", "if",
                                     "stage", "on", "finish", "not", "null", "true"]))
    check_in_bounds(text[:s] + new + text[e:], name)


# -- (4) pathological inputs ------------------------------------------------------------------

DEEP = 10_000
ENTITY = 'entity a { x: bool n: money y: text }\n'


def _codes(text: str) -> list[str]:
    """Codes of the diagnostics of ``text``, whether check_text returns them or raises them."""
    try:
        report = bpf_dsl.check_text(text, FUZZ_PATH)
    except bpf_dsl.SourceError as err:
        return [d.code for d in err.diagnostics]
    check_in_bounds(text)
    return [d.code for d in report.diagnostics]


def _rule_if(condition: str) -> str:
    return ENTITY + "rule r on a {\n    if " + condition + " {\n        hide y\n    }\n}\n"


@pytest.mark.parametrize("condition", [
    "(" * DEEP + "x = true" + ")" * DEEP,
    "not " * DEEP + "x = true",
    "- " * DEEP + "n > 0",
    "-" * DEEP + "n > 0",
    "n > " + "-" * DEEP + "n",
    "len(" * DEEP + "y" + ")" * DEEP + " > 0",
    "not (" * DEEP + "x = true" + ")" * DEEP,
], ids=["parens", "not", "minus", "minus-glued", "minus-right", "calls", "not-paren"])
def test_deep_expressions_give_bpf005(condition: str) -> None:
    assert "BPF005" in _codes(_rule_if(condition))


@pytest.mark.parametrize("condition", [
    " and ".join(["x = true"] * DEEP),
    " or ".join(["x = true"] * DEEP),
    "n > " + " + ".join(["n"] * DEEP),
    "n > " + " * ".join(["n"] * DEEP),
], ids=["and", "or", "plus", "times"])
def test_long_chains_of_one_operator_are_not_deep(condition: str) -> None:
    # A chain of one operator is one level of nesting however long (docs/language.md, Limits).
    assert _codes(_rule_if(condition)) == []


def test_deep_expression_in_a_process_condition() -> None:
    text = ENTITY + "process p on a {\n stage s { step x }\n if " + "(" * DEEP + "x = true" + ")" * DEEP + \
        " {\n  stage t { }\n }\n}\n"
    assert "BPF005" in _codes(text)


def test_many_minus_signs_on_a_number_are_folded_not_a_crash() -> None:
    # `- - 3` is the number 3, not an operation: no nesting, so no BPF005 either; just no crash.
    text = _rule_if("n > " + "- " * DEEP + "3")
    check_in_bounds(text)


def test_deep_nested_ifs_in_a_process_give_bpf005() -> None:
    text = ENTITY + "process p on a {\n stage s { step x }\n" + "if x = true {\n" * DEEP + "stage t { }\n" + \
        "}\n" * DEEP + "}\n"
    assert "BPF005" in _codes(text)


def test_deep_nested_ifs_in_a_rule_give_bpf005() -> None:
    text = ENTITY + "rule r on a {\n" + "if x = true {\n" * DEEP + "hide y\n" + "}\n" * DEEP + "}\n"
    assert "BPF005" in _codes(text)


def test_deep_nested_else_arms_give_bpf005() -> None:
    text = ENTITY + "rule r on a {\n" + "if x = true { hide y } else {\n" * DEEP + "show y\n" + "}\n" * DEEP + "}\n"
    assert "BPF005" in _codes(text)


def test_unclosed_deep_nesting_is_a_clear_syntax_error() -> None:
    codes = _codes(ENTITY + "rule r on a {\n" + "if x = true {\n" * DEEP)
    assert codes and codes[0] in ("BPF002", "BPF005")


def test_long_flat_chains_are_fine() -> None:
    """Long but flat: 3,000 `else if` arms, 10,000 rule actions, 1,000 stages (warnings only)."""
    arms = "".join(f" else if n = {i} {{ show y }}" for i in range(3000))
    assert [c for c in _codes(ENTITY + "rule r on a {\n if n = -1 { hide y }" + arms + "\n}\n")] == []
    actions = "hide y\nshow y\n" * (DEEP // 2)
    assert _codes(ENTITY + "rule r on a {\n" + actions + "}\n") == []
    stages = "".join(f" stage s{i} {{ step x }}\n" for i in range(1000))
    assert set(_codes(ENTITY + "process p on a {\n" + stages + "}\n")) <= {"BPF090"}


FIFTY_MB = 50 * 1024 * 1024


def test_fifty_megabytes_of_comments_give_bpf004() -> None:
    line = "# " + "a comment line, repeated until the file is big. " * 2 + "\n"
    text = line * (FIFTY_MB // len(line) + 1)
    assert len(text) >= FIFTY_MB
    assert _codes(text) == ["BPF004"]


def test_fifty_megabytes_of_entities_give_bpf004() -> None:
    decl = 'entity e{} "E" {{ name: text required amount: money min 0 status: choice(open, won) default open }}\n'
    count = FIFTY_MB // len(decl.format(0)) + 1
    text = "".join(decl.format(i) for i in range(count))
    assert len(text.encode()) >= FIFTY_MB
    assert _codes(text) == ["BPF004"]


def test_fifty_megabytes_of_multibyte_text_give_bpf004() -> None:
    # 13 million characters, 52 MB once encoded: the limit is on bytes, not characters.
    text = "# " + "😀" * (FIFTY_MB // 4 + 1) + "\n"
    assert _codes(text) == ["BPF004"]


# -- just inside the limits: everything deep that is accepted must also check and compile ----------

LIMIT_CONDITIONS = {
    "parens": "(" * 97 + "x = true" + ")" * 97,
    "not": "not " * 98 + "x = true",
    "minus": "- " * 97 + "n > 0",
    "calls": "upper(" * 97 + "y" + ")" * 97 + ' = "A"',
    "coalesce": "coalesce(" * 97 + "n" + ", 1)" * 97 + " > 0",
    "and": " and ".join(["x = true"] * 50),
    "plus": "n > " + " + ".join(["n"] * 98),
    "not-paren": "not (" * 49 + "x = true" + ")" * 49,
    "dates": "d + " + " + ".join(["1"] * 97) + " > today()",
}
LIMIT_ENTITY = "entity a { x: bool n: money y: text d: date }\n"
LIMIT_IFS = 14  # `if` blocks as deep as they may go (each level is an arm in a chain)


@pytest.mark.parametrize("where", ["process", "rule"])
@pytest.mark.parametrize("name", sorted(LIMIT_CONDITIONS))
def test_deepest_accepted_nesting_checks_and_compiles(where: str, name: str) -> None:
    cond = LIMIT_CONDITIONS[name]
    ifs = "if x = true {\n" * LIMIT_IFS
    ends = "}\n" * LIMIT_IFS
    if where == "process":
        text = (LIMIT_ENTITY + "process p on a {\n stage s { step x step n step y step d }\n" + ifs
                + f"if {cond} {{ stage t {{ }} }}\nstage u {{ }}\n" + ends + "}\n")
    else:
        text = LIMIT_ENTITY + "rule r on a {\n" + ifs + f"if {cond} {{ hide y }}\n" + ends + "}\n"
    report = check_in_bounds(text)
    assert report is not None and report.diagnostics == [], report and report.render()
    assert report.program is not None
