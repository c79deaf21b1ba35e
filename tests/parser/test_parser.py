"""The parser: grammar strictness, AST shape, spans, and errors at the door."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import lark
import pytest

from bpf_dsl import nodes as n
from bpf_dsl.errors import BpfSyntaxError
from bpf_dsl.grammar import grammar_text
from bpf_dsl.parser import MAX_SOURCE_BYTES, Parser, parse


def test_grammar_builds_with_strict_lalr() -> None:
    # strict=True makes any shift/reduce conflict or terminal collision an error.
    lark.Lark(grammar_text(), parser="lalr", strict=True, maybe_placeholders=True, keep_all_tokens=True)


def test_strict_parser_parses_examples_like_the_default(examples: list[Path]) -> None:
    strict = Parser(strict=True)
    for f in examples:
        text = f.read_text()
        assert strict.parse(text, str(f)) == parse(text, str(f))


def test_no_lark_objects_leave_the_parser(examples: list[Path]) -> None:
    module = parse(examples[0].read_text(), "x.bpf")
    stack: list[object] = [module]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        assert not isinstance(node, lark.Tree | lark.Token), node
        if isinstance(node, tuple | list):
            stack.extend(node)
        elif hasattr(node, "__dataclass_fields__"):
            stack.extend(getattr(node, f) for f in node.__dataclass_fields__)
        elif isinstance(node, str):
            assert type(node) is str  # a Token is a str subclass: none may leak
    assert seen > 100


def test_spans_point_at_names() -> None:
    m = parse('role r\nentity lead "Lead" {\n    topic: text required\n}\n', "f.bpf")
    entity = m.declarations[1]
    assert isinstance(entity, n.Entity)
    assert (entity.span.file, entity.span.line, entity.span.column) == ("f.bpf", 2, 8)
    assert (entity.fields[0].span.line, entity.fields[0].span.column) == (3, 5)


def test_equality_ignores_layout() -> None:
    a = parse("entity a { x: text }")
    b = parse("entity   a {\n\n  x :   text\n}  # c\n")
    assert a == b
    assert a != parse("entity a { y: text }")


def test_keywords_are_names_where_unambiguous() -> None:
    m = parse("entity e { status: text order: integer finish: bool stage: text }\n"
              "process p on e { stage s { step order step finish } if order > 1 and status = \"x\" { } }")
    e = m.declarations[0]
    assert isinstance(e, n.Entity)
    assert [f.name for f in e.fields] == ["status", "order", "finish", "stage"]


def test_literals() -> None:
    m = parse('rule r on e { if a = date("2026-01-31") and b > datetime("2026-01-31T09:00:00Z") '
              'and c = -3 and d = 12.5 and t = "a\\"b\\n" { hide x } }')
    rule = m.declarations[0]
    assert isinstance(rule, n.Rule)
    cond = rule.body[0].arms[0].condition  # type: ignore[union-attr]
    lits = []
    stack = [cond]
    while stack:
        x = stack.pop()
        if isinstance(x, n.Binary):
            stack += [x.left, x.right]
        elif isinstance(x, n.Literal):
            lits.append(x.value)
    assert dt.date(2026, 1, 31) in lits
    assert dt.datetime(2026, 1, 31, 9, tzinfo=dt.UTC) in lits
    assert -3 in lits and Decimal("12.5") in lits and 'a"b\n' in lits


def test_operator_precedence() -> None:
    m = parse("rule r on e { if a or b and not c = 1 + 2 * 3 { hide x } }")
    cond = m.declarations[0].body[0].arms[0].condition  # type: ignore[union-attr]
    assert isinstance(cond, n.Binary) and cond.op == "or"
    right = cond.right
    assert isinstance(right, n.Binary) and right.op == "and"
    assert isinstance(right.right, n.Unary) and right.right.op == "not"
    cmp = right.right.operand
    assert isinstance(cmp, n.Binary) and cmp.op == "="
    assert isinstance(cmp.right, n.Binary) and cmp.right.op == "+"
    assert isinstance(cmp.right.right, n.Binary) and cmp.right.right.op == "*"


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("entity a { x: 12 }", "BPF001", 1, 15),
        ("entity a {\n  x: text\n", "BPF002", 1, 10),  # at the `{` left open
        ('rule r on a { error x "bad \\q" }', "BPF003", 1, 28),
        ('entity a { d: date default date("2026-02-30") }', "BPF006", 1, 33),
        ('entity a { d: datetime default datetime("2026-02-03T10:00:00") }', "BPF006", 1, 41),
        ('role r "unclosed\n', "BPF001", 1, 8),
    ],
)
def test_syntax_errors_have_code_and_position(text: str, code: str, line: int, column: int) -> None:
    with pytest.raises(BpfSyntaxError) as info:
        parse(text, "f.bpf")
    d = info.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.column) == (code, line, column)
    assert d.span.file == "f.bpf"


def test_syntax_error_says_what_was_expected_in_words() -> None:
    with pytest.raises(BpfSyntaxError) as info:
        parse("entity a { x: 12 }", "f.bpf")
    d = info.value.diagnostics[0]
    assert "field type such as `text`, `money` or `lookup(entity)`" in d.message
    rendered = d.render("entity a { x: 12 }")
    assert rendered.splitlines()[0].startswith("f.bpf:1:15: error BPF001:")
    assert rendered.splitlines()[2].index("^") == 4 + 14


def test_every_catalogue_snippet_fails_and_is_recognised() -> None:
    from bpf_dsl.parser.syntax_errors import CATALOGUE

    for label, (_hint, snippets) in CATALOGUE.items():
        for snippet in snippets:
            with pytest.raises(BpfSyntaxError) as info:
                parse(snippet, "s.bpf")
            message = info.value.diagnostics[0].message
            if info.value.diagnostics[0].code == "BPF001":
                assert label in message, (snippet, message)


@pytest.mark.parametrize("depth", [10_000])
def test_deep_nesting_is_a_clear_error(depth: int) -> None:
    for text in (
        "rule r on a { if " + "(" * depth + "x" + ")" * depth + " { hide y } }",
        "rule r on a { if " + "not " * depth + "x { hide y } }",
        "rule r on a { " + "if x { " * depth + "}" * depth + " }",
    ):
        with pytest.raises(BpfSyntaxError) as info:
            parse(text, "deep.bpf")
        assert info.value.diagnostics[0].code in ("BPF005", "BPF001")


def test_long_runs_of_minus_fold_into_one_number() -> None:
    m = parse("rule r on a { set x = " + "-" * 10_001 + "1 }")
    action = m.declarations[0].body[0]  # type: ignore[union-attr]
    assert action.value == n.Literal("number", -1)  # type: ignore[union-attr]


def test_big_file_is_refused_before_parsing() -> None:
    text = "# filler\n" * (MAX_SOURCE_BYTES // 9 + 10)
    with pytest.raises(BpfSyntaxError) as info:
        parse(text, "big.bpf")
    assert info.value.diagnostics[0].code == "BPF004"


# -- messages chosen by the construct that is open --------------------------------------------


@pytest.mark.parametrize(("text", "says", "hint"), [
    ("entity a { x: text }\nrule r { hide x }", "after the rule's name", "rule NAME"),
    ('entity a { x: text }\nrule r "R" { hide x }', "after the rule's name", "rule NAME"),
    ("process p { }", "after the process's name", "process NAME"),
    ('entity e { a: text }\nextend entity e "Label" { b: text }', "entity to extend", "takes no label"),
    ('process p on a { on start { call bpf.notify(role "x", message: "m") } }', "after the argument's name",
     "arguments are named"),
    ('process p on a { stage s { action "A" call bpf.notify(role "x") } }', "after the argument's name",
     "arguments are named"),
    ("process p on a { stage s { step a } else { stage t { } } }", "`else` must follow", "`if` chain"),
    ("rule r on a { hide x } else { show x }", "`else` must follow", "`if` chain"),
    ("entity a { x: choice(a b) }", "separated by commas", "choice("),
])
def test_syntax_errors_name_the_open_construct(text: str, says: str, hint: str) -> None:
    with pytest.raises(BpfSyntaxError) as info:
        parse(text, "f.bpf")
    d = info.value.diagnostics[0]
    assert d.code == "BPF001"
    assert says in d.message, d.message
    assert d.hint is not None and hint in d.hint, d.hint
    assert "process's name" not in d.message or text.startswith("process")
    assert "field's name" not in d.message and "steps live inside a stage" not in d.hint


def test_a_condition_still_gets_its_own_message() -> None:
    with pytest.raises(BpfSyntaxError) as info:
        parse("rule r on a { if x = 1 else }", "f.bpf")
    assert "expected `{` after the condition" in info.value.diagnostics[0].message


# -- chains of one operator ---------------------------------------------------------------------


@pytest.mark.parametrize("op", ["and", "or", "+", "-", "*", "/"])
def test_a_long_chain_of_one_operator_is_not_deep(op: str) -> None:
    term = "x = true" if op in ("and", "or") else "n"
    chain = f" {op} ".join([term] * 2000)
    cond = chain if op in ("and", "or") else f"n > {chain}"
    module = parse("rule r on a { if " + cond + " { hide y } }")
    assert module.declarations


def test_real_nesting_still_counts() -> None:
    # 100 parentheses around `a or b and c` are too deep; 90 around a 500-term chain are not.
    with pytest.raises(BpfSyntaxError) as info:
        parse("rule r on a { if " + "(" * 100 + "a or b and c" + ")" * 100 + " { hide y } }")
    assert info.value.diagnostics[0].code == "BPF005"
    parse("rule r on a { if " + "(" * 90 + " and ".join(["a"] * 500) + ")" * 90 + " { hide y } }")


def test_chains_keep_their_order_and_operators() -> None:
    rule = parse("rule r on a { set x = a - b + c * d / e - f }").declarations[0]
    value = rule.body[0].value  # type: ignore[union-attr]
    first, spine = n.left_spine(value)
    assert first == n.Ref(("a",)) and [b.op for b in spine] == ["-", "+", "-"]
    assert spine[1].right == n.Binary("/", n.Binary("*", n.Ref(("c",)), n.Ref(("d",))), n.Ref(("e",)))


def test_choice_without_options_parses() -> None:
    entity = parse("entity e { a: choice() }").declarations[0]
    assert entity.fields[0].type == n.TypeRef("choice", ())  # type: ignore[union-attr]


def test_stage_header_keeps_where_its_names_stand() -> None:
    text = "process p on deal {\n  stage s category close on quote via deal { }\n}"
    proc = parse(text).declarations[0]
    stage = proc.flow[0]  # type: ignore[union-attr]
    assert proc.entity_span[1:3] == (1, 14)  # type: ignore[union-attr]
    assert stage.category_span[1:3] == (2, 20)
    assert stage.entity_span[1:3] == (2, 29)
    assert stage.via_span[1:3] == (2, 39)
