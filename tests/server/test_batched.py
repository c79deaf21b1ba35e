"""Batched: concurrent callers' items are read together, one batch at a time, each caller given its own result."""

from __future__ import annotations

import asyncio
import threading

import pytest
from bpf_server.threads import Batched, Pool


def test_concurrent_callers_share_one_call_and_each_gets_its_result() -> None:
    calls: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def double_all(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            first_started.set()
            release.wait(10)  # the first batch is held: what comes meanwhile waits for the next one
        return [i * 2 for i in items]

    async def main() -> list[int]:
        pool = Pool(2, "test-batched")
        batched = Batched(double_all, pool, max_batch=3)
        try:
            first = asyncio.ensure_future(batched(0))
            while not first_started.is_set():
                await asyncio.sleep(0.005)
            rest = [asyncio.ensure_future(batched(n)) for n in range(1, 6)]
            await asyncio.sleep(0.05)
            release.set()
            return list(await asyncio.gather(first, *rest))
        finally:
            pool.stop()

    assert asyncio.run(main()) == [0, 2, 4, 6, 8, 10]
    assert calls == [[0], [1, 2, 3], [4, 5]]  # one at a time; what queued meanwhile, up to max_batch, together


def test_a_failing_batch_fails_each_of_its_callers_and_the_next_batch_runs() -> None:
    def fail_on_seven(items: list[int]) -> list[int]:
        if 7 in items:
            raise ValueError("no sevens")
        return items

    async def main() -> tuple[list[BaseException | int], int]:
        pool = Pool(1, "test-batched")
        batched = Batched(fail_on_seven, pool)
        try:
            got = await asyncio.gather(batched(7), batched(8), return_exceptions=True)
            return list(got), await batched(9)
        finally:
            pool.stop()

    got, after = asyncio.run(main())
    assert all(isinstance(g, ValueError) for g in got) and after == 9
    with pytest.raises(ValueError, match="no sevens"):
        raise got[0]  # type: ignore[misc]
