"""One `own_record` for every action context: the service's (inside a move's transaction) and `bpf test`'s
(records in memory) are both :class:`BaseActionContext`, so an action meant for one entity fails the same
way under both (it was written twice)."""

from __future__ import annotations

import datetime as dt

import pytest

from bpf_dsl.engine.action_context import BaseActionContext
from bpf_dsl.engine.effects import ActionOrigin
from bpf_dsl.errors import ActionFailed
from bpf_dsl.service.core import ActionContext as ServiceContext
from bpf_dsl.testing.world import ActionContext as WorldContext

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("context", [ServiceContext, WorldContext])
def test_both_contexts_share_own_record(context: type) -> None:
    assert issubclass(context, BaseActionContext)
    assert context.own_record is BaseActionContext.own_record


class _Records(BaseActionContext):
    """The smallest context: records in a dict."""

    def __init__(self, origin: ActionOrigin, records: dict[str, dict[str, object]]) -> None:
        self.origin = origin
        self.records = records

    def record(self, record_id: str | None = None) -> dict[str, object] | None:
        return self.records.get(record_id or self.origin.record_id or "")


def _origin(entity: str, record_id: str | None) -> ActionOrigin:
    return ActionOrigin("I1", "p", "s", entity, record_id, "step", "ann", T0)


def test_own_record_gives_the_stages_record() -> None:
    assert _Records(_origin("lead", "L1"), {"L1": {"topic": "x"}}).own_record("lead") == ("L1", {"topic": "x"})


@pytest.mark.parametrize(("origin", "says"), [
    (_origin("case", "C1"), "works on a lead record, not on case"),
    (_origin("lead", None), "works on a lead record, not on lead"),
    (_origin("lead", "gone"), "the lead record is gone"),
])
def test_own_record_refuses_another_entity_or_a_missing_record(origin: ActionOrigin, says: str) -> None:
    with pytest.raises(ActionFailed, match=says):
        _Records(origin, {"C1": {}}).own_record("lead")
