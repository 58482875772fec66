"""The SL002 pattern in a real app: a session closed only on the happy path leaks on errors.

``db = SessionLocal(); db.execute(...); raise ...; db.close()`` never reaches ``close()`` when
the endpoint raises, so every failing request keeps a connection checked out and a handful
of them exhaust the pool. The ``try``/``finally`` version (what SL002's fix writes) does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from sessionlint.runtime import assert_pool_returned

from .support import (
    INSERT_ITEM,
    POOL_LIMIT_MESSAGE,
    POOL_SIZE,
    REQUESTS,
    count_until_pool_timeout,
    keep_references,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FIND_ITEM = "SELECT name FROM items WHERE id = :id"
MISSING_ID = 999

failures = pytest.mark.parametrize("fail_with", ["http", "error"])


def fail(fail_with: str) -> None:
    if fail_with == "http":
        raise HTTPException(status_code=404, detail="no such item")
    raise ValueError("lookup failed")


def build_app(session_local: Callable[[], Session], fail_with: str) -> FastAPI:
    app = FastAPI()

    @app.get("/closed-on-happy-path/{item_id}")
    def read_item_closing_on_happy_path(item_id: int) -> str:
        db = session_local()
        row = db.execute(text(FIND_ITEM), {"id": item_id}).first()
        if row is None:
            fail(fail_with)
        db.close()
        return row.name

    @app.get("/closed-in-finally/{item_id}")
    def read_item_closing_in_finally(item_id: int) -> str:
        db = session_local()
        try:
            row = db.execute(text(FIND_ITEM), {"id": item_id}).first()
            if row is None:
                fail(fail_with)
            return row.name
        finally:
            db.close()

    return app


def request_failing_item(client: TestClient, path: str, fail_with: str) -> None:
    """GET a missing item and check the endpoint failed the way it was told to."""
    if fail_with == "http":
        assert client.get(path).status_code == 404
    else:
        with pytest.raises(ValueError, match="lookup failed"):
            client.get(path)


@pytest.fixture
def session_local(sync_engine: Engine, created_sessions: list[Session]) -> Callable[[], Session]:
    with sync_engine.begin() as conn:
        conn.execute(text(INSERT_ITEM), {"name": "present"})
    return keep_references(sessionmaker(sync_engine), created_sessions)


@failures
def test_close_on_happy_path_only_leaks_a_connection_per_failing_request(
    sync_engine: Engine, session_local: Callable[[], Session], fail_with: str
) -> None:
    path = f"/closed-on-happy-path/{MISSING_ID}"

    with TestClient(build_app(session_local, fail_with)) as client:
        completed, error = count_until_pool_timeout(lambda: request_failing_item(client, path, fail_with))

    assert completed == POOL_SIZE
    assert POOL_LIMIT_MESSAGE in str(error)
    assert sync_engine.pool.checkedout() == POOL_SIZE


@failures
def test_close_on_happy_path_is_enough_while_nothing_raises(
    sync_engine: Engine, session_local: Callable[[], Session], fail_with: str
) -> None:
    with TestClient(build_app(session_local, fail_with)) as client:
        for _ in range(REQUESTS):
            assert client.get("/closed-on-happy-path/1").json() == "present"

    assert_pool_returned(sync_engine)


@failures
def test_close_in_finally_returns_the_connection_of_every_failing_request(
    sync_engine: Engine, session_local: Callable[[], Session], fail_with: str
) -> None:
    path = f"/closed-in-finally/{MISSING_ID}"

    with TestClient(build_app(session_local, fail_with)) as client:
        for _ in range(REQUESTS):
            request_failing_item(client, path, fail_with)
            assert sync_engine.pool.checkedout() == 0
        assert client.get("/closed-in-finally/1").json() == "present"

    assert_pool_returned(sync_engine)
