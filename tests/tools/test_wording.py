"""Diagrams in labels, not ids (the web page's): conditions and stage details in field, option and entity labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpf_dsl.check import check_paths
from bpf_dsl.definition import Program
from bpf_dsl.tools import graph as g
from tests.paths import EXAMPLES

SOURCE = """
entity account "Account" {
    name "Account Name": text required
    industry: choice(retail "Retail", finance "Finance Services")
}

entity deal "Deal" {
    topic: text required
    timeframe "Purchase Timeframe": choice(now "Immediate", soon "This Quarter", later "Next Year")
    budget "Budget Amount": money
    signed "Contract Signed": bool
    account "Customer": lookup(account)
    size: integer
    status: choice(open "Open", won "Won") default open
}

entity order_form "Order Form" {
    deal "Deal": lookup(deal)
    total "Order Total": money
}

process p "P" on deal {
    stage first "First Stage" category qualify {
        step topic  step timeframe  step budget  step signed  step account  step size  step status
    }
    if %s {
        stage extra "Extra" category plan { step budget }
    }
    stage later "Later" category close on order_form via deal { step total }
}
"""


def program(tmp_path: Path, condition: str) -> Program:
    """The checked program of SOURCE with ``condition`` on its one branch."""
    path = tmp_path / "deal.bpf"
    path.write_text(SOURCE % condition, encoding="utf-8")
    report = check_paths([str(path)])
    assert report.ok and report.program is not None, report.render()
    return report.program


def words(tmp_path: Path, condition: str) -> str:
    prog = program(tmp_path, condition)
    graph = g.build_graph(prog.process_nodes["p"], prog.entities)
    labels = [e.label for e in graph.edges if e.label not in (None, "otherwise")]
    assert len(labels) == 1, labels
    return str(labels[0])


@pytest.mark.parametrize(("condition", "expected"), [
    ("timeframe in [now, soon]", "Purchase Timeframe is Immediate or This Quarter"),
    ("timeframe in [now, soon, later]", "Purchase Timeframe is Immediate, This Quarter or Next Year"),
    ("timeframe not in [now]", "Purchase Timeframe is not Immediate"),
    ("timeframe not in [now, soon]", "Purchase Timeframe is none of Immediate, This Quarter"),
    ('status = "won"', "Status is Won"),
    ("status != won", "Status is not Won"),
    ("budget >= 1000000", "Budget Amount is at least 1,000,000"),
    ("budget < 2.5", "Budget Amount is less than 2.5"),
    ("signed", "Contract Signed is Yes"),
    ("not signed", "Contract Signed is No"),
    ("signed = false", "Contract Signed is No"),
    ("account.industry = finance", "Customer › Industry is Finance Services"),
    ("account is empty", "Customer is empty"),
    ('topic starts with "Big"', "Topic starts with “Big”"),
    ("size > 3 and (signed or budget > 10) and timeframe = now",
     "Size is more than 3 and (Contract Signed is Yes or Budget Amount is more than 10) and "
     "Purchase Timeframe is Immediate"),
])
def test_conditions_read_in_labels(tmp_path: Path, condition: str, expected: str) -> None:
    assert words(tmp_path, condition) == expected


def test_stage_details_in_labels_and_ids_kept_without_entities(tmp_path: Path) -> None:
    prog = program(tmp_path, "signed")
    node = prog.process_nodes["p"]
    labelled = {x.title: x.detail for x in g.build_graph(node, prog.entities).nodes if x.kind == "stage"}
    assert labelled == {"First Stage": "Qualify · Deal", "Extra": "Plan · Deal",
                        "Later": "Close · Order Form"}
    # `bpf graph` (no entities) keeps the .bpf text a developer diffs.
    plain = g.build_graph(node)
    assert [x.detail for x in plain.nodes if x.kind == "stage"] == ["[qualify] · deal", "[plan] · deal",
                                                                     "[close] · order_form"]
    assert [e.label for e in plain.edges if e.label not in (None, "otherwise")] == ["signed"]


def test_every_format_in_labels(tmp_path: Path) -> None:
    prog = program(tmp_path, "timeframe in [now, soon]")
    node = prog.process_nodes["p"]
    for fmt in g.FORMATS:
        text = g.render(node, fmt, prog.entities)
        # Graphviz and the builtin renderer break a long condition into lines (one <text> each).
        assert "Purchase Timeframe is Immediate" in text and "This Quarter" in text, (fmt, text)
        assert "timeframe in" not in text and "[qualify]" not in text, (fmt, text)
    builtin = g.to_svg(node, renderer="builtin", entities=prog.entities)
    assert "Purchase Timeframe is Immediate or This" in builtin and "Qualify · Deal" in builtin


def test_long_and_chain_in_a_loop(tmp_path: Path) -> None:
    """A chain of `and` as long as it is written reads without recursion limits."""
    chain = " and ".join(["signed"] * 400)
    assert words(tmp_path, chain) == " and ".join(["Contract Signed is Yes"] * 400)


def test_the_example_reads_as_the_issue_asks() -> None:
    report = check_paths([str(EXAMPLES / "opportunity.bpf")])
    assert report.program is not None
    prog = report.program
    graph = g.build_graph(prog.process_nodes["lead_to_opportunity"], prog.entities)
    assert "Budget Amount is at least 1,000,000 and Purchase Timeframe is Immediate or This Quarter" in {
        e.label for e in graph.edges}
    assert graph.node("stage_qualify").detail == "Qualify · Lead"
