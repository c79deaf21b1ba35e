"""Diagrams of process flows: the neutral graph, Mermaid, DOT and SVG (``bpf graph``)."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bpf_dsl import nodes as n
from bpf_dsl.parser import parse
from bpf_dsl.tools import graph as g
from bpf_dsl.tools import svg_layout
from tests.paths import EXAMPLES

SVG_NS = "{http://www.w3.org/2000/svg}"
HAS_DOT = shutil.which("dot") is not None

OPPORTUNITY_CONDITION = "budget_amount >= 1000000 and purchase_timeframe in [immediate, this_quarter]"


def example(name: str) -> n.Process:
    path = EXAMPLES / f"{name}.bpf"
    module = parse(path.read_text(encoding="utf-8"), str(path))
    return next(d for d in module.declarations if isinstance(d, n.Process))


def process(flow: str, *, name: str = "p", label: str = "") -> n.Process:
    """A process on entity ``e`` whose body is ``flow`` (stages need no steps to be drawn)."""
    text = f"""
entity e {{ a: integer  b: integer  c: bool  t: text }}
process {name} {label} on e {{
{flow}
}}
"""
    module = parse(text, "inline.bpf")
    return next(d for d in module.declarations if isinstance(d, n.Process))


def edges(graph: g.Graph) -> set[tuple[str, str, str | None]]:
    return {(e.source, e.target, e.label) for e in graph.edges}


# ---------------------------------------------------------------------------
# The neutral graph
# ---------------------------------------------------------------------------


def test_opportunity_graph() -> None:
    graph = g.build_graph(example("opportunity"))
    assert graph.title == "Lead to Opportunity Sales Process"
    assert [x.id for x in graph.nodes] == [
        "start", "stage_qualify", "decision_1", "stage_confirm_interest",
        "stage_develop", "stage_propose", "stage_close", "finish",
    ]  # fmt: skip
    assert edges(graph) == {
        ("start", "stage_qualify", None),
        ("stage_qualify", "decision_1", None),
        ("decision_1", "stage_confirm_interest", OPPORTUNITY_CONDITION),
        ("stage_confirm_interest", "stage_develop", None),
        # No else: the chain falls through to the stage after it.
        ("decision_1", "stage_develop", "otherwise"),
        ("stage_develop", "stage_propose", None),
        ("stage_propose", "stage_close", None),
        ("stage_close", "finish", None),
    }
    develop = graph.node("stage_develop")
    assert (develop.title, develop.category, develop.entity) == ("Develop", "develop", "opportunity")
    assert develop.lines == ("Develop", "[develop] · opportunity")
    # A stage without `on` is on the primary entity.
    assert graph.node("stage_qualify").lines == ("Qualify", "[qualify] · lead")
    assert graph.node("decision_1").kind == "decision"


def test_case_graph() -> None:
    graph = g.build_graph(example("case"))
    assert edges(graph) == {
        ("start", "stage_identify", None),
        ("stage_identify", "stage_research", None),
        ("stage_research", "decision_1", None),
        ("decision_1", "stage_quick_resolve", "known_solution = true"),
        ("stage_quick_resolve", "finish", None),  # the arm ends with finish
        ("decision_1", "stage_escalate", "priority = high or case_type = problem"),
        ("decision_1", "stage_investigate", "else"),
        ("stage_escalate", "stage_resolve", None),
        ("stage_investigate", "stage_resolve", None),
        ("stage_resolve", "finish", None),
    }
    # A decision's edges come in the order of its arms.
    assert [e.label for e in graph.edges_from("decision_1")] == [
        "known_solution = true", "priority = high or case_type = problem", "else",
    ]  # fmt: skip


def test_nested_branches_with_empty_arm_and_finish() -> None:
    graph = g.build_graph(
        process("""
    stage one category qualify { step a }
    if a > 1 {
        stage two { step b }
        if b > 2 {
            stage three { step c }
            finish
        } else if c = true {
        } else {
            stage four on other { step t }
        }
    } else if t is empty {
        stage five { step t }
    }
    stage six { step t }
