"""Test helpers that prove sessions give their connections back to the pool.

Use them in an application's own tests after driving requests through ``TestClient``: a
dependency or endpoint that forgets to close its session leaves a connection checked out,
and these helpers turn that leak into a failing assertion instead of a production outage.
Like :mod:`sessionlint.runtime.dependencies`, this module imports without SQLAlchemy.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.pool import QueuePool

    AnyEngine = Union[Engine, AsyncEngine]

__all__ = ["assert_pool_returned", "pool_returned"]


def assert_pool_returned(engine: AnyEngine) -> None:
    """Assert that no connection of ``engine``'s pool is checked out.

    Call it once the requests under test have completed: every session must have been
    closed by then, so ``engine.pool.checkedout()`` must be 0. Works with a sync
    ``Engine`` and with an ``AsyncEngine`` (its ``sync_engine`` holds the pool).

    Example::

        with TestClient(app) as client:
            for _ in range(20):
                client.get("/items")
        assert_pool_returned(engine)

    Raises:
        AssertionError: connections are still checked out; the message says how many and
            shows the pool's status.
        TypeError: the engine's pool does not count checkouts (``NullPool``,
            ``StaticPool``...); use a ``QueuePool`` / ``AsyncAdaptedQueuePool`` in the test.
    """
    pool = _pool_of(engine)
    checked_out = pool.checkedout()
    if checked_out:
        raise AssertionError(
            f"{checked_out} connection(s) still checked out of the pool of {engine!r}: "
            "a session was not closed (a dependency that returns its session instead of "
            "yielding it, or a close() that an exception skipped). "
            f"Pool status: {pool.status()}"
        )


@contextmanager
def pool_returned(engine: AnyEngine) -> Iterator[None]:
    """Context manager form of :func:`assert_pool_returned`: asserts when the block exits.

    The check runs only when the block completes normally; an exception raised inside the
    block propagates unchanged rather than being masked by the pool assertion.

    Example::

        with pool_returned(engine), TestClient(app) as client:
            client.get("/items")
    """
    _pool_of(engine)  # fail fast, before the block runs, on a pool that cannot be checked
    yield
    assert_pool_returned(engine)


def _pool_of(engine: AnyEngine) -> QueuePool:
    # Duck-typed instead of isinstance(AsyncEngine) so the module needs no SQLAlchemy import.
    sync_engine = getattr(engine, "sync_engine", engine)
    pool = sync_engine.pool
    if not callable(getattr(pool, "checkedout", None)):
        raise TypeError(
            f"{type(pool).__name__} does not count checked-out connections; "
            "build the engine under test with QueuePool or AsyncAdaptedQueuePool"
        )
    return pool
