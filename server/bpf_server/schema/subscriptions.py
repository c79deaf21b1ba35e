"""``processEvents``: every stage and status change and notification, after commit, as the caller may see it."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from bpf_dsl.service import ProcessEvent as DomainEvent
from bpf_dsl.service import unstorable

from ..context import Context
from ..limits import ClientError
from . import fields as described
from .types import UNSET, Info, ProcessEvent, ProcessInstance, Stage, given


def _wanted(ctx: Context, event: DomainEvent, record_id: str | None, process: str | None) -> bool:
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


def _text(value: object) -> str | None:
    return None if value is None else str(value)
