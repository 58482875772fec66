"""The reference dependencies over a real PostgreSQL server (skipped when none is configured).

The same proof as over SQLite, on the database production code actually runs against:
returning the session drains a QueuePool of 2, the reference dependencies give every
connection back. Each engine tags its connections with a unique ``application_name``, so
concurrent runs against the same server cannot disturb one another.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Callable

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from sessionlint.runtime import (
    assert_pool_returned,
    async_session_dependency,
    async_transactional_session_dependency,
    session_dependency,
    transactional_session_dependency,
)

from .support import (
    POOL_LIMIT_MESSAGE,
    POOL_OPTIONS,
    POOL_SIZE,
    REQUESTS,
    count_until_pool_timeout,
    keep_references,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from sqlalchemy.engine import Engine

BACKEND_PID = "SELECT pg_backend_pid()"


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(
        postgres_url,
        poolclass=QueuePool,
        connect_args={"application_name": f"sessionlint-test-{uuid.uuid4().hex[:12]}"},
        **POOL_OPTIONS,
    )
    yield engine
    engine.dispose()


def build_app(get_db: Callable[..., object]) -> FastAPI:
    app = FastAPI()
    # One shared marker rather than a Depends(...) call in every default (ruff's B008).
    session_param = Depends(get_db)

    @app.get("/backend-pid")
    def backend_pid(db: Session = session_param) -> int:
        return db.execute(text(BACKEND_PID)).scalar_one()

    return app


def get_ok(client: TestClient, path: str) -> int:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_returned_session_exhausts_the_postgres_pool(
    pg_engine: Engine, created_sessions: list[Session]
) -> None:
    session_local = keep_references(sessionmaker(pg_engine), created_sessions)

    def get_db() -> Session:
        return session_local()

    with TestClient(build_app(get_db)) as client:
        completed, error = count_until_pool_timeout(lambda: get_ok(client, "/backend-pid"))

    assert completed == POOL_SIZE
    assert POOL_LIMIT_MESSAGE in str(error)


@pytest.mark.parametrize(
    "make_dependency",
    [session_dependency, transactional_session_dependency],
    ids=["session_dependency", "transactional_session_dependency"],
)
def test_reference_dependency_returns_every_postgres_connection(
    pg_engine: Engine,
    created_sessions: list[Session],
    make_dependency: Callable[..., Callable[[], Iterator[Session]]],
) -> None:
    get_db = make_dependency(keep_references(sessionmaker(pg_engine), created_sessions))

    with TestClient(build_app(get_db)) as client:
        pids = {get_ok(client, "/backend-pid") for _ in range(REQUESTS)}
        assert_pool_returned(pg_engine)

    # Sequential requests keep reusing the one pooled server connection: nothing leaked.
    assert len(pids) == 1


@pytest.mark.parametrize(
    "make_dependency",
    [async_session_dependency, async_transactional_session_dependency],
    ids=["async_session_dependency", "async_transactional_session_dependency"],
)
def test_reference_async_dependency_returns_every_postgres_connection(
    postgres_url: str,
    make_dependency: Callable[..., Callable[[], AsyncIterator[AsyncSession]]],
) -> None:
    # create_async_engine picks psycopg's async mode for the same postgresql+psycopg URL.
    engine = create_async_engine(
        postgres_url,
        poolclass=AsyncAdaptedQueuePool,
        connect_args={"application_name": f"sessionlint-test-{uuid.uuid4().hex[:12]}"},
        **POOL_OPTIONS,
    )
    get_db = make_dependency(async_sessionmaker(engine, expire_on_commit=False))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()  # in the TestClient's loop, which owns the connections

    app = FastAPI(lifespan=lifespan)
    # One shared marker rather than a Depends(...) call in every default (ruff's B008).
    session_param = Depends(get_db)

    @app.get("/backend-pid")
    async def backend_pid(db: AsyncSession = session_param) -> int:
        return (await db.execute(text(BACKEND_PID))).scalar_one()

    with TestClient(app) as client:
        pids = {get_ok(client, "/backend-pid") for _ in range(REQUESTS)}
        assert_pool_returned(engine)

    assert len(pids) == 1
