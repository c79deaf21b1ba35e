"""Tx.prefetch_instances: a round's instances and their bound records read in one statement, and read again
when the transaction itself changes one of them afterwards. Both backends."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from bpf_dsl.storage import Storage, Tx
from tests.storage.test_contract import NOW, instance, record


def _pair(tx: Tx) -> tuple[str, str, str]:
    """An instance bound to two records (its lead and an opportunity): (instance, lead, opportunity)."""
    lead, opp = record("lead", topic="a"), record("opportunity", topic="b")
    inst = dataclasses.replace(instance(lead.id), bound={"lead": lead.id, "opportunity": opp.id})
    for r in (lead, opp):
        tx.insert_record(r)
    tx.insert_instance(inst)
    return inst.id, lead.id, opp.id


def test_prefetched_instances_come_with_every_bound_record(storage: Storage) -> None:
    with storage.write() as tx:
        one, lead, opp = _pair(tx)
        other, other_lead, other_opp = _pair(tx)
    with storage.write() as tx:
        tx.prefetch_instances([one, other, "missing"])
        found = tx.get_instance_with_records(one, lock=True)
        assert found is not None and found[0].id == one and set(found[1]) == {lead, opp}
        again = tx.get_instance_with_records(other, lock=True)
        assert again is not None and set(again[1]) == {other_lead, other_opp}
        assert tx.get_instance_with_records("missing", lock=True) is None


WRITES: dict[str, Callable[[Tx, str, str], object]] = {
    "update_record": lambda tx, inst, rid: tx.update_record(rid, {"topic": "changed"}, 1, NOW),
    "assign_record": lambda tx, inst, rid: tx.assign_record(rid, "zoe", 1, NOW),
    "set_active_instance": lambda tx, inst, rid: tx.set_active_instance(rid, inst),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_bound_record_written_after_the_prefetch_is_read_again(storage: Storage, write: str) -> None:
    with storage.write() as tx:
        inst, _, opp = _pair(tx)
    with storage.write() as tx:
        tx.prefetch_instances([inst])
        WRITES[write](tx, inst, opp)
        found = tx.get_instance_with_records(inst, lock=True)
        assert found is not None
        fresh = tx.get_record(opp)
        assert found[1][opp] == fresh  # what the write left, not what the prefetch read


def test_an_instance_written_after_the_prefetch_is_read_again(storage: Storage) -> None:
    with storage.write() as tx:
        inst, _, _ = _pair(tx)
    with storage.write() as tx:
        tx.prefetch_instances([inst])
        row = tx.get_instance(inst)
        assert row is not None
        moved = dataclasses.replace(row, active_stage="b", traversed=("a", "b"), version=2)
        assert tx.update_instance(moved, 1)
        found = tx.get_instance_with_records(inst, lock=True)
        assert found is not None and found[0].active_stage == "b" and found[0].version == 2
