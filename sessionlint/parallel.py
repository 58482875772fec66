"""Spreading per-file work over processes, with results in input order.

Workers are forked from the parent after it has built everything they need (the engine,
the project index, the sources), so nothing large is pickled on the way in; only each
file's result travels back. Small batches stay in-process: forking costs more than it saves.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MIN_ITEMS_PER_WORKER = 16
_SHARED: tuple[Callable[[object], object], Sequence[object]] | None = None


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _run_shared(index: int) -> object:
    assert _SHARED is not None
    function, items = _SHARED
    return function(items[index])


def _end_on_ctrl_c() -> None:
    """Ctrl-C reaches every process of the terminal's group: a worker just ends (the parent
    stops the run, exit 130), instead of printing a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _workers(jobs: int | None, count: int, sizes: Sequence[int] | None, min_size_per_worker: int) -> int:
    if sizes is None:
        workers = count // MIN_ITEMS_PER_WORKER
    else:
        workers = min(count, sum(sizes) // max(1, min_size_per_worker))
    return min(jobs or default_jobs(), workers)


def parallel_map_forks(jobs: int | None, sizes: Sequence[int], min_size_per_worker: int) -> bool:
    """Whether `parallel_map` over items of these sizes starts workers."""
    return _workers(jobs, len(sizes), sizes, min_size_per_worker) > 1


def parallel_map(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    jobs: int | None,
    *,
    sizes: Sequence[int] | None = None,
    min_size_per_worker: int = 0,
) -> list[Result]:
    """`[function(item) for item in items]`, on up to `jobs` forked processes.

    Without `sizes`, a worker takes at least `MIN_ITEMS_PER_WORKER` items. With them (each
    item's expected cost, in bytes of source), a worker takes at least `min_size_per_worker`
    of them, however few the items (a few large modules are worth a worker each), and the
    largest are handed out first: a large item last would leave the other workers waiting."""
    global _SHARED
    jobs = _workers(jobs, len(items), sizes, min_size_per_worker)
    if jobs <= 1:
        return [function(item) for item in items]
    # Imported only for a pool: a run checking a few files (incremental) never starts one.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if "fork" not in multiprocessing.get_all_start_methods():
        return [function(item) for item in items]
    order = list(range(len(items)))
    if sizes is not None:
        order.sort(key=lambda index: -sizes[index])
    _SHARED = (function, items)  # type: ignore[assignment]
    # What the parent holds goes to the collector's permanent generation before the fork:
    # a worker's collections then never walk it, and writing to its objects' headers would
    # copy every page holding them into each worker (the whole run's facts, twice over).
    # A caller that froze its own objects (the language server) keeps them frozen.
    frozen_here = gc.get_freeze_count() == 0
    if frozen_here:
        gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_end_on_ctrl_c) as pool:
            chunk = max(1, len(items) // (jobs * 8))
            done = list(pool.map(_run_shared, order, chunksize=chunk))  # type: ignore[arg-type]
    finally:
        if frozen_here:
            gc.unfreeze()
        _SHARED = None
    results: list[Result] = [None] * len(items)  # type: ignore[list-item]
    for index, result in zip(order, done):
        results[index] = result
    return results


def return_freed_memory() -> None:
    """Give the memory freed so far back to the system. Python's allocator hands large
    blocks back to C's `malloc`, which keeps them (resident, and inherited by forked
    workers) until asked; with glibc, `malloc_trim` asks. Elsewhere nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass
