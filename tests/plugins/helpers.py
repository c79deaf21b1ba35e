"""Helpers for the plugin packs' tests (the fixtures are in conftest.py).

The packs are registered in-process (no install needed): their folders go on
``sys.path`` and :func:`registry` builds a ``Registry`` from their modules with
entry points off, so nothing installed in the venv changes what the tests see.
:func:`write_dist` writes a ``*.dist-info`` folder with ``entry_points.txt`` into a
temporary folder, so a subprocess run with it on ``PYTHONPATH`` sees those packs
as installed (lighter than pip; the install test uses real pip).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import bpf_dsl
from bpf_dsl.definition import Program
from bpf_dsl.plugins import Registry
from bpf_dsl.service import Caller, Service, TransitionFailure, ValidationFailure
from bpf_dsl.storage import InstanceRow, RecordRow

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
# crm first: the accounts, contacts and leads the other three import (each depends on bpf-crm).
PACKS = ("crm", "sales", "service", "marketing")

for _pack in PACKS:
    if str(PLUGINS / _pack) not in sys.path:
        sys.path.insert(0, str(PLUGINS / _pack))

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
ADMIN = Caller("root", frozenset({"admin"}))


def pack_module(name: str) -> ModuleType:
    """The pack's Python package (``bpf_sales`` for ``sales``)."""
    return importlib.import_module(f"bpf_{name}")


def registry(*names: str) -> Registry:
    """The built-ins and the named packs, registered in-process, with crm (which pip installs with any of them)."""
    names = names if "crm" in names or not names else ("crm", *names)
    return Registry([(n, "test", pack_module(n).PACK) for n in names], entry_points=False)


_programs: dict[tuple[str, ...], tuple[Registry, Program]] = {}


def program(*names: str, extra: str = "") -> tuple[Registry, Program]:
    """A program importing the named packs (cached: compiling is the slow part)."""
    key = (*names, extra)
    if key not in _programs:
        reg = registry(*names)
        source = "".join(f"import {n}\n" for n in names) + extra
        _programs[key] = (reg, bpf_dsl.load_source(source, "<test>", reg))
    return _programs[key]


class Clock:
    """A clock that moves only when a test says so."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> dt.datetime:
        self.now += dt.timedelta(**kwargs)
        return self.now


OpenSvc = Callable[..., Service]


# -- helpers ----------------------------------------------------------------------------------------

def ok(result: Any) -> Any:
    """The row of a successful command (fails the test with the failure otherwise)."""
    assert isinstance(result, RecordRow | InstanceRow), result
    return result


def refused(result: Any, code: str) -> TransitionFailure:
    """A transition failure with ``code``."""
    assert isinstance(result, TransitionFailure), result
    assert result.code == code, result
    return result


def invalid(result: Any) -> ValidationFailure:
    assert isinstance(result, ValidationFailure), result
    return result


class Walk:
    """One record's instance, driven through the service like a user would."""

    def __init__(self, svc: Service, record: RecordRow, process: str | None = None) -> None:
        self.svc = svc
        self.record_id = record.id
        rows = svc.instances_of(ADMIN, record.id)
        self.row = next(r for r in rows if process is None or r.process == process)

    @property
    def stage(self) -> str:
        return self.row.active_stage

    def values(self, entity: str | None = None) -> dict[str, Any]:
        """The stored values of the primary record, or of the bound record of ``entity``."""
        rid = self.row.bound[entity] if entity else self.record_id
        row = self.svc.get_record(ADMIN, rid)
        assert row is not None
        return dict(row.values)

    def fill(self, values: dict[str, Any], entity: str | None = None) -> RecordRow:
        rid = self.row.bound[entity] if entity else self.record_id
        return ok(self.svc.update_record(ADMIN, rid, values))  # type: ignore[no-any-return]

    def next(self, target: str | None = None) -> Any:
        result = self.svc.move_next(ADMIN, self.row.id, target, expected_version=self.row.version)
        if isinstance(result, InstanceRow):
            self.row = result
        return result

    def run(self, step: str) -> Any:
        result = self.svc.run_action_step(ADMIN, self.row.id, step)
        if isinstance(result, InstanceRow):
            self.row = result
        return result

    def finish(self) -> Any:
        result = self.svc.finish(ADMIN, self.row.id, expected_version=self.row.version)
        if isinstance(result, InstanceRow):
            self.row = result
        return result

    def abandon(self) -> Any:
        result = self.svc.abandon(ADMIN, self.row.id, expected_version=self.row.version)
        if isinstance(result, InstanceRow):
            self.row = result
        return result

    def reactivate(self) -> Any:
        result = self.svc.reactivate(ADMIN, self.row.id)
        if isinstance(result, InstanceRow):
            self.row = result
        return result

    def missing(self) -> list[str]:
        detail = self.svc.detail(self.row)
        assert detail is not None
        return [s.name for s in detail.missing]

    def path(self) -> list[str]:
        detail = self.svc.detail(self.row)
        assert detail is not None
        return [s.name for s in detail.active_path]

    def bar(self) -> dict[str, dict[str, Any]]:
        """The active stage's steps: name -> the bar's view of it."""
        got = self.svc.process_bar(ADMIN, self.record_id)
        assert got is not None
        _, stages = got
        active = next(s for s in stages if s.stage.name == self.stage)
        return {s.step.name: {"required": s.required, "hidden": s.hidden, "locked": s.locked,
                              "recommendation": s.recommendation, "done": s.done} for s in active.steps}

    def notifications(self) -> list[dict[str, Any]]:
        with self.svc.storage.read() as tx:
            return [dict(e.data) for e in tx.events(self.row.id) if e.kind == "notification"]


def records(svc: Service, entity: str, **where: Any) -> list[RecordRow]:
    return list(svc.list_records(ADMIN, entity, where or None, first=500).items)


# -- installed-looking packs for subprocesses ------------------------------------------------------

def write_dist(site: Path, dist: str, version: str, entry_points: dict[str, str]) -> None:
    """A minimal ``DIST-VERSION.dist-info`` whose entry points register packs under ``bpf.plugins``."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[bpf.plugins]\n{lines}")


def subprocess_env(*paths: Path) -> dict[str, str]:
    """The environment of a ``bpf`` subprocess that sees ``paths`` (site folders, pack folders) as installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return env
