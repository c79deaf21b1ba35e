"""The checker's semantics beyond single diagnostics: resolution, imports, packs, all-at-once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpf_dsl import check_paths, check_text, load_source
from bpf_dsl.plugins import ActionSpec, FunctionSpec, ModuleSpec, Param, Registry, hookimpl

MODEL = """
role sales
entity account { name: text required  industry: choice(retail, finance) }
entity lead {
    topic: text required
    budget: money min 0
    account: lookup(account)
    timeframe: choice(now "Now", later "Later") default later
    tags: choices(hot, cold)
}
"""


def codes(text: str, registry: Registry | None = None) -> list[tuple[str, int]]:
    report = check_text(text, "m.bpf", registry or Registry(entry_points=False))
    return [(d.code, d.span.line) for d in report.diagnostics]


def test_examples_check_clean(examples: list[Path]) -> None:
    report = check_paths([str(p) for p in examples])
    assert report.diagnostics == []
    assert report.program is not None
    assert set(report.program.processes) == {"lead_to_opportunity", "phone_to_case"}


def test_every_problem_in_one_run() -> None:
    text = MODEL + """
process p on lead {
    roles salez
    stage a { step budgett }
    stage b on account { step name }
}
rule r on lead { set budget = "x" }
"""
    found = codes(text)
    assert [c for c, _ in found] == ["BPF024", "BPF044", "BPF043", "BPF037"]


def test_names_resolve_through_lookups_and_to_options() -> None:
    text = MODEL + """
process p on lead {
    roles sales
    stage a { step account step timeframe step tags }
    if account.industry = finance and timeframe in [now] and tags contains hot { stage b { step budget } }
}
"""
    assert codes(text) == []


def test_option_of_another_choice_is_an_error() -> None:
    text = MODEL + "rule r on lead { if timeframe = retail { hide budget } }"
    assert codes(text) == [("BPF035", 11)]


def test_choice_compared_with_a_string_literal() -> None:
    assert codes(MODEL + 'rule r on lead { if timeframe = "now" { hide budget } }') == []
    assert codes(MODEL + 'rule r on lead { if timeframe = "soon" { hide budget } }') == [("BPF035", 11)]


def test_rules_cannot_read_other_entities_directly() -> None:
    assert codes(MODEL + "rule r on lead { if account.name = \"x\" { hide budget } }") == []
    assert codes(MODEL + "rule r on lead { if account2.name = \"x\" { hide budget } }")[0][0] == "BPF022"


def test_warnings_do_not_fail_the_check() -> None:
    text = MODEL + """
process p on lead {
    roles sales
    stage a { step topic }
    if budget > 10 { stage b { step budget } }
}
"""
    report = check_text(text, "m.bpf", Registry(entry_points=False))
    assert [d.code for d in report.diagnostics] == ["BPF094"]
    assert report.ok and report.program is not None


def test_file_imports_and_cycles(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "accounts.bpf").write_text("entity account { name: text }\n")
    (tmp_path / "main.bpf").write_text('import "common/accounts.bpf"\nentity lead { acct: lookup(account) }\n'
                                       "extend entity account { vip: bool }\n"
                                       "rule r on account { if vip = true { lock name } }\n")
    report = check_paths([str(tmp_path / "main.bpf")])
    assert report.diagnostics == []
    assert report.program is not None
    assert list(report.program.entities["account"].fields) == ["name", "vip"]

    (tmp_path / "a.bpf").write_text('import "b.bpf"\nrole a\n')
    (tmp_path / "b.bpf").write_text('import "a.bpf"\nrole b\n')
    report = check_paths([str(tmp_path / "a.bpf")])
    assert [(d.code, d.span.line) for d in report.diagnostics] == [("BPF012", 1)]
    assert "a.bpf → " in report.diagnostics[0].message


def test_missing_import_is_reported_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "main.bpf").write_text('role r\nimport "nope.bpf"\n')
    report = check_paths([str(tmp_path / "main.bpf")])
    assert [(d.code, d.span.line, d.span.column) for d in report.diagnostics] == [("BPF010", 2, 8)]


class _Pack:
    """A plugin pack registered in-process: a module, an action and a function."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def bpf_modules(self) -> list[ModuleSpec]:
        return [ModuleSpec("crm", self.folder / "crm.bpf")]

    @hookimpl
    def bpf_actions(self) -> list[ActionSpec]:
        return [ActionSpec("crm", "qualify", (Param("score", "number"), Param("note", "text", required=False)))]

    @hookimpl
    def bpf_functions(self) -> list[FunctionSpec]:
        return [FunctionSpec("crm", "score", (Param("x", "text"),), "integer", lambda x: len(x or ""))]

    @hookimpl
    def bpf_stage_categories(self) -> list[str]:
        return ["nurture"]


def test_pack_imports_actions_functions_and_categories(tmp_path: Path) -> None:
    (tmp_path / "crm.bpf").write_text("role seller\nentity prospect { name: text  score: integer }\n")
    registry = Registry([("crm", "1.0", _Pack(tmp_path))], entry_points=False)
    text = """
import crm
process p on prospect {
    roles seller
    stage s category nurture {
        step name
        action "Qualify" call crm.qualify(score: crm.score(name))
    }
}
"""
    assert codes(text, registry) == []
    bad = text.replace("crm.qualify(score: crm.score(name))", 'crm.qualify(score: "x", extra: 1)')
    assert sorted(c for c, _ in codes(bad, registry)) == ["BPF061", "BPF062"]
    assert [c for c, _ in codes(text.replace("import crm", "import nope"), registry)] == ["BPF011"]


def test_broken_pack_is_reported_and_others_still_load() -> None:
    class Broken:
        @hookimpl
        def bpf_actions(self) -> list[ActionSpec]:
            raise RuntimeError("boom")

    registry = Registry([("broken", "0.1", Broken())], entry_points=False)
    assert [f.name for f in registry.failures] == ["broken"]
    assert "boom" in registry.failures[0].reason
    assert "bpf.notify" in registry.actions


@pytest.mark.parametrize("name", ["status", "order"])
def test_keyword_like_field_names_check(name: str) -> None:
    text = f"entity e {{ {name}: integer }}\nrule r on e {{ if {name} > 1 {{ hide {name} }} }}"
    assert load_source(text).entities["e"].fields[name].type.kind == "integer"
