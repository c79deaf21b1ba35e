"""A pack's actions and functions are typed: wrong arguments in a .bpf are checker errors at their place."""

from __future__ import annotations

from bpf_dsl import check_text

from .helpers import ADMIN, OpenSvc, Walk, ok, refused, registry

PROCESS = """import sales
process side on opportunity {{
    stage s category close {{
        {line}
    }}
}}
"""


def diagnostics(line: str) -> list[tuple[str, int, int, str]]:
    report = check_text(PROCESS.format(line=line), "side.bpf", registry("sales"))
    return [(d.code, d.span.line, d.span.column, d.message) for d in report.diagnostics]


def test_right_arguments_check() -> None:
    assert diagnostics('action "Won" call sales.close_opportunity(outcome: "won")') == []
    assert diagnostics('action "Lost" call sales.close_opportunity(outcome: "lost", reason: "canceled")') == []
    assert diagnostics('action "Q" call sales.require_closed()') == []


def test_wrong_type_is_bpf062_at_the_value() -> None:
    assert diagnostics('action "Won" call sales.close_opportunity(outcome: 1)') == [
        ("BPF062", 4, 60, "the argument `outcome` of `sales.close_opportunity` must be text, not an integer")]
    [(code, line, column, message)] = diagnostics('action "W" call sales.close_opportunity(outcome: probability)')
    assert (code, line, column, message) == ("BPF062", 4, 58, "the argument `outcome` of `sales.close_opportunity` "
                                                              "must be text, not an integer")


def test_unknown_missing_and_repeated_arguments_are_bpf061() -> None:
    [(code, line, column, message)] = diagnostics('action "Won" call sales.close_opportunity(outcom: "won")')
    assert (code, line, column) == ("BPF061", 4, 51)
    assert message == "`sales.close_opportunity` has no argument `outcom`"
    assert diagnostics('action "Lost" call sales.close_opportunity(reason: "canceled")') == [
        ("BPF061", 4, 28, "`sales.close_opportunity` is missing `outcome`")]
    assert [d[:3] for d in diagnostics('action "W" call sales.close_opportunity(outcome: "won", outcome: "lost")')] \
        == [("BPF061", 4, 65)]


def test_unknown_action_and_bad_function_call() -> None:
    assert [d[:3] for d in diagnostics('action "X" call sales.close_deal(outcome: "won")')] == [("BPF060", 4, 25)]
    report = check_text("import sales\nrule r on lead {\n    set score = sales.lead_score(topic, 1, true)\n}\n",
                        "r.bpf", registry("sales"))
    assert [(d.code, d.span.line, d.span.column) for d in report.diagnostics] == [("BPF039", 3, 34), ("BPF039", 3, 41)]


def test_an_argument_outside_the_options_is_refused_when_run(open_svc: OpenSvc) -> None:
    # Param.options: the checker verifies the type; the action refuses values outside its options.
    svc = open_svc("sales", extra="""
process odd on opportunity {
    order 5
    stage s category close {
        action "Tie" call sales.close_opportunity(outcome: description)
    }
}
""")
    opp = ok(svc.create_record(ADMIN, "opportunity", {"name": "Odd deal", "description": "tied"}, process="odd"))
    w = Walk(svc, opp, "odd")
    failure = refused(w.run("tie"), "CANCELLED")
    assert failure.message == "sales.close_opportunity: `outcome` must be one of 'won', 'lost', not 'tied'"
