"""The contract's mutations: each one service command; expected failures come back as union members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.scalars import JSON

from bpf_dsl.service import InstanceRow, RecordRow, TransitionFailure, ValidationFailure

from ..context import Context
from ..events import record_changed
from . import fields as described
from .types import (
    UNSET,
    Info,
    InstanceResult,
    ProcessInstance,
    Record,
    RecordResult,
    TransitionError,
    ValidationError,
    given,
)


async def _record(ctx: Context, command: Callable[..., RecordRow | ValidationFailure], *args: Any,
                  changes: str | None = None) -> RecordResult:
    """Run a record command; ``changes`` ("updated", "deleted"): an existing record's change, told to the
    ``recordChanged`` subscribers once committed (the command's answer comes after its commit)."""
    result = await ctx.write(command, ctx.me, *args)
    if isinstance(result, ValidationFailure):
        return ValidationError.from_domain(result)
    if changes is not None:
        ctx.app.publish(record_changed(result.id, result.version, ctx.me.user, deleted=changes == "deleted"))
    return Record.from_domain(result)


async def _instance(ctx: Context, command: Callable[..., InstanceRow | TransitionFailure],
                    *args: Any, moving: str | None = None) -> InstanceResult:
    """Run an instance command; ``moving``: the instance it moves, read with the others of its group commit."""
    result = await ctx.write(command, ctx.me, *args, prefetch=moving)
    if isinstance(result, TransitionFailure):
        return TransitionError.from_domain(result)
    return await ProcessInstance.one(ctx, result)


@strawberry.type
class Mutation:
    """Writes, each one transaction: all of it or nothing."""

    @described.mutation("Run the rules, save, and start the default (or named) process.")
    async def create_record(self, info: Info, entity: str, values: JSON, process: str | None = UNSET,
                            no_process: bool | None = False) -> RecordResult:
        svc = info.context.service
        return await _record(info.context, svc.create_record, entity, values, given(process),
                             bool(no_process))

    @described.mutation("Change some fields; the others keep their values.")
    async def update_record(self, info: Info, id: strawberry.ID, values: JSON,
                            expected_version: int | None = UNSET) -> RecordResult:
        return await _record(info.context, info.context.service.update_record, str(id), values,
                             given(expected_version), changes="updated")

    @described.mutation("Delete a record with its instances and their history; returns it.")
    async def delete_record(self, info: Info, id: strawberry.ID,
                            expected_version: int | None = UNSET) -> RecordResult:
        return await _record(info.context, info.context.service.delete_record, str(id), given(expected_version),
                             changes="deleted")

    @described.mutation("Give a record to another user (its `owner`); needs `assign` on it.")
    async def assign_record(self, info: Info, id: strawberry.ID, owner: str,
                            expected_version: int | None = UNSET) -> RecordResult:
        return await _record(info.context, info.context.service.assign_record, str(id), owner,
                             given(expected_version), changes="updated")

    @described.mutation("Start a process on a record (an existing instance of it is returned).")
    async def start_process(self, info: Info, record_id: strawberry.ID, process: str) -> InstanceResult:
        return await _instance(info.context, info.context.service.start_process, str(record_id), process)

    @described.mutation("Make a process the record's active one; the others keep their state.")
    async def switch_process(self, info: Info, record_id: strawberry.ID, process: str) -> InstanceResult:
        return await _instance(info.context, info.context.service.switch_process, str(record_id), process)

    @described.mutation("Check the gate and move to the stage the current data selects.")
    async def move_next(self, info: Info, instance_id: strawberry.ID, target_record_id: strawberry.ID | None = UNSET,
                        expected_version: int | None = UNSET) -> InstanceResult:
        target = str(target_record_id) if given(target_record_id) is not None else None
        return await _instance(info.context, info.context.service.move_next, str(instance_id), target,
                               given(expected_version), moving=str(instance_id))

    @described.mutation("Back one stage of the traversed path.")
    async def move_previous(self, info: Info, instance_id: strawberry.ID,
                            expected_version: int | None = UNSET) -> InstanceResult:
        return await _instance(info.context, info.context.service.move_previous, str(instance_id),
                               given(expected_version), moving=str(instance_id))

    @described.mutation("Back to a stage of the traversed path.")
    async def set_active_stage(self, info: Info, instance_id: strawberry.ID, stage: str,
                               expected_version: int | None = UNSET) -> InstanceResult:
        return await _instance(info.context, info.context.service.set_active_stage, str(instance_id), stage,
                               given(expected_version), moving=str(instance_id))

    @described.mutation("Finish on the last stage of the active path, its gate met.")
    async def finish_process(self, info: Info, instance_id: strawberry.ID,
                             expected_version: int | None = UNSET) -> InstanceResult:
        return await _instance(info.context, info.context.service.finish, str(instance_id), given(expected_version),
                               moving=str(instance_id))

    @described.mutation("Abandon from any stage.")
    async def abandon_process(self, info: Info, instance_id: strawberry.ID,
                              expected_version: int | None = UNSET) -> InstanceResult:
        return await _instance(info.context, info.context.service.abandon, str(instance_id), given(expected_version),
                               moving=str(instance_id))

    @described.mutation("Back to ACTIVE on the stage it had.")
    async def reactivate_process(self, info: Info, instance_id: strawberry.ID) -> InstanceResult:
        return await _instance(info.context, info.context.service.reactivate, str(instance_id), moving=str(instance_id))

    @described.mutation("Run an action step of the active stage.")
    async def run_action_step(self, info: Info, instance_id: strawberry.ID, step: str) -> InstanceResult:
        return await _instance(info.context, info.context.service.run_action_step, str(instance_id), step,
                               moving=str(instance_id))
