"""Types of choices, options and `coalesce`; unreachable arms; where header errors point.

Each test here failed before the fix it names (an outside audit's findings):
`coalesce` typed by its first argument only, text accepted where a choice's option
belongs, option names refused inside function arguments, a field shadowing an
option with a generic hint, `if false` arms not reported, `choice()` a syntax
error, and stage-header errors pointing at the stage's name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bpf_dsl
from bpf_dsl import check_paths, check_text
from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.engine import MemoryData
from bpf_dsl.plugins import Registry

MODEL = """
entity e {
    d: date
    when: datetime
    c: choice(x, y)
    wide: choice(x, y, z)
    other: choice(p, q)
    t: text
    n: integer
    m: money
    tags: choices(hot, cold)
    status: choice(draft, approved)
    approved: bool
}
"""


def diags(body: str) -> list[Diagnostic]:
    """The diagnostics of a rule on `e` holding ``body``."""
    report = check_text(MODEL + "rule r on e {\n    " + body + "\n}\n", "m.bpf", Registry(entry_points=False))
    return report.diagnostics


def codes(body: str) -> list[str]:
    return [d.code for d in diags(body)]


# -- 1. coalesce ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "set d = coalesce(d, 5)",
    'set n = coalesce(n, "5")',
    "set c = coalesce(c, other)",
    "if coalesce(d, true) = d { hide t }",
    "set m = coalesce(tags, 1)",
])
def test_coalesce_arguments_must_have_one_type(body: str) -> None:
    found = diags(body)
    assert [d.code for d in found] == ["BPF039"], found
    assert "must have one type" in found[0].message


@pytest.mark.parametrize("body", [
    "set d = coalesce(d, today())",
    "set when = coalesce(when, d)",        # a date reads as its midnight where a datetime is wanted
    "set m = coalesce(m, 0)",
    "set m = coalesce(n, 1.5)",            # integer and decimal: a decimal, fits money
    'set t = coalesce(t, "")',
    "set wide = coalesce(c, z)",           # c's options are among wide's
    "set c = coalesce(null, x)",
])
def test_coalesce_of_compatible_arguments_checks(body: str) -> None:
    assert codes(body) == []


def test_coalesce_result_is_the_common_type() -> None:
    # integer and decimal join into a decimal, which an integer field doesn't take.
    assert codes("set n = coalesce(n, 1.5)") == ["BPF037"]
    # a choice of x, y, z doesn't fit a choice of x, y.
    assert codes("set c = coalesce(wide, x)") == ["BPF037"]


# -- 2. text is not a choice -----------------------------------------------------------------


@pytest.mark.parametrize(("body", "code"), [
    ("set c = upper(t)", "BPF037"),
    ("set c = t", "BPF037"),
    ('set c = lower("X")', "BPF037"),
    ('set c = "x" + "y"', "BPF037"),
    ("if c = t { hide t }", "BPF034"),
    ("if t = c { hide t }", "BPF034"),
    ("if c != upper(t) { hide t }", "BPF034"),
    ("if c in [t] { hide t }", "BPF034"),
    ("if c not in [x, t] { hide t }", "BPF034"),
    ("if tags contains t { hide t }", "BPF034"),
])
def test_text_is_refused_where_an_option_belongs(body: str, code: str) -> None:
    found = diags(body)
    assert [d.code for d in found] == [code], found
    words = f"{found[0].message} {found[0].hint}"
    assert "option" in words and "text" in words


@pytest.mark.parametrize("body", [
    'set c = "x"',
    'if c = "y" { hide t }',
    'if "y" = c { hide t }',
    'if c in ["x", y] { hide t }',
    'if tags contains "hot" { hide t }',
    "set wide = c",                        # another value whose options are all wide's
    "if c = wide { hide t }",              # two choices sharing options
])
def test_options_by_string_or_another_value_of_the_choice_check(body: str) -> None:
    assert codes(body) == []


def test_string_naming_no_option_is_bpf035() -> None:
    assert codes('set c = "q"') == ["BPF035"]
    assert codes('if c in ["q"] { hide t }') == ["BPF035"]
    assert codes('if tags contains "warm" { hide t }') == ["BPF035"]


def test_choice_of_other_options_is_refused() -> None:
    found = diags("set c = wide")
    assert [d.code for d in found] == ["BPF037"]
    assert "`z`" in found[0].message
    assert codes("if c = other { hide t }") == ["BPF034"]  # they share no option: never equal


# -- 3. option names wherever the choice is expected ------------------------------------------


@pytest.mark.parametrize("body", [
    "set c = coalesce(c, x)",
    "set c = coalesce(x, c)",
    "set c = coalesce(x, y)",
    "set c = coalesce(coalesce(c, x), y)",
    "if coalesce(c, x) = y { hide t }",
    "if y = coalesce(c, x) { hide t }",
    "if x = c { hide t }",
    "if (x) = c { hide t }",
    "if x in [c, wide] { hide t }",
    "if coalesce(c, x) in [x, y] { hide t }",
    "if tags contains hot { hide t }",
])
def test_option_names_resolve_wherever_the_choice_is_expected(body: str) -> None:
    assert codes(body) == []


def test_option_names_in_coalesce_are_checked_against_the_choice() -> None:
    found = diags("set c = coalesce(c, q)")
    assert [d.code for d in found] == ["BPF035"]
    assert "q" in found[0].message and found[0].hint and "x, y" in found[0].hint


def test_option_names_in_coalesce_run() -> None:
    text = MODEL + "rule r on e {\n    set c = coalesce(c, x)\n    set wide = coalesce(wide, z)\n}\n"
    program = bpf_dsl.load_source(text, registry=Registry(entry_points=False))
    data = MemoryData(program.entities, program.rules)
    saved = data.save("e", "E1", {"c": "y"})
    assert saved.values["c"] == "y" and saved.values["wide"] == "z"
    assert data.save("e", "E2", {}).values["c"] == "x"


# -- 9. a field named like an option ------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "if status in [approved] { hide t }",
    "if status = approved { hide t }",
    "if approved = status { hide t }",
    "set status = approved",
    "set status = coalesce(status, approved)",
])
def test_a_field_shadowing_an_option_says_how_to_write_the_option(body: str) -> None:
    found = diags(body)
    assert len(found) == 1, found
    assert found[0].hint == '`approved` is a field here; write the option as "approved"'
    line = body.split("\n")[0]
    # The caret is under `approved`, the name meant as an option.
    assert found[0].span.column == 5 + line.rindex("approved")


def test_the_option_written_as_a_string_checks() -> None:
    assert codes('if status in ["approved"] { hide t }') == []
    assert codes('set status = "approved"') == []


# -- 7. `if false` --------------------------------------------------------------------------------


def test_stages_in_a_constant_false_arm_are_unreachable() -> None:
    text = MODEL + """
