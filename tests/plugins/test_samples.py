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
        "case_to_work_order": ("case", {"triage", "create_work_order", "order_parts", "schedule", "perform",
                                        "close_work_order"}, 3),
        "campaign_launch": ("campaign", {"plan", "build", "logistics", "approve", "launch", "review"}, 3),
        "lead_nurture": ("prospect", {"capture", "nurture", "qualified", "hand_off"}, 7),
    }
    for process, (entity, stages, ended) in expected.items():
        rows = all_instances(svc, entity, process)
        active = Counter(r.active_stage for r in rows if r.status == "active")
        assert set(active) == stages, (process, active)
        statuses = Counter(r.status for r in rows)
        assert statuses["finished"] + statuses["aborted"] >= ended, (process, statuses)
        assert all(r.created_at <= T0 for r in rows)
        assert min(r.created_at for r in rows).date() < T0.date().replace(day=1)  # spread over weeks

    # The records the actions and processes made along the way.
    assert len(records(svc, "opportunity", status="won")) >= 4
    handed_off = [r for r in records(svc, "lead") if r.values.get("description", "").startswith("Handed off")]
    assert len(handed_off) == 4  # the prospects handed off to sales became leads
    assert len(records(svc, "work_order", status="completed")) == 3
    assert len(records(svc, "case", status="resolved")) >= 10
    assert len(records(svc, "campaign", status="launched")) >= 1
    analytics = svc.analytics(ADMIN, "lead_to_opportunity")
    assert analytics is not None and analytics.median_seconds["qualify"] > 86400  # days, not seconds

    # Idempotent: a second run adds nothing.
    assert load_samples(svc, reg, strict=True, now=T0) == 0


def test_marketing_alone_leaves_out_the_hand_offs(open_svc: OpenSvc) -> None:
    svc = open_svc("marketing")
    reg, _ = program("marketing")
    created = load_samples(svc, reg, strict=True, now=T0)
    assert created == len(reg.samples["marketing"]) - 4
    assert len(records(svc, "prospect", status="handed_off")) == 0


def test_entities_with_records_are_skipped(open_svc: OpenSvc) -> None:
    svc = open_svc("sales")
    reg, _ = program("sales")
    mine = svc.create_record(ADMIN, "account", {"name": "My own account"})
    created = load_samples(svc, reg, strict=True, now=T0)
    # Accounts are skipped, and so are the samples that refer to them; the others load.
    loaded = [s for s in reg.samples["sales"] if s.entity != "account" and not any(
        isinstance(v, str) and v.startswith("@") for v in s.values.values())]  # contacts refer to accounts too
    assert created == len(loaded) == 9
    names = {r.values["name"] for r in records(svc, "account")}
    assert "My own account" in names and "Woodgrove Bank" not in names  # only accounts the Qualify button made
    assert mine and records(svc, "contact") and not records(svc, "opportunity", originating_lead=None)


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
    assert text.splitlines() == [f'import "{tmp_path / "mine.bpf"}"', "import sales", "import service",
                                 "import marketing"]
    prog = bpf_dsl.load_source(text, "<demo>", reg)
    assert {"lead", "case", "campaign", "prospect"} <= set(prog.entities)
    assert "region" in prog.entities["lead"].fields
