"""A page of records with their instances, stages, paths, history and form costs the same number of queries
whatever its size: the DataLoaders batch each level into one service call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bpf_server.context import Context
from bpf_server.schema import build_schema
from bpf_server.settings import Settings
from bpf_server.state import AppState

from bpf_dsl.service import Caller, Service
from bpf_dsl.storage import open_storage
from tests.server.helpers import program, registry

PAGE = """query($n: Int) { records(entity: "lead", first: $n) { total items {
  id values version createdAt
  form { name value required locked }
  instances { id status }
  activeInstance {
    id name status version process { name stages { name } } activeStage { name steps { name } }
    traversedPath { name } activePath { name } canMoveNext missingSteps { name }
    record { id } activeRecord { id entity } history { stage { name } enteredAt by }
  }
} } }"""


class _Cursor:
    def __init__(self, inner: Any, counter: list[int]) -> None:
        self._inner = inner
        self._counter = counter

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._counter[0] += 1
        return self._inner.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingStorage:
    """A storage whose transactions count the statements they run."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.counter = [0]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def read(self, *, single: bool = False) -> Iterator[Any]:
        with self.inner.read(single=single) as tx:
            tx.cur = _Cursor(tx.cur, self.counter)
            yield tx

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.inner.write() as tx:
            tx.cur = _Cursor(tx.cur, self.counter)
            yield tx


def test_page_cost_does_not_grow_with_its_size(tmp_path: Path) -> None:
    storage = CountingStorage(open_storage(f"sqlite:///{tmp_path / 'bpf.db'}"))
    service = Service(program(), storage, registry())  # type: ignore[arg-type]
    ann = Caller("ann", frozenset({"salesperson"}))
    for i in range(50):
        service.create_record(ann, "lead", {"topic": f"Lead {i}", "budget_amount": 10 * i})
    schema = build_schema(service.program)
    state = AppState(service, Settings(db="sqlite://"))

    def cost(n: int) -> int:
        context = Context(service, state, ann)
        before = storage.counter[0]
        result = asyncio.run(schema.execute(PAGE, variable_values={"n": n}, context_value=context))
        assert result.errors is None, result.errors
        assert result.data is not None and len(result.data["records"]["items"]) == n
        return storage.counter[0] - before

    small, large = cost(5), cost(50)
    assert small == large, (small, large)
    assert large < 20, large
    storage.inner.close()