""")
    )
    assert edges(graph) == {
        ("start", "stage_one", None),
        ("stage_one", "decision_1", None),
        ("decision_1", "stage_two", "a > 1"),
        ("stage_two", "decision_2", None),
        ("decision_2", "stage_three", "b > 2"),
        ("stage_three", "finish", None),
        # The empty arm goes straight to where the arms merge: after the outer chain.
        ("decision_2", "stage_six", "c = true"),
        ("decision_2", "stage_four", "else"),
        ("stage_four", "stage_six", None),
        ("decision_1", "stage_five", "t is empty"),
        ("stage_five", "stage_six", None),
        ("decision_1", "stage_six", "otherwise"),
        ("stage_six", "finish", None),
    }
    # Arms in text order even though the empty one is connected last.
    assert [e.label for e in graph.edges_from("decision_2")] == ["b > 2", "c = true", "else"]
    assert [e.label for e in graph.edges_from("decision_1")] == ["a > 1", "t is empty", "otherwise"]
    assert graph.node("stage_four").entity == "other"
    assert graph.node("stage_two").lines == ("Two", "e")  # no category: entity alone


def test_chain_without_else_at_the_end_falls_through_to_finish() -> None:
    graph = g.build_graph(process("stage one { step a }\nif a > 1 { stage two { step b } }"))
    assert ("decision_1", "finish", "otherwise") in edges(graph)
    assert ("stage_two", "finish", None) in edges(graph)


def test_empty_arms_and_an_else_that_finishes() -> None:
    graph = g.build_graph(
        process("stage one { step a }\nif a > 1 { } else { finish }\nstage two { step b }")
    )
    assert edges(graph) == {
        ("start", "stage_one", None),
        ("stage_one", "decision_1", None),
        ("decision_1", "stage_two", "a > 1"),
        ("decision_1", "finish", "else"),
        ("stage_two", "finish", None),
    }


def test_when_every_arm_finishes_nothing_reaches_the_next_stage() -> None:
    proc = process("stage one { step a }\nif a > 1 { finish } else { stage two { step b } finish }\nstage lost {}")
    graph = g.build_graph(proc)
    assert graph.edges_to("stage_lost") == ()
    assert ("stage_lost", "finish", None) in edges(graph)
    assert {e.source for e in graph.edges_to("finish")} == {"decision_1", "stage_two", "stage_lost"}
    # The builtin drawing hangs the unreachable stage below the one before it, not beside the start.
    root = ET.fromstring(g.to_svg(proc, renderer="builtin"))
    assert node_centre(root, "stage_lost")[1] > node_centre(root, "stage_two")[1]


def test_empty_flow_and_labels() -> None:
    graph = g.build_graph(process("", name="budget_check"))
    assert graph.title == "Budget check"
    assert edges(graph) == {("start", "finish", None)}
    labelled = g.build_graph(process("stage budget_amount { step a }\nstage x \"Given\" { step a }"))
    assert labelled.node("stage_budget_amount").title == "Budget amount"
    assert labelled.node("stage_x").title == "Given"


def test_stage_ids_stay_unique_for_duplicate_names() -> None:
    graph = g.build_graph(process("stage one { step a }\nstage one { step b }"))
    assert [x.id for x in graph.nodes] == ["start", "stage_one", "stage_one_2", "finish"]
    assert ("stage_one", "stage_one_2", None) in edges(graph)


# ---------------------------------------------------------------------------
# Mermaid
# ---------------------------------------------------------------------------

MERMAID_EDGE = re.compile(r'^ {4}(\w+) -->(?:\|"([^"]*)"\|)? (\w+)$')
MERMAID_NODE = re.compile(r'^ {4}(\w+)(?:\(\(\(?|\[|\{)"([^"]*)"(?:\)\)\)?|\]|\})$')


def unmermaid(text: str) -> str:
    text = text.replace("<br/>", "\n")
    names = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}
    return re.sub(r"#(\w+);", lambda m: chr(int(m[1])) if m[1].isdigit() else names[m[1]], text)


def parse_mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str, str | None]]]:
    nodes, found = {}, set()
    lines = text.splitlines()
    assert lines[0] == "---" and lines[2] == "---" and lines[3] == "flowchart TD"
    for line in lines[4:]:
        if m := MERMAID_EDGE.match(line):
            found.add((m[1], m[3], None if m[2] is None else unmermaid(m[2])))
        elif m := MERMAID_NODE.match(line):
            nodes[m[1]] = unmermaid(m[2])
        else:
            assert re.match(r"^ {4}(classDef|class) ", line), line
    return nodes, found


@pytest.mark.parametrize("name", ["opportunity", "case"])
def test_mermaid_has_every_stage_and_condition(name: str) -> None:
    proc = example(name)
    graph = g.build_graph(proc)
    text = g.to_mermaid(proc)
    nodes, found = parse_mermaid(text)
    assert found == edges(graph)
    for node in graph.nodes:
        assert nodes[node.id] == ("\n".join(node.lines) or " ")
    assert 'stage_develop["Develop<br/>[develop] · opportunity"]' in text or name == "case"
    assert "decision_1 -->|\"budget_amount #gt;= 1000000" in text or name == "case"


def test_mermaid_escapes_quotes_and_markup() -> None:
    proc = process('stage one "Say \\"hi\\" <b>#1</b>" { step t }\nif t = "a\\"b" { stage two { step a } }',
                   label='"Quoted \\"title\\""')  # fmt: skip
    text = g.to_mermaid(proc)
    assert text.startswith('---\ntitle: "Quoted \\"title\\""\n---\n')
    assert 'stage_one["Say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt;<br/>e"]' in text
    nodes, found = parse_mermaid(text)
    assert nodes["stage_one"] == 'Say "hi" <b>#1</b>\ne'
    assert ("decision_1", "stage_two", 't = "a\\"b"') in found


# ---------------------------------------------------------------------------
# DOT
# ---------------------------------------------------------------------------

DOT_STRING = r'"(?:[^"\\]|\\.)*"'
DOT_NODE = re.compile(rf"^ {{4}}({DOT_STRING}) \[(.*)\];$")
DOT_EDGE = re.compile(rf"^ {{4}}({DOT_STRING}) -> ({DOT_STRING})(?: \[(.*)\])?;$")
DOT_ATTR = re.compile(rf"(\w+)=({DOT_STRING})")


def undot(quoted: str) -> str:
    # Inverse of the printer: \\ is a backslash, \" a quote, \n a line break.
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), quoted[1:-1])


def parse_dot(text: str) -> tuple[dict[str, dict[str, str]], set[tuple[str, str, str | None]]]:
    lines = text.splitlines()
    assert re.match(rf"^digraph {DOT_STRING} \{{$", lines[0]) and lines[-1] == "}"
    nodes, found = {}, set()
    for line in lines[1:-1]:
        # Every quote belongs to a well-formed string: nothing is left over outside them.
        assert '"' not in re.sub(DOT_STRING, "", line), line
        if m := DOT_EDGE.match(line):
            attrs = {k: undot(v) for k, v in DOT_ATTR.findall(m[3] or "")}
            found.add((undot(m[1]), undot(m[2]), attrs.get("label")))
        elif m := DOT_NODE.match(line):
            nodes[undot(m[1])] = {k: undot(v) for k, v in DOT_ATTR.findall(m[2])}
        else:
            assert re.match(r"^ {4}(graph|node|edge) \[.*\];$", line), line
    return nodes, found


@pytest.mark.parametrize("name", ["opportunity", "case"])
def test_dot_has_every_stage_and_condition(name: str) -> None:
    proc = example(name)
    graph = g.build_graph(proc)
    text = g.to_dot(proc)
    nodes, found = parse_dot(text)
    assert found == edges(graph)
    assert set(nodes) == {x.id for x in graph.nodes}
    for node in graph.nodes:
        assert nodes[node.id]["label"] == "\n".join(node.lines)
    assert nodes["start"]["shape"] == "circle" and nodes["finish"]["shape"] == "doublecircle"
    assert nodes["decision_1"]["shape"] == "diamond"
    assert all(nodes[x.id]["shape"] == "box" for x in graph.nodes if x.kind == "stage")


def test_dot_escapes_quotes_and_backslashes() -> None:
    proc = process('stage one "A \\"B\\" \\\\ C" { step t }\nif t = "x\\\\n" { stage two { step a } }')
    text = g.to_dot(proc)
    assert '"stage_one" [label="A \\"B\\" \\\\ C\\ne"' in text
    nodes, found = parse_dot(text)
    assert nodes["stage_one"]["label"] == 'A "B" \\ C\ne'
    assert ("decision_1", "stage_two", 't = "x\\\\n"') in found


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz (the dot program) is not installed")
@pytest.mark.parametrize("name", ["opportunity", "case"])
def test_graphviz_accepts_the_dot(name: str) -> None:
    result = subprocess.run(["dot", "-Tcanon"], input=g.to_dot(example(name)), capture_output=True, text=True,
                            timeout=20, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------


def svg_texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG_NS}text")]


def boxes(root: ET.Element, group: str) -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) of each shape in a group of the builtin SVG."""
    found = []
    layer = next(x for x in root.iter(f"{SVG_NS}g") if x.get("class") == group)
    for shape in layer.iter():
        if shape.tag == f"{SVG_NS}rect":
            x, y, w, h = (float(shape.get(k, "0")) for k in ("x", "y", "width", "height"))
            found.append((x, y, x + w, y + h))
        elif shape.tag == f"{SVG_NS}circle" and shape.get("fill") != "none":
            cx, cy, r = (float(shape.get(k, "0")) for k in ("cx", "cy", "r"))
            found.append((cx - r, cy - r, cx + r, cy + r))
        elif shape.tag == f"{SVG_NS}polygon":
            xs, ys = zip(*(map(float, p.split(",")) for p in shape.get("points", "").split()), strict=True)
            found.append((min(xs), min(ys), max(xs), max(ys)))
    return found


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", ["opportunity", "case"])
def test_builtin_svg(name: str) -> None:
    proc = example(name)
    graph = g.build_graph(proc)
    svg = g.to_svg(proc, renderer="builtin")
    assert g.renderer_used() == "builtin"
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert width > 0 and height > 0 and root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    texts = svg_texts(root)
    assert graph.title in texts
    for node in graph.nodes:
        for line in node.lines:
            assert line in texts
    # Wrapped labels still hold every condition, word for word.
    assert OPPORTUNITY_CONDITION in " ".join(texts) or name == "case"

    paths = [p for p in root.iter(f"{SVG_NS}path") if p.get("data-from")]
    assert {(p.get("data-from"), p.get("data-to")) for p in paths} == {(e.source, e.target) for e in graph.edges}
    for p in paths:
        assert p.get("marker-end") == "url(#bpf-arrow)"
        coords = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", p.get("d", ""))]
        assert all(0 <= v <= max(width, height) for v in coords)
    groups = {x.get("data-node"): x for x in root.iter(f"{SVG_NS}g") if x.get("data-node")}
    assert set(groups) == {x.id for x in graph.nodes}

    nodes = boxes(root, "nodes")
    labels = boxes(root, "edge-labels")
    assert len(nodes) == len(graph.nodes) and len(labels) == sum(1 for e in graph.edges if e.label)
    for a, b in itertools.combinations(nodes + labels, 2):
        assert not overlap(a, b), (a, b)
    for left, top, right, bottom in nodes + labels:
        assert left >= 0 and top >= 0 and right <= width and bottom <= height


