"""The contract's queries (API.md) and the extras the web page uses (docs/api.md)."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.scalars import JSON

from bpf_dsl.service import DIAGRAM_FORMATS

from ..limits import ClientError
from . import fields as described
from .types import (
    UNSET,
    Entity,
    FieldState,
    Info,
    Me,
    Notification,
    Process,
    ProcessAnalytics,
    ProcessBar,
    ProcessInstance,
    Record,
    RecordPage,
    _cached,
    field_states,
    given,
)

MAX_SEARCH = 200  # characters of `records(search:)`


@strawberry.type
class Query:
    """Reads. Processes, their instances and stages the caller's roles don't allow are absent."""

    @described.field("The entities the caller may read records of, each with the fields it may read.")
    def entities(self, info: Info) -> list[Entity]:
        specs = info.context.service.readable_entities(info.context.me)  # one object per view of an entity
        return [_cached(spec, partial(Entity.from_domain, spec)) for spec in specs]

    @described.field("The caller's processes, in process order.")
    def processes(self, info: Info, entity: str | None = UNSET) -> list[Process]:
        ctx = info.context
        entity = given(entity)
        if entity is not None and entity not in ctx.service.program.entities:
            raise ClientError(f"unknown entity {entity!r}")  # as records(entity:) says it
        return [Process.from_domain(p) for p in ctx.service.visible_processes(ctx.me, entity)]

    @strawberry.field
    async def record(self, info: Info, id: strawberry.ID) -> Record | None:
        row = await info.context.loaders.records.load(str(id))
        return Record.from_domain(row) if row is not None else None

    @described.field("The records that record `id`'s lookup fields point at (those that exist), in field order: "
                     "what a page needs to show its lookups' titles in the same request.")
    async def record_lookups(self, info: Info, id: strawberry.ID) -> list[Record]:
        loaders = info.context.loaders
        row = await loaders.records.load(str(id))
        spec = None if row is None else info.context.service.program.entities.get(row.entity)
        if row is None or spec is None:
            return []
        values = (row.values.get(f.name) for f in spec.fields.values() if f.type.kind == "lookup")
        targets = await loaders.records.load_many(list(dict.fromkeys(v for v in values if isinstance(v, str) and v)))
        return [Record.from_domain(target) for target in targets if target is not None]

    @described.field("Records of an entity whose fields equal `where`'s values (optionally in a "
                                  "stage, or holding `search` in a text value), newest first, in pages.")
    async def records(self, info: Info, entity: str, where: JSON | None = UNSET, stage: str | None = UNSET,
                      first: int | None = 50, after: str | None = UNSET,
                      search: str | None = UNSET) -> RecordPage:
        ctx = info.context
        where, stage, after, search = given(where), given(stage), given(after), given(search)
        if where is not None and not isinstance(where, dict):
            raise ClientError("`where` must be an object of field name → value")
        if search is not None and len(search) > MAX_SEARCH:
            raise ClientError(f"`search` is limited to {MAX_SEARCH} characters")
        if stage is not None and entity in ctx.service.program.entities and \
                not any(p.stage(stage) for p in ctx.service.visible_processes(ctx.me, entity)):
            # A stage of no process of the caller's: as if it had no records. Not an error, even for a name no
            # process has: the difference would tell which stages the processes hidden from the caller have.
            return RecordPage(items=[], next_cursor=None, total=0)
        try:
            page = await ctx.run(ctx.service.list_records, ctx.me, entity, where, stage,
                                 50 if first is None else first, after, search=search)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        return RecordPage(items=[Record.from_domain(r) for r in page.items], next_cursor=page.next_cursor,
                          total=page.total)

    @described.field("The form of a record not created yet (the New dialog): each field the caller may read with "
                     "its value (the default, or what the rules set, where `values` gives none) and what the rules "
                     "say over `values`; null when the caller may not create records of `entity`.")
    async def new_record_form(self, info: Info, entity: str, values: JSON | None = UNSET) -> list[FieldState] | None:
        ctx = info.context
        fields = await ctx.read(ctx.service.new_form, ctx.me, entity, given(values))
        return None if fields is None else field_states(fields)

    @strawberry.field
    async def process_instance(self, info: Info, id: strawberry.ID) -> ProcessInstance | None:
        ctx = info.context
        row = await ctx.read(ctx.service.get_instance, ctx.me, str(id))
        if row is None:
            return None
        found = await ProcessInstance.many(ctx, [row])
        return found[0] if found else None

    @described.field("The record's instances the caller may see (its own, and those of other records with a "
                     "stage on it), newest activity first.")
    async def process_instances(self, info: Info, record_id: strawberry.ID) -> list[ProcessInstance]:
        ctx = info.context
        rows = await ctx.loaders.instances.load(str(record_id))
        return await ProcessInstance.many(ctx, rows)

    @described.field("The bar of the record's active instance.")
    async def process_bar(self, info: Info, record_id: strawberry.ID) -> ProcessBar | None:
        ctx = info.context
        found = await ctx.read(ctx.service.process_bar, ctx.me, str(record_id))
        if found is None:
            return None
        detail, bars = found
        return ProcessBar.from_domain(detail, bars)

    @described.field("The notifications for the caller's roles (an admin: everyone's), on instances it may see, "
                     "newest first.")
    async def notifications(self, info: Info, first: int | None = 50) -> list[Notification]:
        ctx = info.context
        try:
            rows = await ctx.read(ctx.service.notifications, ctx.me, 50 if first is None else first)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        # Only those whose instance the caller may see now (ProcessInstance! can't be null).
        seen = await ctx.loaders.instances_by_id.load_many([r.instance_id for r in rows])
        return [Notification(row=r) for r, instance in zip(rows, seen, strict=True) if instance is not None]

    @described.field("Who the token belongs to.")
    def me(self, info: Info) -> Me:
        caller = info.context.me
        return Me(user=caller.user, roles=sorted(caller.roles))

    @described.field("A diagram of a process (svg, mermaid or dot); null if not visible.")
    async def process_diagram(self, info: Info, name: str, format: str | None = "svg") -> str | None:
        ctx = info.context
        fmt = format or "svg"
        if fmt not in DIAGRAM_FORMATS:
            raise ClientError(f"unknown diagram format {fmt!r}: use one of {', '.join(DIAGRAM_FORMATS)}")
        if ctx.service.visible_process(ctx.me, name) is None:
            return None
        return await ctx.run(ctx.service.diagram, ctx.me, name, fmt)

    @described.field("Records per stage, time in stage, conversion; null if not visible.")
    async def process_analytics(self, info: Info, name: str) -> ProcessAnalytics | None:
        ctx = info.context
        found = await ctx.run(ctx.service.analytics, ctx.me, name)
        return ProcessAnalytics.from_domain(found) if found is not None else None
