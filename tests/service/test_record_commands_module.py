"""The service's record commands live in `service/record_commands.py`, out of `core.py` (912 lines), and the
names other modules take from `core` still import from there."""

from __future__ import annotations

import pytest

from bpf_dsl.service import core
from bpf_dsl.service.record_commands import RecordCommands
from bpf_dsl.service.work import _Abort, _Conflict, _Work, new_id


@pytest.mark.parametrize("name", ["create_record", "update_record", "delete_record", "assign_record",
                                  "_insert_record", "_write", "_record_for", "_refuse_write", "_unlink"])
def test_the_service_runs_the_record_commands_of_their_module(name: str) -> None:
    assert getattr(core.Service, name) is getattr(RecordCommands, name)
    assert name not in vars(core.Service)


def test_core_no_longer_holds_the_unused_record_to_write() -> None:
    assert not hasattr(core, "_record_to_write")


def test_names_taken_from_core_still_are_there() -> None:
    assert (core._Abort, core._Conflict, core._Work, core.new_id) == (_Abort, _Conflict, _Work, new_id)
    from bpf_dsl.service import ActionContext, Service

    assert Service is core.Service and ActionContext is core.ActionContext