def node_centre(root: ET.Element, node_id: str) -> tuple[float, float]:
    group = next(x for x in root.iter(f"{SVG_NS}g") if x.get("data-node") == node_id)
    ((left, top, right, bottom),) = boxes(group, group.get("class", ""))
    return (left + right) / 2, (top + bottom) / 2


def test_builtin_svg_puts_arms_side_by_side_in_text_order() -> None:
    root = ET.fromstring(g.to_svg(example("case"), renderer="builtin"))
    arms = [node_centre(root, f"stage_{s}") for s in ("quick_resolve", "escalate", "investigate")]
    assert len({y for _, y in arms}) == 1
    assert arms[0][0] < arms[1][0] < arms[2][0]
    ys = [node_centre(root, k)[1] for k in ("start", "stage_identify", "stage_research", "decision_1",
                                             "stage_escalate", "stage_resolve", "finish")]  # fmt: skip
    assert ys == sorted(ys) and len(set(ys)) == len(ys)


def test_builtin_svg_escapes_text() -> None:
    proc = process('stage one "<One> & \\"two\\"" { step t }\nif t = "</text>" { stage two { step a } }',
                   label='"A & B <c>"')  # fmt: skip
    svg = g.to_svg(proc, renderer="builtin")
    root = ET.fromstring(svg)
    texts = svg_texts(root)
    assert '<One> & "two"' in texts and "A & B <c>" in texts and 't = "</text>"' in texts
    # Characters XML can't hold at all are replaced, not passed through.
    bad = g.Graph("x", "bell\x07", (g.Node("start", "start", "Start"), g.Node("finish", "end", "Finish")),
                  (g.Edge("start", "finish", "a\x00b"),))  # fmt: skip
    assert "bell\ufffd" in svg_texts(ET.fromstring(svg_layout.render_svg(bad)))


