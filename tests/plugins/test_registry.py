"""The plugin API: the new hooks, what the registry gathers, broken packs and check_packs."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpf_dsl
from bpf_dsl import check_text
from bpf_dsl.check import check_packs
from bpf_dsl.plugins import ActionSpec, ModuleSpec, Param, Registry, SampleSpec, TemplateSpec, hookimpl
from bpf_dsl.service.samples import demo_source

from .helpers import PACKS, pack_module, registry


def test_packs_register_everything() -> None:
    reg = registry(*PACKS)
    assert reg.failures == []
    assert [p.name for p in reg.packs] == ["bpf", *PACKS]
    sales = reg.pack("sales")
    assert sales is not None
    assert sales.templates == ("sales",) and sales.modules == ("sales",)
    assert set(sales.actions) == {"sales.qualify_lead", "sales.disqualify_lead", "sales.reopen_lead",
                                  "sales.close_opportunity", "sales.require_closed"}
    assert sales.functions == ("sales.lead_score",)
    assert set(reg.templates) == set(PACKS)
    assert {"schedule", "deliver", "plan", "nurture", "handoff", "qualify"} <= reg.categories
    assert set(reg.samples) == set(PACKS)
    assert check_packs(reg) == []


@pytest.mark.parametrize("pack", PACKS)
def test_each_module_checks_clean_on_its_own(pack: str) -> None:
    report = check_text(f"import {pack}\n", "<t>", registry(pack))
    assert report.diagnostics == [], report.render()  # no errors, no warnings


def test_the_packs_check_clean_together() -> None:
    report = check_text("import sales\nimport service\nimport marketing\n", "<t>", registry(*PACKS))
    assert report.diagnostics == [], report.render()



@pytest.mark.parametrize("pack", ["sales", "service", "marketing"])
def test_a_pack_without_crm_says_what_it_misses(pack: str) -> None:
    """pip installs bpf-crm with each of them; a pack registered without it is reported, not half used."""
    reg = Registry([(pack, "1", pack_module(pack).PACK)], entry_points=False)
    [failure] = check_packs(reg)
    first = failure.reason.split("; ")[0]  # the import first; then what the missing module would have declared
    assert failure.name == pack and first.startswith(f"the module {pack} doesn't check: <{pack}>/{pack}.bpf:")
    assert first.endswith("BPF011: no installed plugin pack supplies the module `crm`")
    assert reg.pack(pack) is None


@pytest.mark.parametrize("pack", ["sales", "service", "marketing"])
def test_each_pack_alone_over_crm_has_one_customer_model(pack: str) -> None:
    program = bpf_dsl.load_source(f"import {pack}\n", "<t>", registry(pack))
    assert {"account", "contact", "lead"} <= set(program.entities)
    both = bpf_dsl.load_source("import sales\nimport service\nimport marketing\n", "<t>", registry(*PACKS))
    assert sorted(both.entities) == ["account", "campaign", "case", "contact", "event", "knowledge_article", "lead",
                                     "opportunity", "prospect", "work_order"]

@pytest.mark.parametrize("pack", PACKS)
def test_pack_files_are_formatted(pack: str) -> None:
    from bpf_dsl.tools.formatter import format_text

    pack_object = pack_module(pack).PACK
    for path in [pack_object.module_path, *sorted(pack_object.template_folder.rglob("*.bpf"))]:
        text = path.read_text(encoding="utf-8")
        assert format_text(text, str(path)) == text, f"run bpf fmt {path}"


@pytest.mark.parametrize("pack", PACKS)
def test_each_template_checks_clean(pack: str, tmp_path: Path) -> None:
    reg = registry(*PACKS)
    template = reg.templates[pack]
    assert template.description and "project.bpf" in template.files and "README.md" in template.files
    project = template.files["project.bpf"]
    assert f"import {pack}" in project and "extend entity" in project
    for name, text in template.files.items():
        (tmp_path / name).write_text(text)
    report = bpf_dsl.check_paths([str(tmp_path)], registry(pack))
    assert report.diagnostics == [], report.render()


def test_template_from_folder_skips_hidden_files_and_caches(tmp_path: Path) -> None:
    (tmp_path / "a.bpf").write_text("role r\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# b\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x").write_text("x")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_text("x")
    template = TemplateSpec.from_folder("t", "a test", tmp_path)
    assert dict(template.files) == {"a.bpf": "role r\n", "sub/b.md": "# b\n"}


def test_param_options() -> None:
    p = Param("outcome", "text", options=("won", "lost"))
    assert p.invalid("won") is None and p.invalid(None) is None
    assert p.invalid("tied") == "`outcome` must be one of 'won', 'lost', not 'tied'"
    assert Param("x", "text").invalid("anything") is None


class _Broken:
    """A pack whose .bpf module has an error, with an action and a template that must go with it."""

    def __init__(self, folder: Path) -> None:
        (folder / "bad.bpf").write_text("role r\nentity e {\n    x: txt\n}\n")
        self.folder = folder

    @hookimpl
    def bpf_modules(self) -> list[ModuleSpec]:
        return [ModuleSpec("bad", self.folder / "bad.bpf")]

    @hookimpl
    def bpf_actions(self) -> list[ActionSpec]:
        return [ActionSpec("bad", "go", ())]

    @hookimpl
    def bpf_templates(self) -> list[TemplateSpec]:
        return [TemplateSpec("bad", "broken", {"project.bpf": "import bad\n"})]

    @hookimpl
    def bpf_sample_records(self) -> list[SampleSpec]:
        return [SampleSpec("e", {"x": "1"})]


class _Missing:
    @hookimpl
    def bpf_modules(self) -> list[ModuleSpec]:
        return [ModuleSpec("gone", Path("/nonexistent/gone.bpf"))]


def test_check_packs_drops_packs_whose_modules_dont_check(tmp_path: Path) -> None:
    reg = Registry([("crm", "1", pack_module("crm").PACK), ("sales", "1", pack_module("sales").PACK),
                    ("bad", "0.1", _Broken(tmp_path)), ("gone", "0.2", _Missing()),
                    ("marketing", "1", pack_module("marketing").PACK)], entry_points=False)
    assert reg.failures == [] and "bad.go" in reg.actions
    failures = check_packs(reg)
    assert [f.name for f in failures] == ["bad", "gone"]
    assert failures[0].reason == ("the module bad doesn't check: <bad>/bad.bpf:3:8: BPF030: unknown field type "
                                  "`txt`")
    assert failures[1].reason == ("the module gone doesn't check: BPF010: can't read `<gone>/gone.bpf`: No such file "
                                  "or directory")
    assert reg.failures == failures
    # Everything the broken packs supplied is gone; the others are untouched.
    assert [p.name for p in reg.packs] == ["bpf", "crm", "sales", "marketing"]
    assert "bad" not in reg.modules and "bad.go" not in reg.actions and "bad" not in reg.templates
    assert "bad" not in reg.samples and {"sales", "marketing"} <= set(reg.templates)
    assert check_packs(reg) == failures  # once per registry
    # And the server can build its demo program without them.
    program = bpf_dsl.load_source(demo_source(reg), "<demo>", reg)
    assert {"lead", "prospect"} <= set(program.entities)


def test_hooks_that_fail_or_return_junk_are_reported() -> None:
    class Raises:
        @hookimpl
        def bpf_templates(self) -> list[TemplateSpec]:
            raise RuntimeError("no templates today")

    class Junk:
        @hookimpl
        def bpf_sample_records(self) -> list[str]:
            return ["not a sample"]

    class NotAList:
        @hookimpl
        def bpf_stage_categories(self) -> str:
            return "nurture"

    reg = Registry([("raises", "1", Raises()), ("junk", "1", Junk()), ("flat", "1", NotAList()),
                    ("sales", "1", pack_module("sales").PACK)], entry_points=False)
    assert [(f.name, f.reason) for f in reg.failures] == [
        ("raises", "RuntimeError: no templates today"),
        ("junk", "TypeError: bpf_sample_records must return SampleSpec items, not str"),
        ("flat", "TypeError: bpf_stage_categories must return a list of str, not str"),
    ]
    assert "sales" in reg.templates


def test_a_pack_supplying_taken_names_is_skipped() -> None:
    class Copycat:
        @hookimpl
        def bpf_actions(self) -> list[ActionSpec]:
            return [ActionSpec("sales", "close_opportunity", ())]

    class Notify:
        @hookimpl
        def bpf_actions(self) -> list[ActionSpec]:
            return [ActionSpec("bpf", "notify", ())]

    reg = Registry([("sales", "1", pack_module("sales").PACK), ("copycat", "1", Copycat()), ("notify", "1", Notify()),
                    ("sales", "2", pack_module("sales").PACK)], entry_points=False)
    assert [(f.name, f.reason) for f in reg.failures] == [
        ("copycat", "the action `sales.close_opportunity` is already supplied by the pack sales; this pack is "
                    "skipped"),
        ("notify", "the action `bpf.notify` is already supplied by the pack bpf; this pack is skipped"),
        ("sales", "a pack named sales is already loaded; this one is skipped"),
    ]
    assert reg.actions["sales.close_opportunity"].run is not None
    assert [p.version for p in reg.packs if p.name == "sales"] == ["1"]


def test_before_and_after_change_hooks_still_work() -> None:
    from bpf_dsl.plugins import Change

    seen: list[str] = []

    class Guard:
        @hookimpl
        def bpf_before_change(self, change: Change) -> str | None:
            return "frozen" if change.to_stage == "close" else None

        @hookimpl
        def bpf_after_change(self, change: Change) -> None:
            seen.append(change.kind)

    reg = Registry([("guard", "1", Guard())], entry_points=False)
    change = Change("stage_changed", "p", "i", "r", "propose", "close", "active", "ann")
    assert reg.before_change(change) == "frozen"
    assert reg.before_change(Change("started", "p", "i", "r", None, "qualify", "active", "ann")) is None
    assert reg.after_change(change) == [] and seen == ["stage_changed"]
