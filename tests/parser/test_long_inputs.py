"""Long inputs stay linear and never recurse once per item: operator chains, many diagnostics.

A chain of one operator (`a > 1 and a > 1 and ...`) is one level of nesting, so the
parser takes it at any length; checking, compiling, evaluating, versioning,
formatting and drawing it must then not recurse once per term (Python's limit is
1,000 frames). And showing many diagnostics must not rescan the source for each.
"""

from __future__ import annotations

import sys
import time

import pytest

import bpf_dsl
from bpf_dsl import check_text
from bpf_dsl.definition import node_repr
from bpf_dsl.diagnostics import Diagnostic, LineTable, line_table
from bpf_dsl.engine import MemoryData, active_path, start
from bpf_dsl.exprtext import expr_text
from bpf_dsl.nodes import Span
from bpf_dsl.parser import parse
from bpf_dsl.plugins import Registry
from bpf_dsl.tools.formatter import format_text
from bpf_dsl.tools.graph import render

TERMS = 2000


def _source(terms: int) -> str:
    cond = " and ".join(["a > 1"] * terms)
    either = " or ".join(["a > 5"] * terms)
    total = " + ".join(["a"] * terms)
    mixed = " - ".join(["a * 2"] * terms)
    joined = " + ".join(['"x"'] * terms)
    return f"""
entity e {{ a: integer  b: integer  c: integer  s: text  big: bool  small: bool }}
rule chains on e {{
    if {cond} {{ set b = {total} }}
    if {either} {{ set big = true }} else {{ set big = false }}
    set small = not ({either})
    set c = {mixed}
    set s = {joined}
}}
process p on e {{
    stage one {{ step a }}
    if {cond} and ({either} or a = {total}) {{ stage two {{ step b }} }}
    stage three {{ step c }}
}}
"""


@pytest.fixture(scope="module")
def source() -> str:
    assert sys.getrecursionlimit() < TERMS  # deeper than Python would recurse
    return _source(TERMS)


def test_long_chains_check_clean(source: str) -> None:
    report = check_text(source, "long.bpf", Registry(entry_points=False))
    assert report.diagnostics == []


def test_long_chains_evaluate(source: str) -> None:
    program = bpf_dsl.load_source(source, registry=Registry(entry_points=False))
    data = MemoryData(program.entities, program.rules)
    saved = data.save("e", "E1", {"a": 3})
    assert saved.values["b"] == 3 * TERMS
    assert saved.values["big"] is False and saved.values["small"] is True
    assert saved.values["c"] == 6 - 6 * (TERMS - 1)
    assert saved.values["s"] == "x" * TERMS
    defn = program.processes["p"]
    assert len(defn.version) == 16
    moved = start(defn, "I1", "E1", data.now, data, "ann", new_id=lambda: "N")
    assert [s.name for s in active_path(defn, moved.state, data, data.now)] == ["one", "three"]
    data.save("e", "E1", {"a": 6})
    assert [s.name for s in active_path(defn, moved.state, data, data.now)] == ["one", "two", "three"]


def test_long_chains_short_circuit_like_nested_operators() -> None:
    # `and` stops at the first false term, `or` at the first true one: a division by an
    # empty value after it is never reached, and empties count as false.
    text = "entity e { a: integer  z: integer  f: bool  g: bool }\nrule r on e {\n" \
           "    if a > 1 and a > 2 and z > 0 and a > 3 { set f = true } else { set f = false }\n" \
           "    if a < 1 or z > 0 or a > 2 { set g = true } else { set g = false }\n}\n"
    program = bpf_dsl.load_source(text, registry=Registry(entry_points=False))
    saved = MemoryData(program.entities, program.rules).save("e", "E1", {"a": 5})
    assert saved.values["f"] is False and saved.values["g"] is True


def test_long_chains_print_format_draw_and_version(source: str) -> None:
    module = parse(source)
    rule, process = module.declarations[1], module.declarations[2]
    condition = rule.body[0].arms[0].condition  # type: ignore[union-attr]
    assert expr_text(condition) == " and ".join(["a > 1"] * TERMS)
    formatted = format_text(source)
    assert format_text(formatted) == formatted
    assert render(process, "mermaid")  # type: ignore[arg-type]
    # The version hashes this text: it must be exactly the dataclasses' repr where that works.
    small = parse(_source(20)).declarations[2]
    assert node_repr(small) == repr(small)
    assert node_repr(process).count("Binary(") > TERMS


def test_many_diagnostics_render_in_linear_time() -> None:
    lines = 20_000
    text = "\n".join(f"line {i}" for i in range(lines))
    found = [Diagnostic("BPF029", "x", Span("f.bpf", i + 1, 1, i + 1, 5), "h") for i in range(lines)]
    began = time.perf_counter()
    shown = [d.render(text) for d in found]
    # Rescanning the source per diagnostic took 42 s here; a line table takes well under one.
    assert time.perf_counter() - began < 5
    assert shown[-1].splitlines()[1] == f"    line {lines - 1}"
    assert line_table(text) is line_table(text)


def test_many_errors_in_one_file_check_and_render_quickly() -> None:
    text = "entity e { a: text }\nrule r on e {\n" + "".join(f"    hide nope{i}\n" for i in range(10_000)) + "}\n"
    began = time.perf_counter()
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    rendered = report.render()
    assert time.perf_counter() - began < 10
    assert len(report.diagnostics) == 10_000
    assert rendered.count("BPF022") == 10_000


@pytest.mark.parametrize(("text", "number", "line"), [
    ("a\nb\n", 1, "a"), ("a\nb\n", 2, "b"), ("a\nb\n", 3, ""), ("a\nb\n", 4, None),
    ("", 1, ""), ("x", 0, None), ("a\r\nb", 1, "a\r"),
])
def test_line_table(text: str, number: int, line: str | None) -> None:
    assert LineTable(text).line(number) == line
