"""Turning hook actions into effects, at step time.

A :class:`Effects` collects the effects of one step in order. Each ``set`` is
evaluated right away and remembered in a :class:`~bpf_dsl.engine.env.Pending`
overlay, so later expressions of the same step (another hook, a branch
condition, a ``create`` value) read the value the service is about to write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bpf_dsl.definition import CompiledCall, HookStep
from bpf_dsl.engine.data import RecordSource
from bpf_dsl.engine.effects import ActionOrigin, CallAction, CreateRecord, Effect, SetField
from bpf_dsl.engine.env import Pending, RecordEnv


class Effects:
    """The effects of one step so far, and the overlay they imply."""

    __slots__ = ("by", "data", "instance_id", "items", "now", "pending", "process")

    def __init__(self, data: RecordSource, now: dt.datetime, by: str, instance_id: str, process: str) -> None:
        self.data = data
        self.now = now
        self.by = by
        self.instance_id = instance_id
        self.process = process
        self.pending = Pending()
        self.items: list[Effect] = []

    def env(self, entity: str, record_id: str | None, bound: Mapping[str, str]) -> RecordEnv:
        """An environment whose scope is ``(entity, record_id)``, seeing this step's writes."""
        return RecordEnv(self.data, self.now, (entity, record_id), bound, self.pending)

    def run_hook(self, hook: tuple[HookStep, ...], trigger: str, stage: str, entity: str,
                 bound: Mapping[str, str]) -> None:
        """Run a hook whose plain names read the bound record of ``entity``.

        A ``set E.F`` with no record of E bound is skipped: there is nothing to set
        (e.g. an ``on abandon`` before the record of a later stage exists).
        """
        record_id = bound.get(entity)
        for h in hook:
            env = self.env(entity, record_id, bound)
            if h.kind == "set":
                assert h.field is not None and h.value is not None  # compiled hooks always have both
                target_entity = h.entity or entity
                target = bound.get(target_entity)
                if target is None:
                    continue
                value = h.value(env)
                self.pending.set(target_entity, target, h.field, value)
                self.items.append(SetField(target_entity, target, h.field, value))
            elif h.call is not None:
                self.call(h.call, env, ActionOrigin(self.instance_id, self.process, stage, entity, record_id, trigger,
                                                    self.by, self.now))

    def call(self, call: CompiledCall, env: RecordEnv, origin: ActionOrigin) -> None:
        """Add a call with its arguments evaluated now."""
        args = {name: expr(env) for name, expr in call.args}
        self.items.append(CallAction(call.action, MappingProxyType(args), origin))

    def create(self, entity: str, record_id: str, values: dict[str, Any]) -> None:
        """Add the creation of a record, visible to the rest of the step."""
        frozen = MappingProxyType(values)
        self.pending.create(record_id, frozen)
        self.items.append(CreateRecord(entity, frozen, record_id))

    def done(self) -> tuple[Effect, ...]:
        """The effects, in order."""
        return tuple(self.items)