def test_builtin_svg_of_nested_flow_is_well_formed() -> None:
    proc = process("""
    stage one { step a }
    if a > 1 { if b > 2 { stage two { step a } } else if c = true { } else { finish } }
    else if a < 0 { stage three { step a } finish }
    stage four { step a }
""")
    root = ET.fromstring(g.to_svg(proc, renderer="builtin"))
    texts = " ".join(svg_texts(root))
    for word in ("One", "Two", "Three", "Four", "a > 1", "b > 2", "c = true", "a < 0", "otherwise", "else"):
        assert word in texts
    nodes = boxes(root, "nodes")
    for a, b in itertools.combinations(nodes, 2):
        assert not overlap(a, b)


def test_text_helpers() -> None:
    assert svg_layout.wrap("a b c", 1000, 11) == ["a b c"]
    lines = svg_layout.wrap(OPPORTUNITY_CONDITION, 120, 11)
    assert len(lines) > 1 and " ".join(lines) == OPPORTUNITY_CONDITION
    assert svg_layout.text_width("WWW", 10) > svg_layout.text_width("iii", 10)


# ---------------------------------------------------------------------------
# Choosing a renderer
# ---------------------------------------------------------------------------


def fake_dot(tmp_path: Path, body: str) -> str:
    script = tmp_path / "dot"
    script.write_text(f"#!{sys.executable}\nimport sys, time\nsys.stdin.read()\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def use_dot(monkeypatch: pytest.MonkeyPatch, program: str | None) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: program if name == "dot" else None)


def test_svg_goes_through_graphviz_when_it_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_dot(monkeypatch, fake_dot(tmp_path, "print('<svg xmlns=\"http://www.w3.org/2000/svg\"><text>dot</text></svg>')"))
    assert g.render(example("case"), "svg").startswith("<svg")
    assert "<text>dot</text>" in g.to_svg(example("case"))
    assert g.renderer_used() == "graphviz"
    # Asking for the builtin renderer skips Graphviz.
    assert "Phone to Case Process" in g.to_svg(example("case"), renderer="builtin")
    assert g.renderer_used() == "builtin"


@pytest.mark.parametrize(
    "body",
    [
        "sys.exit(3)",
        "print('not svg at all')",
        "print('<html></html>')",
        "time.sleep(10)",
    ],
)
def test_svg_falls_back_when_graphviz_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    monkeypatch.setattr(g, "_DOT_TIMEOUT", 1.0)
    use_dot(monkeypatch, fake_dot(tmp_path, body))
    svg = g.to_svg(example("opportunity"))
    assert g.renderer_used() == "builtin"
    assert "Confirm Interest" in svg_texts(ET.fromstring(svg))


def test_renderer_used_without_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    use_dot(monkeypatch, None)
    monkeypatch.setattr(g, "_last_renderer", None)
    assert g.renderer_used() == "builtin"
    g.to_svg(example("case"))
    assert g.renderer_used() == "builtin"


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz (the dot program) is not installed")
@pytest.mark.parametrize("name", ["opportunity", "case"])
def test_real_graphviz_svg(name: str) -> None:
    proc = example(name)
    svg = g.to_svg(proc)
    assert g.renderer_used() == "graphviz"
    text = " ".join(svg_texts(ET.fromstring(svg)))
    for node in g.build_graph(proc).nodes:
        assert node.title in text


def test_render_dispatch() -> None:
    proc = example("case")
    assert g.render(proc, "mermaid") == g.to_mermaid(proc)
    assert g.render(proc, "dot") == g.to_dot(proc)
    with pytest.raises(ValueError, match="unknown diagram format 'png'"):
        g.render(proc, "png")
    with pytest.raises(ValueError, match="unknown SVG renderer"):
        g.to_svg(proc, renderer="graphviz")  # type: ignore[arg-type]
