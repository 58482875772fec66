"""Async session dependencies inside a real FastAPI app, over aiosqlite and a real async pool.

The same proof as the sync tests: a dependency that returns its ``AsyncSession`` drains the
``AsyncAdaptedQueuePool``; ``async_session_dependency`` and
``async_transactional_session_dependency`` give every connection back, and the
transactional one commits or rolls back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager, closing
from typing import TYPE_CHECKING, Callable

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sessionlint.runtime import (
    assert_pool_returned,
    async_session_dependency,
    async_transactional_session_dependency,
)

from .support import (
    COUNT_ITEMS,
    INSERT_ITEM,
    POOL_LIMIT_MESSAGE,
    POOL_SIZE,
    REQUESTS,
    count_until_pool_timeout,
    gather_status_codes,
    keep_references,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

AsyncSessionDependency = Callable[[], "AsyncIterator[AsyncSession]"]

reference_dependencies = pytest.mark.parametrize(
    "make_dependency",
    [async_session_dependency, async_transactional_session_dependency],
    ids=["async_session_dependency", "async_transactional_session_dependency"],
)

CONCURRENT_REQUESTS = 12


async def release(engine: AsyncEngine, sessions: list[AsyncSession]) -> None:
    """Close every session the test created, then the pool, in the loop that owns them."""
    for session in sessions:
        await session.close()
    await engine.dispose()


def build_app(engine: AsyncEngine, sessions: list[AsyncSession], get_db: Callable[..., object]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # The TestClient runs the app, lifespan included, in one event loop of its own;
        # the aiosqlite connections belong to it, so they must be closed here.
        await release(engine, sessions)

    app = FastAPI(lifespan=lifespan)
    # One shared marker rather than a Depends(...) call in every default (ruff's B008).
    session_param = Depends(get_db)

    @app.get("/items/count")
    async def count_items(db: AsyncSession = session_param) -> int:
        return (await db.execute(text(COUNT_ITEMS))).scalar_one()

    @app.get("/items/count/slow")
    async def count_items_slowly(db: AsyncSession = session_param) -> int:
        count = (await db.execute(text(COUNT_ITEMS))).scalar_one()
        await asyncio.sleep(0.01)  # hold the connection a moment so requests overlap
        return count

    @app.post("/items")
    async def create_item(name: str, db: AsyncSession = session_param) -> str:
        await db.execute(text(INSERT_ITEM), {"name": name})
        return name

    @app.post("/items/then-fail")
    async def create_item_then_fail(name: str, fail_with: str, db: AsyncSession = session_param) -> str:
        await db.execute(text(INSERT_ITEM), {"name": name})
        if fail_with == "http":
            raise HTTPException(status_code=409, detail="conflict")
        raise ValueError("endpoint failed after writing")

    return app


def session_factory(engine: AsyncEngine, sessions: list[AsyncSession]) -> Callable[[], AsyncSession]:
    return keep_references(async_sessionmaker(engine, expire_on_commit=False), sessions)


def get_ok(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text


def stored_names(engine: AsyncEngine) -> list[str]:
    # A plain sqlite3 read of the same file: the async engine is already disposed by now.
    path = engine.url.database
    assert path is not None
    with closing(sqlite3.connect(path)) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM items ORDER BY id")]


def test_dependency_returning_its_async_session_exhausts_the_pool(
    async_engine: AsyncEngine,
) -> None:
    sessions: list[AsyncSession] = []
    session_local = session_factory(async_engine, sessions)

    async def get_db() -> AsyncSession:  # the SL001 pattern, async flavour
        return session_local()

    with TestClient(build_app(async_engine, sessions, get_db)) as client:
        completed, error = count_until_pool_timeout(lambda: get_ok(client, "/items/count"))
        checked_out = async_engine.sync_engine.pool.checkedout()
        with pytest.raises(AssertionError, match=rf"^{POOL_SIZE} connection\(s\) still checked"):
            assert_pool_returned(async_engine)

    assert completed == POOL_SIZE
    assert POOL_LIMIT_MESSAGE in str(error)
    assert checked_out == POOL_SIZE


@reference_dependencies
def test_reference_async_dependency_returns_every_connection(
    async_engine: AsyncEngine, make_dependency: Callable[..., AsyncSessionDependency]
) -> None:
    sessions: list[AsyncSession] = []
    get_db = make_dependency(session_factory(async_engine, sessions))

    with TestClient(build_app(async_engine, sessions, get_db)) as client:
        for _ in range(REQUESTS):
            get_ok(client, "/items/count")
            assert async_engine.sync_engine.pool.checkedout() == 0
        assert_pool_returned(async_engine)

    assert len(sessions) == REQUESTS


def test_concurrent_requests_exhaust_the_pool_with_a_returned_async_session(
    async_engine: AsyncEngine,
) -> None:
    sessions: list[AsyncSession] = []
    session_local = session_factory(async_engine, sessions)

    async def get_db() -> AsyncSession:
        return session_local()

    async def run() -> list[int]:
        app = build_app(async_engine, sessions, get_db)
        try:
            return await gather_status_codes(app, "/items/count/slow", CONCURRENT_REQUESTS)
        finally:
            await release(async_engine, sessions)

    codes = asyncio.run(run())

    assert sorted(codes) == [200] * POOL_SIZE + [500] * (CONCURRENT_REQUESTS - POOL_SIZE)


@reference_dependencies
def test_concurrent_requests_share_the_pool_with_a_reference_async_dependency(
    async_engine: AsyncEngine, make_dependency: Callable[..., AsyncSessionDependency]
) -> None:
    sessions: list[AsyncSession] = []
    get_db = make_dependency(session_factory(async_engine, sessions))

    async def run() -> tuple[list[int], int]:
        app = build_app(async_engine, sessions, get_db)
        try:
            codes = await gather_status_codes(app, "/items/count/slow", CONCURRENT_REQUESTS)
            return codes, async_engine.sync_engine.pool.checkedout()
        finally:
            await release(async_engine, sessions)

    codes, checked_out = asyncio.run(run())

    assert codes == [200] * CONCURRENT_REQUESTS
    assert checked_out == 0


def test_async_transactional_dependency_commits_when_the_endpoint_returns(
    async_engine: AsyncEngine,
) -> None:
    sessions: list[AsyncSession] = []
    get_db = async_transactional_session_dependency(session_factory(async_engine, sessions))

    with TestClient(build_app(async_engine, sessions, get_db)) as client:
        assert client.post("/items", params={"name": "kept"}).status_code == 200
        assert_pool_returned(async_engine)

    assert stored_names(async_engine) == ["kept"]


@pytest.mark.parametrize("fail_with", ["http", "error"])
def test_async_transactional_dependency_rolls_back_when_the_endpoint_raises(
    async_engine: AsyncEngine, fail_with: str
) -> None:
    sessions: list[AsyncSession] = []
    get_db = async_transactional_session_dependency(session_factory(async_engine, sessions))
    params = {"name": "lost", "fail_with": fail_with}

    with TestClient(build_app(async_engine, sessions, get_db)) as client:
        if fail_with == "http":
            assert client.post("/items/then-fail", params=params).status_code == 409
        else:
            with pytest.raises(ValueError, match="endpoint failed after writing"):
                client.post("/items/then-fail", params=params)
        assert_pool_returned(async_engine)

    assert stored_names(async_engine) == []


def test_async_session_dependency_leaves_the_commit_to_the_endpoint(
    async_engine: AsyncEngine,
) -> None:
    sessions: list[AsyncSession] = []
    get_db = async_session_dependency(session_factory(async_engine, sessions))

    with TestClient(build_app(async_engine, sessions, get_db)) as client:
        assert client.post("/items", params={"name": "uncommitted"}).status_code == 200
        assert_pool_returned(async_engine)

    assert stored_names(async_engine) == []
