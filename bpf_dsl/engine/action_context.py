"""What every action context shares, whoever runs the action: the service inside a move's transaction
(:class:`bpf_dsl.service.core.ActionContext`) or ``bpf test`` on its records in memory
(:class:`bpf_dsl.testing.world.ActionContext`). An action behaves the same under both, so the parts
that don't depend on where records live are written once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from bpf_dsl.engine.effects import ActionOrigin
from bpf_dsl.errors import ActionFailed


class BaseActionContext(ABC):
    """An action's context (docs/plugins.md, "Actions and their context"), less what reads and writes records."""

    origin: ActionOrigin

    @abstractmethod
    def record(self, record_id: str | None = None) -> Mapping[str, Any] | None:
        """The values of a record (default: the one the action's stage works on), or None."""

    def own_record(self, entity: str) -> tuple[str, Mapping[str, Any]]:
        """The id and values of the record the action's stage works on, which must be of ``entity``.

        Raises :class:`ActionFailed` (the move fails with CANCELLED) when the stage works
        on another entity or the record is gone: an action meant for one entity says so.
        """
        origin = self.origin
        if origin.entity != entity or origin.record_id is None:
            raise ActionFailed(f"this action works on a {entity} record, not on {origin.entity}")
        values = self.record()
        if values is None:
            raise ActionFailed(f"the {entity} record is gone")
        return origin.record_id, values
