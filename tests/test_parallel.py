"""The worker pool (`sessionlint/parallel.py`): when it forks, and results in input order."""

from __future__ import annotations

import os
from pathlib import Path

from sessionlint.facts.factpass import FACTS_BYTES_PER_WORKER
from sessionlint.parallel import MIN_ITEMS_PER_WORKER, parallel_map, parallel_map_forks
from sessionlint.workspace import Workspace
from tests.fixture_cases import WORKER_PADDING


def _pid_and_item(item: int) -> tuple[int, int]:
    return os.getpid(), item


def test_items_without_sizes_need_enough_of_them_for_a_worker_each() -> None:
    few = parallel_map(_pid_and_item, list(range(MIN_ITEMS_PER_WORKER)), 2)
    assert {pid for pid, _ in few} == {os.getpid()}
    many = parallel_map(_pid_and_item, list(range(4 * MIN_ITEMS_PER_WORKER)), 2)
    assert [item for _, item in many] == list(range(4 * MIN_ITEMS_PER_WORKER))
    assert os.getpid() not in {pid for pid, _ in many}


def test_a_few_large_items_get_workers_and_come_back_in_order() -> None:
    # Three large modules and a small one: worth two workers however few they are; the
    # largest are handed out first, the results still come back in the items' order.
    sizes = [10, 3 * FACTS_BYTES_PER_WORKER, 20, 2 * FACTS_BYTES_PER_WORKER]
    assert parallel_map_forks(2, sizes, FACTS_BYTES_PER_WORKER)
    results = parallel_map(
        _pid_and_item, [0, 1, 2, 3], 2, sizes=sizes, min_size_per_worker=FACTS_BYTES_PER_WORKER
    )
    assert [item for _, item in results] == [0, 1, 2, 3]
    assert os.getpid() not in {pid for pid, _ in results}


def test_many_small_items_stay_in_the_process() -> None:
    # Forking costs more than reading a hundred small modules.
    sizes = [500] * 100
    assert not parallel_map_forks(2, sizes, FACTS_BYTES_PER_WORKER)
    results = parallel_map(
        _pid_and_item, list(range(100)), 2, sizes=sizes, min_size_per_worker=FACTS_BYTES_PER_WORKER
    )
    assert {pid for pid, _ in results} == {os.getpid()}
    assert not parallel_map_forks(1, [10 * FACTS_BYTES_PER_WORKER] * 4, FACTS_BYTES_PER_WORKER)  # --jobs 1


_ENGINE_MODULE = """from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

primary = create_async_engine("postgresql+asyncpg://app@db/app{index}", pool_pre_ping=True)
replica = create_async_engine("postgresql+asyncpg://app@replica/app{index}", pool_pre_ping=True)


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield
    await primary.dispose()


app = FastAPI(lifespan=lifespan)
"""


def test_indexes_built_by_the_workers_are_kept_as_one_process_keeps_them(tmp_path: Path) -> None:
    # The snapshot an incremental run reuses holds the run's whole-project indexes: those a
    # check built in a worker (who disposes engines: SL012) come back to the run's project.
    for index in range(12):
        (tmp_path / f"store_{index}.py").write_text(_ENGINE_MODULE.format(index=index) + WORKER_PADDING * 3)
    indexes = {}
    for jobs in (1, 2):
        workspace = Workspace([tmp_path], use_cache=False, jobs=jobs)
        findings = workspace.check()
        codes = [d.code for found in findings.values() for d in found.diagnostics]
        assert codes.count("SL012") == 12
        indexes[jobs] = workspace.project.known_indexes()
    assert "disposed" in indexes[1]
    # Each index one process built, the same (the parent also builds those of where code
    # runs before it forks: one worker each would otherwise build them again).
    assert {name: indexes[2].get(name) for name in indexes[1]} == indexes[1]


def test_a_callers_frozen_objects_stay_frozen() -> None:
    # The language server freezes its loaded workspaces out of the collector's generations.
    import gc

    gc.freeze()
    try:
        before = gc.get_freeze_count()
        parallel_map(_pid_and_item, list(range(4 * MIN_ITEMS_PER_WORKER)), 2)
        # Frozen objects that die meanwhile leave the count, so only "still frozen" is
        # asserted: unfreezing would move every one of them back, to a count of 0.
        assert before > 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
