"""Sync session dependencies inside a real FastAPI app, over a SQLite file and a real QueuePool.

A dependency that returns its session drains the pool; ``session_dependency`` and
``transactional_session_dependency`` give every connection back, sequentially and under
concurrent requests, and the transactional one commits or rolls back as documented.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Callable

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from sessionlint.runtime import (
    assert_pool_returned,
    session_dependency,
    transactional_session_dependency,
)

from .support import (
    COUNT_ITEMS,
    INSERT_ITEM,
    POOL_LIMIT_MESSAGE,
    POOL_SIZE,
    REQUESTS,
    concurrent_status_codes,
    count_until_pool_timeout,
    keep_references,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

SessionDependency = Callable[[], "Iterator[Session]"]

reference_dependencies = pytest.mark.parametrize(
    "make_dependency",
    [session_dependency, transactional_session_dependency],
    ids=["session_dependency", "transactional_session_dependency"],
)

CONCURRENT_REQUESTS = 12


def build_app(get_db: Callable[..., object]) -> FastAPI:
    app = FastAPI()
    # One shared marker rather than a Depends(...) call in every default (ruff's B008).
    session_param = Depends(get_db)

    @app.get("/items/count")
    def count_items(db: Session = session_param) -> int:
        # The query checks a connection out; the session holds it until it is closed.
        return db.execute(text(COUNT_ITEMS)).scalar_one()

    @app.get("/items/count/slow")
    def count_items_slowly(db: Session = session_param) -> int:
        count = db.execute(text(COUNT_ITEMS)).scalar_one()
        time.sleep(0.01)  # hold the connection a moment so concurrent requests overlap
        return count

    @app.post("/items")
    def create_item(name: str, db: Session = session_param) -> str:
        db.execute(text(INSERT_ITEM), {"name": name})
        return name

    @app.post("/items/then-fail")
    def create_item_then_fail(name: str, fail_with: str, db: Session = session_param) -> str:
        # The INSERT reaches the database inside the open transaction before the failure.
        db.execute(text(INSERT_ITEM), {"name": name})
        if fail_with == "http":
            raise HTTPException(status_code=409, detail="conflict")
        raise ValueError("endpoint failed after writing")

    return app


def get_ok(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text


def stored_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM items ORDER BY id")).scalars())


def test_dependency_returning_its_session_exhausts_the_pool(
    sync_engine: Engine, created_sessions: list[Session]
) -> None:
    session_local = keep_references(sessionmaker(sync_engine), created_sessions)

    def get_db() -> Session:  # the SL001 pattern: nothing ever closes this session
        return session_local()

    with TestClient(build_app(get_db)) as client:
        completed, error = count_until_pool_timeout(lambda: get_ok(client, "/items/count"))

    assert completed == POOL_SIZE
    assert POOL_LIMIT_MESSAGE in str(error)
    assert sync_engine.pool.checkedout() == POOL_SIZE
    with pytest.raises(AssertionError, match=rf"^{POOL_SIZE} connection\(s\) still checked out"):
        assert_pool_returned(sync_engine)


@reference_dependencies
def test_reference_dependency_returns_every_connection(
    sync_engine: Engine,
    created_sessions: list[Session],
    make_dependency: Callable[..., SessionDependency],
) -> None:
    get_db = make_dependency(keep_references(sessionmaker(sync_engine), created_sessions))

    with TestClient(build_app(get_db)) as client:
        for _ in range(REQUESTS):
            get_ok(client, "/items/count")
            assert sync_engine.pool.checkedout() == 0

    assert len(created_sessions) == REQUESTS  # one session per request, all still referenced
    assert_pool_returned(sync_engine)


def test_concurrent_requests_exhaust_the_pool_with_a_returned_session(
    sync_engine: Engine, created_sessions: list[Session]
) -> None:
    session_local = keep_references(sessionmaker(sync_engine), created_sessions)

    def get_db() -> Session:
        return session_local()

    codes = concurrent_status_codes(build_app(get_db), "/items/count/slow", CONCURRENT_REQUESTS)

    # The first two requests keep their connections forever; the rest time out waiting.
    assert sorted(codes) == [200] * POOL_SIZE + [500] * (CONCURRENT_REQUESTS - POOL_SIZE)


@reference_dependencies
def test_concurrent_requests_share_the_pool_with_a_reference_dependency(
    sync_engine: Engine,
    created_sessions: list[Session],
    make_dependency: Callable[..., SessionDependency],
) -> None:
    get_db = make_dependency(keep_references(sessionmaker(sync_engine), created_sessions))

    codes = concurrent_status_codes(build_app(get_db), "/items/count/slow", CONCURRENT_REQUESTS)

    assert codes == [200] * CONCURRENT_REQUESTS
    assert_pool_returned(sync_engine)


def test_garbage_collector_is_what_returns_a_leaked_connection(sync_engine: Engine) -> None:
    """Why the tests hold references: without them the leak lasts until a GC pass, no longer.

    Pins the behaviour ``support.keep_references`` describes: a returned, unreferenced
    session is only freed by a cyclic collection, which silently checks its connection in.
    """
    session_local = sessionmaker(sync_engine)

    def get_db() -> Session:
        return session_local()

    gc.collect()
    gc.disable()  # no collection may run while the leak is measured
    try:
        with TestClient(build_app(get_db)) as client:
            for _ in range(POOL_SIZE):
                get_ok(client, "/items/count")
        assert sync_engine.pool.checkedout() == POOL_SIZE
    finally:
        gc.enable()
    gc.collect()
    assert_pool_returned(sync_engine)


def test_transactional_dependency_commits_when_the_endpoint_returns(sync_engine: Engine) -> None:
    get_db = transactional_session_dependency(sessionmaker(sync_engine))

    with TestClient(build_app(get_db)) as client:
        response = client.post("/items", params={"name": "kept"})

    assert response.status_code == 200
    assert stored_names(sync_engine) == ["kept"]
    assert_pool_returned(sync_engine)


@pytest.mark.parametrize("fail_with", ["http", "error"])
def test_transactional_dependency_rolls_back_when_the_endpoint_raises(
    sync_engine: Engine, fail_with: str
) -> None:
    get_db = transactional_session_dependency(sessionmaker(sync_engine))
    params = {"name": "lost", "fail_with": fail_with}

    with TestClient(build_app(get_db)) as client:
        if fail_with == "http":
            assert client.post("/items/then-fail", params=params).status_code == 409
        else:
            with pytest.raises(ValueError, match="endpoint failed after writing"):
                client.post("/items/then-fail", params=params)

    assert stored_names(sync_engine) == []
    assert_pool_returned(sync_engine)


def test_session_dependency_leaves_the_commit_to_the_endpoint(sync_engine: Engine) -> None:
    get_db = session_dependency(sessionmaker(sync_engine))

    with TestClient(build_app(get_db)) as client:
        assert client.post("/items", params={"name": "uncommitted"}).status_code == 200

    # close() ends the transaction the endpoint never committed: the write is discarded.
    assert stored_names(sync_engine) == []
    assert_pool_returned(sync_engine)