process p on e {
    stage one { step n }
    if false {
        stage two { step t }
    } else if (false) {
        stage three { step t }
    } else if n > 1 {
        stage four { step t }
    }
    stage five { step n }
}
"""
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    found = [(d.code, d.span.line, d.span.column) for d in report.diagnostics]
    assert found == [("BPF041", 19, 15), ("BPF041", 21, 15)]
    assert "always false" in (report.diagnostics[0].hint or "")


def test_if_true_in_parentheses_still_makes_later_arms_unreachable() -> None:
    text = MODEL + """
process p on e {
    stage one { step n }
    if (true) { stage two { step t } } else { stage three { step t } }
}
"""
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    assert [d.code for d in report.diagnostics] == ["BPF041"]


# -- 8. choice() -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["choice", "choices"])
def test_a_choice_without_options_is_bpf031(kind: str) -> None:
    report = check_text(f"entity e {{\n    a: {kind}()\n}}\n", "m.bpf", Registry(entry_points=False))
    assert [(d.code, d.span.line, d.span.column) for d in report.diagnostics] == [("BPF031", 2, 8)]
    assert "needs its options" in report.diagnostics[0].message


# -- 11. where stage-header errors point ------------------------------------------------------------

HEADERS = """
entity account { name: text }
entity deal { title: text  account: lookup(account) }
entity quote { title: text  deal: lookup(deal) }
"""


@pytest.mark.parametrize(("stage", "code", "token"), [
    ("stage s1 on quote via title { step title }", "BPF042", "title {"),
    ("stage s1 on quote via nothing { step title }", "BPF042", "nothing"),
    ("stage s1 on account via deal { step name }", "BPF042", "deal {"),
    ("stage s1 category qualfy { step title }", "BPF048", "qualfy"),
    ("stage s1 on ghost { step title }", "BPF021", "ghost"),
    ("stage s1 on quote { step title }", "BPF043", "quote"),
])
def test_stage_header_errors_point_at_the_offending_token(stage: str, code: str, token: str) -> None:
    text = HEADERS + "process p on deal {\n    stage first { step title }\n    " + stage + "\n}\n"
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    assert [d.code for d in report.diagnostics] == [code], report.render()
    d = report.diagnostics[0]
    assert (d.span.line, d.span.column) == (7, 5 + stage.index(token))
    assert d.hint  # BPF021 on a stage had no hint when nothing was close


@pytest.mark.parametrize(("decl", "token"), [
    ("process p on nope { stage s { step title } }", "nope"),
    ("rule r on nope { hide title }", "nope"),
])
def test_an_unknown_entity_of_a_process_or_rule_points_at_it(decl: str, token: str) -> None:
    report = check_text(HEADERS + decl + "\n", "m.bpf", Registry(entry_points=False))
    assert [d.code for d in report.diagnostics] == ["BPF021"]
    assert (report.diagnostics[0].span.line, report.diagnostics[0].span.column) == (5, 1 + decl.index(token))


def test_valid_corpus_checks_clean() -> None:
    # tests/valid/options_and_columns.bpf shows option names in `coalesce`, on either side of
    # `=`, options shadowed by fields written as strings, and built-in columns.
    valid = Path(__file__).resolve().parent / "valid"
    files = sorted(valid.glob("*.bpf"))
    assert any(f.name == "options_and_columns.bpf" for f in files)
    for f in files:
        report = check_paths([str(f)])
        assert report.diagnostics == [], report.render()
