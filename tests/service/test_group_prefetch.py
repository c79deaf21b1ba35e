"""A group commit reads the instances its moves work on together, before running them (Tx.prefetch_instances).

What a command of the round writes must not be read stale by a later one: a second move of the same instance,
a hook's `set` on a record another instance of the round is bound to (tests/storage/test_prefetch_storage.py
covers each write that makes a prefetched row stale). Each case runs the moves as one round, as the server's
writer does, on both backends, and checks what a move done alone would have done.
"""

from __future__ import annotations

import functools
from typing import Any

from bpf_dsl.service import Caller, InstanceRow, Service, TransitionFailure

from .conftest import OpenSvc, ok, program

MODEL = """
role r
entity deal {
    topic: text
    note: text
}
entity order {
    topic: text
    deal: lookup(deal)
}
process sell on deal {
    roles r
    order 1
    stage one {
        step topic
    }
    stage two {
        on enter {
            set note = "entered two"
        }
    }
    stage three on order via deal {
        create {
            topic = topic
        }
        step topic
    }
    stage four {
    }
}
process watch on deal {
    roles r
    order 2
    stage look {
        step note required
    }
    stage done {
        on enter {
            set note = "watched"
        }
    }
}
"""

USER = Caller("u", frozenset({"r"}))


def _round(svc: Service, calls: list[tuple[Any, str, tuple[Any, ...]]]) -> list[Any]:
    """Run ``calls`` (command, instance it moves, further arguments) as one round, prefetching; their answers."""
    group = svc.start_group_commit(thread=False)
    answers: list[Any] = [None] * len(calls)

    def answer(i: int, result: Any, error: BaseException | None) -> None:
        answers[i] = error if error is not None else result

    for i, (command, instance_id, rest) in enumerate(calls):
        group.enqueue(functools.partial(command, USER, instance_id, *rest), functools.partial(answer, i),
                      prefetch=instance_id)
    jobs = group.take()
    assert len(jobs) == len(calls)
    group.round(jobs)
    svc.stop_group_commit()
    return answers


def _deal(svc: Service) -> tuple[str, str]:
    """A deal on `sell`, and its instance id."""
    deal = ok(svc.create_record(USER, "deal", {"topic": "T"}, "sell"))
    return deal.id, next(i.id for i in svc.instances_of(USER, deal.id) if i.process == "sell")


def test_two_moves_of_one_instance_in_one_round_see_each_other(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    _, inst = _deal(svc)
    first, second = _round(svc, [(svc.move_next, inst, ()), (svc.move_next, inst, ())])
    assert isinstance(first, InstanceRow) and first.active_stage == "two"
    assert isinstance(second, InstanceRow) and second.active_stage == "three", second
    assert second.version == first.version + 1
    stored = svc.get_instance(USER, inst)
    assert stored is not None and stored.active_stage == "three" and stored.version == second.version


def test_a_stale_expected_version_in_the_same_round_is_a_conflict(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    _, inst = _deal(svc)
    version = ok(svc.get_instance(USER, inst)).version
    first, second = _round(svc, [(svc.move_next, inst, (None, version)), (svc.move_next, inst, (None, version))])
    assert isinstance(first, InstanceRow)
    assert isinstance(second, TransitionFailure) and second.code == "VERSION_CONFLICT"
    assert second.current_version == first.version


def test_a_hooks_write_is_seen_by_a_later_move_bound_to_that_record(open_svc: OpenSvc) -> None:
    """`sell` moving into `two` sets the deal's note; `watch`, on the same deal, moves next in the round: its
    stage needs the note, so it must read the deal as `sell` left it, not as the round found it."""
    svc = open_svc(program(MODEL))
    deal, sell = _deal(svc)
    watch = ok(svc.start_process(USER, deal, "watch")).id
    moved_sell, moved_watch = _round(svc, [(svc.move_next, sell, ()), (svc.move_next, watch, ())])
    assert isinstance(moved_sell, InstanceRow) and isinstance(moved_watch, InstanceRow), (moved_sell, moved_watch)
    record = svc.get_record(USER, deal)
    assert record is not None and record.values["note"] == "watched"
    assert record.version == 3  # created, then one write per hook: neither was lost
