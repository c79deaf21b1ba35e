"""``processEvents``: every stage and status change and notification, after commit, as the caller may see it;
``recordChanged``: a record's committed updates, assignments and deletion (an addition to the contract)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator

import strawberry

from bpf_dsl.service import ProcessEvent as DomainEvent
from bpf_dsl.service import unstorable

from ..context import Context
from ..events import PROCESS_KINDS, RECORD_CHANGED
from ..limits import ClientError
from . import fields as described
from .types import UNSET, Info, ProcessEvent, ProcessInstance, Record, Stage, given


@strawberry.type(description="A committed change of a record made through the API: its values or owner changed "
                             "(`record`: as it is now, as the caller may read it), or it was deleted.")
class RecordChange:
    id: strawberry.ID
    version: int
    deleted: bool
    record: Record | None = strawberry.field(description="The record now; null once deleted.")
    by: str
    at: dt.datetime


def _wanted(ctx: Context, event: DomainEvent, record_id: str | None, process: str | None) -> bool:
    if event.kind not in PROCESS_KINDS:
        return False  # the server's own events (a record change): not the contract's processEvents
    if record_id is not None and event.record_id != record_id:
        return False
    if process is not None and event.process != process:
        return False
    return ctx.service.may_see(ctx.me, event.process)


@strawberry.type
class Subscription:
    """Events reach every subscriber on every server process (PostgreSQL: LISTEN/NOTIFY)."""

    @described.subscription("Changes of the record's instances (`recordId`: its primary record) "
                                         "or of one process; both optional.")
    async def process_events(self, info: Info, record_id: strawberry.ID | None = UNSET,
                             process: str | None = UNSET) -> AsyncGenerator[ProcessEvent, None]:
        ctx = info.context
        record_id, process = given(record_id), given(process)
        for text in (record_id, process):
            problem = unstorable(str(text)) if text is not None else None
            if problem:  # as over HTTP, where the request is refused at the door
                raise ClientError(f"an argument holds {problem}, which no value may contain")
        if process is not None and ctx.service.visible_process(ctx.me, process) is None:
            raise ClientError(f"no process {process!r} among yours")
        wanted_record = str(record_id) if record_id is not None else None
        async with ctx.hub.subscription() as queue:
            while True:
                event = await queue.get()
                if not _wanted(ctx, event, wanted_record, process):
                    continue
                ctx.fresh_loaders()  # a socket lives long: read the instance as it is now
                row = await ctx.read(ctx.service.get_instance, ctx.me, event.instance_id)
                if row is None:
                    continue  # deleted since, or not visible
                found = await ProcessInstance.many(ctx, [row])
                if not found:
                    continue
                instance = found[0]
                stage_def = instance.defn.stage(event.stage) if event.stage else None
                stage = Stage.from_domain(stage_def) if stage_def is not None else None
                data = event.data or {}
                yield ProcessEvent(kind=event.kind, instance=instance, stage=stage, at=event.at, by=event.by,
                                   message=_text(data.get("message")), role=_text(data.get("role")))


    @described.subscription("The record's committed changes through the API (updateRecord, assignRecord, "
                            "deleteRecord), from any server process; only while the caller may read it. An "
                            "addition to the contract (docs/api.md).")
    async def record_changed(self, info: Info, id: strawberry.ID) -> AsyncGenerator[RecordChange, None]:
        ctx = info.context
        record_id = str(id)
        problem = unstorable(record_id)
        if problem:
            raise ClientError(f"an argument holds {problem}, which no value may contain")
        async with ctx.hub.subscription() as queue:  # listening before the first read: no change falls between
            readable = await ctx.read(ctx.service.get_record, ctx.me, record_id) is not None
            if not readable:
                raise ClientError(f"no record {record_id!r} among those you may read")
            while True:
                event = await queue.get()
                if event.kind != RECORD_CHANGED or event.record_id != record_id:
                    continue
                data = event.data or {}
                if data.get("deleted"):
                    if readable:  # it could read it until now: its deletion is no secret to it
                        yield RecordChange(id=strawberry.ID(record_id), version=int(data.get("version") or 0),
                                           deleted=True, record=None, by=event.by, at=event.at)
                    return
                ctx.fresh_loaders()
                row = await ctx.read(ctx.service.get_record, ctx.me, record_id)
                readable = row is not None
                if row is None:
                    continue  # assigned away, say: nothing of it for this caller any more
                yield RecordChange(id=strawberry.ID(record_id), version=row.version, deleted=False,
                                   record=Record.from_domain(row), by=event.by, at=event.at)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
