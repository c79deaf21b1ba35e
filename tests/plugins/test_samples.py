"""Sample records: every pack's load through the service, spread over stages; the loader's rules."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import bpf_dsl
from bpf_dsl.plugins import ModuleSpec, Registry, SampleSpec, hookimpl
from bpf_dsl.service import Service
from bpf_dsl.service.samples import SampleError, demo_source, load_samples
from bpf_dsl.storage import open_storage

from .helpers import ADMIN, PACKS, T0, OpenSvc, program, records, registry


def all_instances(svc: Service, entity: str, process: str) -> list[Any]:
    out = []
    for record in records(svc, entity):
        out += [i for i in svc.instances_of(ADMIN, record.id) if i.process == process]
    return out


@pytest.mark.parametrize("pack", PACKS)
def test_each_pack_has_dozens_of_samples(pack: str) -> None:
    reg = registry(pack)
    assert len(reg.samples[pack]) >= 30
    assert reg.pack(pack).samples == len(reg.samples[pack])  # type: ignore[union-attr]


def test_all_packs_load_spread_over_stages(open_svc: OpenSvc) -> None:
    svc = open_svc(*PACKS)
    reg, _ = program(*PACKS)
    created = load_samples(svc, reg, strict=True, now=T0)
    assert created == sum(len(s) for s in reg.samples.values())  # every sample, the hand-offs included

    expected = {  # process: (entity, stages that hold active instances, ended ones at least)
        "lead_to_opportunity": ("lead", {"qualify", "confirm_interest", "develop", "propose", "close"}, 5),
        "opportunity_sales": ("opportunity", {"qualify", "develop", "propose", "close"}, 3),
        "phone_to_case": ("case", {"identify", "research", "escalation", "resolve"}, 8),
        "case_to_work_order": ("case", {"identify", "work_order", "order_parts", "schedule", "service_visit",
                                        "review", "invoice"}, 2),
        "work_order_process": ("work_order", {"work_order", "order_parts", "schedule", "service_visit", "review"},
                               1),
        "new_article": ("knowledge_article", {"author", "review", "publish"}, 9),
        "translation": ("knowledge_article", {"translate", "review"}, 1),
        "expired_article": ("knowledge_article", {"update"}, 2),
        "campaign_launch": ("campaign", {"plan", "build", "logistics", "approve", "launch", "review"}, 3),
        "event_main": ("event", {"preliminaries", "initial_planning", "final_planning", "post_event"}, 1),
        "lead_nurture": ("prospect", {"capture", "nurture", "qualified", "hand_off"}, 7),
        "lead_to_opportunity_marketing": ("lead", {"inquiry", "automated_qualification",
                                                   "teleprospecting_acceptance", "teleprospecting_qualification",
                                                   "sales_acceptance"}, 3),
    }
    assert set(expected) == set(svc.program.processes)  # every shipped process has samples
    for process, (entity, stages, ended) in expected.items():
        rows = all_instances(svc, entity, process)
        active = Counter(r.active_stage for r in rows if r.status == "active")
        assert set(active) == stages, (process, active)
        statuses = Counter(r.status for r in rows)
        assert statuses["finished"] + statuses["aborted"] >= ended, (process, statuses)
        assert all(r.created_at <= T0 for r in rows)
        assert min(r.created_at for r in rows).date() < T0.date().replace(day=1)  # spread over weeks

    # One set of people: the other packs' samples name the crm pack's records, created once.
    assert len(records(svc, "account", name="Contoso Pharmaceuticals")) == 1
    [nancy] = records(svc, "contact", full_name="Nancy Anderson")
    [contoso] = records(svc, "account", name="Contoso Pharmaceuticals")
    assert nancy.values["account"] == contoso.id and nancy.values["phone"].startswith("+1 206 ")
    assert records(svc, "opportunity", contact=nancy.id)  # a deal
    assert records(svc, "case", customer_account=contoso.id)  # calls to the service desk
    raj = records(svc, "contact", full_name="Raj Patel")[0]
    assert records(svc, "lead", existing_contact=raj.id) and records(svc, "case", primary_contact=raj.id)
    [oliver] = records(svc, "contact", full_name="Oliver Hughes")  # London: a London number
    assert oliver.values["phone"].startswith("+44 20 7946 ") and oliver.values["country"] == "United Kingdom"
    assert not [c for c in records(svc, "contact") if c.values.get("country") == "United Kingdom"
                and c.values["phone"].startswith("+1")]
    assert records(svc, "case", customer_contact=records(svc, "contact", full_name="Margaret Ellis")[0].id)

    # The records the actions and processes made along the way.
    assert len(records(svc, "opportunity", status="won")) >= 4
    handed_off = [r for r in records(svc, "lead") if r.values.get("description", "").startswith("Handed off")]
    assert len(handed_off) == 4 and all(r.values["source_campaign"] for r in handed_off)
    assert len(records(svc, "work_order", system_status="posted")) == 3
    assert len(records(svc, "work_order", system_status="completed")) >= 2
    assert len(records(svc, "case", status="resolved")) >= 10
    assert records(svc, "case", existing_case=records(svc, "case", title="Data sync fails every night")[0].id)
    assert len(records(svc, "knowledge_article", status="published")) >= 10
    assert len(records(svc, "campaign", status="launched")) >= 1
    outcomes = Counter(i.outcome for i in all_instances(svc, "lead", "lead_to_opportunity") if i.status == "finished")
    assert outcomes["won"] >= 2 and outcomes["lost"] >= 1
    analytics = svc.analytics(ADMIN, "lead_to_opportunity")
    assert analytics is not None and analytics.median_seconds["qualify"] > 86400  # days, not seconds

    # Idempotent: a second run adds nothing.
    assert load_samples(svc, reg, strict=True, now=T0) == 0


@pytest.mark.parametrize("pack", ["sales", "service", "marketing"])
def test_each_pack_loads_alone_over_crm(open_svc: OpenSvc, pack: str) -> None:
    svc = open_svc(pack)
    reg, _ = program(pack)
    assert set(reg.samples) == {"crm", pack}
    assert load_samples(svc, reg, strict=True, now=T0) == len(reg.samples["crm"]) + len(reg.samples[pack])


def test_entities_with_records_are_skipped(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    reg, _ = program("sales")
    mine = svc.create_record(ADMIN, "account", {"name": "My own account"})
    created = load_samples(svc, reg, strict=True, now=T0)
    # Accounts are skipped, and so are the samples that refer to them, in the crm pack (contacts) and in the
    # sales pack (the leads and opportunities of known companies); the others load.
    loaded = [s for s in reg.samples["sales"] if not any(
        isinstance(v, str) and v.startswith("@") for v in s.values.values())]
    private = [s for s in reg.samples["crm"] if s.entity == "contact" and "account" not in s.values]
    assert created == len(loaded) + len(private) == 6 + 2
    names = {r.values["name"] for r in records(svc, "account")}
    assert "My own account" in names and "Woodgrove Bank" not in names  # only accounts the Qualify button made
    assert mine and not records(svc, "opportunity", originating_lead=None)
class _Tiny:
    def __init__(self, folder: Path, samples: list[SampleSpec]) -> None:
        self.folder = folder
        self.samples = samples

    @hookimpl
    def bpf_modules(self) -> list[ModuleSpec]:
        return [ModuleSpec("tiny", self.folder / "tiny.bpf")]

    @hookimpl
    def bpf_sample_records(self) -> list[SampleSpec]:
        return self.samples


TINY = """
role clerk
entity org { name: text required }
entity ticket {
    title: text required
    org: lookup(org)
    done: bool
    note: text
}
process handle on ticket {
    roles clerk
    stage open category identify { step title required }
    stage work category research { step done required }
    stage close category resolve { step note }
}
"""


def tiny(tmp_path: Path, db: str, samples: list[SampleSpec]) -> tuple[Service, Registry]:
    (tmp_path / "tiny.bpf").write_text(TINY)
    reg = Registry([("tiny", "1", _Tiny(tmp_path, samples))], entry_points=False)
    prog = bpf_dsl.load_source(demo_source(reg), "<demo>", reg)
    return Service(prog, open_storage(f"sqlite:///{tmp_path / db}"), reg, clock=lambda: T0), reg


def test_references_gates_and_ends(tmp_path: Path) -> None:
    samples = [
        SampleSpec("ticket", {"title": "Printer", "org": "@acme"}, moves=2, stages={"work": {"done": True}},
                   end="finish", age_days=10),
        SampleSpec("org", {"name": "Acme"}, key="acme", process=""),  # defined after its user: loaded first
        SampleSpec("ticket", {"title": "Stuck"}, moves=0),
    ]
    svc, reg = tiny(tmp_path, "a.db", samples)
    assert load_samples(svc, reg, strict=True) == 3
    [acme] = records(svc, "org")
    printer = next(r for r in records(svc, "ticket") if r.values["title"] == "Printer")
    assert printer.values["org"] == acme.id
    [inst] = svc.instances_of(ADMIN, printer.id)
    assert (inst.status, inst.active_stage) == ("finished", "close")
    visits = svc.history(inst)
    assert [v.stage_name for v in visits] == ["open", "work", "close"]
    assert visits[0].entered_at == T0 - dt.timedelta(days=10)
    assert all(v.seconds and v.seconds > 3600 for v in visits)
    assert svc.clock() == T0  # the real clock is back


def test_a_bad_sample_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    samples = [
        SampleSpec("ticket", {"title": "Never done"}, moves=2),  # `done` is required to leave `work`
        SampleSpec("ticket", {"title": "Bad ref", "org": "@nope"}),
        SampleSpec("ticket", {"title": "Fine"}),
    ]
    svc, reg = tiny(tmp_path, "b.db", samples)
    with pytest.raises(SampleError, match=r"sample 1 of the tiny pack \(ticket\): move 2 of 2 \(from work\): "
                                          r"STAGE_GATE: .* \(missing: done\)"):
        load_samples(svc, reg, strict=True)
    svc2, _ = tiny(tmp_path, "c.db", samples)
    with caplog.at_level(logging.WARNING, logger="bpf.samples"):
        assert load_samples(svc2, reg) == 1  # not strict: the bad ones are logged, the rest still loads
    assert "refers to `@nope`" in caplog.text and "missing: done" in caplog.text


def test_demo_source_imports_every_pack_with_samples(tmp_path: Path) -> None:
    reg = registry(*PACKS)
    (tmp_path / "mine.bpf").write_text("import sales\nextend entity lead { region: text }\n")
    text = demo_source(reg, [str(tmp_path)])
    assert text.splitlines() == [f'import "{tmp_path / "mine.bpf"}"', "import crm", "import sales", "import service",
                                 "import marketing"]
    prog = bpf_dsl.load_source(text, "<demo>", reg)
    assert {"account", "contact", "lead", "case", "campaign", "prospect", "event"} <= set(prog.entities)
    assert "region" in prog.entities["lead"].fields


class _Other:
    """A second tiny pack whose samples name the first's as ``@tiny.KEY``."""

    def __init__(self, folder: Path, samples: list[SampleSpec]) -> None:
        (folder / "other.bpf").write_text('import tiny\nentity note { text: text\n org: lookup(org) }\n')
        self.folder = folder
        self.samples = samples

    @hookimpl
    def bpf_modules(self) -> list[ModuleSpec]:
        return [ModuleSpec("other", self.folder / "other.bpf")]

    @hookimpl
    def bpf_sample_records(self) -> list[SampleSpec]:
        return self.samples


def test_samples_refer_to_another_packs_samples(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``@PACK.KEY`` names another pack's sample; that pack loads first whatever the registry's order; a
    reference to a sample that wasn't created skips the sample; a key the pack doesn't have is an error."""
    (tmp_path / "tiny.bpf").write_text(TINY)
    other = _Other(tmp_path, [
        SampleSpec("note", {"text": "About Acme", "org": "@tiny.acme"}),
        SampleSpec("note", {"text": "About Globex", "org": "@tiny.globex"}),  # not created there: skipped
        SampleSpec("note", {"text": "Mine", "org": "@other.mine"}),  # its own pack, spelt out: not an org, fails
    ])
    tiny_samples = [SampleSpec("org", {"name": "Acme"}, key="acme", process=""),
                    SampleSpec("org", {"nam": "Globex"}, key="globex", process="")]  # fails: no such field
    reg = Registry([("other", "1", other), ("tiny", "1", _Tiny(tmp_path, tiny_samples))], entry_points=False)
    prog = bpf_dsl.load_source(demo_source(reg), "<demo>", reg)
    svc = Service(prog, open_storage(f"sqlite:///{tmp_path / 'x.db'}"), reg, clock=lambda: T0)
    with caplog.at_level(logging.WARNING, logger="bpf.samples"):
        assert load_samples(svc, reg) == 2
    [acme] = records(svc, "org")
    [note] = records(svc, "note")
    assert note.values == {"text": "About Acme", "org": acme.id}
    assert "sample 3 of the other pack (note)" in caplog.text

    bad = _Other(tmp_path, [SampleSpec("note", {"text": "?", "org": "@tiny.nobody"})])
    reg = Registry([("tiny", "1", _Tiny(tmp_path, tiny_samples[:1])), ("other", "1", bad)], entry_points=False)
    prog = bpf_dsl.load_source(demo_source(reg), "<demo>", reg)
    svc = Service(prog, open_storage(f"sqlite:///{tmp_path / 'y.db'}"), reg, clock=lambda: T0)
    with pytest.raises(SampleError, match=r"`org` refers to `@tiny.nobody`, which no sample of the tiny pack defines"):
        load_samples(svc, reg, strict=True)
